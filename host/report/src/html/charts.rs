//! The report's charts, as inline SVG: per-stage stacked bars, the latency
//! CDF, a histogram per engine and a timeline per engine. Engines that are
//! compared share one axis; each chart is a function of the report alone.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::resources::Metric;

use super::svg::{
    nice_range, px, text_width, Anchor, Scale, Svg, TextStyle, ALERT, AXIS, GRID, INK,
};
use crate::report::EngineRun;
use crate::stats::percentile;
use crate::summary::{fmt_ms, fmt_round, timed_stage};
use lpdnn_types::Stage;

/// One colour per engine, in report order (Tableau 10: distinct for most
/// colour-blind readers and in grey print).
const ENGINE_COLORS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The colour of the `i`-th engine.
pub fn engine_color(i: usize) -> &'static str {
    ENGINE_COLORS[i % ENGINE_COLORS.len()]
}

/// The stages drawn as stacked segments, with their colours.
const STAGES: [(Stage, &str); 3] = [
    (Stage::Preprocess, "#9ecae1"),
    (Stage::Inference, "#2b6cb0"),
    (Stage::Postprocess, "#f6ad55"),
];
/// The part of `total` outside the three stages (the pipeline's glue).
const REST_COLOR: &str = "#cbd5e0";

/// Colours of monitored channels, by position.
const CHANNEL_COLORS: [&str; 8] = [
    "#2563eb", "#7c3aed", "#0f766e", "#be185d", "#4d7c0f", "#b45309", "#475569", "#0369a1",
];

/// One engine's steady-state times of the timed stage.
pub struct Dist<'a> {
    /// The run.
    pub run: &'a EngineRun,
    /// Its colour.
    pub color: &'static str,
    /// Times, ms, sorted.
    pub sorted: Vec<f64>,
}

impl<'a> Dist<'a> {
    /// The steady-state times of `run`; `None` without any.
    pub fn of(run: &'a EngineRun, color: &'static str) -> Option<Dist<'a>> {
        let mut sorted = run.timeline.iterations_ms.clone();
        sorted.retain(|v| v.is_finite());
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Dist { run, color, sorted })
    }

    /// The nearest-rank percentile `p` (in %).
    pub fn p(&self, p: f64) -> f64 {
        percentile(&self.sorted, p)
    }

    /// Largest time.
    pub fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    /// The upper end of the bulk of the samples: Tukey's far fence
    /// (Q3 + 3 IQR) or p99, whichever is higher, at most the maximum. Only
    /// outliers lie above it, at most 1 % of the samples (none under 100
    /// samples, where p99 is the maximum).
    pub fn robust_max(&self) -> f64 {
        let (q1, q3) = (self.p(25.0), self.p(75.0));
        self.p(99.0).max(q3 + 3.0 * (q3 - q1)).min(self.max())
    }

    /// Samples above `x`.
    pub fn above(&self, x: f64) -> usize {
        self.sorted.len() - self.sorted.partition_point(|&v| v <= x)
    }
}

/// The latency axis the engines share: from the fastest sample to the
/// highest robust maximum, widened to round values.
pub fn latency_axis(dists: &[Dist]) -> (f64, f64) {
    let lo = dists.iter().map(|d| d.sorted[0]).fold(f64::MAX, f64::min);
    let hi = dists.iter().map(Dist::robust_max).fold(f64::MIN, f64::max);
    let (lo, hi) = nice_range(lo, hi, 8);
    (lo.max(0.0), hi)
}

/// Writes a legend of coloured swatches and labels in rows from `(x, y)`
/// within `width`; returns the height used.
fn legend(svg: &mut Svg, x: f64, y: f64, width: f64, items: &[(String, &str, bool)]) -> f64 {
    let (mut cx, mut cy) = (x, y);
    for (label, color, line) in items {
        let w = 22.0 + text_width(label, 12.0) + 18.0;
        if cx > x && cx + w > x + width {
            cx = x;
            cy += 18.0;
        }
        if *line {
            svg.line((cx, cy - 4.0), (cx + 16.0, cy - 4.0), color, 3.0);
        } else {
            svg.rect(cx, cy - 10.0, 14.0, 12.0, color, "");
        }
        svg.text(cx + 22.0, cy, Anchor::Start, &TextStyle::plain(), label);
        cx += w;
    }
    cy - y + 18.0
}

