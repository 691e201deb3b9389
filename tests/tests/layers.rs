//! `benchmark --layers`: per-layer times of ONNX Runtime and LNE on the same
//! models, named after the same source nodes, summing to the inference they
//! were measured in; the app's own model profiled in place; LiteRT's
//! XNNPACK operators by type; NCNN's layers by extracting their blobs.

mod common;

use common::{asset, bench_config, bench_runs, face_app_on_astronaut};
use lpdnn_bench::{BenchConfig, EngineRun, ModelInputs, Subject, WarmupPlan};
use std::collections::BTreeSet;

/// One profiled benchmark at a time: the layers' means are set against
/// run medians, and the tests of this file side by side on 2 cores took
/// NCNN's layers to 1.3-1.6 of its unprofiled run (0.99-1.06 alone).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bench(subject: Subject, engines: &[&str], layers: u64) -> Vec<EngineRun> {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = BenchConfig {
        warmup: WarmupPlan::Iterations(2),
        layers: Some(layers),
        ..bench_config(5)
    };
    bench_runs(subject, engines, config)
}

fn model(file: &str) -> Subject {
    Subject::Model {
        path: asset(&format!("models/{file}")),
        inputs: ModelInputs::Synthetic {
            shapes: Default::default(),
            seed: 1,
        },
    }
}

/// The model's convolutions and matrix products, as `inspect` names them.
fn compute_nodes(file: &str) -> BTreeSet<String> {
    lpdnn_inspect::inspect(&asset(&format!("models/{file}")))
        .unwrap()
        .layers
        .into_iter()
        .filter(|l| matches!(l.op_type.as_str(), "Conv" | "Gemm" | "MatMul"))
        .map(|l| l.name)
        .collect()
}

#[test]
fn onnx_runtime_and_lne_time_every_convolution_under_the_same_name() {
    // The optimised graphs ONNX Runtime 1.32 saves fuse 42 of EfficientNet's
    // convolutions with their activation (and residual sum), 3 of BlazeFace's.
    for (file, min_coverage, min_fused) in [
        ("efficientnet_lite0.onnx", [0.9, 0.9], 40),
        // BlazeFace's 87 kernels take 7 µs each on ONNX Runtime: its
        // profiler's own work between kernels is a third of a profiled run.
        ("face_detection_short_range.onnx", [0.9, 0.5], 3),
    ] {
        let runs = bench(model(file), &["lne", "onnxruntime"], 30);
        let nodes = compute_nodes(file);
        assert!(nodes.len() > 30, "{file}: {nodes:?}");
        for (run, min_coverage) in runs.iter().zip(min_coverage) {
            let what = format!("{file} on {}", run.engine);
            let layers = run
                .layers
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: {:?}", run.warnings));
            assert_eq!(layers.runs, 30, "{what}");
            // The layers account for the profiled runs' time. Their means
            // are set against the runs' median: on a loaded machine (the
            // test suite runs tests side by side) a skewed mean may pass it
            // by a few per cent (1.056 seen once).
            let coverage = layers.layers_ms / layers.profiled_ms;
            assert!(
                (min_coverage..=1.15).contains(&coverage),
                "{what}: layers sum to {} of {} ms",
                layers.layers_ms,
                layers.profiled_ms
            );
            let shares: f64 = layers.layers.iter().map(|l| l.share).sum();
            assert!((shares - 1.0).abs() < 1e-6, "{what}: {shares}");
            assert!(
                layers.layers.windows(2).all(|w| w[0].ms >= w[1].ms),
                "{what}"
            );
            // Every convolution has a row of its own, under its source name
            // (none is fused into another node on either engine).
            let named: BTreeSet<String> = layers
                .layers
                .iter()
                .filter_map(|l| l.node.clone())
                .collect();
            let missing: Vec<_> = nodes.difference(&named).collect();
            assert!(missing.is_empty(), "{what}: no row for {missing:?}");
            // Its MACs from the static metrics and what it achieved.
            let slowest_conv = layers
                .layers
                .iter()
                .find(|l| l.node.as_ref().is_some_and(|n| nodes.contains(n)))
                .unwrap();
            let gflops = slowest_conv.gflops.unwrap();
            assert!(
                slowest_conv.macs.unwrap() > 100_000 && (0.1..1000.0).contains(&gflops),
                "{what}: {slowest_conv:?}"
            );
        }
        // The activations ONNX Runtime fused are named in their convolution's row.
        let ort = runs[1].layers.as_ref().unwrap();
        let fused = ort.layers.iter().filter(|l| !l.fused.is_empty()).count();
        assert!(
            fused >= min_fused,
            "{file}: {fused} fused layers on onnxruntime"
        );
    }
}

