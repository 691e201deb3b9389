//! The report's answers beyond timing: each layer's time on every engine
//! side by side (`--layers`), and each engine's outputs against a
//! reference's (`--check-against`).

use std::collections::HashMap;

use maud::{html, Markup};

use super::{fmt_int, grouped_table, t, table, td, tdc, tdn, Col};
use crate::check::Verdict;
use crate::report::Report;
use crate::summary::fmt_ms;

/// Layers whose slowest engine takes this many times the fastest are marked.
const LOSES: f64 = 2.0;

/// One row of the side-by-side table: a source node (or an engine's added
/// work, by operator) and its time on each engine.
struct Row<'a> {
    key: String,
    op: &'a str,
    fused: Vec<&'a str>,
    ms: Vec<Option<f64>>,
    gflops: Vec<Option<f64>>,
    macs: Option<u64>,
}

/// Each layer on every engine that timed layers, slowest (anywhere) first,
/// with the ratio of its slowest engine to its fastest.
pub(super) fn layers(report: &Report) -> Markup {
    let runs: Vec<_> = report
        .runs
        .iter()
        .filter_map(|r| Some((r, r.layers.as_ref()?)))
        .collect();
    if runs.is_empty() {
        return html! {};
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (e, (_, layers)) in runs.iter().enumerate() {
        for l in &layers.layers {
            let key = match &l.node {
                Some(n) => n.clone(),
                None => format!("[{}]", l.op),
            };
            let i = *index.entry(key.clone()).or_insert_with(|| {
                rows.push(Row {
                    key,
                    op: &l.op,
                    fused: Vec::new(),
                    ms: vec![None; runs.len()],
                    gflops: vec![None; runs.len()],
                    macs: None,
                });
                rows.len() - 1
            });
            let row = &mut rows[i];
            row.ms[e] = Some(l.ms);
            row.gflops[e] = l.gflops;
            row.macs = row.macs.or(l.macs.filter(|_| l.fused.is_empty()));
            for f in &l.fused {
                if !row.fused.contains(&f.as_str()) {
                    row.fused.push(f);
                }
            }
        }
    }
    let slowest = |r: &Row| r.ms.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    rows.sort_by(|a, b| slowest(b).total_cmp(&slowest(a)));

    let mut head = vec![Col("layer", false), Col("op", false), Col("MMACs", true)];
    let mut groups = vec![("", 1), ("", 1), ("", 1)];
    for (run, _) in &runs {
        groups.push((run.engine.as_str(), 2));
        head.extend([Col("ms", true), Col("GFLOP/s", true)]);
    }
    if runs.len() > 1 {
        groups.push(("", 1));
        head.push(Col("slowest / fastest", true));
    }
    let body: Vec<Vec<Markup>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                html! { td { code { (t(&r.key)) } @if !r.fused.is_empty() {
                    br; span.muted { "+ " (t(&r.fused.join(", "))) }
                } } },
                td(r.op),
                tdn(&r
                    .macs
                    .map_or("–".into(), |m| format!("{:.2}", m as f64 / 1e6))),
            ];
            let times: Vec<f64> = r.ms.iter().flatten().copied().collect();
            let (lo, hi) = times.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            for (ms, g) in r.ms.iter().zip(&r.gflops) {
                let loses = runs.len() > 1 && ms.is_some_and(|v| v == hi && hi >= LOSES * lo);
                cells.push(match ms {
                    Some(v) => html! { td.num.loses[loses] { (fmt_ms(*v)) } },
                    None => html! { td.num.weak { "–" } },
                });
                cells.push(tdn(&g.map_or("–".into(), |g| format!("{g:.1}"))));
            }
            if runs.len() > 1 {
                cells.push(if times.len() > 1 && lo > 0.0 {
                    tdn(&format!("{:.1}×", hi / lo))
                } else {
                    tdn("–")
                });
            }
            cells
        })
        .collect();
    let totals: Vec<Vec<Markup>> = runs
        .iter()
        .map(|(run, l)| {
            vec![
                td(&run.engine),
                tdn(&fmt_int(l.runs)),
                tdn(&fmt_ms(l.layers_ms)),
                tdn(&fmt_ms(l.profiled_ms)),
                tdn(&format!("{:.0} %", 100.0 * l.layers_ms / l.profiled_ms)),
                tdn(&fmt_ms(l.unprofiled_ms)),
                tdn(&format!("{:+.0} %", 100.0 * l.overhead())),
            ]
        })
        .collect();
    let totals_head = [
        Col("engine", false),
        Col("profiled runs", true),
        Col("layers sum, ms", true),
        Col("profiled run, ms", true),
        Col("covered", true),
        Col("unprofiled run, ms", true),
        Col("profiling costs", true),
    ];
    html! {
        section id="layers" {
            h2 { "Layers" }
            p {
                "Each layer's mean time over the profiled runs of a second, profiled copy of the model, \
                 run alternately with the benchmark's own. Layers are named after the source model's \
                 nodes on every engine; a row lists the nodes an engine fused into it, and work no \
                 node asked for (layout changes) is one row per operator in brackets. "
                @if runs.len() > 1 {
                    "A time in red is its layer's slowest, at least " (LOSES) "× the fastest."
                }
            }
            (table("layer-totals", &totals_head, &totals))
            (grouped_table("layers", &groups, &head, &body, None))
        }
    }
}

