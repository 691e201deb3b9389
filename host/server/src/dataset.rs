//! The profiling dataset (seed T6.2/T6.3): one row per passed job — the
//! model (SHA-256 and descriptors), the hardware, the engine and the
//! measured figures — as CSV or JSON Lines. Unmeasured figures are empty
//! (CSV) or `null` (JSONL), never 0. `docs/baas.md` documents each column.

use std::collections::BTreeMap;

use lpdnn_baas_api::Job;
use lpdnn_report::Report;
use serde::Serialize;

/// The inference stage's anchor, whose times are the model's latency.
const INFERENCE: &str = lpdnn_report::Stage::Inference.name();

/// One completed job, flat.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// When the job ended (RFC 3339, UTC).
    pub finished_at: String,
    /// The job's id.
    pub job: String,
    /// SHA-256 of the uploaded model or bundle.
    pub upload_sha256: String,
    /// `model` or `bundle`.
    pub subject: String,
    /// SHA-256 of the model file the engine ran.
    pub model_sha256: String,
    /// `ONNX`, `TFLite`, `NCNN`.
    pub model_format: String,
    /// Parameters (initializer elements).
    pub parameters: Option<u64>,
    /// Bytes of the parameters.
    pub parameter_bytes: Option<u64>,
    /// Bytes of the model file.
    pub storage_bytes: Option<u64>,
    /// Multiply-accumulates of one inference.
    pub macs: Option<u64>,
    /// 2 × MACs.
    pub flops: Option<u64>,
    /// Operator histogram, `Conv:12;Relu:4` (by name).
    pub operators: String,
    /// Input shapes given with the job, `name=1,3,224,224;...` (empty: the
    /// model's own).
    pub input_shapes: String,
    /// Platform name.
    pub platform: String,
    /// Profile name.
    pub profile: String,
    /// CPU architecture.
    pub arch: String,
    /// CPU model.
    pub cpu: Option<String>,
    /// CPUs the benchmark could use.
    pub cores: usize,
    /// Engine.
    pub engine: String,
    /// Its library version.
    pub engine_version: Option<String>,
    /// `cpu`, `gpu`, `npu`.
    pub device: String,
    /// Engine threads asked for (empty: the engine's default).
    pub threads: Option<usize>,
    /// Steady-state inferences timed.
    pub iterations: Option<u64>,
    /// Inference latency, mean, ms.
    pub latency_mean_ms: Option<f64>,
    /// Median.
    pub latency_p50_ms: Option<f64>,
    /// 90th percentile.
    pub latency_p90_ms: Option<f64>,
    /// 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// 95 % confidence interval of the mean, low end.
    pub latency_ci95_low_ms: Option<f64>,
    /// High end.
    pub latency_ci95_high_ms: Option<f64>,
    /// Inferences per second over the steady state.
    pub throughput_per_s: Option<f64>,
    /// Peak resident memory of the benchmark process, MiB.
    pub memory_peak_mib: Option<f64>,
    /// Mean power over the run, W.
    pub power_mean_w: Option<f64>,
    /// Energy over the monitored run, J.
    pub energy_j: Option<f64>,
    /// Hottest temperature reading, °C.
    pub temperature_peak_c: Option<f64>,
    /// Profiled runs of the per-layer times (empty: none asked for;
    /// `table=layers` has the layers).
    pub layers_runs: Option<u64>,
    /// Share of the profiled run the layers account for.
    pub layers_coverage: Option<f64>,
    /// The engine the outputs were checked against (empty: none).
    pub check_reference: Option<String>,
    /// `agrees`, `differs` or `not_comparable`.
    pub check_verdict: Option<String>,
    /// The largest relative error of any output.
    pub check_max_rel: Option<f64>,
    /// The smallest cosine similarity of any output.
    pub check_min_cosine: Option<f64>,
    /// The smallest top-1 agreement of any class-score output.
    pub check_top1: Option<f64>,
    /// `ok`, `throttled`, `noisy`.
    pub state: String,
    /// The `lpdnn-host` version that measured it.
    pub lpdnn_host: String,
}

