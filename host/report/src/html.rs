//! The HTML report: one self-contained page (no external script, font,
//! style sheet or URL)
//! that answers "which engine is faster here, by how much, and can I trust
//! it": the cross-engine tables, per-stage stacked bars with 95 % intervals,
//! the latency CDF and histograms on one shared axis, a timeline per engine
//! with every monitored channel, then per engine its stage table, phases,
//! static metrics, resources, interference and warnings, and the
//! provenance.
//!
//! The page is a [maud] template. Every string it interpolates goes through
//! [`Text`]: escaped (`&`, `<`, `>`, `"`, `'`), control characters and
//! bidirectional overrides shown as `\u{..}` rather than obeyed. Its
//! style sheet (`html/report.css`) and its one script (`html/layout-check.js`,
//! run only by a browser: it records each chart's laid-out size and
//! overlapping labels on its figure, `data-rendered` and
//! `data-text-overlaps`, for the tests) are files included at compile
//! time. Charts are inline SVG drawn by `html/charts.rs` on the small
//! builder of `html/svg.rs` (which escapes its own text): classes, ids,
//! tooltips and a `viewBox` that a plotting crate's fixed-size output does
//! not give.

mod answers;
mod charts;
mod svg;

use std::collections::BTreeSet;

use lpdnn_types::Stage;
use maud::{display, html, Markup, PreEscaped, Render};

use crate::report::{AnchorStats, EngineRun, Report, RunState};
use crate::resources::Metric;
use crate::stats::samples_needed;
use crate::summary::{emulated_note, fmt_ms, fmt_round, ranking, timed_stage};
use charts::{engine_color, Dist};

/// The report's style sheet.
const CSS: &str = include_str!("html/report.css");

/// The report's one script (see the module's documentation).
const LAYOUT_CHECK: &str = include_str!("html/layout-check.js");

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

/// Text from a user, a model or the machine, escaped for element content
/// and double-quoted attributes (`'` too); control characters and
/// bidirectional overrides are shown as `\u{..}`, not obeyed. Every string
/// the page interpolates goes through it.
struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&svg::escape(self.0));
    }
}

/// [`Text`] of `s`.
fn t(s: &str) -> Text<'_> {
    Text(s)
}

/// A header cell; numeric columns are right-aligned.
struct Col<'a>(&'a str, bool);

/// A header cell, spanning two rows when `rowspan`.
fn th(Col(label, num): &Col, rowspan: Option<u8>) -> Markup {
    html! { th class=[num.then_some("num")] rowspan=[rowspan] { (t(label)) } }
}

fn table(class: &str, head: &[Col], rows: &[Vec<Markup>]) -> Markup {
    grouped_table(class, &[], head, rows, None)
}

/// A table under two header rows when `groups` is not empty: each group
/// spans that many columns (a one-column group with no label gives its
/// column's header both rows); the `marked` row is highlighted.
fn grouped_table(
    class: &str,
    groups: &[(&str, usize)],
    head: &[Col],
    rows: &[Vec<Markup>],
    marked: Option<usize>,
) -> Markup {
    let mut spanned = vec![false; head.len()];
    let mut top = Vec::new();
    let mut c = 0;
    for (label, span) in groups {
        if label.is_empty() && *span == 1 && c < head.len() {
            top.push(th(&head[c], Some(2)));
            spanned[c] = true;
        } else {
            top.push(html! { th.group colspan=(span) { (t(label)) } });
        }
        c += span;
    }
    html! {
        div.scroll { table class=(class) {
            thead {
                @if !top.is_empty() { tr { @for t in &top { (t) } } }
                tr { @for (col, spanned) in head.iter().zip(&spanned) { @if !spanned { (th(col, None)) } } }
            }
            tbody {
                @for (i, row) in rows.iter().enumerate() {
                    tr class=[(Some(i) == marked).then_some("best")] { @for cell in row { (cell) } }
                }
            }
        } }
    }
}

/// A text cell.
fn td(text: &str) -> Markup {
    html! { td { (t(text)) } }
}

/// A numeric cell.
fn tdn(text: &str) -> Markup {
    html! { td.num { (t(text)) } }
}

