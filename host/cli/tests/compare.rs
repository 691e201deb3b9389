//! `lpdnn-host compare` as a user runs it, on real results of the face app:
//! warnings when A and B measured different things, two engines of one
//! result, stages in pipeline order, and `--fail-if-slower` as a CI gate.

mod common;

use common::{dataset, face_benchmark, host, read_json, text};

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A short benchmark of the face app (20 passes over two images, 2 warm-up
/// iterations, no monitors) with `args`, written to `dir/name`.
fn bench(data: &Path, dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let json = dir.join(name);
    let mut all = vec![
        "--number",
        "20",
        "--warmup",
        "2",
        "--no-monitors",
        "--filename",
        json.to_str().unwrap(),
    ];
    all.extend(args);
    let o = face_benchmark(data, &all);
    assert!(o.status.success(), "{}", text(&o));
    json
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts that every line of `out` fits a 100-column terminal.
fn fits_100_columns(out: &str) {
    for l in out.lines() {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
}

/// The JSON warnings, less the run-state one (a run beside other tests may
/// read NOISY).
fn warnings(c: &Value) -> Vec<String> {
    c["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .filter(|w| !w.starts_with("run state:"))
        .collect()
}

/// `compare ... --json`, which must succeed, parsed.
fn compare_json(args: &[&str]) -> Value {
    let mut all = vec!["compare", "--json"];
    all.extend(args);
    let o = host(&all);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn steady_mean(result: &Value, engine: &str, stage: &str) -> f64 {
    let run = result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["engine"] == engine)
        .unwrap();
    run["phases"]["steady"]["anchors"][stage]["real_ms"]["mean"]
        .as_f64()
        .unwrap()
}

#[test]
fn two_engines_of_one_result_compare_in_pipeline_order() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let two = bench(
        data.path(),
        dir.path(),
        "two.json",
        &["--engine", "lne,onnxruntime", "--threads", "1"],
    );
    let r = read_json(&two);

    // One file, two engines: A is its lne run, B its onnxruntime run.
    let o = host(&["compare", s(&two), "--engines", "lne,onnxruntime"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    fits_100_columns(&stdout);
    assert!(
        stdout.contains("engine lne (A) vs onnxruntime (B)"),
        "{stdout}"
    );
    // The engine difference was asked for: no warning for it.
    assert!(!stdout.contains("engine differs"), "{stdout}");
    // Stages in pipeline order, not in name order (rows are indented by
    // two spaces; wrapped lines above the table by four).
    let order: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "stage")
        .collect();
    assert_eq!(
        order,
        ["preprocess", "inference", "postprocess", "total"],
        "{stdout}"
    );

    let c = compare_json(&[s(&two), "--engines", "lne,onnxruntime"]);
    assert_eq!(warnings(&c), Vec::<String>::new(), "{c:#}");
    let rows = c["rows"].as_array().unwrap();
    let stages: Vec<&str> = rows.iter().map(|r| r["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["preprocess", "inference", "postprocess", "total"]);
    for row in rows {
        assert_eq!(row["engine_a"], "lne", "{row}");
        assert_eq!(row["engine_b"], "onnxruntime", "{row}");
        let stage = row["stage"].as_str().unwrap();
        assert_eq!(
            row["difference"]["a"].as_f64().unwrap(),
            steady_mean(&r, "lne", stage)
        );
        assert_eq!(
            row["difference"]["b"].as_f64().unwrap(),
            steady_mean(&r, "onnxruntime", stage)
        );
    }
    // The same with the file named twice; reversed, A and B swap.
    let c2 = compare_json(&[s(&two), s(&two), "--engines", "lne,onnxruntime"]);
    assert_eq!(c2["rows"], c["rows"]);
    let rev = compare_json(&[s(&two), "--engines", "onnxruntime,lne"]);
    assert_eq!(
        rev["rows"][1]["difference"]["a"],
        rows[1]["difference"]["b"]
    );

    // By name, both engines are compared with themselves.
    let c = compare_json(&[s(&two), s(&two)]);
    let pairs: Vec<(&str, &str)> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["engine_a"].as_str().unwrap(),
                r["stage"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 8, "{c:#}");
    assert_eq!(pairs[0], ("lne", "preprocess"));
    assert_eq!(pairs[7], ("onnxruntime", "total"));

    // One file needs two engines; an engine it lacks is named with those
    // it has.
    let o = host(&["compare", s(&two)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = host(&["compare", s(&two), "--engines", "lne"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("two engines of A with --engines X,Y"), "{t}");
    let o = host(&["compare", s(&two), "--engines", "lne,litert"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("two.json") && t.contains("no engine litert") && t.contains("lne, onnxruntime"),
        "{t}"
    );
}

#[test]
fn differing_engine_threads_model_stages_and_machine_are_warned() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let a = bench(
        data.path(),
        dir.path(),
        "lne.json",
        &["--engine", "lne", "--threads", "1"],
    );
    // Another engine, with its own model file, two threads, the engine alone.
    let b = bench(
        data.path(),
        dir.path(),
        "ncnn.json",
        &["--engine", "ncnn", "--threads", "2", "--inference-only"],
    );
    let sha = |p: &Path| {
        read_json(p)["runs"][0]["model_sha256"]
            .as_str()
            .unwrap()
            .chars()
            .take(8)
            .collect::<String>()
    };
    let (sha_a, sha_b) = (sha(&a), sha(&b));
    assert_ne!(sha_a, sha_b);

    let o = host(&["compare", s(&a), s(&b)]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    fits_100_columns(&stdout);
    // Warnings come above the table.
    let first_warning = stdout.lines().position(|l| l.starts_with("warning: "));
    let header = stdout
        .lines()
        .position(|l| l.trim_start().starts_with("stage"));
    assert!(first_warning.unwrap() < header.unwrap(), "{stdout}");

    let c = compare_json(&[s(&a), s(&b)]);
    let w = warnings(&c);
    assert_eq!(
        w,
        [
            "threads differ: A 1, B 2".to_owned(),
            "stages timed differ: A the whole pipeline, B inference only (--inference-only)"
                .to_owned(),
            "engine differs: A lne, B ncnn".to_owned(),
            format!(
                "model differs: A face_detection_short_range.onnx {sha_a}…, \
                 B face_detection_short_range.ncnn.param {sha_b}…"
            ),
        ],
        "{c:#}"
    );
    // Only inference is in both.
    let rows = c["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{c:#}");
    assert_eq!(rows[0]["stage"], "inference");
    assert_eq!(
        c["unmatched"][0],
        "lne vs ncnn: stages preprocess, postprocess, total only in A"
    );
    // Each warning is in the text too, wrapped to 100 columns.
    let joined = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for warning in &w {
        assert!(joined.contains(warning.as_str()), "{warning}\n{stdout}");
    }

    // Asked for by name, the engines may differ: no warning for that.
    let c = compare_json(&[s(&a), s(&b), "--engines", "lne,ncnn"]);
    let w = warnings(&c);
    assert_eq!(w.len(), 3, "{c:#}");
    assert!(!w.iter().any(|w| w.contains("engine differs")), "{c:#}");

    // The same run, as if measured on another machine.
    let mut other = read_json(&a);
    other["provenance"]["host"]["cpu_model"] = "Test CPU 9000".into();
    other["provenance"]["host"]["cores"] = 64.into();
    let moved = dir.path().join("moved.json");
    std::fs::write(&moved, serde_json::to_vec(&other).unwrap()).unwrap();
    let host_a = &read_json(&a)["provenance"]["host"];
    let c = compare_json(&[s(&a), s(&moved)]);
    assert_eq!(
        warnings(&c),
        [format!(
            "machine differs: A {} {} {} ({} cores), B {} {} Test CPU 9000 (64 cores)",
            host_a["arch"].as_str().unwrap(),
            host_a["os"].as_str().unwrap(),
            host_a["cpu_model"].as_str().unwrap_or("unknown CPU"),
            host_a["cores"],
            host_a["arch"].as_str().unwrap(),
            host_a["os"].as_str().unwrap(),
        )],
        "{c:#}"
    );
    // A result against itself: nothing to warn about.
    assert_eq!(
        warnings(&compare_json(&[s(&a), s(&a)])),
        Vec::<String>::new()
    );
}

/// A copy of `result` at `to` whose steady-state real times of `stages`
/// (every stage when empty) are each longer by `factor` × the mean: every
/// sample shifted by one constant, so the spread stays the same.
fn slowed(result: &Path, to: &Path, stages: &[&str], factor: f64) -> PathBuf {
    let mut r = read_json(result);
    for run in r["runs"].as_array_mut().unwrap() {
        let anchors = run["phases"]["steady"]["anchors"].as_object_mut().unwrap();
        for (stage, a) in anchors.iter_mut() {
            if !stages.is_empty() && !stages.contains(&stage.as_str()) {
                continue;
            }
            let s = &mut a["real_ms"];
            let shift = s["mean"].as_f64().unwrap() * factor;
            for k in ["mean", "min", "max", "p50", "p90", "p95", "p99", "p99_9"] {
                s[k] = (s[k].as_f64().unwrap() + shift).into();
            }
            for i in 0..2 {
                s["ci95"][i] = (s["ci95"][i].as_f64().unwrap() + shift).into();
            }
        }
    }
    std::fs::write(to, serde_json::to_vec(&r).unwrap()).unwrap();
    to.to_owned()
}

#[test]
fn fail_if_slower_exits_1_only_on_a_significant_slowdown_beyond_pct() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let a = bench(
        data.path(),
        dir.path(),
        "a.json",
        &["--engine", "lne", "--threads", "1"],
    );
    // Judged as a quiet run: a run beside other tests may read NOISY, and
    // a verdict on that is inconclusive (tested below).
    let a = with_state(&a, &dir.path().join("a-ok.json"), "ok", &[]);
    // Every stage twice as slow.
    let slow = slowed(&a, &dir.path().join("slow.json"), &[], 1.0);
    let o = host(&["compare", s(&a), s(&slow), "--fail-if-slower", "10"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("B is slower than A by more than 10 %: ")
            && stderr.contains("lne total +100.00 %"),
        "{stderr}"
    );
    // The table is printed all the same.
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("slower"),
        "{}",
        text(&o)
    );
    // Not beyond a huge threshold; never when B is faster or the same.
    let o = host(&["compare", s(&a), s(&slow), "--fail-if-slower", "1000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = host(&["compare", s(&slow), s(&a), "--fail-if-slower", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = host(&["compare", s(&a), s(&a), "--fail-if-slower", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Inference alone slower: the message names that stage only, and JSON
    // output still comes whole.
    let slow = slowed(&a, &dir.path().join("inference.json"), &["inference"], 0.5);
    let o = host(&[
        "compare",
        s(&a),
        s(&slow),
        "--fail-if-slower",
        "25",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr.contains("lne inference +50.00 %")
            && !stderr.contains("preprocess")
            && !stderr.contains("postprocess")
            && !stderr.contains("total"),
        "{stderr}"
    );
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["rows"][1]["difference"]["verdict"], "slower", "{c:#}");
    let o = host(&["compare", s(&a), s(&slow), "--fail-if-slower", "60"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = host(&["compare", s(&a), s(&slow), "--fail-if-slower=-5"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("--fail-if-slower"), "{t}");
}

/// A copy of `result` at `to` with every run in `state` (`ok`, `noisy`,
/// `throttled`, `partial`) and `reasons` as the evidence of that state.
fn with_state(result: &Path, to: &Path, state: &str, reasons: &[&str]) -> PathBuf {
    let mut r = read_json(result);
    for run in r["runs"].as_array_mut().unwrap() {
        run["state"] = state.into();
        let noisy = state == "noisy";
        run["interference"]["noisy"] = noisy.into();
        run["interference"]["evidence"] = if noisy {
            reasons.into()
        } else {
            Value::Array(vec![])
        };
        if state == "throttled" {
            run["throttle"] = serde_json::json!({
                "detected": true, "reasons": reasons, "sources": []
            });
        }
    }
    if state == "partial" {
        r["partial"] = true.into();
    }
    std::fs::write(to, serde_json::to_vec(&r).unwrap()).unwrap();
    to.to_owned()
}

#[test]
fn a_slowdown_of_a_disturbed_run_is_inconclusive_with_its_own_exit_status() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let bench = bench(
        data.path(),
        dir.path(),
        "a.json",
        &["--engine", "lne", "--threads", "1"],
    );
    let d = dir.path();
    let quiet = with_state(&bench, &d.join("quiet.json"), "ok", &[]);
    let busy = "other processes kept 1.23 CPU cores busy on average (at least 0.5)";
    // The case: the same command again beside a build, 23.5 %
    // "slower", marked NOISY.
    let slow = slowed(&quiet, &d.join("slow.json"), &[], 0.235);
    let noisy = with_state(&slow, &d.join("noisy.json"), "noisy", &[busy]);

    let o = host(&["compare", s(&quiet), s(&noisy), "--fail-if-slower", "5"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    fits_100_columns(&stdout);
    // Which run, its state, the reason its result records; no "slower".
    let joined = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains(&format!("inconclusive: B's lne run is NOISY: {busy}")),
        "{stdout}"
    );
    assert!(!stdout.contains("slower"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for want in [
        "inconclusive: --fail-if-slower 5 not judged",
        &format!("B's lne run is NOISY: {busy}"),
        "it would fail on lne ",
        "lne total +23.50 %",
        "--allow-noisy",
    ] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    // The JSON carries the verdicts, the disturbed runs and the gate's answer.
    let o = host(&[
        "compare",
        s(&quiet),
        s(&noisy),
        "--fail-if-slower",
        "5",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = c["rows"].as_array().unwrap();
    for row in rows {
        assert_eq!(row["verdict"], "inconclusive", "{row}");
    }
    // What the statistics alone say is kept beside it.
    assert_eq!(rows[3]["stage"], "total");
    assert_eq!(rows[3]["difference"]["verdict"], "slower", "{c:#}");
    assert_eq!(
        c["disturbed"],
        serde_json::json!([{"side": "B", "engine": "lne", "state": "noisy", "reason": busy}])
    );
    assert_eq!(c["gate"]["outcome"], "inconclusive", "{c:#}");
    assert_eq!(c["allow_noisy"], false);

    // Told to, the gate judges it as a quiet run: it fails.
    let o = host(&[
        "compare",
        s(&quiet),
        s(&noisy),
        "--fail-if-slower",
        "5",
        "--allow-noisy",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("slower") && stdout.contains("--allow-noisy"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.starts_with("B is slower than A by more than 5 %"),
        "{stderr}"
    );

    // Either side: a NOISY baseline, the same run twice (nothing would
    // fail), is inconclusive too; so are THROTTLED and partial runs.
    let o = host(&["compare", s(&noisy), s(&noisy), "--fail-if-slower", "5"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("A's lne run is NOISY") && stderr.contains("no stage would fail it"),
        "{stderr}"
    );
    let hot = "thermal_throttle counter package_throttle_count rose by 3";
    let throttled = with_state(&slow, &d.join("hot.json"), "throttled", &[hot]);
    let o = host(&["compare", s(&quiet), s(&throttled), "--fail-if-slower", "5"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("B's lne run is THROTTLED: {hot}")),
        "{}",
        text(&o)
    );
    let partial = with_state(&quiet, &d.join("partial.json"), "partial", &[]);
    let o = host(&["compare", s(&partial), s(&slow), "--fail-if-slower", "5"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("A's lne run is PARTIAL: interrupted after"),
        "{}",
        text(&o)
    );
    // Without the gate, the comparison itself succeeds.
    let o = host(&["compare", s(&quiet), s(&noisy)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn one_result_needs_two_engines_as_the_help_says() {
    // No file is read before the arguments are checked.
    let o = host(&["compare", "a.json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("B is missing: give a second result, or two engines of A with --engines X,Y"),
        "{err}"
    );
    assert!(
        !err.contains("required arguments were not provided"),
        "{err}"
    );
    assert!(
        err.contains("Usage: lpdnn-host compare [OPTIONS] <A> [B]"),
        "{err}"
    );
    let o = host(&["compare", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{help}");
    assert!(
        help.contains("Usage: lpdnn-host compare [OPTIONS] <A> [B]"),
        "{help}"
    );
    assert!(
        help.contains("two engines of A, named with --engines X,Y"),
        "{help}"
    );
    assert!(help.contains("3 --fail-if-slower"), "{help}");
}
