//! Benchmark as a Service: the types the server, the workers and the
//! client share. A job's **status** (where it is) and its **result** (how
//! it ended) are two fields, as in AWS Device Farm.

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use lpdnn_types::{Device, EngineName, ModelFormat};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker of its platform and profile.
    Queued,
    /// Waiting, and no worker of its platform and profile is alive.
    PendingDevice,
    /// A worker holds its lease and runs it.
    Running,
    /// Ended; see its [`JobResult`].
    Completed,
    /// Cancelled by its owner before it ended.
    Cancelled,
}

/// How a completed job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    /// The benchmark ran; its report is ready.
    Passed,
    /// It did not; see the [`FailureKind`] and message.
    Failed,
}

/// Why a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The model or app is at fault (it does not load, crashes the engine,
    /// exhausts memory): retrying will not help.
    UserError,
    /// The service is at fault (workers lost, no device): a retry may pass.
    InfraError,
    /// It ran past its time limit, or waited past the queue's.
    Timeout,
}

macro_rules! words {
    ($t:ty { $($v:ident = $w:literal),* $(,)? }) => {
        impl $t {
            /// The word used in the API and the store.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $w),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($w => Ok(Self::$v),)*
                    _ => Err(UnknownWord {
                        what: stringify!($t),
                        word: s.to_owned(),
                        known: &[$($w),*],
                    }),
                }
            }
        }
    };
}

words!(JobStatus {
    Queued = "queued",
    PendingDevice = "pending_device",
    Running = "running",
    Completed = "completed",
    Cancelled = "cancelled",
});
words!(JobResult {
    Passed = "passed",
    Failed = "failed",
});
words!(FailureKind {
    UserError = "user_error",
    InfraError = "infra_error",
    Timeout = "timeout",
});

/// How one run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// Its worker delivered the report.
    Passed,
    /// Its worker reported a failure (see the run's [`FailureKind`]).
    Failed,
    /// Its worker stopped answering: the lease ran out.
    Lapsed,
    /// The job was cancelled while it ran.
    Cancelled,
}

words!(RunEnd {
    Passed = "passed",
    Failed = "failed",
    Lapsed = "lapsed",
    Cancelled = "cancelled",
});

/// One run of a job: a worker's lease, from its claim to its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    /// Which run (from 1).
    pub attempt: u32,
    /// The worker that ran it.
    pub worker: String,
    /// When the worker took it (ms since the Unix epoch).
    pub started_ms: i64,
    /// When it ended (`null` while it runs).
    pub ended_ms: Option<i64>,
    /// How it ended (`null` while it runs).
    pub end: Option<RunEnd>,
    /// Why it failed, when it did.
    pub failure: Option<FailureKind>,
}

/// `GET /v1/jobs/{id}/runs`: a job's runs, first first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunList {
    /// The runs.
    pub runs: Vec<Run>,
}

/// A word that is not one of an enum's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {what} '{word}' (one of: {})", .known.join(", "))]
pub struct UnknownWord {
    /// The enum.
    pub what: &'static str,
    /// The word given.
    pub word: String,
    /// The words it has.
    pub known: &'static [&'static str],
}

/// What a job runs: a bare model or an app bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A model file alone, on synthetic or given tensors.
    Model,
    /// An archive of an app: app.json, models, components, labels, inputs.
    Bundle,
}

/// The benchmark settings a job carries (all optional: the worker's
/// defaults otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Engine threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Steady-state passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Steady-state seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Warm-up iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<u64>,
    /// Input shapes of a bare model, `NAME=1,3,224,224`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_shapes: Vec<String>,
    /// Profiled runs for per-layer times (`benchmark --layers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<u64>,
    /// Check the outputs against this engine's on the same worker
    /// (`benchmark --check-against`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_against: Option<EngineName>,
    /// The uploaded file's name, made safe by [`upload_name`]: a bare
    /// model's report is titled with it. Never used as a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Longest upload name kept, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// A stranger's file name made fit to show: its last path component
/// (after `/` or `\`), without control or bidirectional-override
/// characters, trimmed, at most [`MAX_NAME_CHARS`] characters; `None`
/// when nothing is left (or only `.`/`..`).
pub fn upload_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(MAX_NAME_CHARS)
        .collect();
    let kept = kept.trim();
    (!kept.is_empty() && kept != "." && kept != "..").then(|| kept.to_owned())
}