/// A cell of markup.
fn tdh(inner: Markup) -> Markup {
    html! { td { (inner) } }
}

/// A cell of code.
fn tdc(text: &str) -> Markup {
    html! { td { code { (t(text)) } } }
}

/// A numeric cell greyed out with why, over `span` columns.
fn td_weak(text: &str, span: u8, title: Option<&str>) -> Markup {
    html! { td.num.weak colspan=(span) title=[title.map(t)] { (t(text)) } }
}

/// A percentile cell, greyed with a tooltip when `n` samples are too few
/// for it.
fn td_pct(v: f64, p: f64, n: usize) -> Markup {
    let need = samples_needed(p);
    if n < need {
        html! {
            td.num.weak title={ (n) " samples: p" (p) " needs " (need) " to be trusted" } {
                (fmt_ms(v))
            }
        }
    } else {
        tdn(&fmt_ms(v))
    }
}

fn state_badge(state: RunState) -> Markup {
    let word = state.word();
    html! { span class={ "state state-" (word.to_ascii_lowercase()) } { (word) } }
}

/// An engine's colour swatch.
fn swatch(color: &str) -> Markup {
    html! { span.swatch style={ "background:" (color) } {} }
}

/// A chart (SVG the chart code escaped itself) in its figure.
fn figure(id: &str, class: &str, svg: String, caption: Markup) -> Markup {
    html! {
        figure id=(id) class=(class) { (PreEscaped(svg)) figcaption { (caption) } }
    }
}

/// A two-column table of named values.
fn key_values(class: &str, rows: &[(&str, Markup)]) -> Markup {
    html! {
        table class={ "kv " (class) } { tbody {
            @for (k, v) in rows { tr { th { (k) } td { (v) } } }
        } }
    }
}

/// The whole report as one self-contained HTML page.
pub fn html_report(report: &Report) -> String {
    let title = format!("Benchmark of {}", report.config.app_name);
    let slugs = slugs(&report.runs);
    let dists: Vec<Dist> = report
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Dist::of(r, engine_color(i)))
        .collect();
    let axis = (!dists.is_empty()).then(|| charts::latency_axis(&dists));
    let t_end = report
        .runs
        .iter()
        .map(charts::time_end)
        .fold(1e-3f64, f64::max);
    let page = html! {
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t(&title)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    (header(report, &slugs))
                    (summary(report, &dists, axis))
                    @if let Some(axis) = axis { (distribution(&dists, axis, &slugs, &report.runs)) }
                    (phases(report))
                    (models(report))
                    (answers::layers(report))
                    (answers::checks(report))
                    (resources(report))
                    @for (i, run) in report.runs.iter().enumerate() {
                        (engine_section(run, engine_color(i), &slugs[i], t_end,
                            axis.map_or(f64::NAN, |a| a.1)))
                    }
                    (errors(report))
                    (provenance(report))
                }
                script { (PreEscaped(LAYOUT_CHECK)) }
            }
        }
    };
    format!("<!doctype html>\n{}\n", page.into_string())
}

