//! The HTML report: one self-contained page (no external script, font,
//! style sheet or URL)
//! that answers "which engine is faster here, by how much, and can I trust
//! it": the cross-engine tables, per-stage stacked bars with 95 % intervals,
//! the latency CDF and histograms on one shared axis, a timeline per engine
//! with every monitored channel, then per engine its stage table, phases,
//! static metrics, resources, interference and warnings, and the
//! provenance. Charts are hand-written inline SVG (`html/svg.rs`,
//! `html/charts.rs`): classes, ids, tooltips and a `viewBox` that a
//! plotting crate's fixed-size output does not give.
//!
//! Every string that can come from a user, a model or the machine is
//! escaped (`&`, `<`, `>`, `"` and `'`). One inline script, run only by a
//! browser, records each chart's laid-out size and overlapping labels on
//! its figure (`data-rendered`, `data-text-overlaps`) for the tests.

mod charts;
mod svg;

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::resources::Metric;

use crate::report::{AnchorStats, EngineRun, Report, RunState};
use crate::stats::samples_needed;
use crate::summary::{emulated_note, fmt_ms, fmt_round, ranking, timed_stage};
use charts::{engine_color, Dist};
use svg::escape;

/// An integer with thousands separators.
fn fmt_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in KiB or MiB.
fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// An id-safe form of an engine name, unique within the report.
fn slugs(runs: &[EngineRun]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut s: String = r
                .engine
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            if s.is_empty() || !seen.insert(s.clone()) {
                s = format!("{s}-{i}");
                seen.insert(s.clone());
            }
            s
        })
        .collect()
}

/// A header cell; numeric columns are right-aligned.
struct Col<'a>(&'a str, bool);

fn table(out: &mut String, class: &str, head: &[Col], rows: &[Vec<String>]) {
    grouped_table(out, class, &[], head, rows, None);
}

/// A table under two header rows when `groups` is not empty: each group
/// spans that many columns (a one-column group with no label gives its
/// column's header both rows); the `marked` row is highlighted.
fn grouped_table(
    out: &mut String,
    class: &str,
    groups: &[(&str, usize)],
    head: &[Col],
    rows: &[Vec<String>],
    marked: Option<usize>,
) {
    let th = |Col(label, num): &Col, extra: &str| {
        format!(
            "<th{}{extra}>{}</th>",
            if *num { " class=\"num\"" } else { "" },
            escape(label)
        )
    };
    let _ = write!(
        out,
        "<div class=\"scroll\"><table class=\"{class}\"><thead>"
    );
    let mut spanned = vec![false; head.len()];
    if !groups.is_empty() {
        out.push_str("<tr>");
        let mut c = 0;
        for (label, span) in groups {
            if label.is_empty() && *span == 1 && c < head.len() {
                out.push_str(&th(&head[c], " rowspan=\"2\""));
                spanned[c] = true;
            } else {
                let _ = write!(
                    out,
                    "<th class=\"group\" colspan=\"{span}\">{}</th>",
                    escape(label)
                );
            }
            c += span;
        }
        out.push_str("</tr>");
    }
    out.push_str("<tr>");
    for (col, spanned) in head.iter().zip(&spanned) {
        if !spanned {
            out.push_str(&th(col, ""));
        }
    }
    out.push_str("</tr></thead><tbody>\n");
    for (i, row) in rows.iter().enumerate() {
        let class = if Some(i) == marked {
            " class=\"best\""
        } else {
            ""
        };
        let _ = writeln!(out, "<tr{class}>{}</tr>", row.concat());
    }
    out.push_str("</tbody></table></div>\n");
}

