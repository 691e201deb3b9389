//! Helpers shared by the binary's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub mod baas;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A file under `assets/`, which must exist.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join("assets").join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

/// stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A dataset folder with both real images.
pub fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for img in ["astronaut.png", "chelsea.png"] {
        std::fs::copy(root().join("assets/images").join(img), dir.path().join(img)).unwrap();
    }
    dir
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Asserts that a result follows `schemas/benchmark.schema.json`.
pub fn validate(result: &Value) {
    let schema = read_json(&root().join("schemas/benchmark.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(result)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// `lpdnn-host benchmark examples/face-detection/app.json --dataset DATA`
/// with `args`, run from the repository root.
pub fn face_benchmark(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(["benchmark", "examples/face-detection/app.json", "--dataset"])
        .arg(data)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// Runs `lpdnn-host` with `args` from the repository root.
pub fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `lpdnn-host package` of the face app for `platform` with `engines`
/// (comma-separated) into `out`, which must succeed; its output.
pub fn face_package(platform: &str, engines: &str, out: &Path) -> Output {
    let o = host(&[
        "package",
        "--platform",
        platform,
        "--engines",
        engines,
        "--app",
        "examples/face-detection",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    o
}