fn header(report: &Report, slugs: &[String]) -> Markup {
    let c = &report.config;
    let p = &report.provenance;
    let length = match (c.number, c.duration_s) {
        (Some(n), _) => format!("{n} pass(es) over the dataset per engine"),
        (None, Some(d)) => format!("{d} s of steady state per engine"),
        (None, None) => "default steady-state duration".into(),
    };
    let commit = &p.lpdnn_host.commit;
    let timelines = report
        .runs
        .iter()
        .any(|r| !r.timeline.iterations_ms.is_empty());
    let sweep = crate::sweep::is_sweep(report);
    let mut platforms: Vec<&str> = Vec::new();
    let placements = report.runs.iter().filter_map(|r| r.placement.as_ref());
    for p in placements.chain(report.errors.iter().filter_map(|e| e.placement.as_ref())) {
        if !platforms.contains(&p.platform.as_str()) {
            platforms.push(&p.platform);
        }
    }
    html! {
        header {
            h1 { "Benchmark of " (t(&c.app_name)) }
            @if sweep {
                p.sub {
                    "A sweep: " (report.runs.len() + report.errors.len()) " cell(s) on "
                    (t(&platforms.join(", "))) " · " (c.inputs.len()) " input(s) from "
                    code { (t(&c.dataset)) } " · " (t(&length.replace("per engine", "per cell")))
                    " · from " (t(&p.started_at)) " · each cell's machine under "
                    a href="#placements" { "Placements" }
                }
                @for (arch, kernel, labels) in crate::sweep::emulated_runs(report) {
                    p.warning {
                        b { "Emulated:" } " " (t(&labels.join(", "))) ": "
                        (t(&emulated_note(&arch, &kernel)))
                    }
                }
            } @else {
                p.sub {
                    (report.runs.len()) " engine(s) · " (c.inputs.len()) " input(s) from "
                    code { (t(&c.dataset)) } " · " (t(&length)) " · " (t(&p.started_at)) " on "
                    (t(p.host.cpu_model.as_deref().unwrap_or("an unknown CPU")))
                    " (" (p.host.cores) " core(s)) · lpdnn-host " (t(&p.lpdnn_host.version))
                    " (" (t(&commit[..commit.len().min(12)])) ")"
                }
                @if let Some(kernel) = &p.host.emulated_on {
                    p.warning { b { "Emulated:" } " " (t(&emulated_note(&p.host.arch, kernel))) }
                }
            }
            nav {
                a href="#summary" { "Summary" }
                @if timelines { a href="#distribution" { "Distribution" } }
                a href="#phases" { "Phases" }
                a href="#models" { "Models" }
                @if report.runs.iter().any(|r| r.layers.is_some()) { a href="#layers" { "Layers" } }
                @if report.runs.iter().any(|r| r.check.is_some()) { a href="#checks" { "Outputs" } }
                a href="#resources" { "Resources" }
                @for (run, slug) in report.runs.iter().zip(slugs) {
                    a href={ "#engine-" (t(slug)) } { (t(&run.engine)) }
                }
                a href="#provenance" { "Provenance" }
            }
        }
        (verdict(report))
        (disturbed(report))
    }
}

/// The answer first: the fastest engine, by how much, and whether this
/// run can tell the engines apart.
fn verdict(report: &Report) -> Markup {
    let Some(ranking) = ranking(&report.runs) else {
        return html! {};
    };
    let best = ranking.fastest();
    let s = best.stats;
    let several = ranking.by_mean.len() > 1;
    html! {
        div.verdict {
            @if several { "Fastest here: " }
            b { (t(best.engine)) } ", " (fmt_ms(s.mean)) " ± " (fmt_ms(s.ci95_half()))
            " ms per input (" (best.stage) ", mean and 95 % CI), p99 " (fmt_ms(s.p99)) " ms, "
            (format!("{:.2}", best.throughput_per_s)) " inputs/s."
            @if several {
                " Then: "
                @for (i, o) in ranking.by_mean[1..].iter().enumerate() {
                    @if i > 0 { ", " }
                    (t(o.engine)) " " (fmt_ms(o.stats.mean)) " ms ("
                    (format!("{:.2}", o.stats.mean / s.mean)) "×)"
                }
                "."
                @if !ranking.within.is_empty() {
                    " The 95 % interval of " (t(best.engine)) " overlaps that of "
                    (t(&ranking.within.iter().map(|o| o.engine).collect::<Vec<_>>().join(", ")))
                    ": this run does not tell them apart (" code { "lpdnn-host compare" }
                    " tests it)."
                }
                @if let Some(low) = ranking.lowest_p99 {
                    " The p99 ranks them otherwise: " (t(low.engine)) " has the lowest, "
                    (fmt_ms(low.stats.p99)) " ms against " (fmt_ms(s.p99)) " ms."
                }
            }
        }
    }
}

