//! The `lpdnn-host` binary as a user runs it: output, exit codes, JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn lpdnn_host(args: &[&str], cache: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(args)
        .current_dir(root())
        .env("LPDNN_CACHE_DIR", cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_prints_the_face_and_the_stage_table() {
    let cache = tempfile::tempdir().unwrap();
    let out = lpdnn_host(
        &[
            "run",
            "examples/face-detection/app.json",
            "--input",
            "assets/images/astronaut.png",
        ],
        cache.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("astronaut.png: 1 object(s)"), "{stdout}");
    assert!(stdout.contains("face 0.92"), "{stdout}");
    for col in [
        "Calls", "Real", "CPU", "Real STD", "CPU STD", "Real VAR", "CPU VAR", "Plugin",
    ] {
        assert!(stdout.contains(col), "column {col}: {stdout}");
    }
    for row in [
        "preprocess",
        "inference",
        "postprocess",
        "total",
        "engines/lne",
        "detection.wasm",
    ] {
        assert!(stdout.contains(row), "row {row}: {stdout}");
    }
}

#[test]
fn run_writes_the_json_report() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = lpdnn_host(
        &[
            "run",
            "examples/image-classification/app.json",
            "--input",
            "assets/images",
            "--json",
            json.to_str().unwrap(),
        ],
        cache.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["app"], "image-classification-efficientnet-lite0");
    assert_eq!(v["engine"], "lne");
    // The folder holds astronaut.png and chelsea.png, run in name order.
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2);
    assert!(preds[1]["input"].as_str().unwrap().ends_with("chelsea.png"));
    assert_eq!(preds[1]["classes"][0]["id"], 285);
    assert_eq!(preds[1]["classes"][0]["label"], "Egyptian cat");
    for stage in ["preprocess", "inference", "postprocess", "total"] {
        let a = &v["anchors"][stage];
        assert_eq!(a["calls"], 2, "{stage}");
        for clock in ["real_ms", "cpu_ms"] {
            for stat in ["mean", "std", "var"] {
                assert!(a[clock][stat].is_f64(), "{stage}.{clock}.{stat}");
            }
        }
        assert!(a["real_ms"]["mean"].as_f64().unwrap() > 0.0);
    }
    // Nothing but the report is left in the folder (no temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_app_exits_non_zero_naming_file_and_field() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.json");
    std::fs::write(&app, r#"{"name": "x", "class": "image_classification"}"#).unwrap();
    let out = lpdnn_host(
        &[
            "run",
            app.to_str().unwrap(),
            "--input",
            "assets/images/chelsea.png",
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("app.json") && stderr.contains("missing field `preprocessor`"),
        "{stderr}"
    );
}

#[test]
fn a_bad_input_fails_the_run_but_the_others_are_reported() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let json = dir.path().join("out.json");
    let out = lpdnn_host(
        &[
            "run",
            "examples/face-detection/app.json",
            "--input",
            bad.to_str().unwrap(),
            "--input",
            "assets/images/astronaut.png",
            "--json",
            json.to_str().unwrap(),
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken.png") && stderr.contains("invalid input"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("astronaut.png: 1 object(s)"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn a_missing_input_exits_non_zero() {
    let cache = tempfile::tempdir().unwrap();
    let out = lpdnn_host(
        &[
            "run",
            "examples/face-detection/app.json",
            "--input",
            "no/such.png",
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no/such.png"));
}