/// (a) Per engine, the mean of each stage stacked into the mean time per
/// input, with each stage's 95 % interval as a whisker at its end and the
/// total's as a heavier whisker; all engines on one axis.
pub fn stage_bars(runs: &[EngineRun]) -> Option<String> {
    struct Row<'a> {
        engine: &'a str,
        segments: Vec<(&'a str, f64, Option<[f64; 2]>, &'static str)>,
        total: Option<(f64, [f64; 2])>,
    }
    let rows: Vec<Row> = runs
        .iter()
        .map(|run| {
            let mut segments = Vec::new();
            let mut total = None;
            if let Some(steady) = &run.phases.steady {
                for (stage, color) in STAGES {
                    let name = stage.name();
                    if let Some(a) = steady.anchors.get(name) {
                        segments.push((name, a.real_ms.mean, Some(a.real_ms.ci95), color));
                    }
                }
                if let Some(a) = steady.anchors.get(timed_stage(run)) {
                    total = Some((a.real_ms.mean, a.real_ms.ci95));
                    let sum: f64 = segments.iter().map(|s| s.1).sum();
                    if a.real_ms.mean - sum > 0.0 && !segments.is_empty() {
                        segments.push(("rest of total", a.real_ms.mean - sum, None, REST_COLOR));
                    }
                }
            }
            Row {
                engine: &run.engine,
                segments,
                total,
            }
        })
        .collect();
    if rows.iter().all(|r| r.segments.is_empty()) {
        return None;
    }
    let x_max = rows
        .iter()
        .flat_map(|r| {
            r.total.map(|t| t.1[1]).into_iter().chain(
                r.segments
                    .iter()
                    .scan(0.0, |acc, s| {
                        *acc += s.1;
                        Some(*acc + s.2.map_or(0.0, |ci| (ci[1] - ci[0]) / 2.0))
                    })
                    .last(),
            )
        })
        .fold(0.0f64, f64::max);
    let (_, x_max) = nice_range(0.0, x_max.max(1e-3), 8);

    let width = 1200.0;
    let label_w = rows
        .iter()
        .map(|r| text_width(r.engine, 13.0))
        .fold(60.0f64, f64::max)
        + 16.0;
    let (left, right) = (label_w + 8.0, width - 170.0);
    let row_h = 40.0;
    let bar_h = 24.0;

    // Legend first, to know where the bars start.
    let mut items: Vec<(String, &str, bool)> = STAGES
        .iter()
        .filter(|(n, _)| {
            rows.iter()
                .any(|r| r.segments.iter().any(|s| s.0 == n.name()))
        })
        .map(|(n, c)| (n.name().to_owned(), *c, false))
        .collect();
    if rows
        .iter()
        .any(|r| r.segments.iter().any(|s| s.0 == "rest of total"))
    {
        items.push((
            "rest of total (pipeline glue, not in a stage)".into(),
            REST_COLOR,
            false,
        ));
    }
    let mut probe = Svg::new(width, 10.0, "", "");
    let legend_h = legend(&mut probe, left, 16.0, right - left, &items);
    let top = 16.0 + legend_h;
    let height = top + rows.len() as f64 * row_h + 46.0;

    let mut svg = Svg::new(
        width,
        height,
        "chart chart-stages",
        "Mean time per input by stage and engine, with 95 % confidence intervals",
    );
    legend(&mut svg, left, 16.0, right - left, &items);
    let x = Scale::new(0.0, x_max, left, right);
    let bottom = top + rows.len() as f64 * row_h;
    svg.x_axis(
        &x,
        bottom,
        top - 4.0,
        10,
        "mean time per input, ms (whiskers: 95 % confidence interval of the mean)",
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h + (row_h - bar_h) / 2.0;
        let mid = y + bar_h / 2.0;
        svg.text(
            left - 10.0,
            mid + 4.5,
            Anchor::End,
            &TextStyle::title(),
            row.engine,
        );
        if row.segments.is_empty() {
            svg.text(
                left + 6.0,
                mid + 4.0,
                Anchor::Start,
                &TextStyle::muted(),
                "no steady state",
            );
            continue;
        }
        let mut acc = 0.0;
        for (name, mean, ci, color) in &row.segments {
            let (x0, x1) = (x.at(acc), x.at(acc + mean));
            let title = match ci {
                Some(ci) => format!(
                    "{}: {name} mean {} ms, 95 % CI {}–{} ms",
                    row.engine,
                    fmt_ms(*mean),
                    fmt_ms(ci[0]),
                    fmt_ms(ci[1])
                ),
                None => format!("{}: {name} {} ms", row.engine, fmt_ms(*mean)),
            };
            svg.rect(x0, y, x1 - x0, bar_h, color, &title);
            let label = fmt_ms(*mean);
            if x1 - x0 > text_width(&label, 11.0) + 8.0 {
                let fill = if *color == "#2b6cb0" { "#ffffff" } else { INK };
                svg.text(
                    (x0 + x1) / 2.0,
                    mid + 4.0,
                    Anchor::Middle,
                    &TextStyle::muted().colored(fill),
                    &label,
                );
            }
            acc += mean;
        }
        // Whiskers: each stage's interval at its end (drawn after the bars
        // so that the next segment does not hide them), but where the
        // total's whisker would cover it.
        let mut acc = 0.0;
        for (_, mean, ci, _) in &row.segments {
            acc += mean;
            let near_total = row
                .total
                .is_some_and(|(t, _)| (x.at(t) - x.at(acc)).abs() < 14.0);
            if let (Some(ci), false) = (ci, near_total) {
                let half = (ci[1] - ci[0]) / 2.0;
                whisker(
                    &mut svg,
                    &x,
                    acc - half,
                    acc + half,
                    mid,
                    6.0,
                    "#374151",
                    1.2,
                );
            }
        }
        if let Some((mean, ci)) = row.total {
            whisker(&mut svg, &x, ci[0], ci[1], mid, 10.0, "#111827", 2.0);
            let text = format!("{} ± {} ms", fmt_ms(mean), fmt_ms((ci[1] - ci[0]) / 2.0));
            svg.text(
                x.at(ci[1].max(acc)) + 10.0,
                mid + 4.5,
                Anchor::Start,
                &TextStyle::title(),
                &text,
            );
        }
    }
    Some(svg.finish())
}