/// What a user asks for, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobSpec {
    /// Platform name (a descriptor in `platforms/`).
    pub platform: String,
    /// Profile name (the engine library versions of that platform).
    pub profile: String,
    /// Engine (our name: `lne`, `onnxruntime`, ...).
    pub engine: EngineName,
    /// Where it runs.
    pub device: Device,
    /// A model or an app bundle.
    pub subject: SubjectKind,
    /// SHA-256 of the uploaded file (its name in the content store).
    pub sha256: String,
    /// Its format as sniffed at upload (`ONNX`, `TFLite`, `NCNN`, `tar`, `zip`).
    pub format: String,
    /// Benchmark settings.
    pub options: JobOptions,
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// Who submitted it (a token's owner; `anonymous` without tokens).
    pub owner: String,
    /// What it runs.
    pub spec: JobSpec,
    /// Where it is.
    pub status: JobStatus,
    /// How it ended (`null` until completed).
    pub result: Option<JobResult>,
    /// Why it failed.
    pub failure: Option<FailureKind>,
    /// What the user should know (the failure's reason, why it waits).
    pub message: Option<String>,
    /// Runs begun so far (a lapsed lease starts another).
    pub attempts: u32,
    /// The worker that holds or held it.
    pub worker: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When its last run began.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// The job this one retries.
    pub retry_of: Option<String>,
    /// Which isolation measures applied to its last run (rlimits, network
    /// namespace, own folder, wall-clock limit), as the worker recorded them.
    #[schema(value_type = Option<Object>)]
    pub sandbox: Option<serde_json::Value>,
    /// How far a running job is (shown by the API, not stored in the job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// Where a job's resources are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobLinks {
    /// The job (`GET`).
    #[serde(rename = "self")]
    pub this: String,
    /// Its report (`GET`, `?format=json|csv|html`).
    pub result: String,
    /// Its progress as server-sent events (`GET`).
    pub events: String,
    /// Cancels it (`POST`).
    pub cancel: String,
    /// Runs it again as a new job (`POST`).
    pub retry: String,
    /// Its runs: which worker ran it when, and how each run ended (`GET`).
    pub runs: String,
}

impl JobLinks {
    /// The links of the job `id`.
    pub fn of(id: &str) -> JobLinks {
        let this = format!("/v1/jobs/{id}");
        JobLinks {
            result: format!("{this}/result"),
            events: format!("{this}/events"),
            cancel: format!("{this}/cancel"),
            retry: format!("{this}/retry"),
            runs: format!("{this}/runs"),
            this,
        }
    }
}

/// A job as the API answers it: the job's fields and its links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Where its resources are.
    pub links: JobLinks,
}

impl From<Job> for JobView {
    fn from(job: Job) -> JobView {
        JobView {
            links: JobLinks::of(&job.id),
            job,
        }
    }
}

/// `GET /v1/jobs`: the caller's jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobList {
    /// The jobs, newest first, at most `limit`.
    pub jobs: Vec<JobView>,
}

/// An accepted upload (`202`), or with `wait` a job that ended in time
/// (`200`, with its report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The job.
    pub job: JobView,
    /// With `wait`, the report (the JSON of `benchmark --filename`) when
    /// the job passed in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
}

/// Most cells one sweep may have (each is a job, counted in the owner's
/// quota).
pub const MAX_SWEEP_CELLS: usize = 32;

/// One cell of a sweep: where and how one of its jobs runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cell {
    /// Platform name.
    pub platform: String,
    /// Profile name.
    pub profile: String,
    /// Engine.
    pub engine: EngineName,
    /// Where it runs.
    pub device: Device,
    /// Engine threads (`null`: the worker's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

/// A sweep's cell as stored: its job, or why it was not queued (the
/// engine is not offered there, does not take the model, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupCell {
    /// Where and how.
    #[serde(flatten)]
    pub cell: Cell,
    /// Its job's id (`null` when refused).
    pub job: Option<String>,
    /// Why it was refused at submission (`null` when queued).
    pub refused: Option<String>,
}

/// A job group: one sweep's cells, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    /// Its id.
    pub id: String,
    /// Who submitted it.
    pub owner: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Its cells.
    pub cells: Vec<GroupCell>,
}

