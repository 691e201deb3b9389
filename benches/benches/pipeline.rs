//! Benchmarks of the host's own costs:
//! - the image pre-processor in wasm vs the same Rust code compiled natively
//!   (goal: wasm ≤ 1.15× native), on a PPM input (decode ≈ a copy, so the
//!   resize/normalize kernel dominates) and on a PNG input (decode dominates);
//! - one timing anchor (goal ≤ 100 ns);
//! - a warm component call with a tiny payload.
//!
//! Needs `scripts/setup.sh` (components and images under `assets/`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lpdnn_anchors::{Anchors, Mark};
use lpdnn_benches::{asset, ppm};
use lpdnn_runtime::{Runtime, RuntimeConfig};

const PARAMS: &str =
    r#"{"width": 224, "height": 224, "mean": [127.5, 127.5, 127.5], "std": [128, 128, 128]}"#;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: RuntimeConfig::default_cache_dir(),
        ..Default::default()
    })
    .unwrap()
}

fn preprocess(c: &mut Criterion) {
    let rt = runtime();
    let mut wasm = rt
        .preprocessor(&asset("components/image_preprocess.wasm"), PARAMS, &[])
        .unwrap();
    let params = imageproc_core::Params::from_json(PARAMS).unwrap();
    let inputs = [
        ("chelsea.ppm", ppm("images/chelsea.png")),
        (
            "chelsea.png",
            std::fs::read(asset("images/chelsea.png")).unwrap(),
        ),
    ];
    let mut g = c.benchmark_group("preprocess_224");
    for (name, bytes) in &inputs {
        g.bench_with_input(BenchmarkId::new("native", name), bytes, |b, bytes| {
            b.iter(|| {
                let img = imageproc_core::decode(bytes, params.max_pixels).unwrap();
                imageproc_core::preprocess(&img, &params).unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("wasm", name), bytes, |b, bytes| {
            b.iter(|| wasm.process(bytes).unwrap())
        });
    }
    g.finish();
}

fn anchor(c: &mut Criterion) {
    let mut anchors = Anchors::default();
    c.bench_function("anchor/mark+elapsed+record", |b| {
        b.iter(|| {
            let m = Mark::now();
            anchors.record("inference", m.elapsed());
        })
    });
    c.bench_function("anchor/thread_cpu_time", |b| {
        b.iter(lpdnn_anchors::thread_cpu_time)
    });
    c.bench_function("anchor/instant_now", |b| b.iter(std::time::Instant::now));
}

fn component_call(c: &mut Criterion) {
    let rt = runtime();
    let mut hostile = rt
        .preprocessor(&asset("components/testing/hostile.wasm"), "{}", &[])
        .unwrap();
    c.bench_function("component/warm_call_tiny", |b| {
        b.iter(|| hostile.process(b"ok").unwrap())
    });
}

/// MFCC of 9 s of speech: the audio component in wasm (sandboxed, and as
/// a trusted component without the per-call deadline) against the same
/// Rust code (`audio_preprocess::Pipeline`) compiled natively. With and
/// without resampling 22050 -> 16000 Hz (polyphase) in front.
fn mfcc(c: &mut Criterion) {
    let rt = runtime();
    let trusted = Runtime::new(RuntimeConfig {
        cache_dir: RuntimeConfig::default_cache_dir(),
        limits: lpdnn_runtime::Limits {
            call_timeout: None,
            ..Default::default()
        },
    })
    .unwrap();
    let wav = std::fs::read(asset("audio/speech.wav")).unwrap();
    let mut g = c.benchmark_group("mfcc_speech_9s");
    for (name, params) in [
        ("22050", r#"{"sr": 22050, "n_mfcc": 20}"#),
        (
            "16000_resampled",
            r#"{"sr": 16000, "n_mfcc": 13, "n_fft": 400, "hop_length": 160, "n_mels": 40}"#,
        ),
    ] {
        let native = audio_preprocess::Pipeline::from_json(params).unwrap();
        let mut wasm = rt
            .preprocessor(&asset("components/audio_preprocess.wasm"), params, &[])
            .unwrap();
        g.bench_with_input(BenchmarkId::new("native", name), &wav, |b, wav| {
            b.iter(|| native.process(wav).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("wasm", name), &wav, |b, wav| {
            b.iter(|| wasm.process(wav).unwrap())
        });
        let mut no_deadline = trusted
            .preprocessor(&asset("components/audio_preprocess.wasm"), params, &[])
            .unwrap();
        g.bench_with_input(
            BenchmarkId::new("wasm_no_deadline", name),
            &wav,
            |b, wav| b.iter(|| no_deadline.process(wav).unwrap()),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = preprocess, anchor, component_call, mfcc
}
criterion_main!(benches);
