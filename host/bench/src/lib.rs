//! `lpdnn-host benchmark`: runs an app over a dataset, or a bare model on
//! tensors, in phases (load, first inference, warm-up, steady state), with
//! resource monitors beside it, and reports statistics per anchor, static
//! metrics and provenance as text, JSON, CSV and HTML; compares two results.
//!
//! [`Benchmark::run`] is the one entry the CLI, the service's worker and the
//! tests call; an [`Observer`] sees its progress.

#![warn(missing_docs)]

mod benchmark;
mod compare;
mod dataset;
mod html;
pub mod noise;
mod provenance;
mod report;
mod runner;
pub mod stats;
mod subject;
mod text;

use std::path::PathBuf;

pub use benchmark::Benchmark;
pub use compare::{compare_reports, Comparison, Row};
pub use dataset::{load_dataset, load_tensor_sets, read_npy, Input};
pub use html::html_report;
pub use provenance::{Build, Provenance};
pub use report::{
    AnchorStats, BenchConfigRecord, EndedBy, EngineFailure, EngineRun, Phases, Report, RunState,
    StaticTotals, Steady, SubjectKind, Timeline, Warmup, SCHEMA,
};
pub use runner::{BenchConfig, Event, Observer, Phase, Sample, Stop, WarmupPlan};
pub use subject::{ModelInputs, Subject};
pub use text::{anchor_csv, cross_engine_table, text_report, Detail, WIDTH};

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
    #[error("{path}: {message}")]
    Result {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Writing raw samples failed.
    #[error("cannot write samples: {0}")]
    Samples(std::io::Error),
}

/// An error and its causes on one line, each cause once (a message that
/// already quotes its cause is not repeated).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for cause in std::iter::successors(Some(e), |e| e.source()) {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