/// A text cell.
fn td(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// A numeric cell.
fn tdn(text: &str) -> String {
    format!("<td class=\"num\">{}</td>", escape(text))
}

/// A cell of ready HTML.
fn tdh(html: &str) -> String {
    format!("<td>{html}</td>")
}

/// A percentile cell, greyed with a tooltip when `n` samples are too few
/// for it.
fn td_pct(v: f64, p: f64, n: usize) -> String {
    let need = samples_needed(p);
    if n < need {
        format!(
            "<td class=\"num weak\" title=\"{n} samples: p{p} needs {need} to be trusted\">{}</td>",
            fmt_ms(v)
        )
    } else {
        tdn(&fmt_ms(v))
    }
}

fn state_badge(state: RunState) -> String {
    format!(
        "<span class=\"state state-{}\">{}</span>",
        state.word().to_ascii_lowercase(),
        state.word()
    )
}

const CSS: &str = "\
:root{color-scheme:light}\
body{margin:0;background:#fff;color:#1f2937;font:14px/1.45 'DejaVu Sans',Helvetica,Arial,sans-serif}\
main{max-width:1216px;margin:0 auto;padding:20px 24px 64px}\
h1{font-size:24px;margin:0 0 4px}\
h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid #e5e7eb}\
h3{font-size:15px;margin:22px 0 6px}\
p{margin:6px 0}\
.sub{color:#4b5563;margin:0 0 12px}\
nav{font-size:13px;margin:10px 0 0;color:#6b7280}\
nav a{color:#2b6cb0;text-decoration:none;margin-right:12px}\
.verdict{border-left:4px solid #2b6cb0;background:#f3f7fb;padding:10px 14px;margin:14px 0}\
.alert{border-left:4px solid #c2410c;background:#fff7ed;padding:8px 14px;margin:10px 0}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}\
th,td{padding:4px 9px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}\
thead th{background:#f3f4f6;font-weight:600;border-bottom:1px solid #d1d5db;vertical-align:bottom}\
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
th.num{text-align:right}\
th.group{text-align:center;border-bottom:1px solid #d1d5db;background:#e9ecef}\
tbody td:first-child{white-space:nowrap}\
tr.best td{background:#f0f9f1}\
td.weak{color:#9ca3af;font-style:italic}\
table.kv th{background:none;font-weight:600;width:190px;border-bottom:1px solid #e5e7eb;vertical-align:top}\
code{font:12px 'DejaVu Sans Mono',Menlo,Consolas,monospace;overflow-wrap:anywhere}\
code.sha{word-break:break-all}\
.state{display:inline-block;padding:1px 7px;border-radius:3px;font-size:12px;font-weight:600;vertical-align:middle}\
.state-ok{background:#dcfce7;color:#166534}\
.state-noisy{background:#fef3c7;color:#92400e}\
.state-throttled,.state-partial{background:#fee2e2;color:#991b1b}\
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:8px;vertical-align:baseline}\
.muted{color:#6b7280}\
figure{margin:12px 0 22px}\
figure svg{display:block;max-width:100%;height:auto}\
figcaption{font-size:12.5px;color:#4b5563;margin-top:6px;max-width:1100px}\
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:4px 28px}\
ul{margin:4px 0 10px;padding-left:22px}\
li{margin:2px 0}\
.warning{color:#92400e}\
details{margin:10px 0}\
summary{cursor:pointer;font-weight:600}\
";

/// The whole report as one self-contained HTML page.
pub fn html_report(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("Benchmark of {}", report.config.app_name);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n",
        escape(&title)
    );
    let slugs = slugs(&report.runs);
    let dists: Vec<Dist> = report
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Dist::of(r, engine_color(i)))
        .collect();
    let axis = (!dists.is_empty()).then(|| charts::latency_axis(&dists));

    header(&mut out, report, &slugs);
    summary(&mut out, report, &dists, axis);
    if let Some(axis) = axis {
        distribution(&mut out, &dists, axis, &slugs, &report.runs);
    }
    phases(&mut out, report);
    models(&mut out, report);
    resources(&mut out, report);
    let t_end = report
        .runs
        .iter()
        .map(charts::time_end)
        .fold(1e-3f64, f64::max);
    for (i, run) in report.runs.iter().enumerate() {
        engine_section(
            &mut out,
            run,
            engine_color(i),
            &slugs[i],
            t_end,
            axis.map_or(f64::NAN, |a| a.1),
        );
    }
    errors(&mut out, report);
    provenance(&mut out, report);
    out.push_str("</main><script>");
    out.push_str(LAYOUT_CHECK);
    out.push_str("</script></body></html>\n");
    out
}

/// Run by a browser (nothing else): writes on each chart's figure the size
/// it was laid out at and how many of its text labels overlap, so that a
/// headless browser's DOM tells whether the charts are readable.
const LAYOUT_CHECK: &str = "\
for(const f of document.querySelectorAll('figure.chart-figure')){\
const s=f.querySelector('svg');if(!s)continue;\
const b=s.getBoundingClientRect();\
const t=[...s.querySelectorAll('text')].map(e=>e.getBoundingClientRect()).filter(r=>r.width>0);\
let o=0;\
for(let i=0;i<t.length;i++)for(let j=i+1;j<t.length;j++){const p=t[i],q=t[j];\
if(Math.min(p.right,q.right)-Math.max(p.left,q.left)>1&&Math.min(p.bottom,q.bottom)-Math.max(p.top,q.top)>1)o++;}\
f.dataset.rendered=Math.round(b.width)+'x'+Math.round(b.height);\
f.dataset.textOverlaps=o;}";

fn header(out: &mut String, report: &Report, slugs: &[String]) {
    let c = &report.config;
    let p = &report.provenance;
    let _ = writeln!(out, "<header><h1>Benchmark of {}</h1>", escape(&c.app_name));
    let length = match (c.number, c.duration_s) {
        (Some(n), _) => format!("{n} pass(es) over the dataset per engine"),
        (None, Some(d)) => format!("{d} s of steady state per engine"),
        (None, None) => "default steady-state duration".into(),
    };
    let commit = &p.lpdnn_host.commit;
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} engine(s) · {} input(s) from <code>{}</code> · {} · {} on {} ({} core(s)) · \
         lpdnn-host {} ({})</p>",
        report.runs.len(),
        c.inputs.len(),
        escape(&c.dataset),
        escape(&length),
        escape(&p.started_at),
        escape(p.host.cpu_model.as_deref().unwrap_or("an unknown CPU")),
        p.host.cores,
        escape(&p.lpdnn_host.version),
        escape(&commit[..commit.len().min(12)]),
    );
    if let Some(kernel) = &p.host.emulated_on {
        let _ = writeln!(
            out,
            "<p class=\"warning\"><b>Emulated:</b> {}</p>",
            escape(&emulated_note(&p.host.arch, kernel))
        );
    }
    out.push_str("<nav><a href=\"#summary\">Summary</a>");
    if report
        .runs
        .iter()
        .any(|r| !r.timeline.iterations_ms.is_empty())
    {
        out.push_str("<a href=\"#distribution\">Distribution</a>");
    }
    out.push_str(
        "<a href=\"#phases\">Phases</a><a href=\"#models\">Models</a>\
         <a href=\"#resources\">Resources</a>",
    );
    for (run, slug) in report.runs.iter().zip(slugs) {
        let _ = write!(
            out,
            "<a href=\"#engine-{slug}\">{}</a>",
            escape(&run.engine)
        );
    }
    out.push_str("<a href=\"#provenance\">Provenance</a></nav></header>\n");

    // The answer first.
    if let Some(ranking) = ranking(&report.runs) {
        let best = ranking.fastest();
        let s = best.stats;
        let several = ranking.by_mean.len() > 1;
        let _ = write!(
            out,
            "<div class=\"verdict\">{}<b>{}</b>, {} ± {} ms per input ({}, mean and 95 % CI), \
             p99 {} ms, {:.2} inputs/s.",
            if several { "Fastest here: " } else { "" },
            escape(best.engine),
            fmt_ms(s.mean),
            fmt_ms(s.ci95_half()),
            best.stage,
            fmt_ms(s.p99),
            best.throughput_per_s
        );
        if several {
            let others: Vec<String> = ranking.by_mean[1..]
                .iter()
                .map(|o| {
                    format!(
                        "{} {} ms ({:.2}×)",
                        escape(o.engine),
                        fmt_ms(o.stats.mean),
                        o.stats.mean / s.mean
                    )
                })
                .collect();
            let _ = write!(out, " Then: {}.", others.join(", "));
            if !ranking.within.is_empty() {
                let names: Vec<String> = ranking.within.iter().map(|o| escape(o.engine)).collect();
                let _ = write!(
                    out,
                    " The 95 % interval of {} overlaps that of {}: this run does not tell them \
                     apart (<code>lpdnn-host compare</code> tests it).",
                    escape(best.engine),
                    names.join(", ")
                );
            }
            if let Some(low) = ranking.lowest_p99 {
                let _ = write!(
                    out,
                    " The p99 ranks them otherwise: {} has the lowest, {} ms against {} ms.",
                    escape(low.engine),
                    fmt_ms(low.stats.p99),
                    fmt_ms(s.p99)
                );
            }
        }
        out.push_str("</div>\n");
    }
    let disturbed: Vec<&EngineRun> = report
        .runs
        .iter()
        .filter(|r| r.state != RunState::Ok)
        .collect();
    if !disturbed.is_empty() || report.partial {
        out.push_str("<div class=\"alert\">");
        if report.partial {
            out.push_str(
                "<b>Partial</b>: the benchmark was interrupted; the results cover what ran. ",
            );
        }
        for r in disturbed {
            let why = match r.state {
                RunState::Noisy => r
                    .interference
                    .as_ref()
                    .map(|i| i.evidence.join("; "))
                    .unwrap_or_default(),
                RunState::Throttled => r
                    .throttle
                    .as_ref()
                    .map(|t| t.reasons.join("; "))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<div>{} {}{}</div>",
                escape(&r.engine),
                state_badge(r.state),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", escape(&why))
                }
            );
        }
        out.push_str("</div>\n");
    }
}

fn summary(out: &mut String, report: &Report, dists: &[Dist], axis: Option<(f64, f64)>) {
    out.push_str("<section id=\"summary\"><h2>Summary: steady state</h2>\n");
    let best = report
        .runs
        .iter()
        .filter_map(|r| {
            r.phases
                .steady
                .as_ref()
                .and_then(|s| s.anchors.get(timed_stage(r)))
                .map(|a| a.real_ms.mean)
        })
        .fold(f64::MAX, f64::min);
    let giga = report
        .runs
        .iter()
        .filter_map(|r| r.static_metrics.as_ref().and_then(|s| s.macs))
        .any(|m| m >= 1_000_000_000);
    let (mac_unit, mac_div) = if giga { ("G", 1e9) } else { ("M", 1e6) };
    let macs_head = format!("MACs ({mac_unit})");
    let head = [
        Col("engine", false),
        Col("state", false),
        Col("mean", true),
        Col("95 % CI", true),
        Col("p50", true),
        Col("p90", true),
        Col("p99", true),
        Col("max", true),
        Col("vs fastest (× mean)", true),
        Col("throughput (inputs/s)", true),
        Col("parameters", true),
        Col(&macs_head, true),
    ];
    let groups = [
        ("", 1),
        ("", 1),
        ("time per input (ms)", 6),
        ("", 1),
        ("", 1),
        ("", 1),
        ("", 1),
    ];
    let rows: Vec<Vec<String>> = report
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let steady = run.phases.steady.as_ref();
            let a = steady.and_then(|s| s.anchors.get(timed_stage(run)));
            let mut row = vec![tdh(&format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                engine_color(i),
                escape(&run.engine)
            ))];
            row.push(tdh(&state_badge(run.state)));
            match a {
                Some(a) => {
                    let r = &a.real_ms;
                    row.push(tdn(&fmt_ms(r.mean)));
                    row.push(tdn(&format!(
                        "{} – {}",
                        fmt_ms(r.ci95[0]),
                        fmt_ms(r.ci95[1])
                    )));
                    row.push(td_pct(r.p50, 50.0, r.n));
                    row.push(td_pct(r.p90, 90.0, r.n));
                    row.push(td_pct(r.p99, 99.0, r.n));
                    row.push(tdn(&fmt_ms(r.max)));
                    row.push(tdn(&format!("{:.2}×", r.mean / best)));
                }
                None => row.extend((0..7).map(|_| tdn("–"))),
            }
            row.push(tdn(
                &steady.map_or("–".into(), |s| format!("{:.2}", s.throughput_per_s))
            ));
            let st = run.static_metrics.as_ref();
            row.push(tdn(&st.map_or("–".into(), |s| fmt_int(s.parameters))));
            row.push(tdn(&st.map_or("–".into(), |s| {
                s.macs.map_or("not counted".into(), |m| {
                    format!("{:.2}", m as f64 / mac_div)
                })
            })));
            row
        })
        .collect();
    // The fastest engine's row is marked.
    let fastest = report.runs.iter().position(|r| {
        r.phases
            .steady
            .as_ref()
            .and_then(|s| s.anchors.get(timed_stage(r)))
            .is_some_and(|a| a.real_ms.mean == best)
    });
    let marked = fastest.filter(|_| report.runs.len() > 1);
    grouped_table(out, "summary", &groups, &head, &rows, marked);
    let stage = report.runs.first().map_or("total", timed_stage);
    let _ = writeln!(
        out,
        "<p class=\"muted\">Time per input of the timed stage (<code>{stage}</code>), real time. \
         The 95 % CI is Student's t interval of the mean; percentiles are nearest-rank, greyed where \
         there are too few samples to trust them. MACs per inference from the model file.</p>"
    );
    if let Some(svg) = charts::stage_bars(&report.runs) {
        let _ = writeln!(
            out,
            "<figure id=\"chart-stages\" class=\"chart-figure\">{svg}<figcaption><b>Where the time \
             goes.</b> Mean steady-state time per input of each stage, stacked, per engine on one \
             axis. Thin whiskers: the 95 % confidence interval of each stage's mean; heavy \
             whisker and label: the interval of the whole (<code>{stage}</code>).{}\
             </figcaption></figure>",
            if stage == "total" {
                " <i>Rest of total</i> is time inside the iteration but outside the three stages."
            } else {
                ""
            }
        );
    }
    if let Some(axis) = axis {
        let svg = charts::cdf(dists, axis, stage);
        let _ = writeln!(
            out,
            "<figure id=\"chart-cdf\" class=\"chart-figure\">{svg}<figcaption><b>Latency CDF.</b> \
             Share of steady-state iterations done within x ms, every engine on one axis: left is \
             faster, a steep curve is steady, a late rise at the top is a tail. {}</figcaption>\
             </figure>",
            clipping(dists, axis)
        );
    }
    out.push_str("</section>\n");
}

/// What the shared axis leaves out, in words.
fn clipping(dists: &[Dist], axis: (f64, f64)) -> String {
    let cut: Vec<String> = dists
        .iter()
        .filter(|d| d.above(axis.1) > 0)
        .map(|d| {
            format!(
                "{} {} of {} (max {} ms)",
                escape(&d.run.engine),
                d.above(axis.1),
                d.sorted.len(),
                fmt_ms(d.max())
            )
        })
        .collect();
    let mut s = format!(
        "The axis ends at {} ms: the highest engine's Q3 + 3 IQR (Tukey's far fence) or p99, \
         whichever is higher, rounded up; ",
        fmt_round(axis.1)
    );
    if cut.is_empty() {
        s.push_str("no iteration lies beyond it.");
    } else {
        let _ = write!(s, "iterations beyond it, not drawn: {}.", cut.join(", "));
    }
    s
}

fn distribution(
    out: &mut String,
    dists: &[Dist],
    axis: (f64, f64),
    slugs: &[String],
    runs: &[EngineRun],
) {
    out.push_str(
        "<section id=\"distribution\"><h2>Latency distribution per engine</h2>\
         <div class=\"grid2\">\n",
    );
    for d in dists {
        let i = runs
            .iter()
            .position(|r| std::ptr::eq(r, d.run))
            .unwrap_or(0);
        let clipped = d.above(axis.1);
        let beyond = if clipped == 0 {
            format!("No iteration beyond the axis (max {} ms).", fmt_ms(d.max()))
        } else {
            format!(
                "<b>{clipped} outlier(s)</b> above {} ms not drawn (max {} ms).",
                fmt_round(axis.1),
                fmt_ms(d.max())
            )
        };
        let _ = writeln!(
            out,
            "<figure id=\"chart-histogram-{}\" class=\"chart-figure chart-histogram\">{}\
             <figcaption><b>{}</b>: steady-state time per input ({}), {} iterations, on the axis \
             shared by every engine ({}–{} ms). Solid line p50, dashed p99. {beyond}</figcaption>\
             </figure>",
            slugs[i],
            charts::histogram(d, axis),
            escape(&d.run.engine),
            timed_stage(d.run),
            d.sorted.len(),
            fmt_round(axis.0),
            fmt_round(axis.1),
        );
    }
    out.push_str("</div></section>\n");
}

fn phases(out: &mut String, report: &Report) {
    out.push_str("<section id=\"phases\"><h2>Phases</h2>\n");
    let parts: BTreeSet<&String> = report
        .runs
        .iter()
        .flat_map(|r| r.phases.load_ms.keys())
        .collect();
    let mut head: Vec<Col> = vec![Col("engine", false)];
    head.extend(
        parts
            .iter()
            .map(|p| Col(p.trim_start_matches("load."), true)),
    );
    head.extend([
        Col("time (ms)", true),
        Col("÷ steady mean", true),
        Col("iterations", true),
        Col("time (s)", true),
        Col("ended by", false),
        Col("mean (ms)", true),
        Col("iterations", true),
        Col("time (s)", true),
        Col("ended by", false),
    ]);
    let groups = [
        ("", 1),
        ("load (ms)", parts.len()),
        ("first inference", 2),
        ("warm-up", 4),
        ("steady state", 3),
    ];
    let rows: Vec<Vec<String>> = report
        .runs
        .iter()
        .map(|run| {
            let p = &run.phases;
            let stage = timed_stage(run);
            let mut row = vec![td(&run.engine)];
            for part in &parts {
                row.push(tdn(&p
                    .load_ms
                    .get(*part)
                    .map_or("–".into(), |v| fmt_ms(*v))));
            }
            let first = p.first_inference_ms.get(stage).copied();
            let steady_mean = p
                .steady
                .as_ref()
                .and_then(|s| s.anchors.get(stage))
                .map(|a| a.real_ms.mean);
            row.push(tdn(&first.map_or("–".into(), fmt_ms)));
            row.push(tdn(&match (first, steady_mean) {
                (Some(f), Some(m)) if m > 0.0 => format!("{:.2}×", f / m),
                _ => "–".into(),
            }));
            row.push(tdn(&p.warmup.iterations.to_string()));
            row.push(tdn(&format!("{:.2}", p.warmup.seconds)));
            row.push(td(&p.warmup.ended_by.to_string()));
            row.push(tdn(&p
                .warmup
                .anchors
                .get(stage)
                .map_or("–".into(), |a| fmt_ms(a.real_ms.mean))));
            match &p.steady {
                Some(s) => {
                    row.push(tdn(&s.iterations.to_string()));
                    row.push(tdn(&format!("{:.2}", s.seconds)));
                    row.push(td(&s.ended_by.to_string()));
                }
                None => {
                    row.extend([tdn("–"), tdn("–"), td("did not run")]);
                }
            }
            row
        })
        .collect();
    grouped_table(out, "phases", &groups, &head, &rows, None);
    let warmup = escape(&report.config.warmup);
    let _ = writeln!(
        out,
        "<p class=\"muted\">Load: each part's load time. First inference: the first input, cold \
         (caches, lazy initialisation), timed stage; per stage in each engine's table. Warm-up \
         rule: {warmup}. The timelines below place the phases on the run's clock.</p></section>"
    );
}

fn models(out: &mut String, report: &Report) {
    out.push_str("<section id=\"models\"><h2>Models and static metrics</h2>\n");
    let head = [
        Col("engine", false),
        Col("model file", false),
        Col("format", false),
        Col("size", true),
        Col("SHA-256", false),
    ];
    let rows: Vec<Vec<String>> = report
        .runs
        .iter()
        .map(|r| {
            vec![
                td(&r.engine),
                tdh(&format!("<code>{}</code>", escape(&r.model))),
                td(&r.model_format),
                tdn(&r
                    .static_metrics
                    .as_ref()
                    .map_or("–".into(), |s| fmt_bytes(s.storage_bytes))),
                tdh(&format!(
                    "<code class=\"sha\">{}</code>",
                    escape(&r.model_sha256)
                )),
            ]
        })
        .collect();
    table(out, "model-files", &head, &rows);
    let head = [
        Col("engine", false),
        Col("parameters", true),
        Col("weights", true),
        Col("MACs", true),
        Col("FLOPs", true),
        Col("other ops", true),
        Col("notes", false),
    ];
    let mut conventions: Vec<&str> = Vec::new();
    let rows: Vec<Vec<String>> = report
        .runs
        .iter()
        .map(|r| match &r.static_metrics {
            Some(s) => {
                if !conventions.contains(&s.convention.as_str()) {
                    conventions.push(&s.convention);
                }
                let count = |v: Option<u64>| v.map_or("not counted".into(), fmt_int);
                vec![
                    td(&r.engine),
                    tdn(&fmt_int(s.parameters)),
                    tdn(&fmt_bytes(s.parameter_bytes)),
                    tdn(&count(s.macs)),
                    tdn(&count(s.flops)),
                    tdn(&count(s.other_ops)),
                    td(&s.notes.join("; ")),
                ]
            }
            None => vec![
                td(&r.engine),
                tdn("–"),
                tdn("–"),
                tdn("–"),
                tdn("–"),
                tdn("–"),
                td("not analysed (see the engine's warnings)"),
            ],
        })
        .collect();
    table(out, "static-metrics", &head, &rows);
    for c in conventions {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Counting convention: {}.</p>",
            escape(c)
        );
    }
    out.push_str("</section>\n");
}

