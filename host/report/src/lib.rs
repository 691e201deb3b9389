//! A benchmark's result (`schemas/benchmark.schema.json`) as plain serde
//! data, and what is made of it: the text report, the anchor CSV, the HTML
//! report and the comparison of two results.
//!
//! The benchmark produces a [`Report`]; the CLI, the service and its client
//! read, store and render it. Nothing here runs a model, so a front end that
//! only shows results links no engine, no WebAssembly runtime.

#![warn(missing_docs)]

mod check;
mod compare;
mod html;
mod layers;
mod provenance;
mod report;
mod resources;
pub mod stats;
mod summary;
mod sweep;
mod text;

use std::path::PathBuf;

pub use check::{check_text, BoxMatch, OutputCheck, OutputDiff, Verdict};
pub use compare::{compare_reports, Comparison, Disturbed, Gate, GateOutcome, Row, Side};
pub use html::html_report;
pub use layers::{layers_text, LayerRow, Layers, SHOWN_LAYERS};
pub use lpdnn_types::Stage;
pub use provenance::{Build, Provenance};
pub use report::{
    pipeline_rank, AnchorStats, AnchorTable, BenchConfigRecord, EndedBy, EngineFailure, EngineRun,
    InputPrediction, Interference, Phases, Report, RunState, StaticTotals, Steady, SubjectKind,
    Timeline, Warmup, SCHEMA,
};
pub use resources::{CoolDown, Metric, Point, Throttle};
pub use sweep::{sweep_report, CellOutcome, Placement, SweepCell};
pub use text::{
    anchor_csv, cross_engine_table, text_report, text_report_without_errors, Detail, WIDTH,
};

/// A results file that cannot be read, is not a benchmark result, or does
/// not hold what was asked of it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ResultError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}