/// Runs that were disturbed (noisy, throttled), and a partial report.
fn disturbed(report: &Report) -> Markup {
    let disturbed: Vec<&EngineRun> = report
        .runs
        .iter()
        .filter(|r| r.state != RunState::Ok)
        .collect();
    if disturbed.is_empty() && !report.partial {
        return html! {};
    }
    let why = |r: &EngineRun| match r.state {
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
    html! {
        div.alert {
            @if report.partial {
                b { "Partial" } ": the benchmark was interrupted; the results cover what ran. "
            }
            @for r in disturbed {
                @let why = why(r);
                div {
                    (t(&r.engine)) " " (state_badge(r.state))
                    @if !why.is_empty() { ": " (t(&why)) }
                }
            }
        }
    }
}

fn summary(report: &Report, dists: &[Dist], axis: Option<(f64, f64)>) -> Markup {
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
    let rows: Vec<Vec<Markup>> = report
        .runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let steady = run.phases.steady.as_ref();
            let a = steady.and_then(|s| s.anchors.get(timed_stage(run)));
            let mut row = vec![
                tdh(html! { (swatch(engine_color(i))) (t(&run.engine)) }),
                tdh(state_badge(run.state)),
            ];
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
    let stage = report.runs.first().map_or(Stage::Total.name(), timed_stage);
    html! {
        section id="summary" {
            h2 { "Summary: steady state" }
            (grouped_table("summary", &groups, &head, &rows, marked))
            p.muted {
                "Time per input of the timed stage (" code { (stage) } "), real time. The 95 % CI \
                 is Student's t interval of the mean; percentiles are nearest-rank, greyed where \
                 there are too few samples to trust them. MACs per inference from the model file."
            }
            @if let Some(svg) = charts::stage_bars(&report.runs) {
                (figure("chart-stages", "chart-figure", svg, html! {
                    b { "Where the time goes." } " Mean steady-state time per input of each \
                    stage, stacked, per engine on one axis. Thin whiskers: the 95 % confidence \
                    interval of each stage's mean; heavy whisker and label: the interval of the \
                    whole (" code { (stage) } ")."
                    @if stage == Stage::Total.name() {
                        " " i { "Rest of total" } " is time inside the iteration but outside the \
                        three stages."
                    }
                }))
            }
            @if let Some(axis) = axis {
                (figure("chart-cdf", "chart-figure", charts::cdf(dists, axis, stage), html! {
                    b { "Latency CDF." } " Share of steady-state iterations done within x ms, \
                    every engine on one axis: left is faster, a steep curve is steady, a late rise \
                    at the top is a tail. " (t(&clipping(dists, axis)))
                }))
            }
        }
    }
}

/// What the shared axis leaves out, in words.
fn clipping(dists: &[Dist], axis: (f64, f64)) -> String {
    let cut: Vec<String> = dists
        .iter()
        .filter(|d| d.above(axis.1) > 0)
        .map(|d| {
            format!(
                "{} {} of {} (max {} ms)",
                d.run.engine,
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
        s.push_str(&format!(
            "iterations beyond it, not drawn: {}.",
            cut.join(", ")
        ));
    }
    s
}

fn distribution(dists: &[Dist], axis: (f64, f64), slugs: &[String], runs: &[EngineRun]) -> Markup {
    html! {
        section id="distribution" {
            h2 { "Latency distribution per engine" }
            div.grid2 {
                @for d in dists {
                    @let i = runs.iter().position(|r| std::ptr::eq(r, d.run)).unwrap_or(0);
                    @let clipped = d.above(axis.1);
                    (figure(
                        &format!("chart-histogram-{}", slugs[i]),
                        "chart-figure chart-histogram",
                        charts::histogram(d, axis),
                        html! {
                            b { (t(&d.run.engine)) } ": steady-state time per input ("
                            (timed_stage(d.run)) "), " (d.sorted.len()) " iterations, on the axis \
                            shared by every engine (" (fmt_round(axis.0)) "–" (fmt_round(axis.1))
                            " ms). Solid line p50, dashed p99. "
                            @if clipped == 0 {
                                "No iteration beyond the axis (max " (fmt_ms(d.max())) " ms)."
                            } @else {
                                b { (clipped) " outlier(s)" } " above " (fmt_round(axis.1))
                                " ms not drawn (max " (fmt_ms(d.max())) " ms)."
                            }
                        },
                    ))
                }
            }
        }
    }
}

fn phases(report: &Report) -> Markup {
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
    let rows: Vec<Vec<Markup>> = report
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
    html! {
        section id="phases" {
            h2 { "Phases" }
            (grouped_table("phases", &groups, &head, &rows, None))
            p.muted {
                "Load: each part's load time. First inference: the first input, cold (caches, \
                 lazy initialisation), timed stage; per stage in each engine's table. Warm-up \
                 rule: " (t(&report.config.warmup)) ". The timelines below place the phases on the \
                 run's clock."
            }
        }
    }
}

fn models(report: &Report) -> Markup {
    let files_head = [
        Col("engine", false),
        Col("model file", false),
        Col("format", false),
        Col("size", true),
        Col("SHA-256", false),
    ];
    let files: Vec<Vec<Markup>> = report
        .runs
        .iter()
        .map(|r| {
            vec![
                td(&r.engine),
                tdc(&r.model),
                td(&r.model_format),
                tdn(&r
                    .static_metrics
                    .as_ref()
                    .map_or("–".into(), |s| fmt_bytes(s.storage_bytes))),
                tdh(html! { code.sha { (t(&r.model_sha256)) } }),
            ]
        })
        .collect();
    let metrics_head = [
        Col("engine", false),
        Col("parameters", true),
        Col("weights", true),
        Col("MACs", true),
        Col("FLOPs", true),
        Col("other ops", true),
        Col("notes", false),
    ];
    let mut conventions: Vec<&str> = Vec::new();
    let metrics: Vec<Vec<Markup>> = report
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
            None => {
                let mut row = vec![td(&r.engine)];
                row.extend((0..5).map(|_| tdn("–")));
                row.push(td("not analysed (see the engine's warnings)"));
                row
            }
        })
        .collect();
    html! {
        section id="models" {
            h2 { "Models and static metrics" }
            (table("model-files", &files_head, &files))
            (table("static-metrics", &metrics_head, &metrics))
            @for c in conventions { p.muted { "Counting convention: " (t(c)) "." } }
        }
    }
}

fn resources(report: &Report) -> Markup {
    if report.runs.iter().all(|r| r.resources.is_empty()) {
        return html! {
            section id="resources" { h2 { "Resources" } p { "Monitors were off." } }
        };
    }
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
    let mut head = vec![Col("metric", false), Col("unit", false)];
    let mut groups = vec![("", 1), ("", 1)];
    for r in &report.runs {
        head.push(Col("mean", true));
        head.push(Col("peak", true));
        groups.push((r.engine.as_str(), 2));
    }
    let rows: Vec<Vec<Markup>> = measured
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
                        row.push(td_weak("unsupported", 2, Some(unsupported)));
                    }
                    None => row.push(td_weak("–", 2, None)),
                }
            }
            row
        })
        .collect();
    // Not measured anywhere: the reasons, once each.
    let names: BTreeSet<&String> = report
        .runs
        .iter()
        .flat_map(|r| r.resources.keys())
        .collect();
    let unsupported: Vec<(&String, String)> = names
        .difference(&measured)
        .map(|name| {
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
            let mut distinct: Vec<&str> = reasons.iter().map(|r| r.1).collect();
            distinct.dedup();
            let why = if distinct.len() <= 1 {
                distinct.first().copied().unwrap_or("").to_owned()
            } else {
                reasons
                    .iter()
                    .map(|(e, w)| format!("{e}: {w}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            (*name, why)
        })
        .collect();
    html! {
        section id="resources" {
            h2 { "Resources" }
            (grouped_table("resources", &groups, &head, &rows, None))
            @if !unsupported.is_empty() {
                h3 { "Not measured on this machine" }
                ul.unsupported {
                    @for (name, why) in &unsupported { li { code { (t(name)) } ": " (t(why)) } }
                }
            }
            p.muted {
                "Means and peaks over each engine's whole run (load included); each engine's \
                 section gives the sources."
            }
        }
    }
}

fn engine_section(run: &EngineRun, color: &str, slug: &str, t_end: f64, ms_max: f64) -> Markup {
    let ms_max = if ms_max.is_finite() {
        ms_max
    } else {
        run.timeline
            .iterations_ms
            .iter()
            .copied()
            .fold(1.0, f64::max)
    };
    let timeline = charts::timeline(run, color, t_end, ms_max).map(|svg| {
        let chans = charts::channels(run);
        let caption = html! {
            b { "Timeline of " (t(&run.engine)) } ": time of each steady-state iteration ("
            (timed_stage(run)) ") and "
            @match run.timeline.interval_ms {
                Some(ms) if !chans.is_empty() => {
                    "every monitored channel, sampled every " (fmt_round(ms)) " ms ("
                    @for (i, c) in chans.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (t(c)) }
                    }
                    ")"
                }
                _ => "no monitored channel (monitors off)",
            }
            ", on the run's clock; every engine's timeline has the same time axis (0–"
            (format!("{t_end:.1}")) " s). Shading: load and first inference (grey), warm-up \
            (amber, placed from its duration). Iterations above " (fmt_round(ms_max))
            " ms (the shared latency axis) are ▲ at the top."
        };
        figure(
            &format!("chart-timeline-{slug}"),
            "chart-figure chart-timeline",
            svg,
            caption,
        )
    });
    let predictions: Vec<Vec<Markup>> = run
        .predictions
        .iter()
        .map(|p| vec![td(&p.input), tdc(&p.prediction.to_string())])
        .collect();
    html! {
        section id={ "engine-" (slug) } class="engine" {
            h2 {
                (swatch(color)) (t(&run.engine)) " "
                span.muted { (t(run.engine_version.as_deref().unwrap_or("version unknown"))) }
                " " (state_badge(run.state))
            }
            p {
                "Device " code { (display(run.device)) } " · model " code { (t(&run.model)) } " ("
                (t(&run.model_format)) ") · library "
                code { (t(run.engine_library.as_deref().unwrap_or("unknown"))) }
            }
            (stage_table(run))
            @if let Some(t) = timeline { (t) }
            (engine_resources(run))
            (interference(run))
            @if !run.warnings.is_empty() {
                h3 { "Warnings" }
                ul.warnings { @for w in &run.warnings { li.warning { (t(w)) } } }
            }
            @if !predictions.is_empty() {
                details {
                    summary { "Predictions of the first pass (" (predictions.len()) " input(s))" }
                    (table("predictions", &[Col("input", false), Col("prediction (JSON)", false)],
                        &predictions))
                }
            }
        }
    }
}

