//! Resource readings as a run records them: each metric measured (with its
//! source) or unsupported (with why), the monitor's samples, throttling and
//! the cool-down before the run. The monitors produce them; the report
//! carries them as plain data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One metric of a run: measured, with its source, or unsupported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Metric {
    /// Measured over the run.
    Measured {
        /// Mean over the samples (or the single reading).
        mean: f64,
        /// Highest sample.
        peak: f64,
        /// Unit (`%`, `MiB`, `°C`, `W`, `J`, `MHz`, `MB/s`).
        unit: String,
        /// Where it was read (file, API or counter).
        source: String,
        /// Number of samples.
        samples: usize,
    },
    /// Not measured here.
    Unsupported {
        /// Why.
        unsupported: String,
    },
}

impl Metric {
    /// An unsupported metric.
    pub fn unsupported(reason: impl Into<String>) -> Metric {
        Metric::Unsupported {
            unsupported: reason.into(),
        }
    }

    /// The mean, when measured.
    pub fn mean(&self) -> Option<f64> {
        match self {
            Metric::Measured { mean, .. } => Some(*mean),
            Metric::Unsupported { .. } => None,
        }
    }

    /// The peak, when measured.
    pub fn peak(&self) -> Option<f64> {
        match self {
            Metric::Measured { peak, .. } => Some(*peak),
            Metric::Unsupported { .. } => None,
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::Measured {
                mean,
                peak,
                unit,
                source,
                samples,
            } => write!(
                f,
                "mean {mean:.2} {unit}, peak {peak:.2} {unit} ({samples} sample(s), {source})"
            ),
            Metric::Unsupported { unsupported } => write!(f, "unsupported: {unsupported}"),
        }
    }
}

/// One sample of every measured channel, `t` seconds after the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the run's epoch.
    pub t: f64,
    /// Channel name → value.
    pub values: BTreeMap<String, f64>,
}

/// The outcome of waiting for the machine to cool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoolDown {
    /// The target, °C.
    pub target_c: f64,
    /// Hottest sensor when waiting began, °C.
    pub start_c: f64,
    /// Hottest sensor when the run began, °C.
    pub end_c: f64,
    /// Seconds waited.
    pub waited_s: f64,
    /// The hottest sensor's file at the end.
    pub source: String,
}

/// Throttling seen during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    /// `Some(true)` if throttled, `Some(false)` if watched and not,
    /// `None` if it could not be watched.
    pub detected: Option<bool>,
    /// What was seen (or why nothing could be watched).
    pub reasons: Vec<String>,
    /// The files watched.
    pub sources: Vec<String>,
}
