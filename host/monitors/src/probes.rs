//! The probes: what can be read on this machine, and from where.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::channel::{Channel, Read};
use crate::sysfs::{expand, glob, name_of, read_f64};
use crate::{Metric, MonitorConfig, Point};

type Finish = Box<dyn FnOnce(&[Point]) -> Vec<(String, Metric)>>;

pub(crate) struct Probes {
    pub channels: Vec<Channel>,
    pub unsupported: BTreeMap<String, Metric>,
    /// Metrics derived at the end (peak RSS, energy).
    pub finish: Finish,
}

pub(crate) fn discover(config: &MonitorConfig) -> Probes {
    let mut channels = Vec::new();
    let mut unsupported = BTreeMap::new();
    cpu_and_memory(&mut channels, &mut unsupported);
    temperature(config, &mut channels, &mut unsupported);
    let has_power = power(config, &mut channels, &mut unsupported);
    gpu(config, &mut channels, &mut unsupported);
    npu(config, &mut channels, &mut unsupported);
    match crate::perf::memory_bandwidth() {
        Ok(channel) => channels.push(channel),
        Err(reason) => {
            unsupported.insert("memory_bandwidth".into(), Metric::unsupported(reason));
        }
    }
    frequency(&mut channels, &mut unsupported);
    let finish: Finish = Box::new(move |timeline| {
        let mut out = vec![("memory_rss_peak".to_owned(), rss_peak())];
        if has_power {
            out.push(("energy".to_owned(), energy(timeline)));
        }
        out
    });
    Probes {
        channels,
        unsupported,
        finish,
    }
}