fn stage_table(run: &EngineRun) -> Markup {
    let Some(steady) = &run.phases.steady else {
        return html! { p { "No steady state ran (interrupted before it began)." } };
    };
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
    let rows: Vec<Vec<Markup>> = stages
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
    html! {
        h3 { "Per stage, steady state" }
        p.muted {
            (steady.iterations) " iterations, " (steady.passes) " pass(es) over the dataset in "
            (format!("{:.2}", steady.seconds)) " s (ended by " (display(&steady.ended_by)) "), "
            (format!("{:.2}", steady.throughput_per_s)) " inputs/s. Real time unless marked CPU."
        }
        (grouped_table("stages", &groups, &head, &rows, None))
    }
}

fn engine_resources(run: &EngineRun) -> Markup {
    if run.resources.is_empty() {
        return html! {};
    }
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
    let rows = |entries: &[(&String, &Metric)]| -> Vec<Vec<Markup>> {
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
                    tdc(name),
                    tdn(&charts::fmt_value(*mean)),
                    tdn(&charts::fmt_value(*peak)),
                    td(unit),
                    tdn(&samples.to_string()),
                    td(source),
                ],
                Metric::Unsupported { unsupported } => vec![
                    tdc(name),
                    td_weak("unsupported", 4, None),
                    td(&format!("unsupported: {unsupported}")),
                ],
            })
            .collect()
    };
    html! {
        h3 { "Resources" }
        (table("engine-resources", &head, &rows(&measured)))
        @if !unsupported.is_empty() {
            details.unsupported {
                summary { (unsupported.len()) " metric(s) not measured here, and why" }
                (table("engine-resources", &head, &rows(&unsupported)))
            }
        }
    }
}