/// Each engine's outputs against its reference's.
pub(super) fn checks(report: &Report) -> Markup {
    let checked: Vec<_> = report
        .runs
        .iter()
        .filter_map(|r| Some((r, r.check.as_ref()?)))
        .collect();
    if checked.is_empty() {
        return html! {};
    }
    let head = [
        Col("engine", false),
        Col("reference", false),
        Col("verdict", false),
        Col("output", false),
        Col("max abs", true),
        Col("max rel", true),
        Col("cosine", true),
        Col("top-1", true),
        Col("top-5", true),
    ];
    let mut rows: Vec<Vec<Markup>> = Vec::new();
    for (run, c) in &checked {
        let verdict = html! {
            td { span class={ "state " (match c.verdict {
                Verdict::Agrees => "state-ok",
                Verdict::Differs => "state-partial",
                Verdict::NotComparable => "state-noisy",
            }) } { (c.verdict.word()) } }
        };
        let pct = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.0} %", 100.0 * v));
        if c.outputs.is_empty() {
            rows.push(vec![
                td(&run.engine),
                td(&c.reference),
                verdict.clone(),
                td("–"),
                tdn("–"),
                tdn("–"),
                tdn("–"),
                tdn("–"),
                tdn("–"),
            ]);
        }
        for o in &c.outputs {
            rows.push(vec![
                td(&run.engine),
                td(&c.reference),
                verdict.clone(),
                tdc(&o.name),
                tdn(&format!("{:.2e}", o.max_abs)),
                tdn(&format!("{:.2e}", o.max_rel)),
                tdn(&format!("{:.6}", o.cosine)),
                tdn(&pct(o.top1)),
                tdn(&pct(o.top5)),
            ]);
        }
    }
    html! {
        section id="checks" {
            h2 { "Outputs against a reference" }
            p {
                "Every input run once more through each engine and through the reference. "
                "Max rel is the largest difference over the largest magnitude of the reference's \
                 values; cosine the smallest of any run; top-1 and top-5 compare the best classes \
                 of class-score outputs."
            }
            (table("checks", &head, &rows))
            @for (run, c) in &checked {
                p.muted {
                    (t(&run.engine)) ": tolerance " (format!("{:e}", c.tolerance)) ", " (c.inputs)
                    " input(s), reference model " code { (t(&c.reference_model)) }
                    @if let Some(b) = &c.boxes {
                        "; boxes: " (b.matched) " matched"
                        @if let Some(iou) = b.mean_iou { " (mean IoU " (format!("{iou:.3}")) ")" }
                        ", " (b.unmatched) " unmatched"
                    }
                    @for n in &c.notes { "; " (t(n)) }
                }
            }
        }
    }
}