fn resources(out: &mut String, report: &Report) {
    out.push_str("<section id=\"resources\"><h2>Resources</h2>\n");
    let measured: BTreeSet<&String> = report
        .runs
        .iter()
        .flat_map(|r| {
            r.resources
                .iter()
                .filter(|(_, m)| matches!(m, Metric::Measured { .. }))
                .map(|(n, _)| n)
        })
        .collect();
    if report.runs.iter().all(|r| r.resources.is_empty()) {
        out.push_str("<p>Monitors were off.</p></section>\n");
        return;
    }
    let mut head = vec![Col("metric", false), Col("unit", false)];
    let mut groups = vec![("", 1), ("", 1)];
    for r in &report.runs {
        head.push(Col("mean", true));
        head.push(Col("peak", true));
        groups.push((r.engine.as_str(), 2));
    }
    let rows: Vec<Vec<String>> = measured
        .iter()
        .map(|name| {
            let unit = report
                .runs
                .iter()
                .find_map(|r| match r.resources.get(*name) {
                    Some(Metric::Measured { unit, .. }) => Some(unit.as_str()),
                    _ => None,
                })
                .unwrap_or("");
            let mut row = vec![td(name), td(unit)];
            for r in &report.runs {
                match r.resources.get(*name) {
                    Some(Metric::Measured { mean, peak, .. }) => {
                        row.push(tdn(&charts::fmt_value(*mean)));
                        row.push(tdn(&charts::fmt_value(*peak)));
                    }
                    Some(Metric::Unsupported { unsupported }) => {
                        let cell = format!(
                            "<td class=\"num weak\" colspan=\"2\" title=\"{}\">unsupported</td>",
                            escape(unsupported)
                        );
                        row.push(cell);
                    }
                    None => row.push("<td class=\"num weak\" colspan=\"2\">–</td>".into()),
                }
            }
            row
        })
        .collect();
    grouped_table(out, "resources", &groups, &head, &rows, None);
    // Not measured anywhere: the reasons, once each.
    let mut unsupported: Vec<(&String, Vec<(&str, &str)>)> = Vec::new();
    let names: BTreeSet<&String> = report
        .runs
        .iter()
        .flat_map(|r| r.resources.keys())
        .collect();
    for name in names.difference(&measured) {
        let reasons: Vec<(&str, &str)> = report
            .runs
            .iter()
            .filter_map(|r| match r.resources.get(*name) {
                Some(Metric::Unsupported { unsupported }) => {
                    Some((r.engine.as_str(), unsupported.as_str()))
                }
                _ => None,
            })
            .collect();
        unsupported.push((name, reasons));
    }
    if !unsupported.is_empty() {
        out.push_str("<h3>Not measured on this machine</h3><ul class=\"unsupported\">\n");
        for (name, reasons) in unsupported {
            let mut distinct: Vec<&str> = reasons.iter().map(|r| r.1).collect();
            distinct.dedup();
            let why = if distinct.len() <= 1 {
                escape(distinct.first().copied().unwrap_or(""))
            } else {
                reasons
                    .iter()
                    .map(|(e, w)| format!("{}: {}", escape(e), escape(w)))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let _ = writeln!(out, "<li><code>{}</code>: {why}</li>", escape(name));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<p class=\"muted\">Means and peaks over each engine's whole run (load included); each \
         engine's section gives the sources.</p></section>\n",
    );
}

fn engine_section(
    out: &mut String,
    run: &EngineRun,
    color: &str,
    slug: &str,
    t_end: f64,
    ms_max: f64,
) {
    let _ = writeln!(
        out,
        "<section id=\"engine-{slug}\" class=\"engine\"><h2><span class=\"swatch\" \
         style=\"background:{color}\"></span>{} <span class=\"muted\">{}</span> {}</h2>",
        escape(&run.engine),
        escape(run.engine_version.as_deref().unwrap_or("version unknown")),
        state_badge(run.state)
    );
    let _ = writeln!(
        out,
        "<p>Device <code>{}</code> · model <code>{}</code> ({}) · library <code>{}</code></p>",
        escape(&run.device),
        escape(&run.model),
        escape(&run.model_format),
        escape(run.engine_library.as_deref().unwrap_or("unknown"))
    );
    stage_table(out, run);
    let ms_max = if ms_max.is_finite() {
        ms_max
    } else {
        run.timeline
            .iterations_ms
            .iter()
            .copied()
            .fold(1.0, f64::max)
    };
    if let Some(svg) = charts::timeline(run, color, t_end, ms_max) {
        let chans = charts::channels(run);
        let sampled = match run.timeline.interval_ms {
            Some(ms) if !chans.is_empty() => format!(
                "every monitored channel, sampled every {} ms ({})",
                fmt_round(ms),
                chans
                    .iter()
                    .map(|c| format!("<code>{}</code>", escape(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "no monitored channel (monitors off)".into(),
        };
        let _ = writeln!(
            out,
            "<figure id=\"chart-timeline-{slug}\" class=\"chart-figure chart-timeline\">{svg}\
             <figcaption><b>Timeline of {}</b>: time of each steady-state iteration ({}) and \
             {sampled}, on the run's clock; every engine's timeline has the same time axis \
             (0–{:.1} s). Shading: load and first inference (grey), warm-up (amber, placed from its \
             duration). Iterations above {} ms (the shared latency axis) are ▲ at the top.\
             </figcaption></figure>",
            escape(&run.engine),
            timed_stage(run),
            t_end,
            fmt_round(ms_max)
        );
    }
    engine_resources(out, run);
    interference(out, run);
    if !run.warnings.is_empty() {
        out.push_str("<h3>Warnings</h3><ul class=\"warnings\">\n");
        for w in &run.warnings {
            let _ = writeln!(out, "<li class=\"warning\">{}</li>", escape(w));
        }
        out.push_str("</ul>\n");
    }
    if !run.predictions.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Predictions of the first pass ({} input(s))</summary>",
            run.predictions.len()
        );
        let rows: Vec<Vec<String>> = run
            .predictions
            .iter()
            .map(|p| {
                vec![
                    td(&p.input),
                    tdh(&format!(
                        "<code>{}</code>",
                        escape(&p.prediction.to_string())
                    )),
                ]
            })
            .collect();
        table(
            out,
            "predictions",
            &[Col("input", false), Col("prediction (JSON)", false)],
            &rows,
        );
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn stage_table(out: &mut String, run: &EngineRun) {
    let Some(steady) = &run.phases.steady else {
        out.push_str("<p>No steady state ran (interrupted before it began).</p>\n");
        return;
    };
    let _ = writeln!(
        out,
        "<h3>Per stage, steady state</h3><p class=\"muted\">{} iterations, {} pass(es) over the \
         dataset in {:.2} s (ended by {}), {:.2} inputs/s. Real time unless marked CPU.</p>",
        steady.iterations,
        steady.passes,
        steady.seconds,
        escape(&steady.ended_by.to_string()),
        steady.throughput_per_s
    );
    let mut stages: Vec<&(String, AnchorStats)> = steady.anchors.0.iter().collect();
    stages.sort_by_key(|(n, _)| crate::report::pipeline_rank(n));
    let head = [
        Col("stage", false),
        Col("calls", true),
        Col("mean", true),
        Col("± 95 % CI", true),
        Col("p50", true),
        Col("p90", true),
        Col("p99", true),
        Col("p99.9", true),
        Col("min", true),
        Col("max", true),
        Col("std", true),
        Col("CPU mean (ms)", true),
        Col("alloc (KiB/call)", true),
        Col("first inference", true),
        Col("warm-up mean", true),
    ];
    let groups = [
        ("", 1),
        ("", 1),
        ("steady-state real time (ms)", 9),
        ("", 1),
        ("", 1),
        ("other phases (ms)", 2),
    ];
    let rows: Vec<Vec<String>> = stages
        .iter()
        .map(|(name, a)| {
            let r = &a.real_ms;
            vec![
                td(name),
                tdn(&r.n.to_string()),
                tdn(&fmt_ms(r.mean)),
                tdn(&fmt_ms(r.ci95_half())),
                td_pct(r.p50, 50.0, r.n),
                td_pct(r.p90, 90.0, r.n),
                td_pct(r.p99, 99.0, r.n),
                td_pct(r.p99_9, 99.9, r.n),
                tdn(&fmt_ms(r.min)),
                tdn(&fmt_ms(r.max)),
                tdn(&fmt_ms(r.std)),
                tdn(&fmt_ms(a.cpu_ms.mean)),
                tdn(&a
                    .alloc_bytes
                    .as_ref()
                    .map_or("–".into(), |s| format!("{:.1}", s.mean / 1024.0))),
                tdn(&run
                    .phases
                    .first_inference_ms
                    .get(name.as_str())
                    .map_or("–".into(), |v| fmt_ms(*v))),
                tdn(&run
                    .phases
                    .warmup
                    .anchors
                    .get(name)
                    .map_or("–".into(), |w| fmt_ms(w.real_ms.mean))),
            ]
        })
        .collect();
    grouped_table(out, "stages", &groups, &head, &rows, None);
}

fn engine_resources(out: &mut String, run: &EngineRun) {
    if run.resources.is_empty() {
        return;
    }
    out.push_str("<h3>Resources</h3>\n");
    let head = [
        Col("metric", false),
        Col("mean", true),
        Col("peak", true),
        Col("unit", false),
        Col("samples", true),
        Col("source, or why not measured", false),
    ];
    let (measured, unsupported): (Vec<_>, Vec<_>) = run
        .resources
        .iter()
        .partition(|(_, m)| matches!(m, Metric::Measured { .. }));
    let rows = |entries: &[(&String, &Metric)]| -> Vec<Vec<String>> {
        entries
            .iter()
            .map(|(name, m)| match m {
                Metric::Measured {
                    mean,
                    peak,
                    unit,
                    source,
                    samples,
                } => vec![
                    tdh(&format!("<code>{}</code>", escape(name))),
                    tdn(&charts::fmt_value(*mean)),
                    tdn(&charts::fmt_value(*peak)),
                    td(unit),
                    tdn(&samples.to_string()),
                    td(source),
                ],
                Metric::Unsupported { unsupported } => vec![
                    tdh(&format!("<code>{}</code>", escape(name))),
                    "<td class=\"num weak\" colspan=\"4\">unsupported</td>".into(),
                    td(&format!("unsupported: {unsupported}")),
                ],
            })
            .collect()
    };
    table(out, "engine-resources", &head, &rows(&measured));
    if !unsupported.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"unsupported\"><summary>{} metric(s) not measured here, and why\
             </summary>",
            unsupported.len()
        );
        table(out, "engine-resources", &head, &rows(&unsupported));
        out.push_str("</details>\n");
    }
}

fn interference(out: &mut String, run: &EngineRun) {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(i) = &run.interference {
        rows.push((
            "verdict".into(),
            if i.noisy {
                "<b>NOISY</b>: something else disturbed the steady state".into()
            } else {
                "none seen".into()
            },
        ));
        if let Some(c) = i.other_cpu_cores {
            rows.push((
                "other processes".into(),
                format!("{c:.2} CPU cores busy on average"),
            ));
        }
        if let Some(s) = i.steal_percent {
            rows.push(("steal time".into(), format!("{s:.2} % of CPU time")));
        }
        if !i.real_over_cpu.is_empty() {
            let v: Vec<String> = i
                .real_over_cpu
                .iter()
                .map(|(k, v)| format!("{} {v:.2}", escape(k)))
                .collect();
            rows.push(("real ÷ CPU, one-thread stages".into(), v.join(", ")));
        }
        let cv = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.1} %", v * 100.0));
        rows.push((
            "coefficient of variation".into(),
            format!("steady {}, warm-up {}", cv(i.cv_steady), cv(i.cv_warmup)),
        ));
        if let Some(b) = i.bimodality {
            rows.push((
                "bimodality (highest input)".into(),
                format!("{b:.3} (over 0.6: two modes)"),
            ));
        }
        let list = |items: &[String]| {
            format!(
                "<ul>{}</ul>",
                items
                    .iter()
                    .map(|e| format!("<li>{}</li>", escape(e)))
                    .collect::<String>()
            )
        };
        if !i.evidence.is_empty() {
            rows.push(("evidence".into(), list(&i.evidence)));
        }
        if !i.notes.is_empty() {
            rows.push(("notes".into(), list(&i.notes)));
        }
    }
    if let Some(t) = &run.throttle {
        let verdict = match t.detected {
            Some(true) => "<b>throttled</b>",
            Some(false) => "none seen",
            None => "could not be watched",
        };
        let mut v = verdict.to_owned();
        if !t.reasons.is_empty() {
            let _ = write!(v, ": {}", escape(&t.reasons.join("; ")));
        }
        if !t.sources.is_empty() {
            let _ = write!(v, " (watched: {})", escape(&t.sources.join(", ")));
        }
        rows.push(("throttling".into(), v));
    }
    if let Some(c) = &run.cooldown {
        rows.push((
            "cool-down".into(),
            format!(
                "{:.1} → {:.1} °C (target {:.1} °C) in {:.1} s, {}",
                c.start_c,
                c.end_c,
                c.target_c,
                c.waited_s,
                escape(&c.source)
            ),
        ));
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("<h3>Interference and throttling</h3><table class=\"kv interference\"><tbody>\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", escape(&k));
    }
    out.push_str("</tbody></table>\n");
}

fn errors(out: &mut String, report: &Report) {
    if report.errors.is_empty() {
        return;
    }
    out.push_str("<section id=\"errors\"><h2>Engines that failed</h2>\n");
    let rows: Vec<Vec<String>> = report
        .errors
        .iter()
        .map(|e| vec![td(&e.engine), td(&e.error)])
        .collect();
    table(
        out,
        "errors",
        &[Col("engine", false), Col("error", false)],
        &rows,
    );
    out.push_str("</section>\n");
}

/// A command line as a shell would take it back.
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn provenance(out: &mut String, report: &Report) {
    let p = &report.provenance;
    let c = &report.config;
    out.push_str("<section id=\"provenance\"><h2>Run settings and provenance</h2>\n");
    let opt = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_owned());
    let settings: Vec<(&str, String)> = vec![
        (
            "app",
            format!("{} (<code>{}</code>)", escape(&c.app_name), escape(&c.app)),
        ),
        ("dataset", format!("<code>{}</code>", escape(&c.dataset))),
        (
            "inputs",
            format!("{}: {}", c.inputs.len(), escape(&c.inputs.join(", "))),
        ),
        (
            "steady state",
            escape(&match (c.number, c.duration_s) {
                (Some(n), Some(d)) => format!("{n} pass(es), at most {d} s"),
                (Some(n), None) => format!("{n} pass(es)"),
                (None, Some(d)) => format!("{d} s"),
                (None, None) => "default".into(),
            }),
        ),
        ("warm-up", escape(&c.warmup)),
        (
            "threads",
            escape(&opt(
                c.threads.map(|t| t.to_string()),
                "the app's or the engine's default",
            )),
        ),
        (
            "monitor interval",
            escape(&opt(
                c.monitor_interval_ms.map(|v| format!("{v} ms")),
                "monitors off",
            )),
        ),
        (
            "cool-down target",
            escape(&opt(c.cooldown_c.map(|v| format!("{v} °C")), "none")),
        ),
        (
            "timed",
            if c.inference_only {
                "inference only (inputs pre-processed once)".into()
            } else {
                "the whole pipeline per input".into()
            },
        ),
    ];
    let b = &p.lpdnn_host;
    let h = &p.host;
    let affinity = if p.affinity.is_empty() {
        "unknown".to_owned()
    } else {
        p.affinity
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let prov: Vec<(&str, String)> = vec![
        (
            "lpdnn-host",
            escape(&format!(
                "{} ({}, {}, {})",
                b.version, b.target, b.profile, h.arch
            )),
        ),
        ("commit", format!("<code>{}</code>", escape(&b.commit))),
        ("CPU", escape(h.cpu_model.as_deref().unwrap_or("unknown"))),
        ("cores", h.cores.to_string()),
        (
            "governor",
            escape(p.governor.as_deref().unwrap_or("unknown (no cpufreq)")),
        ),
        ("affinity (CPUs)", escape(&affinity)),
        ("OS", escape(&h.os)),
        ("kernel", escape(h.kernel.as_deref().unwrap_or("unknown"))),
        (
            "platform descriptor",
            escape(&match (&h.descriptor, &h.detected_by) {
                (Some(d), Some(why)) => format!("{d} ({why})"),
                (Some(d), None) => d.clone(),
                (None, _) => "none".into(),
            }),
        ),
        (
            "emulated",
            escape(
                &h.emulated_on
                    .as_deref()
                    .map_or("no".into(), |k| format!("yes: qemu-user on an {k} kernel")),
            ),
        ),
        ("started", escape(&p.started_at)),
        (
            "command line",
            format!("<code>{}</code>", escape(&shell_words(&p.command))),
        ),
    ];
    for (title, rows) in [("Run settings", settings), ("Provenance", prov)] {
        let _ = writeln!(
            out,
            "<h3>{title}</h3><table class=\"kv {}\"><tbody>",
            title.to_ascii_lowercase().replace(' ', "-")
        );
        for (k, v) in rows {
            let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", escape(k));
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}
