//! The text outputs: the seed-style report on stdout, the cross-engine
//! table, and the per-anchor CSV.

use std::fmt::Write;

use lpdnn_types::Stage;

use crate::resources::Metric;

use crate::report::{EngineRun, Report};
use crate::stats::{fmt_p, PERCENTILES};
use crate::summary::emulated_note;

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

/// Width the default text keeps to (a 100-column terminal pane).
pub const WIDTH: usize = 100;

/// How much the text report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// The columns a reader looks at first, within [`WIDTH`] columns;
    /// unsupported resources on one line (their reasons are in the JSON).
    #[default]
    Brief,
    /// Every statistic and every resource's source or reason.
    Wide,
}

/// The seed-style text of a whole report.
pub fn text_report(report: &Report, detail: Detail) -> String {
    text_of(report, detail, true)
}

/// [`text_report`] without the failed engines' errors, for a caller that
/// printed each on stderr as it happened (once is enough).
pub fn text_report_without_errors(report: &Report, detail: Detail) -> String {
    text_of(report, detail, false)
}

fn text_of(report: &Report, detail: Detail, errors: bool) -> String {
    let mut out = String::new();
    if crate::sweep::is_sweep(report) {
        for (arch, kernel, labels) in crate::sweep::emulated_runs(report) {
            let note = format!("{}: {}", labels.join(", "), emulated_note(&arch, &kernel));
            say(&mut out, detail, "emulated: ", &note);
        }
    } else if let Some(kernel) = &report.provenance.host.emulated_on {
        say(
            &mut out,
            detail,
            "emulated: ",
            &emulated_note(&report.provenance.host.arch, kernel),
        );
    }
    for run in &report.runs {
        engine_text(&mut out, run, detail);
    }
    if report.runs.len() > 1 {
        let _ = writeln!(out, "{}", cross_engine_table(&report.runs));
        if let Some(line) = fastest_line(&report.runs) {
            say(&mut out, detail, "fastest: ", &line);
        }
    }
    for f in report.errors.iter().filter(|_| errors) {
        say(
            &mut out,
            detail,
            "error: ",
            &format!("engine {}: {}", f.engine, f.error),
        );
    }
    if report.partial {
        let _ = writeln!(
            out,
            "interrupted: the results above cover what ran (partial)"
        );
    }
    out
}

/// The answer to "which engine is fastest?" (the HTML report's headline,
/// from the same [`crate::stats::Ranking`]): the fastest by mean with its
/// 95 % interval, the others within that interval (not told apart from it),
/// and the engine with the lowest p99 when it is another, e.g. `ncnn 3.912
/// ± 0.041 ms (inference, 95 % CI); lne within it; p99 lower: lne 4.210
/// ms`. `None` with fewer than two engines timed.
pub(crate) fn fastest_line(runs: &[EngineRun]) -> Option<String> {
    let ranking = crate::summary::ranking(runs).filter(|r| r.by_mean.len() > 1)?;
    let best = ranking.fastest();
    let ms = crate::summary::fmt_ms;
    let mut line = format!(
        "{} {} ± {} ms ({}, 95 % CI)",
        best.engine,
        ms(best.stats.mean),
        ms(best.stats.ci95_half()),
        best.stage,
    );
    if ranking.within.is_empty() {
        line.push_str("; the others beyond it");
    } else {
        let names: Vec<&str> = ranking.within.iter().map(|r| r.engine).collect();
        let _ = write!(line, "; {} within it", names.join(", "));
    }
    if let Some(low) = ranking.lowest_p99 {
        let _ = write!(line, "; p99 lower: {} {} ms", low.engine, ms(low.stats.p99));
    }
    Some(line)
}

/// Writes `first` + `text`, wrapped to [`WIDTH`] in brief text.
fn say(out: &mut String, detail: Detail, first: &str, text: &str) {
    if detail == Detail::Wide {
        let _ = writeln!(out, "{first}{text}");
        return;
    }
    let options = textwrap::Options::new(WIDTH)
        .initial_indent(first)
        .subsequent_indent("    ");
    for line in textwrap::wrap(text, options) {
        let _ = writeln!(out, "{line}");
    }
}