#[allow(clippy::too_many_arguments)]
fn whisker(svg: &mut Svg, x: &Scale, lo: f64, hi: f64, y: f64, h: f64, color: &str, w: f64) {
    // A time is never negative: an interval of very few samples that
    // reaches below 0 stops at the axis, not over the labels left of it.
    let (x0, x1) = (x.at(lo.max(0.0)), x.at(hi));
    svg.line((x0, y), (x1, y), color, w);
    svg.line((x0, y - h / 2.0), (x0, y + h / 2.0), color, w);
    svg.line((x1, y - h / 2.0), (x1, y + h / 2.0), color, w);
}

/// (b) The empirical CDF of every engine's steady-state times on one axis
/// clipped at `axis.1` (a curve stops where its samples leave the axis).
pub fn cdf(dists: &[Dist], axis: (f64, f64), stage: &str) -> String {
    let width = 1200.0;
    let (left, right) = (64.0, width - 24.0);
    let items: Vec<(String, &str, bool)> = dists
        .iter()
        .map(|d| {
            (
                format!(
                    "{}  p50 {} · p99 {} ms",
                    d.run.engine,
                    fmt_ms(d.p(50.0)),
                    fmt_ms(d.p(99.0))
                ),
                d.color,
                true,
            )
        })
        .collect();
    let mut probe = Svg::new(width, 10.0, "", "");
    let top = 16.0 + legend(&mut probe, left, 16.0, right - left, &items) + 6.0;
    let plot_h = 300.0;
    let bottom = top + plot_h;
    let height = bottom + 46.0;
    let mut svg = Svg::new(
        width,
        height,
        "chart chart-cdf",
        "Cumulative distribution of the steady-state time per input, every engine on one axis",
    );
    legend(&mut svg, left, 16.0, right - left, &items);
    let x = Scale::new(axis.0, axis.1, left, right);
    let y = Scale::new(0.0, 100.0, bottom, top);
    svg.y_axis(&y, left, right, 5, " %");
    svg.x_axis(
        &x,
        bottom,
        bottom,
        12,
        &format!("steady-state time per input ({stage}), ms"),
    );
    for p in [50.0, 90.0, 99.0] {
        let py = y.at(p);
        svg.dashed((left, py), (right, py), "#9ca3af", 1.0, "5 4");
        svg.text(
            left + 6.0,
            py - 4.0,
            Anchor::Start,
            &TextStyle::muted(),
            &format!("p{p}"),
        );
    }
    for d in dists {
        let n = d.sorted.len();
        let k = n.min(1500);
        let mut path = format!("M{} {}", px(x.clamped(d.sorted[0])), px(y.at(0.0)));
        for j in 1..=k {
            let rank = (j * n).div_ceil(k);
            let v = d.sorted[rank - 1];
            if v > axis.1 {
                let _ = write!(path, "H{}", px(x.at(axis.1)));
                break;
            }
            let _ = write!(
                path,
                "H{}V{}",
                px(x.clamped(v)),
                px(y.at(rank as f64 / n as f64 * 100.0))
            );
        }
        svg.path(
            &path,
            d.color,
            2.2,
            &format!(
                "{}: cumulative share of iterations at or below x",
                d.run.engine
            ),
        );
    }
    svg.finish()
}