fn interference(run: &EngineRun) -> Markup {
    let mut rows: Vec<(&str, Markup)> = Vec::new();
    let list = |items: &[String]| html! { ul { @for e in items { li { (t(e)) } } } };
    if let Some(i) = &run.interference {
        rows.push((
            "verdict",
            if i.noisy {
                html! { b { "NOISY" } ": something else disturbed the steady state" }
            } else {
                html! { "none seen" }
            },
        ));
        if let Some(c) = i.other_cpu_cores {
            rows.push((
                "other processes",
                html! { (format!("{c:.2} CPU cores busy on average")) },
            ));
        }
        if let Some(s) = i.steal_percent {
            rows.push(("steal time", html! { (format!("{s:.2} % of CPU time")) }));
        }
        if !i.real_over_cpu.is_empty() {
            let v: Vec<String> = i
                .real_over_cpu
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect();
            rows.push((
                "real ÷ CPU, one-thread stages",
                html! { (t(&v.join(", "))) },
            ));
        }
        let cv = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.1} %", v * 100.0));
        rows.push((
            "coefficient of variation",
            html! { "steady " (cv(i.cv_steady)) ", warm-up " (cv(i.cv_warmup)) },
        ));
        if let Some(b) = i.bimodality {
            rows.push((
                "bimodality (highest input)",
                html! { (format!("{b:.3} (over 0.6: two modes)")) },
            ));
        }
        if !i.evidence.is_empty() {
            rows.push(("evidence", list(&i.evidence)));
        }
        if !i.notes.is_empty() {
            rows.push(("notes", list(&i.notes)));
        }
    }
    if let Some(throttle) = &run.throttle {
        rows.push((
            "throttling",
            html! {
                @match throttle.detected {
                    Some(true) => b { "throttled" },
                    Some(false) => "none seen",
                    None => "could not be watched",
                }
                @if !throttle.reasons.is_empty() { ": " (t(&throttle.reasons.join("; "))) }
                @if !throttle.sources.is_empty() { " (watched: " (t(&throttle.sources.join(", "))) ")" }
            },
        ));
    }
    if let Some(c) = &run.cooldown {
        rows.push((
            "cool-down",
            html! {
                (format!(
                    "{:.1} → {:.1} °C (target {:.1} °C) in {:.1} s, ",
                    c.start_c, c.end_c, c.target_c, c.waited_s
                ))
                (t(&c.source))
            },
        ));
    }
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h3 { "Interference and throttling" }
        (key_values("interference", &rows))
    }
}