/// The row of a passed job, or `None` when its report has no engine run.
pub fn row(job: &Job, report: &Report) -> Option<Row> {
    let run = report.runs.first()?;
    let steady = run.phases.steady.as_ref();
    let latency = steady
        .and_then(|s| s.anchors.get(INFERENCE))
        .map(|a| &a.real_ms);
    let metrics = run.static_metrics.as_ref();
    let resource = |name: &str, peak: bool| {
        run.resources
            .get(name)
            .and_then(|m| if peak { m.peak() } else { m.mean() })
    };
    let host = &report.provenance.host;
    let check = run.check.as_ref();
    Some(Row {
        finished_at: job
            .finished_ms
            .map(|ms| {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
                humantime::format_rfc3339_millis(t).to_string()
            })
            .unwrap_or_default(),
        job: job.id.clone(),
        upload_sha256: job.spec.sha256.clone(),
        subject: word(job.spec.subject),
        model_sha256: run.model_sha256.clone(),
        model_format: run.model_format.clone(),
        parameters: metrics.map(|m| m.parameters),
        parameter_bytes: metrics.map(|m| m.parameter_bytes),
        storage_bytes: metrics.map(|m| m.storage_bytes),
        macs: metrics.and_then(|m| m.macs),
        flops: metrics.and_then(|m| m.flops),
        operators: metrics.map(|m| histogram(&m.operators)).unwrap_or_default(),
        input_shapes: job.spec.options.input_shapes.join(";"),
        platform: job.spec.platform.clone(),
        profile: job.spec.profile.clone(),
        arch: host.arch.clone(),
        cpu: host.cpu_model.clone(),
        cores: host.cores,
        engine: run.engine.clone(),
        engine_version: run.engine_version.clone(),
        device: run.device.to_string(),
        threads: report.config.threads,
        iterations: steady.map(|s| s.iterations),
        latency_mean_ms: latency.map(|l| l.mean),
        latency_p50_ms: latency.map(|l| l.p50),
        latency_p90_ms: latency.map(|l| l.p90),
        latency_p99_ms: latency.map(|l| l.p99),
        latency_ci95_low_ms: latency.map(|l| l.ci95[0]),
        latency_ci95_high_ms: latency.map(|l| l.ci95[1]),
        throughput_per_s: steady.map(|s| s.throughput_per_s),
        memory_peak_mib: resource("memory_rss_peak", true),
        power_mean_w: resource("power", false),
        energy_j: resource("energy", false),
        temperature_peak_c: resource("temperature", true),
        layers_runs: run.layers.as_ref().map(|l| l.runs),
        layers_coverage: run.layers.as_ref().map(|l| l.layers_ms / l.profiled_ms),
        check_reference: check.map(|c| c.reference.clone()),
        check_verdict: check.map(|c| word(c.verdict)),
        check_max_rel: check.and_then(|c| c.outputs.iter().map(|o| o.max_rel).reduce(f64::max)),
        check_min_cosine: check.and_then(|c| c.outputs.iter().map(|o| o.cosine).reduce(f64::min)),
        check_top1: check.and_then(|c| c.outputs.iter().filter_map(|o| o.top1).reduce(f64::min)),
        state: word(run.state),
        lpdnn_host: report.provenance.lpdnn_host.version.clone(),
    })
}

/// An enum's name as serde writes it.
fn word(v: impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One layer of a passed job's per-layer profile (`table=layers`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRow {
    /// When the job ended (RFC 3339, UTC).
    pub finished_at: String,
    /// The job's id.
    pub job: String,
    /// SHA-256 of the model file the engine ran.
    pub model_sha256: String,
    /// Platform name.
    pub platform: String,
    /// Profile name.
    pub profile: String,
    /// CPU architecture.
    pub arch: String,
    /// Engine.
    pub engine: String,
    /// Its library version.
    pub engine_version: Option<String>,
    /// `cpu`, `gpu`, `npu`.
    pub device: String,
    /// Engine threads asked for.
    pub threads: Option<usize>,
    /// The source model's node (empty: work the engine added, by operator).
    pub node: Option<String>,
    /// Its operator.
    pub op: String,
    /// Nodes the engine fused into it, `;`-separated.
    pub fused: String,
    /// The engine's own layers that did the work, `;`-separated.
    pub engine_layers: String,
    /// Mean time per run, ms.
    pub ms: f64,
    /// Share of the sum of the layers.
    pub share: f64,
    /// Multiply-accumulates of the node and those fused into it.
    pub macs: Option<u64>,
    /// Achieved GFLOP/s.
    pub gflops: Option<f64>,
    /// Profiled runs the mean is over.
    pub runs: u64,
}

/// The layer rows of a passed job (none when it timed no layers).
pub fn layer_rows(job: &Job, report: &Report) -> Vec<LayerRow> {
    let (Some(run), Some(r)) = (report.runs.first(), row(job, report)) else {
        return Vec::new();
    };
    let Some(layers) = &run.layers else {
        return Vec::new();
    };
    layers
        .layers
        .iter()
        .map(|l| LayerRow {
            finished_at: r.finished_at.clone(),
            job: r.job.clone(),
            model_sha256: r.model_sha256.clone(),
            platform: r.platform.clone(),
            profile: r.profile.clone(),
            arch: r.arch.clone(),
            engine: r.engine.clone(),
            engine_version: r.engine_version.clone(),
            device: r.device.clone(),
            threads: r.threads,
            node: l.node.clone(),
            op: l.op.clone(),
            fused: l.fused.join(";"),
            engine_layers: l.engine_layers.join(";"),
            ms: l.ms,
            share: l.share,
            macs: l.macs,
            gflops: l.gflops,
            runs: layers.runs,
        })
        .collect()
}