/// (c) One engine's histogram on the shared axis; samples above `axis.1`
/// are counted in the corner, not drawn.
pub fn histogram(d: &Dist, axis: (f64, f64)) -> String {
    let (width, height) = (590.0, 264.0);
    let (left, right, top, bottom) = (52.0, width - 16.0, 78.0, height - 44.0);
    let bins = 40usize;
    let bin_w = (axis.1 - axis.0) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in &d.sorted {
        if v <= axis.1 {
            let i = (((v - axis.0) / bin_w).floor().max(0.0) as usize).min(bins - 1);
            counts[i] += 1;
        }
    }
    let clipped = d.above(axis.1);
    let top_count = counts.iter().copied().max().unwrap_or(1).max(1);
    let (_, y_max) = nice_range(0.0, top_count as f64, 4);
    let engine = &d.run.engine;
    let mut svg = Svg::new(
        width,
        height,
        "chart chart-histogram",
        &format!("Histogram of {engine}'s steady-state time per input"),
    );
    svg.rect(left - 44.0, 8.0, 12.0, 12.0, d.color, "");
    svg.text(
        left - 26.0,
        18.5,
        Anchor::Start,
        &TextStyle::title(),
        engine,
    );
    svg.text(
        right,
        18.5,
        Anchor::End,
        &TextStyle::muted(),
        &format!(
            "n = {} iterations · bins of {} ms",
            d.sorted.len(),
            fmt_ms(bin_w)
        ),
    );
    if clipped > 0 {
        svg.text(
            right,
            36.0,
            Anchor::End,
            &TextStyle::muted().colored(ALERT),
            &format!(
                "▶ {clipped} outlier(s) above {} ms not drawn (max {} ms)",
                fmt_round(axis.1),
                fmt_ms(d.max())
            ),
        );
    }
    let x = Scale::new(axis.0, axis.1, left, right);
    let y = Scale::new(0.0, y_max, bottom, top);
    svg.y_axis(&y, left, right, 4, "");
    svg.vtext(
        14.0,
        (top + bottom) / 2.0,
        &TextStyle::muted(),
        "iterations",
    );
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let x0 = x.at(axis.0 + i as f64 * bin_w);
        let x1 = x.at(axis.0 + (i + 1) as f64 * bin_w);
        svg.rect(
            x0 + 0.5,
            y.at(c as f64),
            (x1 - x0 - 1.0).max(1.0),
            bottom - y.at(c as f64),
            d.color,
            &format!(
                "{}–{} ms: {c} iteration(s)",
                fmt_ms(axis.0 + i as f64 * bin_w),
                fmt_ms(axis.0 + (i + 1) as f64 * bin_w)
            ),
        );
    }
    if clipped > 0 {
        // An arrow at the axis end where the outliers would be.
        svg.fill_path(
            &format!("M{} {}l-7 -5v10z", px(right), px(bottom - 8.0)),
            ALERT,
            &format!("{clipped} sample(s) above the axis"),
        );
    }
    svg.x_axis(&x, bottom, bottom, 8, "time per input, ms");
    // p50 and p99, labelled above the plot: p50 left of its line and p99
    // right of its own where they fit, p99 a row higher if they would meet.
    let (p50, p99) = (d.p(50.0), d.p(99.0));
    let (x50, x99) = (x.clamped(p50), x.clamped(p99));
    let l50 = format!("p50 {}", fmt_ms(p50));
    let l99 = format!("p99 {}", fmt_ms(p99));
    let place = |at: f64, label: &str, prefer_left: bool| {
        let w = text_width(label, 11.0);
        let left_fits = at - 4.0 - w >= left;
        let right_fits = at + 4.0 + w <= width - 2.0;
        if (prefer_left && left_fits) || !right_fits {
            (at - 4.0 - w, at - 4.0, Anchor::End)
        } else {
            (at + 4.0, at + 4.0 + w, Anchor::Start)
        }
    };
    let (a0, a1, a_anchor) = place(x50, &l50, true);
    let (b0, b1, b_anchor) = place(x99, &l99, false);
    let row1 = top - 8.0;
    let row99 = if b0 < a1 + 4.0 && a0 < b1 + 4.0 {
        row1 - 13.0
    } else {
        row1
    };
    svg.line((x50, row1 - 10.0), (x50, bottom), INK, 1.2);
    svg.dashed((x99, row99 - 10.0), (x99, bottom), INK, 1.2, "4 3");
    let text_x = |x0: f64, x1: f64, anchor: Anchor| match anchor {
        Anchor::End => x1,
        Anchor::Start => x0,
        Anchor::Middle => (x0 + x1) / 2.0,
    };
    svg.text(
        text_x(a0, a1, a_anchor),
        row1,
        a_anchor,
        &TextStyle::muted(),
        &l50,
    );
    svg.text(
        text_x(b0, b1, b_anchor),
        row99,
        b_anchor,
        &TextStyle::muted(),
        &l99,
    );
    svg.finish()
}

