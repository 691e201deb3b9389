//! The result of a benchmark, as written to JSON
//! (`schemas/benchmark.schema.json`).

use std::collections::BTreeMap;

use lpdnn_types::{Device, ModelFormat};
use serde::{Deserialize, Serialize};

use crate::resources::{CoolDown, Metric, Point, Throttle};
use crate::stats::Stats;
use crate::Provenance;

/// The JSON schema identifier written in every result.
pub const SCHEMA: &str = "lpdnn-benchmark/1";

/// A whole benchmark: one run per engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// `true` when interrupted: the results cover what ran.
    pub partial: bool,
    /// Where, with what, when.
    pub provenance: Provenance,
    /// The settings of the run.
    pub config: BenchConfigRecord,
    /// One run per engine, in the order asked.
    pub runs: Vec<EngineRun>,
    /// Engines that failed, with why.
    #[serde(default)]
    pub errors: Vec<EngineFailure>,
}

/// An engine whose run failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineFailure {
    /// Engine name (in a sweep's report, the cell's label).
    pub engine: String,
    /// The error.
    pub error: String,
    /// Where it was to run, in a sweep's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::Placement>,
}

/// What a benchmark ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// An AI app's whole pipeline over a dataset.
    #[default]
    App,
    /// A model alone on its engine, fed tensors.
    Model,
}

/// The benchmark's settings, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchConfigRecord {
    /// An app or a bare model.
    #[serde(default)]
    pub subject: SubjectKind,
    /// The app file (a bare model: the model file).
    pub app: String,
    /// The app's name (a bare model: its file name).
    pub app_name: String,
    /// The dataset folder (a bare model: the tensors' source, e.g.
    /// `synthetic, seed 0`).
    pub dataset: String,
    /// Its inputs, in run order.
    pub inputs: Vec<String>,
    /// Passes over the dataset asked for.
    pub number: Option<u64>,
    /// Steady-state duration asked for, seconds.
    pub duration_s: Option<f64>,
    /// Warm-up rule, in words.
    pub warmup: String,
    /// Engine threads asked for (`null`: the app's or the engine's default).
    pub threads: Option<usize>,
    /// Monitor sampling interval, ms (`null`: monitors off).
    pub monitor_interval_ms: Option<f64>,
    /// Cool-down target before each run, °C.
    pub cooldown_c: Option<f64>,
    /// Only the inference stage was timed (inputs pre-processed once).
    pub inference_only: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Completed, not throttled (or throttling could not be watched).
    Ok,
    /// Completed, but the CPU was throttled during the run.
    Throttled,
    /// Completed, but something else disturbed it (see
    /// [`EngineRun::interference`]).
    Noisy,
    /// Interrupted.
    Partial,
}

impl RunState {
    /// The seed's `BENCHMARK_STATE` word.
    pub fn word(self) -> &'static str {
        match self {
            RunState::Ok => "OK",
            RunState::Throttled => "THROTTLED",
            RunState::Noisy => "NOISY",
            RunState::Partial => "PARTIAL",
        }
    }
}

/// Statistics of one anchor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnchorStats {
    /// Real (monotonic) time, ms.
    pub real_ms: Stats,
    /// CPU time of the calling thread, ms.
    pub cpu_ms: Stats,
    /// Heap bytes allocated per call (all counted threads); absent when the
    /// binary does not count allocations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alloc_bytes: Option<Stats>,
    /// 1000 / mean real ms: calls per second this stage alone allows.
    pub throughput_per_s: f64,
}

/// Anchor name → statistics, kept in recording order (serialised as a JSON
/// object in that order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnchorTable(pub Vec<(String, AnchorStats)>);

/// Where a stage comes in the pipeline: pre-processing, inference,
/// post-processing, anything else, then the whole iteration (a stable sort
/// by it keeps unknown stages in their order).
pub fn pipeline_rank(stage: &str) -> u8 {
    use lpdnn_types::Stage;
    match Stage::from_name(stage) {
        Some(Stage::Preprocess) => 0,
        Some(Stage::Inference) => 1,
        Some(Stage::Postprocess) => 2,
        Some(Stage::Total) => 4,
        _ => 3,
    }
}