/// Where a group's resources are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupLinks {
    /// The group (`GET`).
    #[serde(rename = "self")]
    pub this: String,
    /// Its comparison report once every cell ended (`GET`,
    /// `?format=json|csv|html`).
    pub report: String,
}

impl GroupLinks {
    /// The links of the group `id`.
    pub fn of(id: &str) -> GroupLinks {
        let this = format!("/v1/groups/{id}");
        GroupLinks {
            report: format!("{this}/report"),
            this,
        }
    }
}

/// A cell as the API shows it: its job with that job's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CellView {
    /// Where and how.
    #[serde(flatten)]
    pub cell: Cell,
    /// Its job (`null` when refused).
    pub job: Option<JobView>,
    /// Why it was refused at submission.
    pub refused: Option<String>,
}

/// A group as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupView {
    /// Its id.
    pub id: String,
    /// Who submitted it.
    pub owner: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// `completed` once every job ended (passed, failed or cancelled),
    /// `running` while one runs, `queued` before.
    pub status: JobStatus,
    /// Its cells, in the order asked.
    pub cells: Vec<CellView>,
    /// Where its resources are.
    pub links: GroupLinks,
}

impl GroupView {
    /// The group's status from its jobs'.
    pub fn status_of(cells: &[CellView]) -> JobStatus {
        let jobs = || {
            cells
                .iter()
                .filter_map(|c| c.job.as_ref().map(|j| j.job.status))
        };
        if jobs().all(|s| matches!(s, JobStatus::Completed | JobStatus::Cancelled)) {
            JobStatus::Completed
        } else if jobs().any(|s| s == JobStatus::Running) {
            JobStatus::Running
        } else {
            JobStatus::Queued
        }
    }

    /// Whether every cell that was queued ended.
    pub fn ended(&self) -> bool {
        self.status == JobStatus::Completed
    }
}

/// Every error's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, in words.
    pub error: String,
    /// What exists, when the error is about a name (platforms, profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// `GET /v1/devices`: the live catalog, one entry per worker heard from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceCatalog {
    /// The workers, each with what it offers and whether it is alive.
    pub devices: Vec<DeviceEntry>,
}

/// One worker of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceEntry {
    /// The worker's id.
    pub worker: String,
    /// Its platform.
    pub platform: String,
    /// Its profile.
    pub profile: String,
    /// Its `lpdnn-host` version.
    pub version: String,
    /// The engines it offers (one this release does not know is left out).
    #[serde(deserialize_with = "known_engines")]
    pub engines: Vec<WorkerEngine>,
    /// The machine: architecture, OS, CPU model, cores, kernel.
    #[schema(value_type = Option<Object>)]
    pub machine: Option<lpdnn_platforms::Host>,
    /// The platform's descriptor, when the platform has one.
    #[schema(value_type = Option<Object>)]
    pub descriptor: Option<lpdnn_platforms::Descriptor>,
    /// Whether it was heard from within the worker timeout.
    pub available: bool,
    /// Jobs queued for its platform and profile.
    pub queue_depth: u64,
    /// Its last heartbeat (RFC 3339, UTC).
    pub last_seen: String,
    /// Seconds since then.
    pub seconds_since_seen: f64,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `?format=` of `GET /v1/jobs/{id}/result`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultFormat {
    /// The report's JSON (`benchmark --filename`).
    #[default]
    Json,
    /// Its per-stage CSV.
    Csv,
    /// Its HTML page.
    Html,
}

impl ResultFormat {
    /// The name in the query.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultFormat::Json => "json",
            ResultFormat::Csv => "csv",
            ResultFormat::Html => "html",
        }
    }
}

/// `?format=` of `GET /v1/export`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header line.
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    /// The name in the query (and the file's extension).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

/// `?table=` of `GET /v1/export`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ExportTable {
    /// One row per passed job.
    #[default]
    Jobs,
    /// One row per layer of each passed job that timed its layers.
    Layers,
}

impl ExportTable {
    /// The name in the query.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportTable::Jobs => "jobs",
            ExportTable::Layers => "layers",
        }
    }
}

