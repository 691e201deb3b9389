//! The contract between whoever starts a benchmark in a process of its own
//! (the service's worker, the SSH remote) and that process: one
//! [`BenchRequest`], serialised as JSON on the child's standard input
//! (`lpdnn-host benchmark-child`), and [`ChildEvent`]s back, one per line
//! of its standard output after [`EVENT_PREFIX`].
//!
//! Both sides build and read these types, so renaming a setting breaks the
//! build, not a job at run time; [`PROTOCOL`] tells an old binary on a
//! board from a new request.

#![warn(missing_docs)]

use std::path::PathBuf;

pub use lpdnn_types::Device;
use serde::{Deserialize, Serialize};

/// The version of this contract; a child refuses a request of another.
pub const PROTOCOL: u32 = 1;

/// What starts each event line on the child's standard output; other lines
/// (the text report, an engine library's own chatter) are text.
pub const EVENT_PREFIX: &str = "lpdnn-event ";

/// How the warm-up ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// After this many iterations.
    Iterations(u64),
    /// After this many seconds (at least one iteration).
    Seconds(f64),
    /// When two successive windows agree within this relative tolerance.
    Converge(f64),
}

/// A benchmark to run, as the child reads it. Paths are the child's (its
/// working folder is the one it was started in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchRequest {
    /// [`PROTOCOL`] of the sender.
    pub protocol: u32,
    /// The app file (`app.json`), or a bare model.
    pub subject: PathBuf,
    /// An app's inputs: a folder or one file.
    #[serde(default)]
    pub dataset: Option<PathBuf>,
    /// A bare model's input tensors: a folder of `NAME.npy` files or of
    /// folders of them.
    #[serde(default)]
    pub inputs: Option<PathBuf>,
    /// A bare model's input shapes, `NAME=1,3,224,224`.
    #[serde(default)]
    pub input_shapes: Vec<String>,
    /// Seed of a bare model's synthetic inputs.
    #[serde(default)]
    pub seed: u64,
    /// Engines to run (empty: the app's).
    #[serde(default)]
    pub engines: Vec<String>,
    /// Device instead of the app's.
    #[serde(default)]
    pub device: Option<Device>,
    /// Engine threads instead of the app's.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Steady-state passes over the dataset.
    #[serde(default)]
    pub number: Option<u64>,
    /// Steady-state seconds.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// How the warm-up ends (`None`: the benchmark's default).
    #[serde(default)]
    pub warmup: Option<Warmup>,
    /// Time the inference stage alone.
    #[serde(default)]
    pub inference_only: bool,
    /// Profiled runs for per-layer times after the steady state; `None`: no
    /// per-layer profile.
    #[serde(default)]
    pub layers: Option<u64>,
    /// Check each engine's outputs against this engine's.
    #[serde(default)]
    pub check_against: Option<String>,
    /// The model file the reference engine runs (a bare model's; default:
    /// the same).
    #[serde(default)]
    pub reference_model: Option<PathBuf>,
    /// Largest relative error that agrees (default 1e-4).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Monitor sampling interval, ms; `None`: no monitors.
    #[serde(default)]
    pub monitor_interval_ms: Option<u64>,
    /// Wait before each engine's run until the hottest sensor is at or
    /// below this, °C.
    #[serde(default)]
    pub cooldown_c: Option<f64>,
    /// Give up cooling down after this many seconds.
    #[serde(default = "cooldown_timeout")]
    pub cooldown_timeout_s: f64,
    /// Every statistic in the text report (not only the brief columns).
    #[serde(default)]
    pub wide: bool,
    /// The report's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Where the result goes: `X.json`, `X.html`, `X.results.txt`.
    #[serde(default)]
    pub filename: Option<PathBuf>,
    /// Per-anchor statistics as CSV.
    #[serde(default)]
    pub csv: Option<PathBuf>,
    /// Every steady-state sample as CSV.
    #[serde(default)]
    pub samples: Option<PathBuf>,
    /// Every engine in the child's one process (default: one each).
    #[serde(default)]
    pub same_process: bool,
    /// Narrow the child's filesystem with Landlock before it reads
    /// anything.
    #[serde(default)]
    pub landlock: bool,
    /// Largest file read as a model, app, component or input, bytes
    /// (`None`: the binary's default).
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
    /// Folder of compiled components (`None`: the binary's default).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Trusted components only: no per-call deadline.
    #[serde(default)]
    pub no_deadline: bool,
    /// The process of one engine of a several-engine benchmark: runs only
    /// this engine and answers its parent in the engine protocol instead of
    /// with events.
    #[serde(default)]
    pub engine_child: Option<String>,
}

