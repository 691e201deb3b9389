//! What the worker's sandbox costs a benchmark: the same
//! `lpdnn-host benchmark` (BlazeFace on ONNX Runtime and LNE, one thread,
//! 300 iterations) run directly and inside `lpdnn_worker::sandbox::run`,
//! alternating which goes first, six rounds; prints each side's median inference mean and
//! their ratio (goal: within noise, ±2 %). Run after building the binary:
//! `cargo build --release -p lpdnn-cli && cargo bench --bench sandbox`.

use std::path::{Path, PathBuf};
use std::process::Command;

use lpdnn_worker::{sandbox, Limits};

fn binary() -> PathBuf {
    // target/release/deps/sandbox-… → target/release/lpdnn-host
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("lpdnn-host")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn args(engine: &str, model: &str, out: &str) -> Vec<String> {
    [
        "benchmark",
        model,
        "--engine",
        engine,
        "--threads",
        "1",
        "--number",
        "300",
        "--warmup",
        "30",
        "--no-monitors",
        "--filename",
        out,
    ]
    .map(String::from)
    .to_vec()
}

fn inference_mean(report: &serde_json::Value) -> f64 {
    report["runs"][0]["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"]
        .as_f64()
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let host = binary();
    assert!(host.is_file(), "build lpdnn-host first: {}", host.display());
    let model = root().join("assets/models/face_detection_short_range.onnx");
    let tmp = tempfile::tempdir().unwrap();
    for engine in ["onnxruntime", "lne"] {
        let (mut direct, mut boxed) = (Vec::new(), Vec::new());
        let run_direct = || {
            let out = tmp.path().join("direct.json");
            let status = Command::new(&host)
                .args(args(engine, model.to_str().unwrap(), out.to_str().unwrap()))
                .output()
                .unwrap();
            assert!(status.status.success());
            inference_mean(&serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap())
        };
        // Alternating which goes first, so that neither always follows the other.
        for round in 0..6 {
            if round % 2 == 0 {
                direct.push(run_direct());
            }
            let (run, report) = sandbox::run(
                &host,
                &args(engine, "model.onnx", "report.json"),
                &Limits::default(),
                |dir| std::fs::copy(&model, dir.join("model.onnx")).map(|_| ()),
                |dir| std::fs::read(dir.join("report.json")).ok(),
            )
            .unwrap();
            assert_eq!(run.ended, sandbox::Ended::Exited(0), "{}", run.stderr);
            boxed.push(inference_mean(
                &serde_json::from_slice(&report.unwrap()).unwrap(),
            ));
            if round % 2 == 1 {
                direct.push(run_direct());
            }
        }
        let (d, b) = (median(direct), median(boxed));
        println!(
            "{engine:12} inference mean: direct {d:.3} ms, sandboxed {b:.3} ms, ratio {:.3}",
            b / d
        );
    }
}
