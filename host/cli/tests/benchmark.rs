//! `lpdnn-host benchmark`, `inspect` and `compare` as a user runs them, on
//! the real face app, models and images.

mod common;

use common::{dataset, face_benchmark, host, read_json, root, text, validate};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest;

#[test]
fn benchmark_two_engines_writes_valid_results_with_sources_or_reasons() {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("bench/face.json");
    let csv = out.path().join("face.csv");
    let samples = out.path().join("samples.csv");
    let o = host(&[
        "benchmark",
        "examples/face-detection/app.json",
        "--dataset",
        data.path().to_str().unwrap(),
        "--number",
        "3",
        "--warmup",
        "2",
        "--engine",
        "lne,onnxruntime",
        "--threads",
        "1",
        "--monitor-interval",
        "20",
        "--filename",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // The default text fits a 100-column terminal.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let widest = stdout.lines().max_by_key(|l| l.chars().count()).unwrap();
    assert!(
        widest.chars().count() <= 100,
        "{} columns: {widest}",
        widest.chars().count()
    );
    assert!(stdout.contains("not measured here: "), "{stdout}");
    assert!(!stdout.contains("CI95 high ms"), "{stdout}");
    // Seed-style text: resource list, state, anchor table, side-by-side table.
    // Other tests of this binary run beside it: the run may read NOISY
    // (tests/noise.rs holds the quiet and disturbed cases).
    assert!(
        t.contains("[ 'BENCHMARK_STATE', 'OK' ]") || t.contains("[ 'BENCHMARK_STATE', 'NOISY' ]"),
        "{t}"
    );
    assert!(
        t.contains("'CPU_LOAD'") && t.contains("Cross-engine"),
        "{t}"
    );
    assert!(
        !t.contains("'0.0'"),
        "an unmeasured metric printed as 0: {t}"
    );

    let r = read_json(&json);
    validate(&r);
    assert_eq!(r["partial"], false);
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let model = root().join("assets/models/face_detection_short_range.onnx");
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&model).unwrap()));
    let reference = read_json(&root().join("assets/reference/static.json"));
    for (run, engine) in runs.iter().zip(["lne", "onnxruntime"]) {
        assert_eq!(run["engine"], engine);
        assert_eq!(run["model_sha256"], sha.as_str());
        assert!(
            run["state"] == "ok" || run["state"] == "noisy",
            "{}",
            run["state"]
        );
        // Too short a steady state for two monitor samples: not judged on
        // other processes' load, and says so with null.
        assert!(
            run["interference"]["noisy"].is_boolean(),
            "{}",
            run["interference"]
        );
        let phases = &run["phases"];
        assert!(phases["load_ms"]["load.model"].as_f64().unwrap() > 0.0);
        assert!(phases["first_inference_ms"]["inference"].as_f64().unwrap() > 0.0);
        assert_eq!(phases["warmup"]["iterations"], 2);
        assert_eq!(phases["warmup"]["ended_by"], "iterations");
        let steady = &phases["steady"];
        // 3 passes over 2 inputs.
        assert_eq!(steady["iterations"], 6, "{steady}");
        assert_eq!(steady["ended_by"], "number");
        for anchor in ["preprocess", "inference", "postprocess", "total"] {
            let a = &steady["anchors"][anchor];
            assert_eq!(a["real_ms"]["n"], 6, "{anchor}");
            let s = &a["real_ms"];
            let (min, p50, max) = (
                s["min"].as_f64().unwrap(),
                s["p50"].as_f64().unwrap(),
                s["max"].as_f64().unwrap(),
            );
            assert!(min <= p50 && p50 <= max, "{anchor}: {s}");
            assert!(a["alloc_bytes"]["mean"].as_f64().unwrap() > 0.0, "{anchor}");
        }
        assert_eq!(
            run["static_metrics"]["parameters"],
            reference["face_detection_short_range.onnx"]["parameters"]
        );
        // Every metric: a value with its source, or unsupported with a reason.
        let resources = run["resources"].as_object().unwrap();
        for key in [
            "cpu_load_process",
            "memory_rss",
            "memory_rss_peak",
            "temperature",
            "power",
            "gpu_load",
            "npu_load",
            "memory_bandwidth",
            "heap_allocated",
        ] {
            let m = &resources[key];
            let ok = m["source"].as_str().is_some_and(|s| !s.is_empty())
                || m["unsupported"].as_str().is_some_and(|s| !s.is_empty());
            assert!(ok, "{key}: {m}");
        }
        assert!(resources["cpu_load_process"]["mean"].as_f64().unwrap() > 0.0);
        assert!(resources.keys().any(|k| k.starts_with("wasm_memory_peak.")));
        assert_eq!(run["timeline"]["iterations_t"].as_array().unwrap().len(), 6);
        assert!(!run["timeline"]["samples"].as_array().unwrap().is_empty());
        assert!(run["warnings"][0]
            .as_str()
            .unwrap()
            .contains("too few for p50"));
    }
    // The seed-style resource list of the first engine: an unmeasured metric
    // reads 'unsupported' there, never a number.
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches(|c| c == '[' || c == ']' || c == ' ')
            .split(", ")
            .map(|v| v.trim_matches('\'').to_owned())
            .collect()
    };
    // In brief text the list comes in pairs of lines of six entries.
    let seed: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.starts_with("[ 'CPU_LOAD'"))
        .take_while(|l| !l.starts_with("[ 'BENCHMARK_STATE'"))
        .collect();
    assert_eq!(seed.len(), 4, "{t}");
    let names: Vec<String> = seed.iter().step_by(2).flat_map(|l| cells(l)).collect();
    let values: Vec<String> = seed
        .iter()
        .skip(1)
        .step_by(2)
        .flat_map(|l| cells(l))
        .collect();
    assert_eq!(names.len(), values.len());
    assert_eq!(names.len(), 12, "{names:?}");
    let resources = &runs[0]["resources"];
    for (seed, key) in [
        ("CPU_LOAD", "cpu_load_process"),
        ("CPU_TEMPERATURE", "temperature"),
        ("GPU_LOAD", "gpu_load"),
        ("NPU_LOAD", "npu_load"),
        ("MEMORY_BW", "memory_bandwidth"),
        ("POWER", "power"),
    ] {
        let v = &values[names.iter().position(|n| n == seed).unwrap()];
        if resources[key]["unsupported"].is_string() {
            assert_eq!(v, "unsupported", "{seed}: {t}");
        } else {
            let x: f64 = v.parse().unwrap();
            assert!(
                (x - resources[key]["mean"].as_f64().unwrap()).abs() < 0.06,
                "{seed}"
            );
        }
    }

    // face.results.txt: the seed's predictions file, beside the JSON and
    // named after it; the tool says what it wrote.
    let results_file = json.with_file_name("face.results.txt");
    let results = std::fs::read_to_string(&results_file).unwrap();
    assert!(
        t.contains(&format!(
            "wrote {}, {}, {}, {}",
            json.display(),
            json.with_extension("html").display(),
            results_file.display(),
            csv.display()
        )),
        "{t}"
    );
    let face_lines: Vec<&str> = results
        .lines()
        .filter(|l| l.contains("astronaut.png"))
        .collect();
    assert_eq!(face_lines.len(), 2, "{results}");
    assert!(
        face_lines.iter().all(|l| l.contains("\"label\":\"face\"")),
        "{results}"
    );
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("onnxruntime"),
        "html report"
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("onnxruntime,steady,inference,6,")),
        "{csv}"
    );
    // Raw samples: 2 engines × 6 iterations × 4 anchors, plus the header.
    let samples = std::fs::read_to_string(&samples).unwrap();
    assert_eq!(samples.lines().count(), 1 + 2 * 6 * 4, "{samples}");

    // compare: a result against itself has no significant difference; a
    // copy with inference twice as fast is faster (judged even if the run
    // read NOISY: the statistics are under test here).
    let o = host(&[
        "compare",
        json.to_str().unwrap(),
        json.to_str().unwrap(),
        "--allow-noisy",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("no significant difference") && !t.contains("faster"),
        "{t}"
    );
    // Both sides ten times tighter than this run (a loaded machine can
    // spread its 6 samples as wide as their mean), B ten times faster.
    let copy = |speed: f64, name: &str| {
        let mut c = r.clone();
        for run in c["runs"].as_array_mut().unwrap() {
            let s = &mut run["phases"]["steady"]["anchors"]["inference"]["real_ms"];
            for k in ["mean", "min", "max", "p50", "p90", "p95", "p99", "p99_9"] {
                s[k] = (s[k].as_f64().unwrap() * speed).into();
            }
            s["var"] = (s["var"].as_f64().unwrap() * 0.01 * speed * speed).into();
            s["std"] = (s["std"].as_f64().unwrap() * 0.1 * speed).into();
        }
        let path = out.path().join(name);
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        path
    };
    let (a, b) = (copy(1.0, "a.json"), copy(0.1, "b.json"));
    let o = host(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--allow-noisy",
    ]);
    let t = text(&o);
    // The table's rows (a NOISY run's warnings may name the stage too).
    let inference: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("  inference "))
        .collect();
    assert_eq!(inference.len(), 2, "{t}");
    assert!(
        inference
            .iter()
            .all(|l| l.ends_with("faster") && l.contains("-90.00")),
        "{t}"
    );
}