impl AnchorTable {
    /// The statistics of `name`.
    pub fn get(&self, name: &str) -> Option<&AnchorStats> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

impl Serialize for AnchorTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AnchorTable {
    /// In the file's order (the recording order), as an engine's child
    /// process hands its run over and as a result is read back.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = AnchorTable;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of anchor statistics")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnchorTable, A::Error> {
                let mut table = Vec::new();
                while let Some(entry) = map.next_entry::<String, AnchorStats>()? {
                    table.push(entry);
                }
                Ok(AnchorTable(table))
            }
        }
        d.deserialize_map(InOrder)
    }
}

/// What ended a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// Warm-up: its iteration count was reached.
    Iterations,
    /// Warm-up: its time was spent.
    Time,
    /// Warm-up: two successive windows agreed.
    Converged,
    /// Warm-up: the windows never agreed before its time limit.
    NotConverged,
    /// Steady state: the passes asked for were run.
    Number,
    /// Steady state: its duration was spent.
    Duration,
    /// Ctrl-C, SIGTERM or a cancelled job.
    Interrupted,
}

impl std::fmt::Display for EndedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndedBy::Iterations => "iterations",
            EndedBy::Time => "time",
            EndedBy::Converged => "converged",
            EndedBy::NotConverged => "not_converged",
            EndedBy::Number => "number",
            EndedBy::Duration => "duration",
            EndedBy::Interrupted => "interrupted",
        })
    }
}

/// Warm-up phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warmup {
    /// Iterations run.
    pub iterations: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// `iterations`, `time`, `converged`, `not_converged` or `interrupted`.
    pub ended_by: EndedBy,
    /// Anchor statistics of the warm-up iterations.
    pub anchors: AnchorTable,
}

/// Steady-state phase: the numbers that matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Steady {
    /// Iterations (inputs run).
    pub iterations: u64,
    /// Complete passes over the dataset.
    pub passes: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// `number`, `duration` or `interrupted`.
    pub ended_by: EndedBy,
    /// Iterations per second over the phase.
    pub throughput_per_s: f64,
    /// Anchor statistics.
    pub anchors: AnchorTable,
}

/// The phases of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Model and component load times (`load.model`, `load.preprocessor`,
    /// `load.postprocessor`), ms.
    pub load_ms: BTreeMap<String, f64>,
    /// The first input's anchors (cold caches, lazy initialisation), ms.
    pub first_inference_ms: BTreeMap<String, f64>,
    /// Warm-up.
    pub warmup: Warmup,
    /// Steady state; absent if interrupted before it began.
    pub steady: Option<Steady>,
}

/// The run of one engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineRun {
    /// Engine name; in a sweep's report, the cell's label (`lne @
    /// raspberry-pi-4b`), its parts in [`EngineRun::placement`].
    pub engine: String,
    /// Where it ran, in a sweep's report (`null` in a benchmark's: the
    /// provenance says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::Placement>,
    /// Engine library version.
    pub engine_version: Option<String>,
    /// Engine library file.
    pub engine_library: Option<String>,
    /// Device asked for.
    pub device: Device,
    /// The model file this engine ran.
    pub model: String,
    /// Its format.
    pub model_format: String,
    /// SHA-256 of the model file.
    pub model_sha256: String,
    /// How the run ended.
    pub state: RunState,
    /// Static metrics of the model file this engine ran, totals only;
    /// `null` when it could not be analysed (a warning says why).
    pub static_metrics: Option<StaticTotals>,
    /// Phases.
    pub phases: Phases,
    /// Every resource metric, measured (value + source) or unsupported
    /// (reason); empty when monitors were off.
    pub resources: BTreeMap<String, Metric>,
    /// Throttling seen during the run.
    pub throttle: Option<Throttle>,
    /// Signs that something else disturbed the steady state, and the
    /// readings behind the verdict; `null` when no steady state ran.
    #[serde(default)]
    pub interference: Option<Interference>,
    /// Cool-down before the run.
    pub cooldown: Option<CoolDown>,
    /// Monitor samples and the start of every steady-state iteration, on
    /// one clock (seconds from the run's start).
    pub timeline: Timeline,
    /// Per-layer times (`benchmark --layers`); `null` when not asked for
    /// or the engine gives none (a warning says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<crate::Layers>,
    /// The outputs checked against a reference engine's
    /// (`benchmark --check-against`); `null` when not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::OutputCheck>,
    /// Predictions of the first pass over the dataset.
    pub predictions: Vec<InputPrediction>,
    /// What the reader should know (too few samples for a percentile, ...).
    pub warnings: Vec<String>,
}