fn errors(report: &Report) -> Markup {
    if report.errors.is_empty() {
        return html! {};
    }
    let rows: Vec<Vec<Markup>> = report
        .errors
        .iter()
        .map(|e| vec![td(&e.engine), td(&e.error)])
        .collect();
    html! {
        section id="errors" {
            @if report.errors.iter().any(|e| e.placement.is_some()) {
                h2 { "Cells that failed" }
                (table("errors", &[Col("cell", false), Col("error", false)], &rows))
            } @else {
                h2 { "Engines that failed" }
                (table("errors", &[Col("engine", false), Col("error", false)], &rows))
            }
        }
    }
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

fn provenance(report: &Report) -> Markup {
    let p = &report.provenance;
    let c = &report.config;
    let opt = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_owned());
    let text = |s: String| html! { (t(&s)) };
    let settings: Vec<(&str, Markup)> = vec![
        (
            "app",
            html! { (t(&c.app_name)) " (" code { (t(&c.app)) } ")" },
        ),
        ("dataset", html! { code { (t(&c.dataset)) } }),
        (
            "inputs",
            text(format!("{}: {}", c.inputs.len(), c.inputs.join(", "))),
        ),
        (
            "steady state",
            text(match (c.number, c.duration_s) {
                (Some(n), Some(d)) => format!("{n} pass(es), at most {d} s"),
                (Some(n), None) => format!("{n} pass(es)"),
                (None, Some(d)) => format!("{d} s"),
                (None, None) => "default".into(),
            }),
        ),
        ("warm-up", text(c.warmup.clone())),
        (
            "threads",
            text(opt(
                c.threads.map(|t| t.to_string()),
                "the app's or the engine's default",
            )),
        ),
        (
            "monitor interval",
            text(opt(
                c.monitor_interval_ms.map(|v| format!("{v} ms")),
                "monitors off",
            )),
        ),
        (
            "cool-down target",
            text(opt(c.cooldown_c.map(|v| format!("{v} °C")), "none")),
        ),
        (
            "timed",
            text(if c.inference_only {
                "inference only (inputs pre-processed once)".into()
            } else {
                "the whole pipeline per input".into()
            }),
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
    let prov: Vec<(&str, Markup)> = vec![
        (
            "lpdnn-host",
            text(format!(
                "{} ({}, {}, {})",
                b.version, b.target, b.profile, h.arch
            )),
        ),
        ("commit", html! { code { (t(&b.commit)) } }),
        (
            "CPU",
            text(h.cpu_model.clone().unwrap_or_else(|| "unknown".into())),
        ),
        ("cores", text(h.cores.to_string())),
        (
            "governor",
            text(opt(p.governor.clone(), "unknown (no cpufreq)")),
        ),
        ("affinity (CPUs)", text(affinity)),
        ("OS", text(h.os.clone())),
        ("kernel", text(opt(h.kernel.clone(), "unknown"))),
        (
            "platform descriptor",
            text(match (&h.descriptor, &h.detected_by) {
                (Some(d), Some(why)) => format!("{d} ({why})"),
                (Some(d), None) => d.clone(),
                (None, _) => "none".into(),
            }),
        ),
        (
            "emulated",
            text(
                h.emulated_on
                    .as_deref()
                    .map_or("no".into(), |k| format!("yes: qemu-user on an {k} kernel")),
            ),
        ),
        ("started", text(p.started_at.clone())),
        (
            "command line",
            html! { code { (t(&shell_words(&p.command))) } },
        ),
    ];
    let sweep = crate::sweep::is_sweep(report);
    html! {
        section id="provenance" {
            h2 { "Run settings and provenance" }
            h3 { "Run settings" }
            (key_values("run-settings", &settings))
            @if sweep {
                (placements(report))
                h3 { "Provenance of the first cell that passed" }
            } @else {
                h3 { "Provenance" }
            }
            (key_values("provenance", &prov))
        }
    }
}

/// A sweep's cells: where each ran, on what machine, by which worker and
/// job.
fn placements(report: &Report) -> Markup {
    let runs = report
        .runs
        .iter()
        .filter_map(|r| Some((r.engine.as_str(), r.placement.as_ref()?, "passed")));
    let failed = report.errors.iter().filter_map(|e| {
        let p = e.placement.as_ref()?;
        Some((
            e.engine.as_str(),
            p,
            if p.job.is_some() { "failed" } else { "refused" },
        ))
    });
    let rows: Vec<Vec<Markup>> = runs
        .chain(failed)
        .map(|(label, p, outcome)| {
            let machine = p.host.as_ref().map_or("-".to_owned(), |h| {
                format!(
                    "{}, {} core(s), {}{}",
                    h.cpu_model.as_deref().unwrap_or("unknown CPU"),
                    h.cores,
                    h.arch,
                    h.emulated_on
                        .as_deref()
                        .map_or(String::new(), |k| format!(" (emulated on {k})"))
                )
            });
            vec![
                td(label),
                td(&format!("{}/{}", p.platform, p.profile)),
                td(p.device.as_str()),
                td(&p.threads.map_or("default".into(), |n| n.to_string())),
                td(&machine),
                td(p.worker.as_deref().unwrap_or("-")),
                td(p.job.as_deref().unwrap_or("-")),
                td(outcome),
            ]
        })
        .collect();
    html! {
        h3 id="placements" { "Placements" }
        (table(
            "placements",
            &[
                Col("cell", false),
                Col("platform/profile", false),
                Col("device", false),
                Col("threads", false),
                Col("machine", false),
                Col("worker", false),
                Col("job", false),
                Col("outcome", false),
            ],
            &rows,
        ))
    }
}

#[cfg(test)]
mod tests;