#[test]
fn ctrl_c_writes_the_results_so_far_marked_partial() {
    interrupted_by(libc::SIGINT, "lne");
}

/// `timeout`, systemd, containers and CI stop a process with SIGTERM.
#[test]
fn sigterm_writes_the_results_so_far_marked_partial() {
    interrupted_by(libc::SIGTERM, "lne");
}

/// With several engines each runs in a child: the signal the parent gets
/// reaches the running engine, which reports what it measured; the next
/// engine never starts.
#[test]
fn sigterm_stops_a_several_engine_benchmark_in_its_first_engine() {
    interrupted_by(libc::SIGTERM, "lne,onnxruntime");
}

/// The peak resident memory of ONNX Runtime's run, from a result.
fn rss_peak_mib(result: &Value, engine: &str) -> f64 {
    let run = result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["engine"] == engine)
        .unwrap_or_else(|| panic!("no {engine} run in {result}"));
    run["resources"]["memory_rss_peak"]["peak"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}", run["resources"]["memory_rss_peak"]))
}

/// Engines share nothing in a several-engine benchmark: ONNX Runtime's peak
/// memory after LNE is what it is alone (within 5 %), where one process
/// would carry LNE's libraries, arenas and threads into ONNX Runtime's row.
#[test]
fn each_engines_memory_is_its_own_in_a_several_engine_benchmark() {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let peak = |engines: &str, extra: &[&str]| {
        let json = out.path().join(format!("{engines}{}.json", extra.len()));
        let mut args = vec![
            "--engine",
            engines,
            "--number",
            "2",
            "--warmup",
            "1",
            "--filename",
            json.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = face_benchmark(data.path(), &args);
        assert!(o.status.success(), "{}", text(&o));
        rss_peak_mib(&read_json(&json), "onnxruntime")
    };
    let alone = peak("onnxruntime", &[]);
    let after_lne = peak("lne,onnxruntime", &[]);
    assert!(
        (after_lne - alone).abs() <= 0.05 * alone,
        "onnxruntime alone {alone:.1} MiB, after lne {after_lne:.1} MiB"
    );
    // The test tells the two apart: in one process LNE's memory shows.
    let same_process = peak("lne,onnxruntime", &["--same-process"]);
    assert!(
        same_process > alone * 1.05,
        "onnxruntime alone {alone:.1} MiB, after lne in one process {same_process:.1} MiB"
    );
}

fn interrupted_by(signal: libc::c_int, engines: &str) {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("partial.json");
    let samples = out.path().join("samples.csv");
    let child = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args([
            "benchmark",
            "examples/face-detection/app.json",
            "--dataset",
            data.path().to_str().unwrap(),
            "--duration",
            "120",
            "--warmup",
            "1",
            "--filename",
            json.to_str().unwrap(),
            "--samples",
            samples.to_str().unwrap(),
            "--engine",
            engines,
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the steady state has started (samples reach the file in
    // 8 KiB blocks), then interrupt.
    let start = Instant::now();
    while std::fs::metadata(&samples).map_or(0, |m| m.len()) < 8192 {
        assert!(start.elapsed() < Duration::from_secs(60), "no steady state");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: sends a signal to the child we spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(130), "{t}");
    // Every sample row is whole.
    let csv = std::fs::read_to_string(&samples).unwrap();
    assert!(csv.ends_with('\n'), "the last row is cut");
    assert!(
        csv.lines().all(|l| l.split(',').count() == 8),
        "a row is cut"
    );
    assert!(t.contains("PARTIAL") && t.contains("interrupted"), "{t}");
    let r = read_json(&json);
    validate(&r);
    assert_eq!(r["partial"], true);
    assert_eq!(r["runs"].as_array().unwrap().len(), 1, "{}", r["runs"]);
    let run = &r["runs"][0];
    assert_eq!(run["state"], "partial");
    let steady = &run["phases"]["steady"];
    assert_eq!(steady["ended_by"], "interrupted");
    assert!(steady["iterations"].as_u64().unwrap() > 10, "{steady}");
    assert!(steady["seconds"].as_f64().unwrap() < 100.0);
}

#[test]
fn bad_datasets_are_refused_with_the_file_named_and_nothing_written() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    let run = |dataset: &Path| {
        host(&[
            "benchmark",
            "examples/face-detection/app.json",
            "--dataset",
            dataset.to_str().unwrap(),
            "--number",
            "1",
            "--filename",
            json.to_str().unwrap(),
        ])
    };
    let empty = tempfile::tempdir().unwrap();
    let o = run(empty.path());
    let t = text(&o);
    assert!(!o.status.success());
    assert!(
        t.contains("the folder is empty") && t.contains(&empty.path().display().to_string()),
        "{t}"
    );

    let texts = tempfile::tempdir().unwrap();
    std::fs::write(texts.path().join("notes.txt"), "hello").unwrap();
    let t = text(&run(texts.path()));
    assert!(
        t.contains("no input file (.png") && t.contains("1 file(s)"),
        "{t}"
    );

    let fake = tempfile::tempdir().unwrap();
    std::fs::write(fake.path().join("cat.png"), "not really a png").unwrap();
    let t = text(&run(fake.path()));
    assert!(t.contains("cat.png") && t.contains("not an image"), "{t}");

    let t = text(&run(&out.path().join("missing")));
    assert!(t.contains("missing"), "{t}");
    assert!(!json.exists(), "no result for a refused run");

    let data = dataset();
    let o = face_benchmark(data.path(), &["--engine", "lne,warp9"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("unknown engine 'warp9'"),
        "{t}"
    );
}

#[test]
fn wide_text_has_every_statistic_and_each_resources_source_or_reason() {
    let data = dataset();
    let o = face_benchmark(data.path(), &["--number", "1", "--wide"]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    for header in ["real std ms", "p99.9 ms", "CI95 high ms", "alloc KiB"] {
        assert!(t.contains(header), "{header}: {t}");
    }
    // One seed list pair, and every resource with its source or reason.
    assert_eq!(t.lines().filter(|l| l.starts_with("[ '")).count(), 3, "{t}");
    assert!(t.contains("getrusage(RUSAGE_SELF)"), "{t}");
    assert!(!t.contains("not measured here"), "{t}");
}

#[test]
fn unwritable_outputs_are_refused_before_the_run_naming_the_users_path() {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let run = |flag: &str, path: &Path| {
        let start = Instant::now();
        let o = face_benchmark(
            data.path(),
            &["--duration", "30", flag, path.to_str().unwrap()],
        );
        // Refused up front: nothing near the 30 s run happened.
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{flag} ran first"
        );
        assert!(!o.status.success(), "{flag} {}", path.display());
        text(&o)
    };
    // A folder given as the file.
    let t = run("--filename", out.path());
    assert!(
        t.contains(&format!("{} is a folder", out.path().display())),
        "{t}"
    );
    // A folder that cannot be written (a file stands where it should be).
    std::fs::write(out.path().join("blocker"), "x").unwrap();
    let bad = out.path().join("blocker/face.json");
    for flag in ["--filename", "--csv", "--samples"] {
        let t = run(flag, &bad);
        assert!(
            t.contains(&format!("{flag}: cannot write {}", bad.display())),
            "{t}"
        );
        // No other path under the output folder (a temporary file) named.
        let others = t.replace(&bad.display().to_string(), "");
        assert!(
            !others.contains(&out.path().display().to_string()),
            "a temporary file named: {t}"
        );
    }
    // Nothing left behind.
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["blocker"], "{left:?}");
}

#[test]
fn inspect_prints_totals_and_layers() {
    let o = host(&[
        "inspect",
        "assets/models/face_detection_short_range.onnx",
        "--json",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["parameters"], 101484);
    assert_eq!(
        m["flops"].as_u64().unwrap(),
        2 * m["macs"].as_u64().unwrap()
    );
    assert!(m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["op_type"] == "Conv" && l["macs"].as_u64().unwrap() > 0));

    // A TFLite model is read from its own flatbuffer; a file that is no
    // model is refused with its name.
    let o = host(&["inspect", "assets/models/face_detection_short_range.tflite"]);
    let t = text(&o);
    assert!(
        o.status.success() && t.contains("(TFLite)") && t.contains("CONV_2D"),
        "{t}"
    );
    let o = host(&["inspect", "assets/labels/face.txt"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("assets/labels/face.txt"),
        "{t}"
    );
}

#[test]
fn compare_refuses_a_file_that_is_not_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    std::fs::write(&a, r#"{"name": "not a benchmark"}"#).unwrap();
    let o = host(&["compare", a.to_str().unwrap(), a.to_str().unwrap()]);
    let t = text(&o);
    assert!(!o.status.success());
    assert!(t.contains("a.json") && t.contains("`schema`"), "{t}");
}

#[test]
fn cooldown_waits_for_a_sensor_or_says_there_is_none() {
    let data = dataset();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    let o = host(&[
        "benchmark",
        "examples/face-detection/app.json",
        "--dataset",
        data.path().to_str().unwrap(),
        "--number",
        "1",
        "--warmup",
        "1",
        "--cooldown",
        "150",
        "--filename",
        json.to_str().unwrap(),
    ]);
    let t = text(&o);
    let has_sensor = std::fs::read_dir("/sys/class/thermal").is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with("thermal_zone")
                && std::fs::read_to_string(e.path().join("temp")).is_ok()
        })
    }) || std::fs::read_dir("/sys/class/hwmon").is_ok_and(|d| {
        d.flatten().any(|e| {
            std::fs::read_dir(e.path()).is_ok_and(|f| {
                f.flatten().any(|f| {
                    let n = f.file_name().to_string_lossy().into_owned();
                    n.starts_with("temp") && n.ends_with("_input")
                })
            })
        })
    });
    if has_sensor {
        // Below 150 °C already: no wait, and the reading is recorded.
        assert!(o.status.success(), "{t}");
        let r = read_json(&json);
        let c = &r["runs"][0]["cooldown"];
        assert_eq!(c["target_c"], 150.0);
        assert!(c["end_c"].as_f64().unwrap() <= 150.0, "{c}");
    } else {
        assert!(!o.status.success(), "{t}");
        assert!(
            t.contains("cannot cool down: no readable temperature sensor"),
            "{t}"
        );
        assert!(!json.exists(), "nothing written for a refused run");
    }
}

