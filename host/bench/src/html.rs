//! The HTML report: per engine, the anchor table, a histogram of the
//! steady-state latency, and the resource timeline beside the iteration
//! times (inline SVG drawn with plotters).

use plotters::prelude::*;

use crate::report::{EngineRun, Report};
use crate::text::{anchor_table, cross_engine_table, Detail};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole report as one self-contained HTML page.
pub fn html_report(report: &Report) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>lpdnn-host benchmark</title>\
         <style>body{font-family:sans-serif;margin:2em}pre{font-size:12px;background:#f6f6f6;padding:1em;overflow-x:auto}\
         td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}</style></head><body>\n",
    );
    let p = &report.provenance;
    html.push_str(&format!(
        "<h1>Benchmark of {}</h1><p>{} on {} ({} core(s), {} {}), lpdnn-host {} ({}), {}{}</p>\n",
        escape(&report.config.app_name),
        escape(&report.config.dataset),
        escape(p.host.cpu_model.as_deref().unwrap_or("unknown CPU")),
        p.host.cores,
        escape(&p.host.os),
        escape(p.host.kernel.as_deref().unwrap_or("")),
        escape(&p.lpdnn_host.version),
        escape(&p.lpdnn_host.commit),
        escape(&p.started_at),
        if report.partial {
            " — <b>partial: interrupted</b>"
        } else {
            ""
        }
    ));
    if report.runs.len() > 1 {
        html.push_str(&format!(
            "<pre>{}</pre>\n",
            escape(&cross_engine_table(&report.runs))
        ));
    }
    for run in &report.runs {
        engine_section(&mut html, run);
    }
    html.push_str("</body></html>\n");
    html
}

fn engine_section(html: &mut String, run: &EngineRun) {
    html.push_str(&format!(
        "<h2>{} {} — {}</h2>\n<pre>{}</pre>\n",
        escape(&run.engine),
        escape(run.engine_version.as_deref().unwrap_or("")),
        run.state.word(),
        escape(&anchor_table(run, Detail::Wide))
    ));
    if let Some(i) = &run.interference {
        html.push_str(&format!(
            "<p class=\"interference\">interference: {}</p>\n",
            escape(&i.summary())
        ));
    }
    if run.timeline.iterations_ms.len() > 1 {
        html.push_str(&histogram(&run.timeline.iterations_ms).unwrap_or_default());
        html.push_str(&timeline(run).unwrap_or_default());
    }
    html.push_str("<table><tr><th>resource</th><th>value</th></tr>\n");
    for (name, m) in &run.resources {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>\n",
            escape(name),
            escape(&m.to_string())
        ));
    }
    html.push_str("</table>\n");
    for w in &run.warnings {
        html.push_str(&format!("<p>warning: {}</p>\n", escape(w)));
    }
}

type Svg = Result<String, Box<dyn std::error::Error>>;

fn histogram(ms: &[f64]) -> Svg {
    let (lo, hi) = ms
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let bins = 40usize;
    let width = ((hi - lo) / bins as f64).max(1e-6);
    let mut counts = vec![0u32; bins];
    for &v in ms {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 300)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("steady-state latency (total per input)", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(lo..lo + width * bins as f64, 0u32..top + 1)?;
        chart
            .configure_mesh()
            .x_desc("ms")
            .y_desc("iterations")
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new([(x0, 0), (x0 + width, c)], BLUE.mix(0.6).filled())
        }))?;
        root.present()?;
    }
    Ok(svg)
}

fn timeline(run: &EngineRun) -> Svg {
    let t = &run.timeline;
    let t_end = t
        .samples
        .last()
        .map(|p| p.t)
        .into_iter()
        .chain(t.iterations_t.last().copied())
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let ms_top = t.iterations_ms.iter().copied().fold(0.0f64, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "timeline: iteration time (ms, left) and process CPU load (%, right)",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .right_y_label_area_size(45)
            .build_cartesian_2d(0.0..t_end, 0.0..ms_top.max(1e-3))?
            .set_secondary_coord(0.0..t_end, 0.0..100.0);
        chart.configure_mesh().x_desc("s").y_desc("ms").draw()?;
        chart.configure_secondary_axes().y_desc("%").draw()?;
        chart.draw_series(
            t.iterations_t
                .iter()
                .zip(&t.iterations_ms)
                .map(|(&x, &y)| Circle::new((x, y), 2, BLUE.filled())),
        )?;
        let load: Vec<(f64, f64)> = t
            .samples
            .iter()
            .filter_map(|p| p.values.get("cpu_load_process").map(|v| (p.t, *v)))
            .collect();
        chart.draw_secondary_series(LineSeries::new(load, &RED))?;
        root.present()?;
    }
    Ok(svg)
}
