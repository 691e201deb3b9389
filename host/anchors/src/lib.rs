//! Timing anchors: real time from a monotonic clock and CPU time of the
//! running thread, taken around each pipeline stage.
//!
//! ```
//! let mut anchors = lpdnn_anchors::Anchors::default();
//! let start = lpdnn_anchors::Mark::now();
//! // ... the stage ...
//! anchors.record("inference", start.elapsed());
//! assert_eq!(anchors.summary()[0].calls, 1);
//! ```

#![warn(missing_docs)]

mod alloc;

use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};

pub use alloc::{allocated_bytes, exclude_this_thread, is_counting, CountingAllocator};

/// CPU time consumed so far by the calling thread.
///
/// Linux/Unix `CLOCK_THREAD_CPUTIME_ID`; it counts only this thread, so work
/// an engine hands to its own worker threads shows in real time, not here.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // that every supported kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A point in time on both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    real: Instant,
    cpu: Duration,
    allocated: u64,
}

impl Mark {
    /// Reads both clocks now.
    #[inline]
    pub fn now() -> Self {
        Mark {
            real: Instant::now(),
            cpu: thread_cpu_time(),
            allocated: allocated_bytes(),
        }
    }

    /// Real and CPU time since this mark.
    #[inline]
    pub fn elapsed(&self) -> Sample {
        let cpu = thread_cpu_time();
        Sample {
            real: self.real.elapsed(),
            cpu: cpu.saturating_sub(self.cpu),
            allocated: allocated_bytes().saturating_sub(self.allocated),
        }
    }
}

/// One measurement of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Wall-clock (monotonic) duration.
    pub real: Duration,
    /// CPU time of the measuring thread.
    pub cpu: Duration,
    /// Heap bytes allocated meanwhile, by every thread but those excluded
    /// ([`exclude_this_thread`]); 0 unless the binary installs
    /// [`CountingAllocator`] (see [`is_counting`]).
    pub allocated: u64,
}

/// The samples of one named stage.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Stage name (`preprocess`, `inference`, ...).
    pub name: String,
    /// Every sample, in call order.
    pub samples: Vec<Sample>,
}

/// All anchors of a run, in the order stages were first recorded.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    anchors: Vec<Anchor>,
}

impl Anchors {
    /// Adds one sample to the stage `name`.
    pub fn record(&mut self, name: &str, sample: Sample) {
        match self.anchors.iter_mut().find(|a| a.name == name) {
            Some(a) => a.samples.push(sample),
            None => self.anchors.push(Anchor {
                name: name.to_owned(),
                samples: vec![sample],
            }),
        }
    }

    /// The raw anchors.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// The anchor named `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.name == name)
    }

    /// Statistics of every stage.
    pub fn summary(&self) -> Summary {
        Summary(
            self.anchors
                .iter()
                .map(|a| StageStats {
                    name: a.name.clone(),
                    calls: a.samples.len(),
                    real_ms: Moments::of(a.samples.iter().map(|s| ms(s.real))),
                    cpu_ms: Moments::of(a.samples.iter().map(|s| ms(s.cpu))),
                })
                .collect(),
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Mean, standard deviation and variance of a set of values.
///
/// The variance is the sample variance (divided by n − 1), as in the
/// benchmark's statistics, so STD and VAR mean the same in `run` and
/// `benchmark`; it is 0 for fewer than two samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Moments {
    /// Arithmetic mean.
    pub mean: f64,
    /// Square root of `var`.
    pub std: f64,
    /// Sample variance (n − 1).
    pub var: f64,
}

impl Moments {
    /// Computes the moments with Welford's algorithm (stable for long runs).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let (mut n, mut mean, mut m2) = (0u64, 0.0f64, 0.0f64);
        for x in values {
            n += 1;
            let delta = x - mean;
            mean += delta / n as f64;
            m2 += delta * (x - mean);
        }
        let var = if n > 1 { m2 / (n - 1) as f64 } else { 0.0 };
        Moments {
            mean,
            std: var.sqrt(),
            var,
        }
    }
}

/// Statistics of one stage, times in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageStats {
    /// Stage name.
    #[serde(skip)]
    pub name: String,
    /// Number of samples.
    pub calls: usize,
    /// Real time.
    pub real_ms: Moments,
    /// CPU time of the measuring thread.
    pub cpu_ms: Moments,
}

/// Statistics of every stage, serialised as an object keyed by stage name in
/// recording order.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary(pub Vec<StageStats>);

impl std::ops::Deref for Summary {
    type Target = [StageStats];
    fn deref(&self) -> &[StageStats] {
        &self.0
    }
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for stage in &self.0 {
            map.serialize_entry(&stage.name, stage)?;
        }
        map.end()
    }
}

impl Summary {
    /// The table of the seed's Figure 8: calls, real and CPU mean, std and
    /// variance per stage, in ms; `plugins` names what ran each stage.
    pub fn table(&self, plugin: impl Fn(&str) -> String) -> String {
        use std::fmt::Write;
        let header = [
            "Calls", "Real", "CPU", "Real STD", "CPU STD", "Real VAR", "CPU VAR",
        ];
        let width = self
            .0
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = String::new();
        let _ = write!(out, "{:width$}", "", width = width);
        for h in header {
            let _ = write!(out, " {h:>10}");
        }
        let _ = writeln!(out, "  Plugin");
        let rule = "-".repeat(width + 11 * header.len() + 8);
        let _ = writeln!(out, "{rule}");
        for s in &self.0 {
            let line = format!(
                "{:width$} {:>10} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}  {}",
                s.name,
                s.calls,
                s.real_ms.mean,
                s.cpu_ms.mean,
                s.real_ms.std,
                s.cpu_ms.std,
                s.real_ms.var,
                s.cpu_ms.var,
                plugin(&s.name),
                width = width
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = write!(out, "{rule}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_a_hand_computation() {
        // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squares sum 32, sample variance 32/7.
        let m = Moments::of([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((m.mean - 5.0).abs() < 1e-12);
        assert!((m.var - 32.0 / 7.0).abs() < 1e-12);
        assert!((m.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(Moments::of([3.0]).var, 0.0);
    }

    #[test]
    fn cpu_time_advances_with_work_and_not_with_sleep() {
        let start = Mark::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let busy = start.elapsed();
        assert!(busy.cpu > Duration::from_millis(1), "{busy:?}");

        let start = Mark::now();
        std::thread::sleep(Duration::from_millis(50));
        let idle = start.elapsed();
        assert!(idle.real >= Duration::from_millis(50), "{idle:?}");
        assert!(idle.cpu < Duration::from_millis(25), "{idle:?}");
    }

    #[test]
    fn summary_keeps_stage_order_and_counts() {
        let mut a = Anchors::default();
        let s = |ms: u64| Sample {
            real: Duration::from_millis(ms),
            cpu: Duration::from_millis(ms / 2),
            allocated: 0,
        };
        a.record("preprocess", s(2));
        a.record("inference", s(10));
        a.record("preprocess", s(4));
        let sum = a.summary();
        assert_eq!(sum[0].name, "preprocess");
        assert_eq!(sum[0].calls, 2);
        assert!((sum[0].real_ms.mean - 3.0).abs() < 1e-9);
        assert!((sum[0].cpu_ms.mean - 1.5).abs() < 1e-9);
        let json = serde_json::to_string(&sum).unwrap();
        assert!(json.starts_with("{\"preprocess\":{\"calls\":2,"), "{json}");
        let table = sum.table(|_| "x".into());
        assert!(table.contains("Real VAR"), "{table}");
    }
}
