//! Temperature sensors, cool-down before a run, and throttle detection.

use lpdnn_report::{CoolDown, Throttle};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::sysfs::{glob, name_of, read_f64};

/// Every readable temperature file (millidegrees Celsius) with a name:
/// thermal zones by `type`, hwmon inputs by chip name, and `extra` files.
pub(crate) fn temperature_sensors(extra: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for zone in glob("/sys/class/thermal", "thermal_zone") {
        let file = zone.join("temp");
        if read_f64(&file).is_some() {
            let zone_name = zone
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            out.push((format!("{}.{zone_name}", name_of(&zone, "type")), file));
        }
    }
    for hwmon in glob("/sys/class/hwmon", "hwmon") {
        for file in glob(&hwmon.to_string_lossy(), "temp") {
            let f = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if f.ends_with("_input") && read_f64(&file).is_some() {
                out.push((
                    format!(
                        "{}.{}",
                        name_of(&hwmon, "name"),
                        f.trim_end_matches("_input")
                    ),
                    file,
                ));
            }
        }
    }
    // A descriptor's file may be one found above by another path
    // (/sys/devices/virtual/thermal/... is /sys/class/thermal/...).
    let real = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let mut seen: Vec<PathBuf> = out.iter().map(|(_, p)| real(p)).collect();
    for file in extra {
        if read_f64(file).is_some() && !seen.contains(&real(file)) {
            seen.push(real(file));
            out.push((file.display().to_string(), file.clone()));
        }
    }
    out
}

/// The hottest sensor now, in °C, with its file; `None` without sensors.
pub fn max_temperature() -> Option<(f64, PathBuf)> {
    temperature_sensors(&[])
        .into_iter()
        .filter_map(|(_, f)| read_f64(&f).map(|m| (m / 1000.0, f)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Why the machine could not be cooled.
#[derive(Debug)]
pub enum CoolDownError {
    /// No temperature sensor to watch.
    NoSensor,
    /// Still too hot when the time ran out.
    Timeout {
        /// The target, °C.
        target_c: f64,
        /// The reading at the end, °C.
        now_c: f64,
        /// The time waited.
        waited: Duration,
    },
}

impl std::fmt::Display for CoolDownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoolDownError::NoSensor => f.write_str(
                "cannot cool down: no readable temperature sensor (/sys/class/thermal, /sys/class/hwmon)",
            ),
            CoolDownError::Timeout {
                target_c,
                now_c,
                waited,
            } => write!(
                f,
                "still {now_c:.1} °C after waiting {:.0} s for {target_c:.1} °C",
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for CoolDownError {}

/// Waits, idle, until the hottest sensor is at or below `target_c`.
pub fn cool_down(target_c: f64, timeout: Duration) -> Result<CoolDown, CoolDownError> {
    let start = Instant::now();
    let (start_c, _) = max_temperature().ok_or(CoolDownError::NoSensor)?;
    loop {
        let (now_c, file) = max_temperature().ok_or(CoolDownError::NoSensor)?;
        if now_c <= target_c {
            return Ok(CoolDown {
                target_c,
                start_c,
                end_c: now_c,
                waited_s: start.elapsed().as_secs_f64(),
                source: file.display().to_string(),
            });
        }
        if start.elapsed() >= timeout {
            return Err(CoolDownError::Timeout {
                target_c,
                now_c,
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub(crate) fn cpufreq_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/sys/devices/system/cpu")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix("cpu"))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .map(|p| p.join("cpufreq"))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Watches CPU frequency caps, current frequencies and the kernel's
/// thermal-throttle counters.
pub(crate) struct ThrottleWatch {
    cpufreq: Vec<PathBuf>,
    max_at_start: Vec<Option<f64>>,
    counters: Vec<(PathBuf, f64)>,
    highest: f64,
    lowest_after_peak: f64,
    samples: usize,
}

/// A sample below this fraction of the highest frequency seen is a drop.
const DROP: f64 = 0.85;

impl ThrottleWatch {
    pub fn start() -> Self {
        let cpufreq = cpufreq_dirs();
        let max_at_start = cpufreq
            .iter()
            .map(|d| read_f64(&d.join("scaling_max_freq")))
            .collect();
        let mut counters = Vec::new();
        if let Ok(d) = std::fs::read_dir("/sys/devices/system/cpu") {
            for e in d.flatten() {
                for name in ["core_throttle_count", "package_throttle_count"] {
                    let f = e.path().join("thermal_throttle").join(name);
                    if let Some(v) = read_f64(&f) {
                        counters.push((f, v));
                    }
                }
            }
        }
        ThrottleWatch {
            cpufreq,
            max_at_start,
            counters,
            highest: 0.0,
            lowest_after_peak: f64::MAX,
            samples: 0,
        }
    }

    pub fn sample(&mut self) {
        let khz: Vec<f64> = self
            .cpufreq
            .iter()
            .filter_map(|d| read_f64(&d.join("scaling_cur_freq")))
            .collect();
        if khz.is_empty() {
            return;
        }
        let mean = khz.iter().sum::<f64>() / khz.len() as f64;
        self.samples += 1;
        if mean > self.highest {
            self.highest = mean;
            self.lowest_after_peak = mean;
        } else {
            self.lowest_after_peak = self.lowest_after_peak.min(mean);
        }
    }

    pub fn finish(self) -> Throttle {
        let mut sources: Vec<String> = self
            .counters
            .iter()
            .map(|(f, _)| f.display().to_string())
            .collect();
        if self.cpufreq.is_empty() && self.counters.is_empty() {
            return Throttle {
                detected: None,
                reasons: vec![
                    "cannot watch: no cpufreq and no thermal_throttle counters under /sys/devices/system/cpu (virtual machine?)".into(),
                ],
                sources,
            };
        }
        let mut reasons = Vec::new();
        for (f, before) in &self.counters {
            if let Some(after) = read_f64(f) {
                if after > *before {
                    reasons.push(format!("{}: {before} → {after}", f.display()));
                }
            }
        }
        for (d, before) in self.cpufreq.iter().zip(&self.max_at_start) {
            let f = d.join("scaling_max_freq");
            if let (Some(before), Some(after)) = (before, read_f64(&f)) {
                if after < *before {
                    reasons.push(format!(
                        "{}: cap lowered from {:.0} to {:.0} MHz",
                        f.display(),
                        before / 1e3,
                        after / 1e3
                    ));
                }
            }
        }
        if self.samples > 1 && self.lowest_after_peak < DROP * self.highest {
            reasons.push(format!(
                "mean CPU frequency fell from {:.0} to {:.0} MHz (below {:.0} % of its peak)",
                self.highest / 1e3,
                self.lowest_after_peak / 1e3,
                DROP * 100.0
            ));
        }
        if !self.cpufreq.is_empty() {
            sources.push(
                "/sys/devices/system/cpu/cpu*/cpufreq/{scaling_cur_freq,scaling_max_freq}".into(),
            );
        }
        Throttle {
            detected: Some(!reasons.is_empty()),
            reasons,
            sources,
        }
    }
}