fn engine_text(out: &mut String, run: &EngineRun, detail: Detail) {
    let _ = writeln!(
        out,
        "== engine {} ({}) | device {}",
        run.engine,
        run.engine_version.as_deref().unwrap_or("version unknown"),
        run.device,
    );
    if let Some(p) = &run.placement {
        say(out, detail, "", &crate::sweep::placement_line(p));
    }
    let _ = writeln!(
        out,
        "model {} ({}, sha256 {})",
        run.model,
        run.model_format,
        &run.model_sha256[..run.model_sha256.len().min(12)]
    );
    // The seed's resource list: one pair of lines, or pairs of six entries
    // in brief text so that each line fits.
    let chunk = match detail {
        Detail::Brief => 6,
        Detail::Wide => SEED_RESOURCES.len(),
    };
    for part in SEED_RESOURCES.chunks(chunk) {
        let names: Vec<String> = part.iter().map(|(n, ..)| format!("'{n}'")).collect();
        let values: Vec<String> = part
            .iter()
            .map(|(_, m, s)| format!("'{}'", seed_value(run, m, *s)))
            .collect();
        let _ = writeln!(out, "[ {} ]", names.join(", "));
        let _ = writeln!(out, "[ {} ]", values.join(", "));
    }
    let _ = writeln!(out, "[ 'BENCHMARK_STATE', '{}' ]", run.state.word());

    let p = &run.phases;
    let load: Vec<String> = p
        .load_ms
        .iter()
        .map(|(k, v)| format!("{} {v:.1} ms", k.trim_start_matches("load.")))
        .collect();
    let _ = writeln!(out, "load: {}", load.join(", "));
    if let Some(total) = p.first_inference_ms.get(Stage::Total.name()) {
        let _ = writeln!(
            out,
            "first inference: total {total:.3} ms, inference {:.3} ms",
            p.first_inference_ms
                .get(Stage::Inference.name())
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
        out.push_str(&anchor_table(run, detail));
    }
    if let Some(st) = &run.static_metrics {
        let work = match (st.macs, st.flops) {
            (Some(m), Some(f)) => {
                format!("{:.3} GMACs = {:.3} GFLOPs", m as f64 / 1e9, f as f64 / 1e9)
            }
            _ => "MACs not counted".into(),
        };
        let mut line = format!(
            "{} parameters, {work}, {:.1} KiB on disk",
            st.parameters,
            st.storage_bytes as f64 / 1024.0,
        );
        if detail == Detail::Wide || st.model != run.model {
            line.push_str(&format!(" ({})", st.model));
        }
        say(out, detail, "static: ", &line);
    }
    if let Some(layers) = &run.layers {
        crate::layers_text(out, layers);
    }
    if let Some(check) = &run.check {
        crate::check_text(out, check);
    }
    resources_text(out, run, detail);
    if let Some(t) = &run.throttle {
        let line = match t.detected {
            Some(true) => format!("yes: {}", t.reasons.join("; ")),
            Some(false) => "none seen".into(),
            None => t.reasons.join("; "),
        };
        say(out, detail, "throttling: ", &line);
    }
    if let Some(i) = &run.interference {
        say(out, detail, "interference: ", &i.summary());
    }
    for w in &run.warnings {
        say(out, detail, "warning: ", w);
    }
    let _ = writeln!(out);
}

/// The resources: every one with its source or reason (wide), or the
/// measured ones with their values and the unsupported ones on one line.
fn resources_text(out: &mut String, run: &EngineRun, detail: Detail) {
    if run.resources.is_empty() {
        return;
    }
    let _ = writeln!(out, "resources:");
    if detail == Detail::Wide {
        for (name, m) in &run.resources {
            let _ = writeln!(out, "  {name:<28} {m}");
        }
        return;
    }
    let measured: Vec<(&String, &Metric)> = run
        .resources
        .iter()
        .filter(|(_, m)| matches!(m, Metric::Measured { .. }))
        .collect();
    let width = measured.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, m) in &measured {
        if let Metric::Measured {
            mean, peak, unit, ..
        } = m
        {
            let value = if mean == peak {
                format!("{mean:.2} {unit}")
            } else {
                format!("mean {mean:.2}, peak {peak:.2} {unit}")
            };
            let _ = writeln!(out, "  {name:<width$}  {value}");
        }
    }
    let unsupported: Vec<&str> = run
        .resources
        .iter()
        .filter(|(_, m)| matches!(m, Metric::Unsupported { .. }))
        .map(|(n, _)| n.as_str())
        .collect();
    if !unsupported.is_empty() {
        say(
            out,
            detail,
            "  not measured here: ",
            &format!("{} (why: --wide, or the JSON)", unsupported.join(", ")),
        );
    }
}

/// A text table: the first column left-aligned, the others right-aligned,
/// each as wide as its widest cell, under a title.
fn table(out: &mut String, title: &str, head: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(l, "{c:<w$}");
            } else {
                let _ = write!(l, "  {c:>w$}");
            }
        }
        l
    };
    let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "{}", line(head));
    let _ = writeln!(out, "{rule}");
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    let _ = writeln!(out, "{rule}");
}

