//! The HTML report of `lpdnn-host benchmark --filename`, from a real run of
//! the face app on two engines: its tables, charts, model hashes, every
//! monitored channel and provenance are there, nothing is fetched from a
//! network, user text is escaped, and headless Chromium renders it with
//! every chart laid out and no overlapping labels.
//!
//! Chromium is required (`apt-get install chromium`; `scripts/setup.sh`
//! installs it): without it these tests fail, they do not skip. With
//! `LPDNN_KEEP_HTML=DIR` the pages tested are also written to DIR, to look at.

mod common;

use common::{dataset, face_benchmark, read_json, text};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const ENGINES: [&str; 2] = ["lne", "onnxruntime"];

/// One short benchmark shared by the tests: (result JSON, HTML report).
fn bench() -> &'static (Value, String) {
    static BENCH: OnceLock<(Value, String)> = OnceLock::new();
    BENCH.get_or_init(|| {
        let data = dataset();
        let out = tempfile::tempdir().unwrap();
        let json = out.path().join("face.json");
        let o = face_benchmark(
            data.path(),
            &[
                "--engine",
                &ENGINES.join(","),
                "--number",
                "10",
                "--warmup",
                "3",
                "--monitor-interval",
                "20",
                "--layers",
                "10",
                "--check-against",
                "onnxruntime",
                "--filename",
                json.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
        keep("face.html", &html);
        (read_json(&json), html)
    })
}

/// Writes `html` to `$LPDNN_KEEP_HTML/name` when that variable is set.
fn keep(name: &str, html: &str) {
    if let Some(dir) = std::env::var_os("LPDNN_KEEP_HTML") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), html).unwrap();
    }
}

/// The figure element with `id`, up to its end.
fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<figure id=\"{id}\""))
        .unwrap_or_else(|| panic!("no figure with id {id}"));
    let end = html[start..]
        .find("</figure>")
        .unwrap_or_else(|| panic!("figure {id} is not closed"));
    &html[start..start + end]
}

/// The ids of every chart the report of `ENGINES` must have.
fn chart_ids() -> Vec<String> {
    let mut ids = vec!["chart-stages".to_owned(), "chart-cdf".to_owned()];
    for e in ENGINES {
        ids.push(format!("chart-histogram-{e}"));
        ids.push(format!("chart-timeline-{e}"));
    }
    ids
}