/// Strips terminal control sequences (colours, cursor moves).
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).replace('\r', "\n");
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[test]
fn progress_names_engine_phase_unit_p50_and_eta_on_a_terminal() {
    // The bar is drawn only to a terminal: run under script(1)'s pty.
    let data = dataset();
    let cmd = format!(
        "stty cols 100; {} benchmark examples/face-detection/app.json --dataset {} \
         --engine lne,onnxruntime --duration 1.5 --warmup 20",
        env!("CARGO_BIN_EXE_lpdnn-host"),
        data.path().display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .output()
        .expect("script(1) from util-linux");
    let screen = plain(&out.stdout);
    assert!(out.status.success(), "{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for needle in [
        "lne (1/2) load",
        "lne (1/2) warm-up [",
        "/20 it  p50 ",
        "onnxruntime (2/2) steady [",
        "/1.5 s, ",
        " ms  ETA ",
    ] {
        assert!(has(needle), "no '{needle}' in:\n{screen}");
    }
    // No full bar or 0/0 while loading: load shows a spinner and words.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("load [") || l.contains(" 0/0")),
        "{screen}"
    );
    assert!(
        lines.iter().all(|l| l.trim_end().chars().count() <= 100),
        "{screen}"
    );
}

/// `lpdnn-host benchmark` of the BlazeFace ONNX model alone, for `number`
/// passes under `umask`, with `args`; the result's path.
fn bare_benchmark_under_umask(dir: &Path, umask: u32, args: &[&str]) -> std::path::PathBuf {
    use std::os::unix::process::CommandExt;
    let json = dir.join("r.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"));
    cmd.args(["benchmark", "assets/models/face_detection_short_range.onnx"])
        .args(["--warmup", "1", "--no-monitors", "--filename"])
        .arg(&json)
        .args(args)
        .current_dir(root());
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    json
}