fn cooldown_timeout() -> f64 {
    300.0
}

impl BenchRequest {
    /// A request to benchmark `subject` with every setting at its default
    /// (monitors on at 100 ms, as `lpdnn-host benchmark`).
    pub fn new(subject: impl Into<PathBuf>) -> Self {
        BenchRequest {
            protocol: PROTOCOL,
            subject: subject.into(),
            dataset: None,
            inputs: None,
            input_shapes: Vec::new(),
            seed: 0,
            engines: Vec::new(),
            device: None,
            threads: None,
            number: None,
            duration_s: None,
            warmup: None,
            inference_only: false,
            layers: None,
            check_against: None,
            reference_model: None,
            tolerance: None,
            monitor_interval_ms: Some(100),
            cooldown_c: None,
            cooldown_timeout_s: cooldown_timeout(),
            wide: false,
            title: None,
            filename: None,
            csv: None,
            samples: None,
            same_process: false,
            landlock: false,
            max_file_bytes: None,
            cache_dir: None,
            no_deadline: false,
            engine_child: None,
        }
    }

    /// The request as the child reads it.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings, numbers, paths and flat enums: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The files the result is written to for `filename` `X.json`:
    /// `X.json`, `X.html` and `X.results.txt`.
    pub fn result_files(filename: &std::path::Path) -> [PathBuf; 3] {
        let stem = filename.file_stem().unwrap_or_default().to_string_lossy();
        [
            filename.to_owned(),
            filename.with_extension("html"),
            filename.with_file_name(format!("{stem}.results.txt")),
        ]
    }
}

/// A running benchmark's progress, as the child reports it and the service
/// streams it (`GET /v1/jobs/{id}/events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// The engine running.
    pub engine: String,
    /// `load`, `warm-up` or `steady`.
    pub phase: String,
    /// Iterations done in this phase.
    pub done: u64,
    /// Iterations planned, when a count limits the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// How far the phase is, 0 to 1, when it has a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// Seconds spent in this phase.
    pub elapsed_s: f64,
    /// Real time of the last iteration, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<f64>,
}

/// One line the child writes back after [`EVENT_PREFIX`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChildEvent {
    /// How far it is (at most a few a second).
    Progress(Progress),
    /// The result files it wrote, once, at the end.
    Written {
        /// Each file, as the request named it.
        files: Vec<PathBuf>,
    },
}

impl ChildEvent {
    /// The event as one line, prefix included, without the newline.
    pub fn line(&self) -> String {
        // A derived Serialize of strings, numbers and paths cannot fail.
        format!(
            "{EVENT_PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }

    /// The event a line of the child's output carries, if it is one.
    pub fn parse(line: &str) -> Option<ChildEvent> {
        serde_json::from_str(line.strip_prefix(EVENT_PREFIX)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_its_events_read_back_as_written() {
        let mut r = BenchRequest::new("bundle/app.json");
        r.engines = vec!["onnxruntime".into()];
        r.device = Some(Device::Cpu);
        r.warmup = Some(Warmup::Iterations(3));
        r.filename = Some("report.json".into());
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<BenchRequest>(&text).unwrap(), r);
        // A misspelt setting is refused, not ignored.
        let typo = text.replacen("\"number\"", "\"numbr\"", 1);
        let err = serde_json::from_str::<BenchRequest>(&typo).unwrap_err();
        assert!(err.to_string().contains("numbr"), "{err}");

        let e = ChildEvent::Progress(Progress {
            engine: "lne".into(),
            phase: "steady".into(),
            done: 4,
            total: Some(10),
            fraction: Some(0.4),
            elapsed_s: 1.5,
            last_ms: Some(2.0),
        });
        let line = e.line();
        assert!(
            line.starts_with("lpdnn-event {\"event\":\"progress\""),
            "{line}"
        );
        assert_eq!(ChildEvent::parse(&line), Some(e));
        assert_eq!(ChildEvent::parse("lpdnn-event {\"event\":\"nope\"}"), None);
        assert_eq!(ChildEvent::parse("a line of the text report"), None);
    }
}