fn cpu_and_memory(channels: &mut Vec<Channel>, unsupported: &mut BTreeMap<String, Metric>) {
    let Ok(pid) = sysinfo::get_current_pid() else {
        for name in ["cpu_load_process", "memory_rss"] {
            unsupported.insert(
                name.into(),
                Metric::unsupported("sysinfo cannot tell this process's id"),
            );
        }
        return;
    };
    let sys = Rc::new(RefCell::new(System::new()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let refresh = move |sys: &mut System| {
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
    };
    refresh(&mut sys.borrow_mut());
    sys.borrow_mut().refresh_cpu_usage();
    let mut last = (Instant::now(), process_cpu_seconds());
    channels.push(Channel {
        name: "cpu_load_process".into(),
        unit: "%",
        source: format!(
            "getrusage(RUSAGE_SELF) user + system time (100 % = all {cores} logical CPUs busy)"
        ),
        read: Box::new(move || {
            let now = (Instant::now(), process_cpu_seconds());
            let dt = now.0.duration_since(last.0).as_secs_f64();
            if dt < 1e-3 {
                return None; // too short an interval to mean anything
            }
            let load = (now.1 - last.1) / dt.max(1e-6) / cores as f64 * 100.0;
            last = now;
            Some(load)
        }),
    });
    {
        let sys = sys.clone();
        channels.push(Channel {
            name: "cpu_load_system".into(),
            unit: "%",
            source: "sysinfo, /proc/stat (all logical CPUs)".into(),
            read: Box::new(move || {
                let mut sys = sys.borrow_mut();
                sys.refresh_cpu_usage();
                Some(f64::from(sys.global_cpu_usage()))
            }),
        });
    }
    match proc_stat_steal() {
        Some(mut last) => channels.push(Channel {
            name: "cpu_steal".into(),
            unit: "%",
            source: "/proc/stat steal time (CPU time the hypervisor gave to other guests)".into(),
            read: Box::new(move || {
                let now = proc_stat_steal()?;
                let total = now.1.saturating_sub(last.1);
                let steal = now.0.saturating_sub(last.0);
                last = now;
                (total > 0).then(|| steal as f64 / total as f64 * 100.0)
            }),
        }),
        None => {
            unsupported.insert(
                "cpu_steal".into(),
                Metric::unsupported("/proc/stat has no steal column"),
            );
        }
    }
    channels.push(Channel {
        name: "memory_rss".into(),
        unit: "MiB",
        source: "sysinfo, /proc/self/statm (resident set)".into(),
        read: Box::new(move || {
            refresh(&mut sys.borrow_mut());
            sys.borrow()
                .process(pid)
                .map(|p| p.memory() as f64 / (1024.0 * 1024.0))
        }),
    });
}

/// Steal and total jiffies of all CPUs, from the first line of /proc/stat
/// (`cpu user nice system idle iowait irq softirq steal ...`).
fn proc_stat_steal() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // guest and guest_nice (9th, 10th) are already counted in user and nice.
    let total = fields.iter().take(8).sum();
    Some((*fields.get(7)?, total))
}

/// User + system CPU time of the whole process (every thread), seconds.
fn process_cpu_seconds() -> f64 {
    // SAFETY: `rusage` is plain integers; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given, which lives here.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Peak resident set of the process's life (VmHWM).
fn rss_peak() -> Metric {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| {
        l.strip_prefix("VmHWM:")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<f64>()
            .ok()
    });
    match kib {
        Some(kib) => Metric::Measured {
            mean: kib / 1024.0,
            peak: kib / 1024.0,
            unit: "MiB".into(),
            source: "/proc/self/status VmHWM (peak of the process's life, load included)".into(),
            samples: 1,
        },
        None => Metric::unsupported("/proc/self/status has no VmHWM line (not Linux?)"),
    }
}

fn temperature(
    config: &MonitorConfig,
    channels: &mut Vec<Channel>,
    unsupported: &mut BTreeMap<String, Metric>,
) {
    let mut extra: Vec<PathBuf> = config.thermal_files.iter().map(PathBuf::from).collect();
    if let Some(board) = &config.board {
        extra.extend(board.sensors.thermal.iter().flat_map(|p| expand(p)));
    }
    let sensors = crate::thermal::temperature_sensors(&extra);
    if sensors.is_empty() {
        unsupported.insert(
            "temperature".into(),
            Metric::unsupported(
                "no readable temperature sensor: /sys/class/thermal has no thermal_zone*, /sys/class/hwmon no temp*_input (virtual machine?)",
            ),
        );
        return;
    }
    let files: Vec<PathBuf> = sensors.iter().map(|(_, p)| p.clone()).collect();
    channels.push(Channel {
        name: "temperature".into(),
        unit: "°C",
        source: format!("hottest of {} sensor(s): {}", files.len(), list(&files)),
        read: Box::new(move || {
            files
                .iter()
                .filter_map(|f| read_f64(f))
                .map(|m| m / 1000.0)
                .reduce(f64::max)
        }),
    });
    for (name, file) in sensors {
        channels.push(Channel {
            name: format!("temperature.{name}"),
            unit: "°C",
            source: file.display().to_string(),
            read: Box::new(move || read_f64(&file).map(|m| m / 1000.0)),
        });
    }
}

fn list(files: &[PathBuf]) -> String {
    let shown: Vec<String> = files
        .iter()
        .take(4)
        .map(|f| f.display().to_string())
        .collect();
    if files.len() > 4 {
        format!("{}, ...", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// A power rail: an energy counter (µJ, RAPL) or a power reading.
enum Rail {
    Energy {
        file: PathBuf,
        range: f64,
        last: Option<(Instant, f64)>,
    },
    /// Power file and the factor to watts.
    Power { file: PathBuf, to_watts: f64 },
    /// Voltage (mV) and current (mA) files.
    VoltageCurrent { voltage: PathBuf, current: PathBuf },
}

impl Rail {
    fn watts(&mut self) -> Option<f64> {
        match self {
            Rail::Energy { file, range, last } => {
                let uj = read_f64(file)?;
                let now = Instant::now();
                let w = last.map(|(t, prev)| {
                    let mut d = uj - prev;
                    if d < 0.0 {
                        d += *range; // the counter wrapped
                    }
                    d / 1e6 / now.duration_since(t).as_secs_f64().max(1e-6)
                });
                *last = Some((now, uj));
                w
            }
            Rail::Power { file, to_watts } => read_f64(file).map(|v| v * *to_watts),
            Rail::VoltageCurrent { voltage, current } => {
                Some(read_f64(voltage)? * read_f64(current)? * 1e-6)
            }
        }
    }
}

fn power(
    config: &MonitorConfig,
    channels: &mut Vec<Channel>,
    unsupported: &mut BTreeMap<String, Metric>,
) -> bool {
    if let Some(board) = &config.board {
        if board_power(board, channels) {
            return true;
        }
    }
    let mut rails: Vec<(String, Rail)> = Vec::new();
    let mut refused = Vec::new();
    // RAPL packages (intel-rapl:N, not their sub-zones, which they contain).
    for zone in glob("/sys/class/powercap", "intel-rapl:")
        .into_iter()
        .chain(glob("/sys/class/powercap", "amd-rapl:"))
        .filter(|z| {
            z.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .matches(':')
                .count()
                == 1
        })
    {
        let file = zone.join("energy_uj");
        if read_f64(&file).is_none() {
            refused.push(file);
            continue;
        }
        let range = read_f64(&zone.join("max_energy_range_uj")).unwrap_or(f64::MAX);
        rails.push((
            format!("rapl.{}", name_of(&zone, "name")),
            Rail::Energy {
                file,
                range,
                last: None,
            },
        ));
    }
    for hwmon in glob("/sys/class/hwmon", "hwmon") {
        for file in glob(&hwmon.to_string_lossy(), "power") {
            if file.to_string_lossy().ends_with("_input") && read_f64(&file).is_some() {
                rails.push((
                    format!(
                        "{}.{}",
                        name_of(&hwmon, "name"),
                        file.file_name().unwrap_or_default().to_string_lossy()
                    ),
                    Rail::Power {
                        file,
                        to_watts: 1e-6,
                    },
                ));
            }
        }
    }
    // Jetson INA3221 through IIO: in_power*_input in mW.
    for dev in glob("/sys/bus/i2c/drivers/ina3221x", "") {
        for iio in glob(&dev.to_string_lossy(), "iio:device") {
            for file in glob(&iio.to_string_lossy(), "in_power") {
                if file.to_string_lossy().ends_with("_input") && read_f64(&file).is_some() {
                    let rail = file
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    rails.push((
                        format!("ina3221.{rail}"),
                        Rail::Power {
                            file,
                            to_watts: 1e-3,
                        },
                    ));
                }
            }
        }
    }
    if rails.is_empty() {
        let reason = if refused.is_empty() {
            "no power sensor: no RAPL powercap zone, hwmon power*_input or INA3221 rail (virtual machine?)".to_owned()
        } else {
            format!(
                "power sensors present but not readable by this user: {} (RAPL energy_uj is root-only since Linux 5.10)",
                list(&refused)
            )
        };
        unsupported.insert("power".into(), Metric::unsupported(reason.clone()));
        unsupported.insert("energy".into(), Metric::unsupported(reason));
        return false;
    }
    let names: Vec<String> = rails.iter().map(|(n, _)| n.clone()).collect();
    let rails = Rc::new(RefCell::new(rails));
    channels.push(Channel {
        name: "power".into(),
        unit: "W",
        source: format!("sum of {}", names.join(", ")),
        read: Box::new(move || {
            let mut total = None;
            for (_, rail) in rails.borrow_mut().iter_mut() {
                if let Some(w) = rail.watts() {
                    *total.get_or_insert(0.0) += w;
                }
            }
            total
        }),
    });
    true
}

/// The board's named rails: `power` is its total rail when it has one and
/// it reads, else the sum of its rails; `power.NAME` each rail. False when
/// none of its rails reads here (the monitors then look by themselves).
fn board_power(board: &crate::BoardSensors, channels: &mut Vec<Channel>) -> bool {
    use lpdnn_platforms::RailSource;
    let first = |pattern: &str| expand(pattern).into_iter().find(|f| read_f64(f).is_some());
    let mut rails: Vec<(String, bool, Rail)> = Vec::new();
    for r in &board.sensors.power {
        if rails.iter().any(|(n, ..)| *n == r.name) {
            continue; // an earlier form of the same rail (another JetPack's path) read
        }
        let rail = match r.source() {
            Some(RailSource::Power(p, unit)) => first(p).map(|file| {
                if unit == lpdnn_platforms::PowerUnit::MicroJoule {
                    let range = file
                        .parent()
                        .and_then(|d| read_f64(&d.join("max_energy_range_uj")))
                        .unwrap_or(f64::MAX);
                    Rail::Energy {
                        file,
                        range,
                        last: None,
                    }
                } else {
                    Rail::Power {
                        file,
                        to_watts: unit.to_si(),
                    }
                }
            }),
            Some(RailSource::VoltageCurrent(v, c)) => first(v)
                .zip(first(c))
                .map(|(voltage, current)| Rail::VoltageCurrent { voltage, current }),
            None => None,
        };
        if let Some(rail) = rail {
            rails.push((r.name.clone(), r.total, rail));
        }
    }
    if rails.is_empty() {
        return false;
    }
    let names: Vec<String> = rails.iter().map(|(n, ..)| n.clone()).collect();
    let total = rails.iter().find(|(_, t, _)| *t).map(|(n, ..)| n.clone());
    let source = match &total {
        Some(t) => format!("{} rail {t} (the board's input)", board.board),
        None => format!("{}: sum of rails {}", board.board, names.join(", ")),
    };
    // One read of every rail per sample, shared by `power` and `power.NAME`.
    let last: Rc<RefCell<BTreeMap<String, f64>>> = Rc::default();
    let rails = Rc::new(RefCell::new(rails));
    {
        let last = last.clone();
        channels.push(Channel {
            name: "power".into(),
            unit: "W",
            source,
            read: Box::new(move || {
                let mut readings = last.borrow_mut();
                readings.clear();
                for (name, _, rail) in rails.borrow_mut().iter_mut() {
                    if let Some(w) = rail.watts() {
                        readings.insert(name.clone(), w);
                    }
                }
                match &total {
                    Some(t) => readings.get(t).copied(),
                    None => (!readings.is_empty()).then(|| readings.values().sum()),
                }
            }),
        });
    }
    for name in names {
        let last = last.clone();
        channels.push(Channel {
            name: format!("power.{name}"),
            unit: "W",
            source: format!("{} rail {name}", board.board),
            read: Box::new(move || last.borrow().get(&name).copied()),
        });
    }
    true
}

/// The first readable load file of `candidates`, as a channel reader.
fn load_file(candidates: &[lpdnn_platforms::LoadFile]) -> Option<(PathBuf, Read)> {
    candidates.iter().find_map(|c| {
        let parse = {
            let (format, scale) = (c.format, c.scale);
            move |text: &str| match format {
                lpdnn_platforms::LoadFormat::Number => {
                    text.trim().parse::<f64>().ok().map(|v| v * scale)
                }
                lpdnn_platforms::LoadFormat::Rknpu => parse_rknpu(text),
            }
        };
        let file = expand(&c.path)
            .into_iter()
            .find(|f| parse(&std::fs::read_to_string(f).unwrap_or_default()).is_some())?;
        let read_file = file.clone();
        Some((
            file,
            Box::new(move || parse(&std::fs::read_to_string(&read_file).ok()?)) as Read,
        ))
    })
}

/// Energy over the run: the power samples integrated (trapezoids).
fn energy(timeline: &[Point]) -> Metric {
    let pts: Vec<(f64, f64)> = timeline
        .iter()
        .filter_map(|p| p.values.get("power").map(|w| (p.t, *w)))
        .collect();
    if pts.len() < 2 {
        return Metric::unsupported(
            "fewer than two power samples: the run was shorter than two monitor intervals",
        );
    }
    let joules: f64 = pts
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    Metric::Measured {
        mean: joules,
        peak: joules,
        unit: "J".into(),
        source: "power samples integrated over the run".into(),
        samples: pts.len(),
    }
}

/// Reads one NVML value of a device.
type NvmlRead = fn(&nvml_wrapper::Device) -> Result<f64, nvml_wrapper::error::NvmlError>;

/// The GPU channels: (metric, unit, what NVML reports, how to read it).
const GPU_CHANNELS: [(&str, &str, &str, NvmlRead); 4] = [
    ("gpu_load", "%", "utilization.gpu", |d| {
        d.utilization_rates().map(|u| f64::from(u.gpu))
    }),
    ("gpu_memory", "MiB", "memory used", |d| {
        d.memory_info().map(|m| m.used as f64 / (1024.0 * 1024.0))
    }),
    ("gpu_temperature", "°C", "temperature", |d| {
        d.temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
            .map(f64::from)
    }),
    ("gpu_power", "W", "power usage", |d| {
        d.power_usage().map(|mw| f64::from(mw) / 1e3)
    }),
];

fn gpu(
    config: &MonitorConfig,
    channels: &mut Vec<Channel>,
    unsupported: &mut BTreeMap<String, Metric>,
) {
    let nvml = nvml_wrapper::Nvml::builder()
        .lib_path(std::ffi::OsStr::new("libnvidia-ml.so.1"))
        .init();
    let nvml = match nvml {
        Ok(n) => Rc::new(n),
        Err(e) => {
            let reason =
                format!("NVML unavailable (libnvidia-ml.so.1: {e}); no NVIDIA GPU or driver here");
            for (name, ..) in GPU_CHANNELS {
                unsupported.insert(name.into(), Metric::unsupported(reason.clone()));
            }
            let board = config.board.as_ref();
            if let Some((file, read)) = board.and_then(|b| load_file(&b.sensors.gpu_load)) {
                unsupported.remove("gpu_load");
                channels.push(Channel {
                    name: "gpu_load".into(),
                    unit: "%",
                    source: format!("{} ({})", file.display(), board.map_or("", |b| &b.board)),
                    read,
                });
            }
            return;
        }
    };
    let device = nvml
        .device_by_index(0)
        .and_then(|d| d.name())
        .unwrap_or_else(|_| "GPU 0".into());
    for (name, unit, what, read) in GPU_CHANNELS {
        let nvml = nvml.clone();
        channels.push(Channel {
            name: name.into(),
            unit,
            source: format!("NVML {what}, device 0 ({device})"),
            read: Box::new(move || nvml.device_by_index(0).and_then(|d| read(&d)).ok()),
        });
    }
}

/// NPU load where the platform exposes one (Rockchip RKNPU's debugfs file).
fn npu(
    config: &MonitorConfig,
    channels: &mut Vec<Channel>,
    unsupported: &mut BTreeMap<String, Metric>,
) {
    let board = config.board.as_ref();
    if let Some((file, read)) = board.and_then(|b| load_file(&b.sensors.npu_load)) {
        channels.push(Channel {
            name: "npu_load".into(),
            unit: "%",
            source: format!("{} ({})", file.display(), board.map_or("", |b| &b.board)),
            read,
        });
        return;
    }
    let file = PathBuf::from("/sys/kernel/debug/rknpu/load");
    if parse_rknpu(&std::fs::read_to_string(&file).unwrap_or_default()).is_none() {
        unsupported.insert(
            "npu_load".into(),
            Metric::unsupported(
                "no NPU load interface on this platform (looked for /sys/kernel/debug/rknpu/load; Ascend and Hailo expose none without their SDK tools)",
            ),
        );
        return;
    }
    channels.push(Channel {
        name: "npu_load".into(),
        unit: "%",
        source: file.display().to_string(),
        read: Box::new(move || parse_rknpu(&std::fs::read_to_string(&file).ok()?)),
    });
}

/// `NPU load:  Core0: 12%, Core1:  0%,` → the mean over cores.
fn parse_rknpu(text: &str) -> Option<f64> {
    let loads: Vec<f64> = text
        .split('%')
        .filter_map(|part| part.rsplit([' ', ':']).next()?.trim().parse().ok())
        .collect();
    (!loads.is_empty()).then(|| loads.iter().sum::<f64>() / loads.len() as f64)
}

fn frequency(channels: &mut Vec<Channel>, unsupported: &mut BTreeMap<String, Metric>) {
    let files: Vec<PathBuf> = crate::thermal::cpufreq_dirs()
        .into_iter()
        .map(|d| d.join("scaling_cur_freq"))
        .filter(|f| read_f64(f).is_some())
        .collect();
    if files.is_empty() {
        unsupported.insert(
            "cpu_frequency".into(),
            Metric::unsupported(
                "no cpufreq: /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq absent (virtual machine?)",
            ),
        );
        return;
    }
    channels.push(Channel {
        name: "cpu_frequency".into(),
        unit: "MHz",
        source: format!("mean of {} × cpufreq/scaling_cur_freq", files.len()),
        read: Box::new(move || {
            let khz: Vec<f64> = files.iter().filter_map(|f| read_f64(f)).collect();
            (!khz.is_empty()).then(|| khz.iter().sum::<f64>() / khz.len() as f64 / 1e3)
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rknpu_load_is_the_mean_over_cores() {
        assert_eq!(
            parse_rknpu("NPU load:  Core0: 12%, Core1:  4%, Core2:  2%,\n"),
            Some(6.0)
        );
        assert_eq!(parse_rknpu("NPU load:  30%\n"), Some(30.0));
        assert_eq!(parse_rknpu(""), None);
    }

    #[test]
    fn energy_integrates_power() {
        let p = |t: f64, w: f64| Point {
            t,
            values: [("power".to_owned(), w)].into(),
        };
        let e = energy(&[p(0.0, 10.0), p(1.0, 10.0), p(2.0, 20.0)]);
        assert_eq!(e.mean(), Some(25.0));
    }
}
