//! `lpdnn-host benchmark`: runs an app over a dataset, or a bare model on
//! tensors, in phases (load, first inference, warm-up, steady state), with
//! resource monitors beside it, and reports statistics per anchor, static
//! metrics and provenance as text, JSON, CSV and HTML; compares two results.
//!
//! [`Benchmark::run`] is the one entry the CLI, the service's worker and the
//! tests call; an [`Observer`] sees its progress.

#![warn(missing_docs)]

mod benchmark;
mod check;
mod config;
mod dataset;
mod isolate;
mod layers;
pub mod noise;
mod provenance;
mod runner;
mod subject;

use std::path::PathBuf;

pub use benchmark::{Benchmark, Refusal};
pub use check::CheckAgainst;
pub use dataset::{load_dataset, load_tensor_sets, read_npy, Input};
pub use isolate::CHILD_PREFIX;
pub use lpdnn_types::error_chain;
// The result and its renderings live in lpdnn-report; they are named here
// too, as the benchmark's output.
pub use lpdnn_report::{
    anchor_csv, compare_reports, cross_engine_table, html_report, stats, text_report,
    text_report_without_errors, AnchorStats, BenchConfigRecord, BoxMatch, Build, Comparison,
    Detail, Disturbed, EndedBy, EngineFailure, EngineRun, Gate, GateOutcome, LayerRow, Layers,
    OutputCheck, OutputDiff, Phases, Provenance, Report, Row, RunState, Side, StaticTotals, Steady,
    SubjectKind, Timeline, Verdict, Warmup, SCHEMA, WIDTH,
};
pub use runner::{BenchConfig, Event, Observer, Phase, Sample, Stop, WarmupPlan};
pub use subject::{ModelInputs, Subject};

/// Errors of a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The dataset folder cannot be used.
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An input failed in the pipeline.
    #[error("input {input}: {source}")]
    Input {
        /// The input's file name.
        input: String,
        /// The error.
        source: lpdnn_app::AppError,
    },
    /// The app failed to load.
    #[error(transparent)]
    App(#[from] lpdnn_app::AppError),
    /// The engine name is unknown.
    #[error(transparent)]
    UnknownEngine(#[from] lpdnn_engines::UnknownEngine),
    /// The engine refused or failed to load the model.
    #[error(transparent)]
    Engine(#[from] lpdnn_engine_api::EngineError),
    /// The thread count is out of range.
    #[error("threads {0}")]
    Threads(String),
    /// A bare model's input shapes are missing or do not fit.
    #[error("{model}: {message}")]
    InputShape {
        /// The model file.
        model: PathBuf,
        /// Which input and why.
        message: String,
        /// The input's shape with `N` for each open dimension
        /// (`x=N,3,N,N`), when sizes are missing.
        example: Option<String>,
    },
    /// A tensor set given to a bare model does not fit it, or the engine
    /// failed on it.
    #[error("input {input}: {message}")]
    ModelInput {
        /// The set's name.
        input: String,
        /// Why.
        message: String,
    },
    /// The machine could not be cooled.
    #[error(transparent)]
    CoolDown(#[from] lpdnn_monitors::CoolDownError),
    /// A results file cannot be read or is not a benchmark result.
    #[error(transparent)]
    Result(#[from] lpdnn_report::ResultError),
    /// An engine's run in a process of its own failed there (the child's
    /// error, as one line).
    #[error("{0}")]
    InChild(String),
    /// An engine's process could not start, or ended without a result.
    #[error("{0}")]
    ChildProcess(String),
    /// Engines that cannot run the subject, found before anything was
    /// measured.
    #[error("{}", cannot_run(subject, refusals))]
    CannotRun {
        /// The app or model, as named.
        subject: String,
        /// Each engine that cannot, with why.
        refusals: Vec<Refusal>,
    },
    /// Writing raw samples failed.
    #[error("cannot write samples: {0}")]
    Samples(std::io::Error),
}

/// The text of [`BenchError::CannotRun`]: one line, then one per engine.
fn cannot_run(subject: &str, refusals: &[Refusal]) -> String {
    let mut text = format!(
        "{} cannot run {subject}; nothing was measured",
        match refusals.len() {
            1 => "1 engine".to_owned(),
            n => format!("{n} engines"),
        }
    );
    for r in refusals {
        text.push_str(&format!("\n  {}: {}", r.engine, r.reason));
        if let Some(hint) = &r.hint {
            text.push_str(&format!("\n    {hint}"));
        }
    }
    text
}