/// A monitored channel's unit, from the run's resources.
fn unit_of<'a>(run: &'a EngineRun, channel: &str) -> &'a str {
    match run.resources.get(channel) {
        Some(Metric::Measured { unit, .. }) => unit,
        _ => "",
    }
}

/// Every channel present in `run`'s monitor samples, in name order.
pub fn channels(run: &EngineRun) -> Vec<String> {
    let names: BTreeSet<&String> = run
        .timeline
        .samples
        .iter()
        .flat_map(|p| p.values.keys())
        .collect();
    names.into_iter().cloned().collect()
}

/// Where the phases lie on the run's clock, s: (warm-up start, steady
/// start, steady end); `None` without a steady state.
fn phase_bounds(run: &EngineRun) -> Option<(f64, f64, f64)> {
    let steady = run.phases.steady.as_ref()?;
    let t0 = *run.timeline.iterations_t.first()?;
    Some((
        (t0 - run.phases.warmup.seconds).max(0.0),
        t0,
        t0 + steady.seconds,
    ))
}

/// The end of `run`'s clock: its last monitor sample or iteration end, s.
pub fn time_end(run: &EngineRun) -> f64 {
    let t = &run.timeline;
    let last_iter = t
        .iterations_t
        .iter()
        .zip(&t.iterations_ms)
        .map(|(t, ms)| t + ms / 1e3)
        .fold(0.0f64, f64::max);
    t.samples
        .iter()
        .map(|p| p.t)
        .fold(last_iter, f64::max)
        .max(phase_bounds(run).map_or(0.0, |b| b.2))
}