#[test]
fn result_files_honour_the_umask_as_cp_would() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, want) in [(0o022, 0o644), (0o027, 0o640)] {
        let dir = tempfile::tempdir().unwrap();
        let json = bare_benchmark_under_umask(dir.path(), umask, &["--number", "1"]);
        for f in [
            json.clone(),
            json.with_extension("html"),
            dir.path().join("r.results.txt"),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode,
                want,
                "{} under umask {umask:03o}: {mode:03o}",
                f.display()
            );
        }
    }
}

#[test]
fn iterations_and_n_are_aliases_of_number() {
    for flag in ["-n", "--iterations"] {
        let dir = tempfile::tempdir().unwrap();
        let json = bare_benchmark_under_umask(dir.path(), 0o022, &[flag, "3"]);
        let r = read_json(&json);
        assert_eq!(r["config"]["number"], 3, "{flag}");
        assert_eq!(r["runs"][0]["phases"]["steady"]["iterations"], 3, "{flag}");
    }
    let help = String::from_utf8_lossy(&host(&["benchmark", "--help"]).stdout).into_owned();
    assert!(
        help.contains("-n, --number <NUMBER>") && help.contains("[alias: --iterations]"),
        "{help}"
    );
}

#[test]
fn several_engines_say_which_is_fastest_in_one_line_with_one_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let o = host(&[
        "benchmark",
        "assets/models/face_detection_short_range.onnx",
        "--engine",
        "lne,onnxruntime",
        "--number",
        "30",
        "--warmup",
        "3",
        "--no-monitors",
        "--filename",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", text(&o));
    let r = read_json(&json);
    let runs = r["runs"].as_array().unwrap();
    let mean = |run: &Value| {
        run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"]
            .as_f64()
            .unwrap()
    };
    let fastest = runs
        .iter()
        .min_by(|a, b| mean(a).total_cmp(&mean(b)))
        .unwrap();
    let other = runs
        .iter()
        .find(|r| r["engine"] != fastest["engine"])
        .unwrap();
    let engine = fastest["engine"].as_str().unwrap();
    // One line (two with long names), within 100 columns.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("fastest: "))
        .unwrap();
    let said: Vec<&str> = std::iter::once(lines[at])
        .chain(
            lines[at + 1..]
                .iter()
                .copied()
                .take_while(|l| l.starts_with("    ")),
        )
        .collect();
    assert!(said.iter().all(|l| l.chars().count() <= 100), "{said:?}");
    let line = said.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    assert_eq!(stdout.matches("fastest: ").count(), 1, "{stdout}");
    assert!(
        line.starts_with(&format!("fastest: {engine} "))
            && line.contains(" ms (inference, 95 % CI)"),
        "{line}"
    );
    let ci = |run: &Value, i: usize| {
        run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["ci95"][i]
            .as_f64()
            .unwrap()
    };
    let other_name = other["engine"].as_str().unwrap();
    if ci(other, 0) <= ci(fastest, 1) {
        assert!(
            line.contains(&format!("; {other_name} within it")),
            "{line}"
        );
    } else {
        assert!(line.contains("; the others beyond it"), "{line}");
    }
    let p99 = |run: &Value| {
        run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["p99"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        line.contains(&format!("; p99 lower: {other_name} ")),
        p99(other) < p99(fastest),
        "{line}"
    );
    // The HTML's headline names the same engine.
    let html = std::fs::read_to_string(json.with_extension("html")).unwrap();
    assert!(
        html.contains(&format!("Fastest here: <b>{engine}</b>")),
        "{engine}"
    );
    // One throughput, inputs/s over the steady state: no per-stage calls/s.
    assert!(!stdout.contains("calls/s"), "{stdout}");
    for run in runs {
        let tput = run["phases"]["steady"]["throughput_per_s"]
            .as_f64()
            .unwrap();
        assert!(
            stdout.contains(&format!(", {tput:.2} inputs/s")),
            "{}: {tput:.2}\n{stdout}",
            run["engine"]
        );
    }
}
