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
        subject: serde_json::to_value(job.spec.subject)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
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
        state: serde_json::to_value(run.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        lpdnn_host: report.provenance.lpdnn_host.version.clone(),
    })
}

fn histogram(ops: &BTreeMap<String, u64>) -> String {
    ops.iter()
        .map(|(op, n)| format!("{op}:{n}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// The rows as CSV, with a header line.
pub fn csv(rows: &[Row]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        // The header alone: serialising no row writes nothing.
        out.write_record(COLUMNS)?;
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
            state: String::new(),
            lpdnn_host: String::new(),
        };
        let text = csv(&[row]).unwrap();
        assert_eq!(text.lines().next().unwrap(), COLUMNS.join(","));
        assert_eq!(csv(&[]).unwrap().trim_end(), COLUMNS.join(","));
    }
}