/// The anchor table of one run's steady state. Brief: calls, mean, 95 %
/// interval, p50/p90/p99, CPU time. Wide: every statistic and the heap
/// bytes allocated per call. Neither shows a stage's calls per second
/// (1000 / its mean): the run's one throughput is its steady state's
/// inputs/s, iterations over the phase's seconds, printed above the table.
pub fn anchor_table(run: &EngineRun, detail: Detail) -> String {
    let mut out = String::new();
    let Some(steady) = &run.phases.steady else {
        return out;
    };
    let ms = |v: f64| format!("{v:.3}");
    let owned = |h: &[&str]| h.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
    let (title, head, rows): (&str, Vec<String>, Vec<Vec<String>>) = match detail {
        Detail::Brief => (
            "Steady state per stage (real time unless marked CPU; ± is the 95 % CI half-width)",
            owned(&[
                "stage", "calls", "mean ms", "± ms", "p50 ms", "p90 ms", "p99 ms", "CPU ms",
            ]),
            steady
                .anchors
                .0
                .iter()
                .map(|(name, a)| {
                    let r = &a.real_ms;
                    vec![
                        name.clone(),
                        r.n.to_string(),
                        ms(r.mean),
                        ms(r.ci95_half()),
                        ms(r.p50),
                        ms(r.p90),
                        ms(r.p99),
                        ms(a.cpu_ms.mean),
                    ]
                })
                .collect(),
        ),
        Detail::Wide => {
            let mut head = owned(&[
                "stage",
                "calls",
                "real ms",
                "CPU ms",
                "real std ms",
                "CPU std ms",
                "real var ms²",
                "min ms",
            ]);
            head.extend(PERCENTILES.iter().map(|p| format!("p{} ms", fmt_p(*p))));
            head.extend(owned(&[
                "max ms",
                "CI95 low ms",
                "CI95 high ms",
                "alloc KiB",
            ]));
            let rows = steady
                .anchors
                .0
                .iter()
                .map(|(name, a)| {
                    let r = &a.real_ms;
                    let mut cells = vec![
                        name.clone(),
                        r.n.to_string(),
                        ms(r.mean),
                        ms(a.cpu_ms.mean),
                        ms(r.std),
                        ms(a.cpu_ms.std),
                        ms(r.var),
                        ms(r.min),
                    ];
                    cells.extend(r.percentiles().iter().map(|v| ms(*v)));
                    cells.extend([
                        ms(r.max),
                        ms(r.ci95[0]),
                        ms(r.ci95[1]),
                        a.alloc_bytes
                            .as_ref()
                            .map_or("-".into(), |s| format!("{:.1}", s.mean / 1024.0)),
                    ]);
                    cells
                })
                .collect();
            (
                "Steady state per stage (std and var: sample statistics, n − 1)",
                head,
                rows,
            )
        }
    };
    table(&mut out, title, &head, &rows);
    out
}

/// One side-by-side table of several engines' steady states, a row per
/// engine: each stage's mean ± half its 95 % interval, the p99 of the timed
/// stage, throughput and state. When long labels would take it past
/// [`WIDTH`], only the timed stage.
pub fn cross_engine_table(runs: &[EngineRun]) -> String {
    let mut stages: Vec<&str> = Vec::new();
    for run in runs {
        if let Some(s) = &run.phases.steady {
            for (n, _) in &s.anchors.0 {
                if !stages.contains(&n.as_str()) {
                    stages.push(n);
                }
            }
        }
    }
    // The stage the run times as a whole: `total`, or `inference` alone.
    let timed = if stages.contains(&Stage::Total.name()) {
        Stage::Total.name()
    } else {
        Stage::Inference.name()
    };
    let full = cross_table(runs, &stages, timed);
    if full.lines().all(|l| l.chars().count() <= WIDTH) {
        return full;
    }
    // Long labels (a sweep's `onnxruntime @ raspberry-pi-4b`): the timed
    // stage alone fits; each run above gives every stage.
    cross_table(runs, &[timed], timed)
}

/// [`cross_engine_table`] with the columns of `stages`.
fn cross_table(runs: &[EngineRun], stages: &[&str], timed: &str) -> String {
    let mut out = String::new();
    let mut head = vec!["engine".to_owned()];
    head.extend(stages.iter().map(|s| format!("{s} ms")));
    head.extend([format!("{timed} p99 ms"), "inputs/s".into(), "state".into()]);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let steady = run.phases.steady.as_ref();
            let mut row = vec![run.engine.clone()];
            for stage in stages {
                row.push(
                    steady
                        .and_then(|s| s.anchors.get(stage))
                        .map_or("-".into(), |a| {
                            let r = &a.real_ms;
                            format!("{:.2}±{:.2}", r.mean, r.ci95_half())
                        }),
                );
            }
            row.push(
                steady
                    .and_then(|s| s.anchors.get(timed))
                    .map_or("-".into(), |a| format!("{:.2}", a.real_ms.p99)),
            );
            row.push(steady.map_or("-".into(), |s| format!("{:.2}", s.throughput_per_s)));
            row.push(run.state.word().into());
            row
        })
        .collect();
    table(
        &mut out,
        "Cross-engine, steady state (real time; ± is the 95 % CI half-width)",
        &head,
        &rows,
    );
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
