//! `lpdnn-host benchmark`: runs an app over a dataset in phases (load, first
//! inference, warm-up, steady state), with resource monitors beside it, and
//! reports statistics per anchor, static metrics and provenance as text,
//! JSON, CSV and HTML; compares two results.

#![warn(missing_docs)]

mod compare;
mod dataset;
mod html;
pub mod noise;
mod provenance;
mod report;
mod runner;
pub mod stats;
mod text;

use std::path::PathBuf;

pub use compare::{compare_reports, Comparison, Row};
pub use dataset::{load_dataset, Input};
pub use html::html_report;
pub use provenance::{Build, Provenance};
pub use report::{
    AnchorStats, BenchConfigRecord, EngineFailure, EngineRun, Phases, Report, RunState,
    StaticTotals, Steady, Timeline, Warmup, SCHEMA,
};
pub use runner::{run_engine, BenchConfig, Event, Phase, Stop, WarmupPlan};
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
