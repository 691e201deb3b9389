//! The text outputs: the seed-style report on stdout, the cross-engine
//! table, and the per-anchor CSV.

use std::fmt::Write;

use lpdnn_monitors::Metric;

use crate::report::{EngineRun, Report};
use crate::stats::{fmt_p, PERCENTILES};

/// The seed's resource list: (name in the seed, our metric, how to show it).
const SEED_RESOURCES: &[(&str, &str, Show)] = &[
    ("CPU_LOAD", "cpu_load_process", Show::Mean),
    ("CPU_MEMORY", "memory_rss", Show::Mean),
    ("CPU_MEMORY_PEAK", "memory_rss_peak", Show::Peak),
    ("CPU_TEMPERATURE", "temperature", Show::Mean),
    ("GPU_LOAD", "gpu_load", Show::Mean),
    ("GPU_MEMORY", "gpu_memory", Show::Mean),
    ("GPU_MEMORY_PEAK", "gpu_memory", Show::Peak),
    ("GPU_TEMPERATURE", "gpu_temperature", Show::Mean),
    ("NPU_LOAD", "npu_load", Show::Mean),
    ("MEMORY_BW", "memory_bandwidth", Show::Mean),
    ("MEMORY_BW_PEAK", "memory_bandwidth", Show::Peak),
    ("POWER", "power", Show::Mean),
];

#[derive(Clone, Copy)]
enum Show {
    Mean,
    Peak,
}

fn seed_value(run: &EngineRun, metric: &str, show: Show) -> String {
    match run.resources.get(metric) {
        Some(m @ Metric::Measured { .. }) => {
            let v = match show {
                Show::Mean => m.mean(),
                Show::Peak => m.peak(),
            };
            format!("{:.1}", v.unwrap_or_default())
        }
        Some(Metric::Unsupported { .. }) => "unsupported".into(),
        None => "off".into(),
    }
}

/// The seed-style text of a whole report.
pub fn text_report(report: &Report) -> String {
    let mut out = String::new();
    for run in &report.runs {
        engine_text(&mut out, run);
    }
    if report.runs.len() > 1 {
        let _ = writeln!(out, "{}", cross_engine_table(&report.runs));
    }
    for f in &report.errors {
        let _ = writeln!(out, "error: engine {}: {}", f.engine, f.error);
    }
    if report.partial {
        let _ = writeln!(
            out,
            "interrupted: the results above cover what ran (partial)"
        );
    }
    out
}

fn engine_text(out: &mut String, run: &EngineRun) {
    let _ = writeln!(
        out,
        "== engine {} ({}) | device {} | model {} ({})",
        run.engine,
        run.engine_version.as_deref().unwrap_or("version unknown"),
        run.device,
        run.model,
        run.model_format
    );
    let names: Vec<String> = SEED_RESOURCES
        .iter()
        .map(|(n, ..)| format!("'{n}'"))
        .collect();
    let values: Vec<String> = SEED_RESOURCES
        .iter()
        .map(|(_, m, s)| format!("'{}'", seed_value(run, m, *s)))
        .collect();
    let _ = writeln!(out, "[ {} ]", names.join(", "));
    let _ = writeln!(out, "[ {} ]", values.join(", "));
    let _ = writeln!(out, "[ 'BENCHMARK_STATE', '{}' ]", run.state.word());

    let p = &run.phases;
    let load: Vec<String> = p
        .load_ms
        .iter()
        .map(|(k, v)| format!("{} {v:.1} ms", k.trim_start_matches("load.")))
        .collect();
    let _ = writeln!(out, "load: {}", load.join(", "));
    if let Some(total) = p.first_inference_ms.get("total") {
        let _ = writeln!(
            out,
            "first inference: total {total:.3} ms, inference {:.3} ms",
            p.first_inference_ms
                .get("inference")
                .copied()
                .unwrap_or(f64::NAN)
        );
    }
    let _ = writeln!(
        out,
        "warm-up: {} iteration(s) in {:.2} s (ended by {})",
        p.warmup.iterations, p.warmup.seconds, p.warmup.ended_by
    );
    if let Some(s) = &p.steady {
        let _ = writeln!(
            out,
            "steady state: {} iteration(s), {} pass(es), {:.2} s (ended by {}), {:.2} inputs/s",
            s.iterations, s.passes, s.seconds, s.ended_by, s.throughput_per_s
        );
        let _ = writeln!(out, "Inference");
        out.push_str(&anchor_table(run));
    }
    if let Some(st) = &run.static_metrics {
        let _ = writeln!(
            out,
            "static: {} parameters, {:.3} GMACs = {:.3} GFLOPs, {} bytes on disk ({})",
            st.parameters,
            st.macs as f64 / 1e9,
            st.flops as f64 / 1e9,
            st.storage_bytes,
            st.model
        );
    }
    if !run.resources.is_empty() {
        let _ = writeln!(out, "resources:");
        for (name, m) in &run.resources {
            let _ = writeln!(out, "  {name:<28} {m}");
        }
    }
    if let Some(t) = &run.throttle {
        let _ = writeln!(
            out,
            "throttling: {}",
            match t.detected {
                Some(true) => format!("yes: {}", t.reasons.join("; ")),
                Some(false) => "none seen".into(),
                None => t.reasons.join("; "),
            }
        );
    }
    for w in &run.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out);
}