#[test]
fn html_report_has_tables_charts_hashes_channels_and_provenance() {
    let (json, html) = bench();
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..100]);
    assert!(html.trim_end().ends_with("</html>"));

    // Real tables with units in their headers, not preformatted text.
    assert!(!html.contains("<pre"), "a <pre> block is left");
    for class in [
        "summary",
        "phases",
        "model-files",
        "static-metrics",
        "resources",
        "stages",
        "engine-resources",
        "kv provenance",
        "kv run-settings",
    ] {
        assert!(
            html.contains(&format!("<table class=\"{class}\">")),
            "no table of class {class}"
        );
    }
    for head in [
        "time per input (ms)",
        "throughput (inputs/s)",
        "steady-state real time (ms)",
        "CPU mean (ms)",
        "alloc (KiB/call)",
        "load (ms)",
        "SHA-256",
        "MACs",
    ] {
        assert!(
            html.contains(&format!(">{head}</th>")),
            "no header {head:?}"
        );
    }
    let tables = html.matches("<table").count();
    assert!(tables >= 7 + 3 * ENGINES.len(), "{tables} tables");

    // Every chart: an inline SVG and a caption inside its figure.
    for id in chart_ids() {
        let f = figure(html, &id);
        assert!(f.contains("<svg class=\"chart "), "{id}: no chart SVG");
        assert!(f.contains("<figcaption>"), "{id}: no caption");
        assert!(f.contains("viewBox=\"0 0 "), "{id}: no viewBox");
    }
    assert_eq!(
        html.matches("<svg").count(),
        chart_ids().len(),
        "one SVG per chart"
    );
    // The stacked bars have a whisker label per engine; the CDF a curve per
    // engine; the histograms say what they clip.
    let stages = figure(html, "chart-stages");
    assert_eq!(stages.matches(" ms</text>").count(), ENGINES.len());
    for stage in ["preprocess", "inference", "postprocess"] {
        assert!(stages.contains(&format!(">{stage}</text>")), "{stage}");
    }
    let cdf = figure(html, "chart-cdf");
    assert_eq!(cdf.matches("<path d=\"M").count(), ENGINES.len());
    assert!(cdf.contains("The axis ends at "), "{cdf}");
    for e in ENGINES {
        let h = figure(html, &format!("chart-histogram-{e}"));
        assert!(
            h.contains("not drawn (max") || h.contains("No iteration beyond the axis"),
            "{e}: the histogram does not state its clipping"
        );
    }

    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), ENGINES.len());
    for run in runs {
        let engine = run["engine"].as_str().unwrap();
        assert!(
            html.contains(&format!("id=\"engine-{engine}\"")),
            "{engine}"
        );
        // The model's full SHA-256.
        let sha = run["model_sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{sha}");
        assert!(
            html.contains(&format!("<code class=\"sha\">{sha}</code>")),
            "{engine}: SHA-256 {sha} missing"
        );
        // Every channel the monitors sampled is drawn on the timeline.
        let mut channels: Vec<&str> = run["timeline"]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["values"].as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        channels.sort();
        channels.dedup();
        assert!(
            channels.contains(&"memory_rss"),
            "{engine}: the run sampled no memory_rss: {channels:?}"
        );
        let timeline = figure(html, &format!("chart-timeline-{engine}"));
        for c in &channels {
            assert!(
                timeline.contains(&format!(">{c} (")) || timeline.contains(&format!(">{c}</text>")),
                "{engine}: channel {c} is not on the timeline"
            );
        }
        assert_eq!(
            timeline.matches("\" fill=\"none\" stroke=\"").count(),
            channels.len(),
            "{engine}: one line per channel"
        );
        // Units on the axes: every channel titled with its unit.
        assert!(timeline.contains(">memory_rss (MiB)</text>"), "{engine}");
        assert!(timeline.contains("time since the run started"), "{engine}");
        // Static metrics and phases of this run.
        let params = run["static_metrics"]["parameters"].as_u64().unwrap();
        assert!(
            html.contains(&group_thousands(params)),
            "{engine}: {params}"
        );
        let warm = run["phases"]["warmup"]["iterations"].as_u64().unwrap();
        assert_eq!(warm, 3);
    }
    // Provenance.
    let p = &json["provenance"];
    for v in [
        p["lpdnn_host"]["commit"].as_str().unwrap(),
        p["started_at"].as_str().unwrap(),
        p["host"]["os"].as_str().unwrap(),
    ] {
        assert!(html.contains(v), "provenance {v} missing");
    }
    for k in [
        ">commit<",
        ">CPU<",
        ">cores<",
        ">governor<",
        ">affinity (CPUs)<",
        ">kernel<",
        ">command line<",
    ] {
        assert!(html.contains(k), "provenance row {k} missing");
    }

    // Self-contained.
    for bad in [
        "http://",
        "https://",
        "<script src",
        "<link",
        "@import",
        "url(",
        "<img",
        "<iframe",
    ] {
        assert!(!html.contains(bad), "the report references {bad}");
    }
}

