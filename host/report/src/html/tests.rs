//! The HTML report on a real report (`tests/fixtures/face-two-engines.json`:
//! the face detector on LNE and ONNX Runtime, monitors on), read back as
//! a browser's parser would read it.

use scraper::{ElementRef, Html, Selector};

use super::html_report;
use crate::report::{Report, RunState};

const FIXTURE: &str = include_str!("../../tests/fixtures/face-two-engines.json");

fn report() -> Report {
    serde_json::from_str(FIXTURE).expect("the fixture is a report of this release")
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("a valid selector")
}

fn page(r: &Report) -> (String, Html) {
    let text = html_report(r);
    let doc = Html::parse_document(&text);
    (text, doc)
}

fn texts(doc: &Html, selector: &str) -> Vec<String> {
    doc.select(&sel(selector))
        .map(|e| e.text().collect::<String>())
        .collect()
}

/// How many columns a row spans, counting `colspan`.
fn width(row: ElementRef) -> usize {
    row.select(&sel("td, th"))
        .map(|c| c.value().attr("colspan").map_or(1, |s| s.parse().unwrap()))
        .sum()
}

#[test]
fn the_page_has_its_sections_in_order_and_every_link_lands() {
    let r = report();
    let (text, doc) = page(&r);
    assert!(text.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(text.ends_with("</html>\n"));
    let ids: Vec<&str> = doc
        .select(&sel("main > section"))
        .filter_map(|s| s.value().attr("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "summary",
            "distribution",
            "phases",
            "models",
            "resources",
            "engine-lne",
            "engine-onnxruntime",
            "provenance"
        ]
    );
    for a in doc.select(&sel("nav a")) {
        let target = a.value().attr("href").unwrap().trim_start_matches('#');
        assert!(ids.contains(&target), "the link to #{target} lands nowhere");
    }
    // The style sheet and the one script are the files, inline.
    assert!(texts(&doc, "head style")[0].contains("tr.best td{background:#f0f9f1}"));
    let scripts = texts(&doc, "script");
    assert_eq!(scripts.len(), 1);
    assert!(scripts[0].contains("f.dataset.textOverlaps = o;"));
}

#[test]
fn every_table_row_fills_its_header() {
    let (_, doc) = page(&report());
    let tables: Vec<ElementRef> = doc.select(&sel("table")).collect();
    assert!(tables.len() >= 10, "{} tables", tables.len());
    for t in tables {
        let class = t.value().attr("class").unwrap_or_default().to_owned();
        // The header's last row, plus the cells the first row spans down.
        let head: Vec<ElementRef> = t.select(&sel("thead tr")).collect();
        let columns = match head.as_slice() {
            [] => 2, // key-value tables
            [one] => width(*one),
            [top, .., last] => width(*last) + top.select(&sel("th[rowspan]")).count(),
        };
        for row in t.select(&sel("tbody tr")) {
            assert_eq!(
                width(row),
                columns,
                "a row of table {class:?}: {}",
                row.html()
            );
        }
    }
}

#[test]
fn the_summary_marks_the_fastest_engine_and_the_verdict_names_it() {
    let r = report();
    let (_, doc) = page(&r);
    let best = texts(&doc, "table.summary tr.best td:first-child");
    assert_eq!(best.len(), 1);
    let ranking = crate::summary::ranking(&r.runs).unwrap();
    let fastest = ranking.fastest().engine;
    assert_eq!(best[0], fastest);
    let verdict = texts(&doc, "div.verdict").concat();
    assert!(
        verdict.starts_with(&format!("Fastest here: {fastest},")),
        "{verdict}"
    );
    // The runs were undisturbed: no alert.
    assert!(doc.select(&sel("div.alert")).next().is_none());
    // One chart per figure: stages, CDF, a histogram and a timeline per engine.
    let figures: Vec<&str> = doc
        .select(&sel("figure.chart-figure"))
        .filter_map(|f| f.value().attr("id"))
        .collect();
    assert_eq!(figures.len(), 2 + 2 * r.runs.len(), "{figures:?}");
    assert_eq!(doc.select(&sel("figure svg")).count(), figures.len());
}

#[test]
fn text_from_the_user_or_the_machine_is_text_not_markup() {
    let mut r = report();
    let hostile = "<script>alert(\"x\")</script> & 'q'";
    r.config.app_name = hostile.into();
    r.config.dataset = "/data/\"><img src=x>".into();
    r.runs[0]
        .warnings
        .push("<b onmouseover=\"x\">warning</b>".into());
    r.runs[0].engine_version = Some("<i>1.0</i>".into());
    // A right-to-left override would reorder what the reader sees.
    r.runs[1].warnings.push("model \u{202E}fdp.exe".into());
    let (text, doc) = page(&r);
    assert_eq!(doc.select(&sel("script")).count(), 1);
    assert_eq!(
        doc.select(&sel("img, main b[onmouseover], h2 i")).count(),
        0
    );
    assert_eq!(texts(&doc, "h1"), [format!("Benchmark of {hostile}")]);
    assert_eq!(
        texts(&doc, "head title"),
        [format!("Benchmark of {hostile}")]
    );
    assert!(texts(&doc, "li.warning").contains(&"<b onmouseover=\"x\">warning</b>".to_owned()));
    assert!(text.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"));
    assert!(!text.contains('\u{202E}'));
    assert!(texts(&doc, "li.warning").contains(&"model \\u{202e}fdp.exe".to_owned()));
}

#[test]
fn a_disturbed_or_partial_run_says_so_first() {
    let mut r = report();
    r.partial = true;
    r.runs[1].state = RunState::Noisy;
    let interference = r.runs[1].interference.as_mut().unwrap();
    interference.noisy = true;
    interference.evidence = vec!["other processes kept 1.5 CPU cores busy".into()];
    let (_, doc) = page(&r);
    let alert = texts(&doc, "div.alert").concat();
    assert!(
        alert.starts_with("Partial: the benchmark was interrupted"),
        "{alert}"
    );
    assert!(
        alert.contains(&format!(
            "{} NOISY: other processes kept 1.5 CPU cores busy",
            r.runs[1].engine
        )),
        "{alert}"
    );
    let verdict = texts(&doc, "table.interference td").concat();
    assert!(
        verdict.contains("NOISY: something else disturbed"),
        "{verdict}"
    );
}

#[test]
fn without_monitors_the_resources_say_so_and_have_no_table() {
    let mut r = report();
    for run in &mut r.runs {
        run.resources.clear();
    }
    let (_, doc) = page(&r);
    assert_eq!(texts(&doc, "#resources p"), ["Monitors were off."]);
    assert_eq!(
        doc.select(&sel("table.resources, table.engine-resources"))
            .count(),
        0
    );
}