/// (d) One engine's timeline: the phases, every steady-state iteration's
/// time, and every monitored channel, in panels sharing the time axis
/// `[0, t_end]`; iteration times above `ms_max` are marked at the top.
pub fn timeline(run: &EngineRun, color: &str, t_end: f64, ms_max: f64) -> Option<String> {
    let t = &run.timeline;
    let channels = channels(run);
    if t.iterations_ms.is_empty() && channels.is_empty() {
        return None;
    }
    let width = 1200.0;
    let (left, right) = (70.0, width - 24.0);
    let band = (8.0, 26.0);
    let iter_h = 120.0;
    let chan_h = 56.0;
    let head = 20.0;
    let gap = 12.0;
    let mut panels: Vec<(f64, f64)> = Vec::new(); // (plot top, plot bottom)
    let mut y = band.1 + 6.0;
    if !t.iterations_ms.is_empty() {
        panels.push((y + head, y + head + iter_h));
        y += head + iter_h + gap;
    }
    for _ in &channels {
        panels.push((y + head, y + head + chan_h));
        y += head + chan_h + gap;
    }
    let bottom = y - gap;
    let height = bottom + 44.0;
    let mut svg = Svg::new(
        width,
        height,
        "chart chart-timeline",
        &format!(
            "Timeline of {}: iteration times and monitored channels",
            run.engine
        ),
    );
    let x = Scale::new(0.0, t_end, left, right);

    // Phases: a band on top, and their shading behind every panel.
    let phases = phase_bounds(run);
    if let Some((w0, s0, s1)) = phases {
        let parts = [
            ("load + first inference", 0.0, w0, "#e5e7eb", "#f5f5f6"),
            ("warm-up", w0, s0, "#fcd9a8", "#fef6ea"),
            ("steady state", s0, s1, "#bfe3c6", "#ffffff"),
        ];
        for (name, a, b, strong, light) in parts {
            let (x0, x1) = (x.clamped(a), x.clamped(b));
            svg.rect(
                x0,
                band.0,
                x1 - x0,
                band.1 - band.0,
                strong,
                &format!("{name}: {:.3}–{:.3} s", a, b),
            );
            if x1 - x0 > text_width(name, 11.0) + 8.0 {
                svg.text(
                    (x0 + x1) / 2.0,
                    band.1 - 5.0,
                    Anchor::Middle,
                    &TextStyle::muted().colored(INK),
                    name,
                );
            }
            if light != "#ffffff" {
                for (top, bot) in &panels {
                    svg.rect(x0, *top, x1 - x0, bot - top, light, "");
                }
            }
        }
    }
    svg.x_axis(&x, bottom, panels.first().map_or(bottom, |p| p.0), 12, "");
    svg.text(
        (left + right) / 2.0,
        bottom + 33.0,
        Anchor::Middle,
        &TextStyle::plain(),
        "time since the run started (model load included), s",
    );

    let mut panel = panels.iter();
    if !t.iterations_ms.is_empty() {
        let &(top, bot) = panel.next().expect("a panel per series");
        let y = Scale::new(0.0, ms_max, bot, top);
        svg.y_axis(&y, left, right, 4, "");
        let above = t.iterations_ms.iter().filter(|&&v| v > ms_max).count();
        svg.text(
            left,
            top - 7.0,
            Anchor::Start,
            &TextStyle::title(),
            &format!("time per iteration ({}), ms", timed_stage(run)),
        );
        let mut note = format!("{} steady-state iterations", t.iterations_ms.len());
        if above > 0 {
            let _ = write!(note, " · ▲ {above} above {} ms", fmt_round(ms_max));
        }
        svg.text(
            right,
            top - 7.0,
            Anchor::End,
            &TextStyle::muted().colored(if above > 0 { ALERT } else { AXIS }),
            &note,
        );
        let points: Vec<(f64, f64)> = t
            .iterations_t
            .iter()
            .zip(&t.iterations_ms)
            .map(|(&t, &ms)| (t, ms))
            .collect();
        if points.len() <= 3000 {
            svg.raw("<g fill-opacity=\"0.75\">");
            for &(ti, ms) in &points {
                if ms > ms_max {
                    continue;
                }
                svg.circle(x.at(ti), y.at(ms), 1.8, color, "");
            }
            svg.raw("</g>");
        } else {
            // One vertical stroke per pixel column, from its fastest to its
            // slowest iteration.
            let mut cols: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
            for &(ti, ms) in &points {
                let e = cols
                    .entry(x.at(ti).round() as i64)
                    .or_insert((f64::MAX, f64::MIN));
                e.0 = e.0.min(ms);
                e.1 = e.1.max(ms);
            }
            for (cx, (lo, hi)) in cols {
                let (y0, y1) = (y.clamped(lo), y.clamped(hi));
                svg.line((cx as f64, y0 + 0.8), (cx as f64, y1 - 0.8), color, 1.0);
            }
        }
        for &(ti, ms) in &points {
            if ms > ms_max {
                svg.fill_path(
                    &format!("M{} {}l-3.5 6h7z", px(x.at(ti)), px(top)),
                    ALERT,
                    &format!("{:.3} s: {} ms", ti, fmt_ms(ms)),
                );
            }
        }
    }
    for (i, name) in channels.iter().enumerate() {
        let &(top, bot) = panel.next().expect("a panel per channel");
        let color = CHANNEL_COLORS[i % CHANNEL_COLORS.len()];
        let unit = unit_of(run, name);
        let values: Vec<(f64, f64)> = t
            .samples
            .iter()
            .filter_map(|p| p.values.get(name).map(|v| (p.t, *v)))
            .filter(|(_, v)| v.is_finite())
            .collect();
        let lo = values.iter().map(|v| v.1).fold(f64::MAX, f64::min);
        let hi = values.iter().map(|v| v.1).fold(f64::MIN, f64::max);
        let (d0, d1) = if unit == "%" {
            nice_range(0.0, hi.max(100.0), 4)
        } else if lo >= 0.0 && lo < 0.35 * hi {
            nice_range(0.0, hi, 3)
        } else {
            nice_range(lo, hi, 3)
        };
        let y = Scale::new(d0, d1, bot, top);
        svg.y_axis(&y, left, right, 3, "");
        let title = if unit.is_empty() {
            name.clone()
        } else {
            format!("{name} ({unit})")
        };
        svg.text(
            left,
            top - 7.0,
            Anchor::Start,
            &TextStyle::title().colored(color),
            &title,
        );
        let mean = values.iter().map(|v| v.1).sum::<f64>() / values.len().max(1) as f64;
        svg.text(
            right,
            top - 7.0,
            Anchor::End,
            &TextStyle::muted(),
            &format!(
                "{} · mean {} · min {} · max {} {unit}",
                if values.len() == 1 {
                    "1 sample".to_owned()
                } else {
                    format!("{} samples", values.len())
                },
                fmt_value(mean),
                fmt_value(lo),
                fmt_value(hi)
            ),
        );
        let mut path = String::new();
        for (j, (ti, v)) in values.iter().enumerate() {
            let _ = write!(
                path,
                "{}{} {}",
                if j == 0 { "M" } else { "L" },
                px(x.at(*ti)),
                px(y.at(*v))
            );
        }
        svg.path(&path, color, 1.6, &title);
        if values.len() <= 400 {
            for (ti, v) in &values {
                svg.circle(
                    x.at(*ti),
                    y.at(*v),
                    2.0,
                    color,
                    &format!("{:.3} s: {} {unit}", ti, fmt_value(*v)),
                );
            }
        }
    }
    // The frame of each panel's plot area, on top of the data's edges.
    for (top, bot) in &panels {
        svg.line((right, *top), (right, *bot), GRID, 1.0);
        svg.line((left, *top), (right, *top), GRID, 1.0);
    }
    Some(svg.finish())
}

/// A channel reading with three significant figures or so.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