/// `n` as the report writes counts.
#[test]
fn html_report_puts_each_layer_of_both_engines_side_by_side_and_the_output_check() {
    let (json, html) = bench();
    let section = |id: &str| {
        let start = html
            .find(&format!("<section id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no #{id}"));
        let end = html[start..].find("</section>").unwrap() + start;
        &html[start..end]
    };
    let layers = section("layers");
    // One row per source node with both engines' times: every one of the
    // ONNX model's convolutions is there, by name, once.
    let lne = json["runs"][0]["layers"]["layers"].as_array().unwrap();
    for node in lne.iter().filter_map(|l| l["node"].as_str()) {
        let cell = format!("<code>{node}</code>");
        assert_eq!(layers.matches(&cell).count(), 1, "{node}");
    }
    assert!(layers.contains("slowest / fastest"));
    // LNE's stride-2 depthwise convolution loses to ONNX Runtime's by far.
    assert!(
        layers.contains("class=\"num loses\""),
        "no layer marked as losing"
    );
    assert!(html.contains("href=\"#layers\""));
    let checks = section("checks");
    assert!(
        checks.contains("<td>lne</td><td>onnxruntime</td>"),
        "{checks}"
    );
    assert!(checks.contains("agrees"), "{checks}");
    assert!(checks.contains("<code>classificators</code>"), "{checks}");
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn html_report_escapes_user_text_and_counts_clipped_outliers() {
    let (json, _) = bench();
    let mut r = json.clone();
    let hostile = "<script>alert(\"x\")</script> & 'q'";
    r["config"]["app_name"] = hostile.into();
    r["config"]["dataset"] = "/data/\"><img src=x>".into();
    let run = &mut r["runs"][0];
    run["warnings"]
        .as_array_mut()
        .unwrap()
        .push("<b onmouseover='x'>warning</b>".into());
    run["predictions"][0]["input"] = "a<b>.png".into();
    run["timeline"]["samples"][1]["values"]["temperature.zone<0>"] = 41.5.into();
    // 400 iterations of 10 to 12 ms, two of them outliers far above: the
    // axis stops below those two (Q3 + 3 IQR or p99, whichever is higher).
    let mut ms: Vec<f64> = (0..400).map(|i| 10.0 + (i % 7) as f64 / 3.0).collect();
    ms[3] = 500.0;
    ms[7] = 600.0;
    let t: Vec<f64> = (0..400).map(|i| 1.0 + i as f64 * 0.011).collect();
    run["timeline"]["iterations_ms"] = ms.into();
    run["timeline"]["iterations_t"] = t.into();
    let report: lpdnn_bench::Report = serde_json::from_value(r).unwrap();
    let html = lpdnn_bench::html_report(&report);
    keep("hostile.html", &html);

    for raw in [
        "<script>alert",
        "\"><img",
        "<b onmouseover",
        "a<b>.png",
        "zone<0>",
        "'q'",
    ] {
        assert!(!html.contains(raw), "unescaped: {raw}");
    }
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"));
    assert!(html.contains("a&lt;b&gt;.png"));
    assert!(html.contains(">temperature.zone&lt;0&gt;</text>"));
    // The one inline script is the report's own.
    assert_eq!(html.matches("<script").count(), 1);

    let engine = &report.runs[0].engine;
    let hist = figure(&html, &format!("chart-histogram-{engine}"));
    assert!(
        hist.contains("<b>2 outlier(s)</b> above"),
        "the caption does not count the outliers: {hist}"
    );
    assert!(hist.contains("▶ 2 outlier(s) above"), "nor the chart");
    let timeline = figure(&html, &format!("chart-timeline-{engine}"));
    assert!(timeline.contains("▲ 2 above"), "{timeline}");
    let cdf = figure(&html, "chart-cdf");
    assert!(
        cdf.contains(&format!("{engine} 2 of ")),
        "the CDF's caption does not count the clipped iterations"
    );
    // The other engine lost nothing.
    let other = figure(&html, &format!("chart-histogram-{}", report.runs[1].engine));
    assert!(other.contains("No iteration beyond the axis"), "{other}");
}

/// Headless Chromium, or a failure saying how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium renders the HTML report in this test and is not installed: \
                 apt-get install chromium (scripts/setup.sh does it)"
            )
        })
}

/// Runs Chromium headless on `page` with `args`, within two minutes
/// (its output is read as it comes: a DOM fills any pipe).
fn headless(page: &Path, profile: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let (_, html) = bench();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("face.html");
    std::fs::write(&page, html).unwrap();

    // --dump-dom: the DOM after the page ran, with each chart's laid-out
    // size and overlapping labels written on its figure by the page.
    let o = headless(&page, &dir.path().join("profile-dom"), &["--dump-dom"]);
    assert!(o.status.success(), "{}", text(&o));
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains("</html>"), "no DOM dumped: {}", text(&o));
    assert_eq!(dom.matches("<svg").count(), chart_ids().len(), "{dom}");
    for id in chart_ids() {
        let f = figure(&dom, &id);
        assert!(f.contains("<svg"), "{id}: no SVG in the DOM");
        assert!(f.contains("<figcaption>"), "{id}: no caption in the DOM");
        let size = attr(f, "data-rendered")
            .unwrap_or_else(|| panic!("{id}: the browser did not lay it out: {f:.300}"));
        let (w, h) = size.split_once('x').unwrap();
        let (w, h): (f64, f64) = (w.parse().unwrap(), h.parse().unwrap());
        // Wide charts are drawn at full size at 1280 px, the histograms
        // two abreast.
        let min_w = if id.starts_with("chart-histogram") {
            500.0
        } else {
            1100.0
        };
        assert!(w >= min_w && h >= 120.0, "{id} laid out at {w}×{h}");
        assert_eq!(
            attr(f, "data-text-overlaps").as_deref(),
            Some("0"),
            "{id}: labels overlap"
        );
    }

    // --screenshot: a picture of the page, far from blank.
    let shot = dir.path().join("shot.png");
    let o = headless(
        &page,
        &dir.path().join("profile-shot"),
        &[&format!("--screenshot={}", shot.display())],
    );
    assert!(o.status.success(), "{}", text(&o));
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}: {}", text(&o)));
    assert_eq!(&png[1..4], b"PNG", "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 4000));
    assert!(
        png.len() > 150 * 1024,
        "screenshot of {} bytes: the page looks empty",
        png.len()
    );
}

/// The value of attribute `name` in the first tag of `element`.
fn attr(element: &str, name: &str) -> Option<String> {
    let tag = &element[..element.find('>')?];
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}