/// Static metrics, totals only (`lpdnn-host inspect` gives the layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticTotals {
    /// The model file measured.
    pub model: String,
    /// Its format.
    #[serde(default = "onnx", with = "lpdnn_types::format_key")]
    pub format: ModelFormat,
    /// Initializer elements.
    pub parameters: u64,
    /// Initializer bytes.
    pub parameter_bytes: u64,
    /// Model file bytes.
    pub storage_bytes: u64,
    /// Multiply-accumulates; `null` when not counted (see `notes`).
    pub macs: Option<u64>,
    /// 2 × MACs.
    pub flops: Option<u64>,
    /// Other arithmetic.
    pub other_ops: Option<u64>,
    /// The counting conventions.
    pub convention: String,
    /// What the figures leave out.
    #[serde(default)]
    pub notes: Vec<String>,
    /// How many layers of each operator type the model has.
    #[serde(default)]
    pub operators: BTreeMap<String, u64>,
}

fn onnx() -> ModelFormat {
    ModelFormat::Onnx
}

/// Monitor samples and iteration starts on one clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Monitor sampling interval, ms.
    pub interval_ms: Option<f64>,
    /// Monitor samples.
    pub samples: Vec<Point>,
    /// Start of each steady-state iteration, seconds; the i-th sample of
    /// every steady-state anchor belongs to the i-th iteration.
    pub iterations_t: Vec<f64>,
    /// Real time of each steady-state iteration (`total`), ms.
    pub iterations_ms: Vec<f64>,
}

/// One input's prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputPrediction {
    /// The input's name in the dataset.
    pub input: String,
    /// What the post-processor returned.
    pub prediction: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read back, a table keeps the recording order (pre-processing before
    /// inference), not the names' order.
    #[test]
    fn an_anchor_table_reads_back_in_its_order() {
        let stats = |ms: f64| {
            let s = Stats::of(&[ms, ms * 1.1]).unwrap();
            AnchorStats {
                real_ms: s.clone(),
                cpu_ms: s,
                alloc_bytes: None,
                throughput_per_s: 1e3 / ms,
            }
        };
        let table = AnchorTable(vec![
            ("preprocess".into(), stats(2.0)),
            ("inference".into(), stats(5.0)),
            ("total".into(), stats(7.0)),
        ]);
        let json = serde_json::to_string(&table).unwrap();
        let back: AnchorTable = serde_json::from_str(&json).unwrap();
        let names = |t: &AnchorTable| t.0.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&back), ["preprocess", "inference", "total"]);
    }
}

/// What the interference rule ([`crate::noise::assess`]) read, and its
/// verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interference {
    /// The rule marks the run noisy.
    pub noisy: bool,
    /// Other processes' average CPU use during the steady state, in cores
    /// (`null`: monitors off or too few samples).
    pub other_cpu_cores: Option<f64>,
    /// Steal time during the steady state, % of all CPU time (`null`: not
    /// read).
    pub steal_percent: Option<f64>,
    /// Real ÷ CPU time of each single-threaded stage.
    pub real_over_cpu: BTreeMap<String, f64>,
    /// Coefficient of variation of the timed stage in the steady state.
    pub cv_steady: Option<f64>,
    /// The same in the warm-up (`null`: too few warm-up iterations).
    pub cv_warmup: Option<f64>,
    /// Largest bimodality coefficient over the inputs (`null`: too few
    /// samples of each input).
    pub bimodality: Option<f64>,
    /// Each sign of interference found, in words; empty for a quiet run.
    pub evidence: Vec<String>,
    /// Variation worth a look that does not decide the verdict alone.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Interference {
    /// One line: the verdict with its evidence, or the readings of a quiet
    /// run.
    pub fn summary(&self) -> String {
        let mut line = if self.noisy {
            format!("NOISY: {}", self.evidence.join("; "))
        } else {
            let mut read = Vec::new();
            if let Some(c) = self.other_cpu_cores {
                read.push(format!("other processes {c:.2} cores"));
            }
            if let Some(s) = self.steal_percent {
                read.push(format!("steal {s:.1} %"));
            }
            if let Some(r) = self.real_over_cpu.values().copied().reduce(f64::max) {
                read.push(format!("real/CPU of one-thread stages ≤ {r:.2}"));
            }
            if read.is_empty() {
                "not judged (no monitor samples in the steady state, no one-thread stage \
                 long enough)"
                    .to_owned()
            } else {
                format!("none seen ({})", read.join(", "))
            }
        };
        if !self.notes.is_empty() {
            line.push_str(&format!("; note: {}", self.notes.join("; ")));
        }
        line
    }
}
