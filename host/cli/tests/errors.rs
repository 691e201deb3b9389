//! The errors a newcomer meets first: each says what is wrong once, names
//! the user's own words (file, folder, flag), and exits 1 with nothing
//! half printed.

mod common;

use common::{host, root, text};

use std::process::Command;

const APP: &str = "examples/face-detection/app.json";
const IMAGE: &str = "assets/images/astronaut.png";

/// Runs a command that must fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = host(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_os_error_is_said_once() {
    let err = fails(&["run", "missing/app.json", "--input", IMAGE]);
    assert!(err.contains("missing/app.json"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let err = fails(&["inspect", "missing.onnx"]);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn a_folder_given_as_the_app_means_its_app_json() {
    let out = host(&["run", "examples/face-detection", "--input", IMAGE]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("face 0.9"),
        "{}",
        text(&out)
    );
    let err = fails(&["run", "assets", "--input", IMAGE]);
    assert!(
        err.contains("assets is a folder without an app.json"),
        "{err}"
    );
}

#[test]
fn a_model_given_as_the_app_is_named_for_what_it_is() {
    for (model, kind) in [
        (
            "assets/models/face_detection_short_range.onnx",
            "an ONNX model",
        ),
        (
            "assets/models/face_detection_short_range.tflite",
            "a TFLite model",
        ),
    ] {
        for cmd in ["run", "benchmark"] {
            let mut args = vec![cmd, model];
            args.extend(if cmd == "run" {
                ["--input", IMAGE]
            } else {
                ["--dataset", "assets/images"]
            });
            let err = fails(&args);
            // `benchmark` times a bare model, but not over an app's dataset.
            let want = if cmd == "run" {
                format!("{model} is {kind}, not an app")
            } else {
                format!("--dataset is for an app; {model} is {kind}")
            };
            assert!(err.contains(&want), "{err}");
            assert!(!err.contains("UTF-8"), "{err}");
        }
    }
}

#[test]
fn an_engine_typo_gets_a_suggestion_and_is_not_blamed_on_the_app() {
    for (typo, meant) in [
        ("onnxrutime", "onnxruntime"),
        ("ncnnx", "ncnn"),
        ("tflite", "litert"),
    ] {
        let err = fails(&["run", APP, "--engine", typo, "--input", IMAGE]);
        assert!(err.contains(&format!("did you mean '{meant}'")), "{err}");
        assert!(err.contains("--engine"), "{err}");
        assert!(
            !err.contains("app.json"),
            "the flag is not the app's fault: {err}"
        );
        let err = fails(&[
            "benchmark",
            APP,
            "--engine",
            &format!("lne,{typo}"),
            "--dataset",
            "assets/images",
        ]);
        assert!(err.contains(&format!("did you mean '{meant}'")), "{err}");
    }
}

#[test]
fn a_failed_run_prints_no_empty_table() {
    let out = host(&["run", APP, "--input", "assets/labels/face.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Calls"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PNG, JPEG or PNM image"));
}

#[test]
fn litert_keeps_its_info_lines_off_stderr() {
    let out = host(&["run", APP, "--engine", "litert", "--input", IMAGE]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("INFO"), "{stderr}");
}

#[test]
fn help_speaks_of_every_kind_of_input() {
    let out = host(&["run", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["audio", "WAV", "signal", "folder"] {
        assert!(help.contains(word), "{word}: {help}");
    }
    let out = host(&["inspect", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("TFLite") && help.contains("NCNN"), "{help}");
}

/// Runs a command that must fail within 20 s (not hang, not eat memory).
fn fails_quickly(args: &[&str]) -> String {
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("{args:?} still runs after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn devices_fifos_and_huge_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("input.png");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a valid C path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    for (args, what) in [
        (vec!["run", APP, "--input", "/dev/zero"], "it is a device"),
        (vec!["inspect", "/dev/zero"], "it is a device"),
        (vec!["inspect", fifo], "it is a FIFO"),
        (vec!["run", APP, "--input", fifo], "it is a FIFO"),
        (vec!["run", "/dev/zero", "--input", IMAGE], "it is a device"),
    ] {
        let err = fails_quickly(&args);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    let err = fails_quickly(&[
        "--max-file-size",
        "100K",
        "inspect",
        "assets/models/face_detection_short_range.onnx",
    ]);
    assert!(err.contains("over the 102400-byte limit"), "{err}");
    assert!(
        err.contains("hint: raise the limit with --max-file-size"),
        "{err}"
    );
}

#[test]
fn thread_counts_beyond_the_machine_are_refused_before_any_engine_starts() {
    // 65 536 crashed libgomp (SIGSEGV); 10 000 kept tract spawning for 30 s.
    for engine in ["ncnn", "lne", "onnxruntime"] {
        let err = fails_quickly(&[
            "run",
            APP,
            "--engine",
            engine,
            "--threads",
            "65536",
            "--input",
            IMAGE,
        ]);
        assert!(
            err.contains("--threads: must lie in 1..="),
            "{engine}: {err}"
        );
    }
    let err = fails_quickly(&[
        "benchmark",
        APP,
        "--threads",
        "10000",
        "--dataset",
        "assets/images",
    ]);
    assert!(err.contains("--threads: must lie in 1..="), "{err}");
    // The same bound in app.json, named as its field.
    let dir = tempfile::tempdir().unwrap();
    let app = root().join(APP);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&app).unwrap()).unwrap();
    v["engine"]["threads"] = 32768.into();
    let base = app.parent().unwrap();
    for f in ["component"] {
        for side in ["preprocessor", "postprocessor"] {
            let p = v[side][f].as_str().unwrap().to_owned();
            v[side][f] = base.join(p).display().to_string().into();
        }
    }
    for f in ["onnx", "tflite", "ncnn"] {
        let entry = &mut v["model"][f];
        let entry = if entry.is_object() {
            &mut entry["file"]
        } else {
            entry
        };
        if let Some(p) = entry.as_str().map(str::to_owned) {
            *entry = base.join(p).display().to_string().into();
        }
    }
    if let Some(p) = v["labels"].as_str().map(str::to_owned) {
        v["labels"] = base.join(p).display().to_string().into();
    }
    let edited = dir.path().join("app.json");
    std::fs::write(&edited, v.to_string()).unwrap();
    let err = fails_quickly(&["run", edited.to_str().unwrap(), "--input", IMAGE]);
    assert!(
        err.contains("field `engine.threads`: must lie in 1..="),
        "{err}"
    );
}

/// Runs `benchmark-child` with `request` on its standard input.
fn child(request: &str) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .arg("benchmark-child")
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    c.wait_with_output().unwrap()
}

#[test]
fn a_benchmark_child_refuses_a_request_of_another_protocol_or_with_an_unknown_setting() {
    let err = |out: std::process::Output| {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(child(r#"{"protocol": 99, "subject": "m.onnx"}"#));
    assert!(
        e.contains("protocol 99") && e.contains("reads protocol 1"),
        "{e}"
    );
    let e = err(child(r#"{"protocol": 1, "subject": "m.onnx", "numbr": 3}"#));
    assert!(e.contains("numbr"), "{e}");
    let e = err(child("benchmark m.onnx --number 3"));
    assert!(e.contains("protocol (none)"), "{e}");
}

#[test]
fn a_benchmark_child_runs_its_request_and_reports_typed_events() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let request = serde_json::json!({
        "protocol": 1,
        "subject": APP,
        "dataset": "assets/images",
        "engines": ["onnxruntime"],
        "number": 1,
        "warmup": {"iterations": 1},
        "monitor_interval_ms": null,
        "filename": report,
    });
    let out = child(&request.to_string());
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("lpdnn-event "))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "progress" && e["phase"] == "steady"),
        "{stdout}"
    );
    let written = events.last().unwrap();
    assert_eq!(written["event"], "written", "{stdout}");
    assert_eq!(written["files"][0], report.to_str().unwrap(), "{stdout}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["runs"][0]["engine"], "onnxruntime");
    assert_eq!(r["runs"][0]["phases"]["steady"]["passes"], 1);
    assert_eq!(r["config"]["monitor_interval_ms"], serde_json::Value::Null);
}

#[test]
fn a_keras_file_given_as_the_app_is_named_with_how_to_freeze_it() {
    let dir = tempfile::tempdir().unwrap();
    let h5 = dir.path().join("model.h5");
    std::fs::write(&h5, b"\x89HDF\r\n\x1a\n\0\0\0\0").unwrap();
    let err = fails(&["run", h5.to_str().unwrap(), "--input", IMAGE]);
    assert!(
        err.contains("is an HDF5 file (a Keras .h5 model), not an app;"),
        "{err}"
    );
    assert!(err.contains("convert_variables_to_constants_v2"), "{err}");
    assert!(!err.contains("JSON"), "{err}");
}