#[test]
fn an_apps_model_is_profiled_in_its_pipeline_and_the_cost_of_profiling_is_measured() {
    let subject = face_app_on_astronaut();
    let runs = bench(subject, &["lne"], 20);
    let layers = runs[0].layers.as_ref().unwrap();
    assert_eq!(layers.runs, 20);
    // Measured alternately with the benchmark's own model: LNE's profiler
    // is a clock read around each node.
    assert!(
        (0.8..1.3).contains(&(layers.profiled_ms / layers.unprofiled_ms)),
        "{layers:?}"
    );
    // The steady state was measured on the unprofiled model, as before.
    assert!(runs[0].phases.steady.is_some());
}

#[test]
fn ncnn_times_each_layer_of_its_param_by_extracting_its_blob() {
    let param = "face_detection_short_range.ncnn.param";
    let runs = bench(model(param), &["ncnn"], 20);
    let layers = runs[0]
        .layers
        .as_ref()
        .unwrap_or_else(|| panic!("{:?}", runs[0].warnings));
    assert_eq!(layers.runs, 20);
    // One row per layer of the .param but its input, named as `inspect`
    // names it.
    let inspected = lpdnn_inspect::inspect(&asset(&format!("models/{param}"))).unwrap();
    let expected: BTreeSet<&str> = inspected
        .layers
        .iter()
        .filter(|l| l.op_type != "Input")
        .map(|l| l.name.as_str())
        .collect();
    let named: BTreeSet<&str> = layers
        .layers
        .iter()
        .filter_map(|l| l.node.as_deref())
        .collect();
    assert_eq!(named, expected);
    // A convolution is the slowest layer; a .param's layers have no MACs
    // counted. The layers sum to the unprofiled inference (0.99-1.06 seen;
    // the second extract of each blob, taken off, doubles the profiled run).
    assert!(
        layers.layers[0].op.starts_with("Convolution"),
        "{:?}",
        layers.layers[0]
    );
    assert!(layers.layers.iter().all(|l| l.macs.is_none()), "{layers:?}");
    let coverage = layers.layers_ms / layers.unprofiled_ms;
    assert!(
        (0.85..=1.15).contains(&coverage),
        "layers sum to {} of {} ms unprofiled ({} ms profiled)",
        layers.layers_ms,
        layers.unprofiled_ms,
        layers.profiled_ms
    );
    assert!(runs[0].phases.steady.is_some());
}

#[test]
fn litert_times_xnnpacks_operators_by_type() {
    let runs = bench(
        model("face_detection_short_range_fp32.tflite"),
        &["litert"],
        20,
    );
    let layers = runs[0].layers.as_ref().expect("LiteRT's profiler");
    assert_eq!(layers.runs, 20);
    // XNNPACK names its own operators, not the model's: one row per
    // operator type, none named after a node.
    assert!(layers.layers.iter().all(|l| l.node.is_none()), "{layers:?}");
    let ops: Vec<&str> = layers.layers.iter().map(|l| l.op.as_str()).collect();
    for op in [
        "Convolution (NHWC, F32) IGEMM",
        "Convolution (NHWC, F32) DWConv",
    ] {
        assert!(ops.contains(&op), "{ops:?}");
    }
    // BlazeFace's 89 operators, each timed in whole microseconds.
    let operators: usize = layers.layers.iter().map(|l| l.engine_layers.len()).sum();
    assert!((80..100).contains(&operators), "{operators}");
    // Means against the runs' median, as above: a few per cent over 100 %
    // on a loaded machine. XNNPACK truncates each of its 89 operators of a
    // few µs to whole µs, and what a busy machine adds between them is no
    // operator's: 78 % alone, 49 % once with other tests running (stop 38).
    let coverage = layers.layers_ms / layers.profiled_ms;
    assert!((0.3..=1.15).contains(&coverage), "{coverage}");
}
