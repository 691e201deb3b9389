//! Helpers shared by the end-to-end tests. The assets come from
//! `scripts/setup.sh`; a missing asset fails the test with that hint.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lpdnn_app::{Runtime, RuntimeConfig};
use lpdnn_runtime::Limits;
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A file under `assets/`, which must exist.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join("assets").join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh first",
        p.display()
    );
    p
}

/// An example app file.
pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name).join("app.json")
}

/// A runtime with its own empty component cache.
pub fn runtime(cache: &Path) -> Runtime {
    runtime_with(cache, Limits::default())
}

/// A runtime with its own component cache and the given limits.
pub fn runtime_with(cache: &Path, limits: Limits) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.to_owned()),
        limits,
    })
    .unwrap()
}

/// Writes a copy of an example app into `dir`, with every path made
/// absolute and `edit` applied to its JSON; returns the new file.
pub fn edited_app(example_name: &str, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let src = example(example_name);
    let base = src.parent().unwrap();
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let abs = |v: &mut Value| {
        if let Some(s) = v.as_str() {
            *v = Value::String(base.join(s).display().to_string());
        }
    };
    abs(&mut v["preprocessor"]["component"]);
    abs(&mut v["postprocessor"]["component"]);
    abs(&mut v["labels"]);
    for f in ["onnx", "tflite", "ncnn"] {
        let entry = &mut v["model"][f];
        if entry.is_object() {
            abs(&mut entry["file"]);
        } else {
            abs(entry);
        }
    }
    if let Some(m) = v["model"].as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    edit(&mut v);
    let out = dir.join("app.json");
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    out
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes.
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

/// Reads a `.npy` reference array (any float type) as f64, with its shape.
pub fn npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = f.shape().iter().map(|&d| d as usize).collect();
    let data = match f.dtype() {
        npyz::DType::Plain(t) if t.size_field() == 4 => f
            .into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        _ => f.into_vec::<f64>().unwrap(),
    };
    (shape, data)
}

/// Asserts `|got - want| <= atol + rtol * |want|` everywhere; the message
/// names the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, want {}",
        got.len(),
        want.len()
    );
    let (mut worst, mut at) = (0.0f64, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let excess = (f64::from(*g) - w).abs() - (atol + rtol * w.abs());
        if excess > worst {
            (worst, at) = (excess, i);
        }
    }
    assert!(
        worst <= 0.0,
        "{what}: element {at} is {} where the reference has {} (beyond atol {atol} + rtol {rtol})",
        got[at],
        want[at]
    );
}

/// A one-thread benchmark plan: one warm-up iteration, `number` steady ones,
/// no monitors, nothing else asked for.
pub fn bench_config(number: u64) -> lpdnn_bench::BenchConfig {
    lpdnn_bench::BenchConfig {
        threads: Some(1),
        device: None,
        warmup: lpdnn_bench::WarmupPlan::Iterations(1),
        stop: lpdnn_bench::Stop {
            number: Some(number),
            duration: Some(std::time::Duration::from_secs(60)),
        },
        monitors: None,
        cooldown: None,
        inference_only: false,
        layers: None,
        check_against: None,
    }
}

/// The provenance the tests give a benchmark.
pub fn test_build() -> lpdnn_bench::Build {
    lpdnn_bench::Build {
        version: "test".into(),
        commit: "test".into(),
        target: "test".into(),
        profile: "test".into(),
    }
}

/// Benchmarks `subject` on `engines` with `config`, unobserved; asserts that
/// no engine failed and gives their runs.
pub fn bench_runs(
    subject: lpdnn_bench::Subject,
    engines: &[&str],
    config: lpdnn_bench::BenchConfig,
) -> Vec<lpdnn_bench::EngineRun> {
    struct Quiet;
    impl lpdnn_bench::Observer for Quiet {}
    let cache = tempfile::tempdir().unwrap();
    let bench = lpdnn_bench::Benchmark {
        subject,
        engines: engines.iter().map(|e| e.to_string()).collect(),
        config,
        source: "test".into(),
        dataset: String::new(),
        title: None,
        build: test_build(),
    };
    let report = bench.run(&runtime(cache.path()), &mut Quiet);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.runs
}

/// The face-detection example app on the astronaut image.
pub fn face_app_on_astronaut() -> lpdnn_bench::Subject {
    let app = lpdnn_app::App::load(&example("face-detection")).unwrap();
    let image = lpdnn_engine_api::read_file(&asset("images/astronaut.png")).unwrap();
    lpdnn_bench::Subject::App {
        app: Box::new(app),
        inputs: vec![lpdnn_bench::Input {
            name: "astronaut.png".into(),
            bytes: image,
        }],
    }
}