/// What a worker offers, as it registers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerInfo {
    /// Its id (chosen by the worker, unique per process).
    pub id: String,
    /// Platform it runs on.
    pub platform: String,
    /// Profile it offers.
    pub profile: String,
    /// `lpdnn-host` version.
    pub version: String,
    /// Engines available there, with their library versions (one this
    /// release does not know is left out).
    #[serde(deserialize_with = "known_engines")]
    pub engines: Vec<WorkerEngine>,
    /// The machine: architecture, OS, CPU model, cores, kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub machine: Option<lpdnn_platforms::Host>,
    /// The platform's descriptor (devices, engines, sensors), when the
    /// platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub descriptor: Option<lpdnn_platforms::Descriptor>,
}

/// One engine a worker offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerEngine {
    /// Our name.
    pub name: EngineName,
    /// Library version, when known.
    pub version: Option<String>,
    /// Devices usable there (one this release does not know is left out).
    #[serde(deserialize_with = "known_only")]
    pub devices: Vec<Device>,
    /// Model formats it takes (one this release does not know is left out).
    #[serde(deserialize_with = "known_only")]
    pub formats: Vec<ModelFormat>,
}

/// The engines of an offer whose name this release knows; any other fault
/// in an entry is an error.
fn known_engines<'de, D>(d: D) -> Result<Vec<WorkerEngine>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let entries = Vec::<serde_json::Value>::deserialize(d)?;
    let known = |v: &serde_json::Value| {
        v.get("name")
            .and_then(|n| n.as_str())
            .is_some_and(|n| n.parse::<EngineName>().is_ok())
    };
    entries
        .into_iter()
        .filter(known)
        .map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom))
        .collect()
}

/// The entries of a list of names this release knows: a newer worker's
/// offer still registers with an older server.
fn known_only<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
{
    let names = Vec::<String>::deserialize(d)?;
    Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
}

/// A running job's progress, as the benchmark child reports it and the
/// service streams it (`GET /v1/jobs/{id}/events`).
pub use lpdnn_bench_api::Progress;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_workers_offer_registers_without_what_this_release_does_not_know() {
        let offer = serde_json::json!({
            "id": "w1", "platform": "x86_64-linux", "profile": "default", "version": "9.9.9",
            "engines": [
                {"name": "openvino", "version": "2030.1", "devices": ["cpu"], "formats": ["IR"]},
                {"name": "onnxruntime", "version": "1.22.0", "devices": ["cpu", "fpga"],
                 "formats": ["ONNX", "OpenVINO IR"]}
            ]
        });
        let w: WorkerInfo = serde_json::from_value(offer.clone()).unwrap();
        assert_eq!(w.engines.len(), 1);
        assert_eq!(w.engines[0].name, EngineName::OnnxRuntime);
        assert_eq!(w.engines[0].devices, [Device::Cpu]);
        assert_eq!(w.engines[0].formats, [ModelFormat::Onnx]);
        // A known engine with a fault is still refused.
        let mut broken = offer;
        broken["engines"][1]["devices"] = "cpu".into();
        let err = serde_json::from_value::<WorkerInfo>(broken).unwrap_err();
        assert!(err.to_string().contains("expected a sequence"), "{err}");
    }

    #[test]
    fn words_round_trip_and_unknown_ones_list_the_known() {
        for s in [
            JobStatus::Queued,
            JobStatus::PendingDevice,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Cancelled,
        ] {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("queued, pending_device"), "{err}");
        assert_eq!(
            "timeout".parse::<FailureKind>().unwrap(),
            FailureKind::Timeout
        );
    }

    #[test]
    fn upload_names_keep_only_a_printable_last_component() {
        assert_eq!(upload_name("face.onnx").as_deref(), Some("face.onnx"));
        assert_eq!(
            upload_name("../../etc/x\u{1b}[31m.onnx").as_deref(),
            Some("x[31m.onnx")
        );
        assert_eq!(
            upload_name("C:\\models\\ev\u{202e}xnno.onnx").as_deref(),
            Some("evxnno.onnx")
        );
        assert_eq!(
            upload_name(" my model.tflite ").as_deref(),
            Some("my model.tflite")
        );
        for nothing in ["", "/", "..", "dir/", "\u{7}\n"] {
            assert_eq!(upload_name(nothing), None, "{nothing:?}");
        }
        let long = "é".repeat(500);
        assert_eq!(upload_name(&long).unwrap().chars().count(), MAX_NAME_CHARS);
    }
}