/// The anchor table of one run's steady state: calls, real mean/std/var,
/// CPU mean/std, min, percentiles, max, 95 % interval, allocations.
pub fn anchor_table(run: &EngineRun) -> String {
    let mut out = String::new();
    let Some(steady) = &run.phases.steady else {
        return out;
    };
    let width = steady
        .anchors
        .0
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(5)
        .max(11);
    let mut header = vec![
        "Calls".to_owned(),
        "Real".into(),
        "CPU".into(),
        "Real STD".into(),
        "CPU STD".into(),
        "Real VAR".into(),
        "Min".into(),
    ];
    header.extend(PERCENTILES.iter().map(|p| format!("p{}", fmt_p(*p))));
    header.extend([
        "Max".into(),
        "CI95 low".into(),
        "CI95 high".into(),
        "Alloc KiB".into(),
    ]);
    let rule = "-".repeat(width + 11 * header.len() + 2);
    let _ = writeln!(out, "{rule}");
    let _ = write!(out, "{:width$}", "(ms)");
    for h in &header {
        let _ = write!(out, " {h:>10}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{rule}");
    for (name, a) in &steady.anchors.0 {
        let r = &a.real_ms;
        let mut cells = vec![
            format!("{}", r.n),
            format!("{:.3}", r.mean),
            format!("{:.3}", a.cpu_ms.mean),
            format!("{:.3}", r.std),
            format!("{:.3}", a.cpu_ms.std),
            format!("{:.3}", r.var),
            format!("{:.3}", r.min),
        ];
        cells.extend(r.percentiles().iter().map(|v| format!("{v:.3}")));
        cells.extend([
            format!("{:.3}", r.max),
            format!("{:.3}", r.ci95[0]),
            format!("{:.3}", r.ci95[1]),
            a.alloc_bytes
                .as_ref()
                .map_or("-".into(), |s| format!("{:.1}", s.mean / 1024.0)),
        ]);
        let _ = write!(out, "{name:width$}");
        for c in cells {
            let _ = write!(out, " {c:>10}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{rule}");
    out
}

/// One side-by-side table of several engines' steady states: per anchor,
/// mean ± half the 95 % interval, p50 and p99, and throughput.
pub fn cross_engine_table(runs: &[EngineRun]) -> String {
    let mut out = String::new();
    let mut anchors: Vec<&str> = Vec::new();
    for run in runs {
        if let Some(s) = &run.phases.steady {
            for (n, _) in &s.anchors.0 {
                if !anchors.contains(&n.as_str()) {
                    anchors.push(n);
                }
            }
        }
    }
    let col = 32;
    let _ = writeln!(
        out,
        "Cross-engine (steady state, real time ms: mean ± 95 % CI | p50 | p99)"
    );
    let _ = write!(out, "{:14}", "anchor");
    for run in runs {
        let _ = write!(out, " {:>col$}", run.engine);
    }
    let _ = writeln!(out);
    for name in anchors {
        let _ = write!(out, "{name:14}");
        for run in runs {
            let cell = run
                .phases
                .steady
                .as_ref()
                .and_then(|s| s.anchors.get(name))
                .map_or("-".into(), |a| {
                    let r = &a.real_ms;
                    format!(
                        "{:.3}±{:.3} | {:.3} | {:.3}",
                        r.mean,
                        (r.ci95[1] - r.ci95[0]) / 2.0,
                        r.p50,
                        r.p99
                    )
                });
            let _ = write!(out, " {cell:>col$}");
        }
        let _ = writeln!(out);
    }
    let _ = write!(out, "{:14}", "inputs/s");
    for run in runs {
        let cell = run
            .phases
            .steady
            .as_ref()
            .map_or("-".into(), |s| format!("{:.2}", s.throughput_per_s));
        let _ = write!(out, " {cell:>col$}");
    }
    let _ = writeln!(out);
    let _ = write!(out, "{:14}", "state");
    for run in runs {
        let _ = write!(out, " {:>col$}", run.state.word());
    }
    let _ = writeln!(out);
    out
}

/// Per-anchor statistics of every run as CSV (one row per engine, phase
/// and anchor).
pub fn anchor_csv(report: &Report) -> String {
    let mut out = String::from(
        "engine,phase,anchor,calls,real_mean_ms,real_std_ms,real_var_ms2,real_min_ms,real_p50_ms,real_p90_ms,real_p95_ms,real_p99_ms,real_p99_9_ms,real_max_ms,real_ci95_low_ms,real_ci95_high_ms,cpu_mean_ms,cpu_std_ms,alloc_mean_bytes,throughput_per_s\n",
    );
    for run in &report.runs {
        let phases = [
            ("warmup", Some(&run.phases.warmup.anchors)),
            ("steady", run.phases.steady.as_ref().map(|s| &s.anchors)),
        ];
        for (phase, anchors) in phases {
            for (name, a) in anchors.map(|a| a.0.as_slice()).unwrap_or_default() {
                let r = &a.real_ms;
                let _ = writeln!(
                    out,
                    "{},{phase},{name},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    run.engine,
                    r.n,
                    r.mean,
                    r.std,
                    r.var,
                    r.min,
                    r.p50,
                    r.p90,
                    r.p95,
                    r.p99,
                    r.p99_9,
                    r.max,
                    r.ci95[0],
                    r.ci95[1],
                    a.cpu_ms.mean,
                    a.cpu_ms.std,
                    a.alloc_bytes
                        .as_ref()
                        .map_or(String::new(), |s| s.mean.to_string()),
                    a.throughput_per_s
                );
            }
        }
    }
    out
}
