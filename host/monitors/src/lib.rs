//! Resource monitors: a background thread samples the process and the
//! machine at a stated rate, on a timeline shared with the stage samples.
//!
//! Every metric is either a value with its source, or `unsupported` with the
//! reason: a metric that was not measured is never reported as 0.
//!
//! ```no_run
//! let monitor = lpdnn_monitors::Monitor::start(lpdnn_monitors::MonitorConfig::default(), std::time::Instant::now());
//! // ... the run ...
//! let recording = monitor.stop();
//! for (name, metric) in &recording.metrics {
//!     println!("{name}: {metric}");
//! }
//! ```

#![warn(missing_docs)]

mod channel;
mod perf;
mod probes;
mod sysfs;
mod thermal;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use lpdnn_report::{CoolDown, Metric, Point, Throttle};
pub use thermal::{cool_down, max_temperature, CoolDownError};

/// What to sample and how often.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Time between samples.
    pub interval: Duration,
    /// Extra temperature files (millidegrees Celsius), e.g. from a platform
    /// descriptor; globs are not expanded here.
    pub thermal_files: Vec<String>,
    /// The board's own sensors, from its platform descriptor: its thermal
    /// files are read besides those found, its power rails replace the
    /// ones found (they are named, and know which is the board's total),
    /// its GPU and NPU load files are read where NVML or RKNPU are absent.
    pub board: Option<BoardSensors>,
}

/// A board's sensors, as its platform descriptor lists them.
#[derive(Debug, Clone)]
pub struct BoardSensors {
    /// The descriptor's name.
    pub board: String,
    /// Its sensors (globs allowed).
    pub sensors: lpdnn_platforms::Sensors,
}

impl BoardSensors {
    /// The sensors of the descriptor that describes this machine.
    pub fn detect() -> Option<BoardSensors> {
        let name = lpdnn_platforms::Host::detect().descriptor?;
        let d = lpdnn_platforms::Descriptor::named(&name)?;
        Some(BoardSensors {
            board: d.name,
            sensors: d.sensors,
        })
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_millis(100),
            thermal_files: Vec::new(),
            board: None,
        }
    }
}

/// What a monitor recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recording {
    /// Sampling interval, in ms.
    pub interval_ms: f64,
    /// Every metric by name, measured or not.
    pub metrics: BTreeMap<String, Metric>,
    /// The samples, in time order.
    pub timeline: Vec<Point>,
    /// Frequency drops and throttle events seen during the run.
    pub throttle: Throttle,
}

/// A running monitor.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Recording>,
}

impl Monitor {
    /// Starts sampling in a background thread; `epoch` is time 0 of the
    /// timeline (the run's start, shared with the stage samples). Returns
    /// once the probes are found and primed, so that even a run shorter
    /// than one interval has a baseline to measure rates from.
    pub fn start(config: MonitorConfig, epoch: Instant) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready, primed) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("lpdnn-monitor".into())
            .spawn(move || {
                // The monitor's own allocations are not the stages'.
                lpdnn_anchors::exclude_this_thread();
                sample_until(&config, epoch, &flag, ready)
            })
            .expect("spawning the monitor thread");
        // An error means the thread is gone; `stop` will report it.
        let _ = primed.recv();
        Monitor { stop, thread }
    }

    /// Stops sampling (after one last sample) and returns the recording.
    pub fn stop(self) -> Recording {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        self.thread
            .join()
            .expect("the monitor thread does not panic")
    }
}

fn sample_until(
    config: &MonitorConfig,
    epoch: Instant,
    stop: &AtomicBool,
    ready: std::sync::mpsc::SyncSender<()>,
) -> Recording {
    let mut probes = probes::discover(config);
    let _ = ready.send(());
    let mut throttle = thermal::ThrottleWatch::start();
    let mut timeline = Vec::new();
    let mut next = Instant::now();
    loop {
        let done = stop.load(Ordering::Relaxed);
        let now = Instant::now();
        let mut values = BTreeMap::new();
        for probe in &mut probes.channels {
            if let Some(v) = (probe.read)() {
                values.insert(probe.name.clone(), v);
            }
        }
        throttle.sample();
        timeline.push(Point {
            t: now.saturating_duration_since(epoch).as_secs_f64(),
            values,
        });
        if done {
            break;
        }
        next += config.interval;
        let now = Instant::now();
        if next > now {
            std::thread::park_timeout(next - now);
        } else {
            next = now;
        }
    }
    let mut metrics = probes.unsupported;
    for probe in &probes.channels {
        // The first reading of a rate (CPU load, power) has no interval.
        let values: Vec<f64> = timeline
            .iter()
            .filter_map(|p| p.values.get(&probe.name).copied())
            .collect();
        let metric = if values.is_empty() {
            Metric::unsupported(format!("{} gave no reading during the run", probe.source))
        } else {
            Metric::Measured {
                mean: values.iter().sum::<f64>() / values.len() as f64,
                peak: values.iter().copied().fold(f64::MIN, f64::max),
                unit: probe.unit.to_owned(),
                source: probe.source.clone(),
                samples: values.len(),
            }
        };
        metrics.insert(probe.name.clone(), metric);
    }
    for (name, metric) in (probes.finish)(&timeline) {
        metrics.insert(name, metric);
    }
    Recording {
        interval_ms: config.interval.as_secs_f64() * 1e3,
        metrics,
        timeline,
        throttle: throttle.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_yields_every_metric_measured_or_with_a_reason() {
        let epoch = Instant::now();
        let monitor = Monitor::start(
            MonitorConfig {
                interval: Duration::from_millis(20),
                ..Default::default()
            },
            epoch,
        );
        // Busy for a while so the process load is visible.
        let until = Instant::now() + Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let rec = monitor.stop();
        assert!(rec.timeline.len() >= 5, "{}", rec.timeline.len());
        assert!(rec.timeline.windows(2).all(|w| w[0].t <= w[1].t));
        for name in [
            "cpu_load_process",
            "cpu_load_system",
            "memory_rss",
            "memory_rss_peak",
            "temperature",
            "power",
            "energy",
            "gpu_load",
            "gpu_memory",
            "gpu_temperature",
            "gpu_power",
            "npu_load",
            "memory_bandwidth",
            "cpu_frequency",
        ] {
            match rec.metrics.get(name) {
                Some(Metric::Unsupported { unsupported }) => {
                    assert!(!unsupported.is_empty(), "{name}")
                }
                Some(Metric::Measured { source, .. }) => assert!(!source.is_empty(), "{name}"),
                None => panic!("{name} missing from {:?}", rec.metrics.keys()),
            }
        }
        // A busy thread on this process: load well above zero, RSS measured.
        let load = rec.metrics["cpu_load_process"].mean().unwrap();
        assert!(load > 10.0, "{load}");
        let rss = rec.metrics["memory_rss"].mean().unwrap();
        assert!(rss > 1.0, "{rss} MiB");
        assert!(rec.metrics["memory_rss_peak"].peak().unwrap() >= rss * 0.99);
    }
}