/// The layer columns, in order.
pub const LAYER_COLUMNS: &[&str] = &[
    "finished_at",
    "job",
    "model_sha256",
    "platform",
    "profile",
    "arch",
    "engine",
    "engine_version",
    "device",
    "threads",
    "node",
    "op",
    "fused",
    "engine_layers",
    "ms",
    "share",
    "macs",
    "gflops",
    "runs",
];

fn histogram(ops: &BTreeMap<String, u64>) -> String {
    ops.iter()
        .map(|(op, n)| format!("{op}:{n}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// The rows as CSV under a header line of `columns`.
pub fn csv<R: Serialize>(rows: &[R], columns: &[&str]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        // The header alone: serialising no row writes nothing.
        out.write_record(columns)?;
    }
    for r in rows {
        out.serialize(r)?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The rows as JSON Lines (the operator histogram as an object).
pub fn jsonl(rows: &[(Row, BTreeMap<String, u64>)]) -> String {
    let mut out = String::new();
    for (row, ops) in rows {
        let mut v = serde_json::to_value(row).unwrap_or_default();
        v["operators"] = serde_json::json!(ops);
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "finished_at",
    "job",
    "upload_sha256",
    "subject",
    "model_sha256",
    "model_format",
    "parameters",
    "parameter_bytes",
    "storage_bytes",
    "macs",
    "flops",
    "operators",
    "input_shapes",
    "platform",
    "profile",
    "arch",
    "cpu",
    "cores",
    "engine",
    "engine_version",
    "device",
    "threads",
    "iterations",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_ci95_low_ms",
    "latency_ci95_high_ms",
    "throughput_per_s",
    "memory_peak_mib",
    "power_mean_w",
    "energy_j",
    "temperature_peak_c",
    "layers_runs",
    "layers_coverage",
    "check_reference",
    "check_verdict",
    "check_max_rel",
    "check_min_cosine",
    "check_top1",
    "state",
    "lpdnn_host",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_the_rows_fields_in_order() {
        let row = Row {
            finished_at: String::new(),
            job: String::new(),
            upload_sha256: String::new(),
            subject: String::new(),
            model_sha256: String::new(),
            model_format: String::new(),
            parameters: None,
            parameter_bytes: None,
            storage_bytes: None,
            macs: None,
            flops: None,
            operators: String::new(),
            input_shapes: String::new(),
            platform: String::new(),
            profile: String::new(),
            arch: String::new(),
            cpu: None,
            cores: 0,
            engine: String::new(),
            engine_version: None,
            device: String::new(),
            threads: None,
            iterations: None,
            latency_mean_ms: None,
            latency_p50_ms: None,
            latency_p90_ms: None,
            latency_p99_ms: None,
            latency_ci95_low_ms: None,
            latency_ci95_high_ms: None,
            throughput_per_s: None,
            memory_peak_mib: None,
            power_mean_w: None,
            energy_j: None,
            temperature_peak_c: None,
            layers_runs: None,
            layers_coverage: None,
            check_reference: None,
            check_verdict: None,
            check_max_rel: None,
            check_min_cosine: None,
            check_top1: None,
            state: String::new(),
            lpdnn_host: String::new(),
        };
        let text = csv(&[row], COLUMNS).unwrap();
        assert_eq!(text.lines().next().unwrap(), COLUMNS.join(","));
        assert_eq!(
            csv::<Row>(&[], COLUMNS).unwrap().trim_end(),
            COLUMNS.join(",")
        );
        let layer = LayerRow {
            finished_at: String::new(),
            job: String::new(),
            model_sha256: String::new(),
            platform: String::new(),
            profile: String::new(),
            arch: String::new(),
            engine: String::new(),
            engine_version: None,
            device: String::new(),
            threads: None,
            node: None,
            op: String::new(),
            fused: String::new(),
            engine_layers: String::new(),
            ms: 0.0,
            share: 0.0,
            macs: None,
            gflops: None,
            runs: 0,
        };
        let text = csv(&[layer], LAYER_COLUMNS).unwrap();
        assert_eq!(text.lines().next().unwrap(), LAYER_COLUMNS.join(","));
    }
}
