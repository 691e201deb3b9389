//! The settings of one engine's run: device, threads, warm-up, steady
//! state, monitors (read by the runner and by the subject's loading).

use std::time::Duration;

use lpdnn_engine_api::Device;
use lpdnn_monitors::MonitorConfig;

/// When warm-up ends.
#[derive(Debug, Clone, PartialEq)]
pub enum WarmupPlan {
    /// After this many iterations.
    Iterations(u64),
    /// After this long (at least one iteration).
    Time(Duration),
    /// When the mean `total` time of two successive windows of `window`
    /// iterations differs by at most `tolerance` (relative), or after
    /// `max_time` (then marked `not_converged`).
    Converge {
        /// Relative tolerance, e.g. 0.02.
        tolerance: f64,
        /// Iterations per window.
        window: u64,
        /// Give up after this long.
        max_time: Duration,
    },
}

impl std::fmt::Display for WarmupPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarmupPlan::Iterations(n) => write!(f, "{n} iteration(s)"),
            WarmupPlan::Time(d) => write!(f, "{:.3} s", d.as_secs_f64()),
            WarmupPlan::Converge {
                tolerance,
                window,
                max_time,
            } => write!(
                f,
                "until two successive {window}-iteration windows agree within {:.1} % (at most {:.0} s)",
                tolerance * 100.0,
                max_time.as_secs_f64()
            ),
        }
    }
}

/// How long the steady state runs. With both limits, whichever is reached
/// first ends it; with neither, [`BenchConfig::DEFAULT_DURATION`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// Passes over the dataset.
    pub number: Option<u64>,
    /// Wall-clock limit.
    pub duration: Option<Duration>,
}

/// Settings of one engine's run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Engine threads (`None`: the app's).
    pub threads: Option<usize>,
    /// Device (`None`: the app's).
    pub device: Option<Device>,
    /// Warm-up.
    pub warmup: WarmupPlan,
    /// Steady-state limits.
    pub stop: Stop,
    /// Monitors (`None`: off).
    pub monitors: Option<MonitorConfig>,
    /// Wait until the hottest sensor is at or below this (°C), at most this long.
    pub cooldown: Option<(f64, Duration)>,
    /// Time the engine alone, as the engines' own tools do: every input is
    /// pre-processed once before warm-up, and warm-up and steady state run
    /// only the `inference` stage on those tensors (a bare model always is).
    pub inference_only: bool,
    /// Profiled runs for per-layer times after the steady state (`None`: none).
    pub layers: Option<u64>,
    /// Check each engine's outputs against this reference's, input by input.
    pub check_against: Option<crate::CheckAgainst>,
}

impl BenchConfig {
    /// Steady-state duration when neither a count nor a duration is given.
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(5);
}
