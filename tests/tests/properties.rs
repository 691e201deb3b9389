//! Property tests (proptest, on stable): whatever bytes a stranger sends as
//! an app, a model or a parameter, the host answers with a value or an
//! error, never a panic; the shipped components answer wild parameters with
//! a value or an error naming them, never a crash, a deadline or the memory
//! cap (score_clip -1, degenerate boxes and 16384 x 16384 tensors did). Seeds: the real files, mutated (flipped bytes,
//! truncation, garbage appended), and arbitrary bytes. A bounded number of
//! cases runs in CI; `PROPTEST_CASES=10000 cargo test --release --test
//! properties` runs longer.

mod common;

use std::path::PathBuf;

use common::{asset, example};
use proptest::prelude::*;

/// A real file with some bytes replaced, then cut or extended.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    (
        proptest::collection::vec((0..len.max(1), any::<u8>()), 0..16),
        0..=len,
        proptest::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(move |(flips, cut, tail)| {
            let mut b = seed.clone();
            for (i, v) in flips {
                if i < b.len() {
                    b[i] = v;
                }
            }
            b.truncate(cut.max(1));
            b.extend(tail);
            b
        })
}

/// `n` cases, or `PROPTEST_CASES` when it is set (for a longer run).
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        // Every case that ever failed runs first, from the hostile corpus.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "hostile/proptest-regressions.txt",
            ),
        )),
        ..ProptestConfig::with_cases(n)
    }
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn app_files_never_panic_the_loader(bytes in mutated(std::fs::read(example("face-detection")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_app::App::load(&write(&dir, "app.json", &bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_sniffers(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = lpdnn_engine_api::sniff(&bytes);
        let mut flat = b"\x1c\0\0\0TFL3".to_vec();
        flat.extend(&bytes);
        let _ = lpdnn_engine_api::sniff(&flat);
    }

    #[test]
    fn mutated_tflite_never_panics_the_check_or_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.tflite")).unwrap())) {
        let _ = lpdnn_engine_api::sniff(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.tflite", &bytes));
    }

    #[test]
    fn mutated_ncnn_params_never_panic_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.ncnn.param")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.ncnn.param", &bytes));
    }
}

proptest! {
    // tract parses the whole graph per case: fewer cases.
    #![proptest_config(cases(24))]

    #[test]
    fn mutated_onnx_never_panics_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.onnx")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.onnx", &bytes));
    }
}

proptest! {
    // An 18 MB graph parsed whole per case: fewer still.
    #![proptest_config(cases(8))]

    #[test]
    fn mutated_tensorflow_graphs_never_panic_the_sniffer_or_inspect(bytes in mutated(std::fs::read(asset("models/efficientnet_lite0.pb")).unwrap())) {
        let _ = lpdnn_engine_api::sniff(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.pb", &bytes));
    }
}

/// A parameter value a careless or hostile app might give.
fn wild_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(0.5)),
        Just(json!(1e30)),
        Just(json!(-1e30)),
        Just(json!(16384)),
        Just(json!(4294967295u64)),
        Just(json!("x")),
        Just(json!([])),
        Just(json!([1, 2])),
        Just(json!({})),
        Just(json!(null)),
        Just(json!(true)),
    ]
}

/// An example app's parameters (`side` is `preprocessor` or
/// `postprocessor`).
fn example_params(app: &str, side: &str) -> serde_json::Value {
    let app: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(app)).unwrap()).unwrap();
    app[side]["params"].clone()
}

/// `base` with one to three fields replaced by wild values. A key is a
/// dotted path; numeric parts index arrays (`filters.0.fir.numtaps`).
fn wild_params(
    base: serde_json::Value,
    keys: &'static [&'static str],
) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(keys), wild_value()), 1..=3).prop_map(
        move |edits| {
            let mut p = base.clone();
            for (key, value) in edits {
                if let Some(slot) = key.split('.').try_fold(&mut p, step) {
                    *slot = value;
                }
            }
            p.to_string()
        },
    )
}

/// One step down a parameter path; `None` where an earlier edit replaced
/// the parent with something else (the edit is then dropped).
fn step<'a>(at: &'a mut serde_json::Value, part: &str) -> Option<&'a mut serde_json::Value> {
    match at {
        serde_json::Value::Array(items) => items.get_mut(part.parse::<usize>().ok()?),
        serde_json::Value::Object(fields) => {
            Some(fields.entry(part).or_insert(serde_json::Value::Null))
        }
        _ => None,
    }
}

/// One compile cache for every case (a fresh one would JIT-compile the
/// component again each time).
fn cache() -> &'static std::path::Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// What a shipped component may answer to wild parameters: a value, or a
/// processor error naming them; never a crash, a deadline or the memory cap.
fn no_crash(r: Result<(), lpdnn_runtime::RuntimeError>, params: &str) -> Result<(), TestCaseError> {
    match r {
        Ok(()) | Err(lpdnn_runtime::RuntimeError::Processor { .. }) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("{params}: {e}"))),
    }
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn shipped_image_preprocess_never_crashes_on_wild_params(
        params in wild_params(example_params("face-detection", "preprocessor"), &["width", "height", "mean", "std", "resize", "layout", "pad", "max_pixels", "center_crop", "crop", "dtype"])
    ) {
        let runtime = common::runtime(cache());
        let image = std::fs::read(asset("images/astronaut.png")).unwrap();
        let r = runtime
            .preprocessor(&asset("components/image_preprocess.wasm"), &params, &[])
            .and_then(|mut p| p.process(&image).map(|_| ()));
        no_crash(r, &params)?;
    }

    #[test]
    fn shipped_detection_never_crashes_on_wild_params(
        params in wild_params(example_params("face-detection", "postprocessor"), &["scale", "score_clip", "min_score", "max_detections", "num_keypoints", "keypoint_offset", "nms.iou_threshold", "anchors.min_scale", "anchors.max_scale", "anchors.strides", "anchors.num_layers", "anchors.input_width", "anchors.aspect_ratios", "variance"])
    ) {
        let runtime = common::runtime(cache());
        // BlazeFace's outputs, every anchor scoring high with a degenerate box.
        let outputs = vec![vec![
            lpdnn_engine_api::Tensor::from_f32("regressors", vec![1, 896, 16], &[0.0; 896 * 16]).unwrap(),
            lpdnn_engine_api::Tensor::from_f32("classificators", vec![1, 896, 1], &[10.0; 896]).unwrap(),
        ]];
        let r = runtime
            .postprocessor(&asset("components/detection.wasm"), &params, &["face".into()])
            .and_then(|mut p| p.process(&outputs, &lpdnn_runtime::InputMeta::none()).map(|_| ()));
        no_crash(r, &params)?;
    }
}

/// A model output value, the odd ones included.
fn wild_score() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => 0.0f32..1.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-1.0f32),
        1 => Just(1e30f32),
    ]
}

/// An audio input description as a hostile pre-processor might hand it on.
fn wild_audio_meta() -> impl Strategy<Value = lpdnn_runtime::InputMeta> {
    let rate = prop_oneof![Just(0u32), Just(1), Just(16000), Just(u32::MAX)];
    let samples = prop_oneof![Just(0u64), Just(16000), Just(u64::MAX)];
    let hop = prop_oneof![Just(0u32), Just(1), Just(512), Just(u32::MAX)];
    (rate.clone(), rate, samples, hop).prop_map(|(sample_rate, source_rate, samples, hop)| {
        serde_json::from_value(serde_json::json!({"audio": {
            "sample_rate": sample_rate, "source_rate": source_rate,
            "samples": samples, "channels": 1, "hop": hop,
        }}))
        .unwrap()
    })
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn shipped_audio_preprocess_never_crashes_on_wild_params(
        params in wild_params(
            serde_json::json!({"sr": 16000, "features": "mfcc", "n_mfcc": 13, "n_fft": 400,
                "hop_length": 160, "n_mels": 40, "fmin": 20, "fmax": 7600, "deltas": 1}),
            &["sr", "features", "n_fft", "hop_length", "win_length", "window", "n_mels", "fmin",
              "fmax", "n_mfcc", "power", "top_db", "amin", "reference", "deltas", "delta_width",
              "lifter", "dct_type", "preemphasis", "max_seconds", "chunk_length", "chunk_hop",
              "pad_start", "normalize", "layout", "resample", "center", "pad_mode", "norm"])
    ) {
        let runtime = common::runtime(cache());
        let wav = std::fs::read(asset("audio/speech.wav")).unwrap();
        let r = runtime
            .preprocessor(&asset("components/audio_preprocess.wasm"), &params, &[])
            .and_then(|mut p| p.process(&wav).map(|_| ()));
        no_crash(r, &params)?;
    }

    #[test]
    fn shipped_signal_preprocess_never_crashes_on_wild_params(
        params in wild_params(
            serde_json::json!({"sample_rate": 100, "detrend": "linear", "target_rate": 50,
                "normalize": "zscore", "chunk_length": 64, "chunk_hop": 32,
                "filters": [{"fir": {"numtaps": 31, "cutoff": [10.0]}},
                            {"sos": [[0.02, 0.04, 0.02, 1.0, -1.56, 0.64]]}, {"taps": [0.25, 0.5, 0.25]}]}),
            &["sample_rate", "target_rate", "detrend", "normalize", "chunk_length", "chunk_hop",
              "channels", "columns", "max_samples", "window", "layout", "format", "pad_end",
              "filters", "filters.0.fir.numtaps", "filters.0.fir.cutoff", "filters.0.fir.window",
              "filters.0.fir.pass_zero", "filters.1.sos", "filters.1.sos.0", "filters.1.sos.0.3",
              "filters.2.taps", "filters.2.taps.1"])
    ) {
        let runtime = common::runtime(cache());
        let csv = std::fs::read(asset("signals/imu.csv")).unwrap();
        let r = runtime
            .preprocessor(&asset("components/signal_preprocess.wasm"), &params, &[])
            .and_then(|mut p| p.process(&csv).map(|_| ()));
        no_crash(r, &params)?;
    }

    #[test]
    fn shipped_classification_never_crashes_on_wild_params_or_scores(
        params in wild_params(example_params("image-classification", "postprocessor"),
            &["softmax", "top_k", "output"]),
        scores in proptest::collection::vec(wild_score(), 0..1200),
        labels in 0usize..1100,
    ) {
        let runtime = common::runtime(cache());
        let n = scores.len();
        let outputs = vec![vec![
            lpdnn_engine_api::Tensor::from_f32("output", vec![1, n], &scores).unwrap(),
        ]];
        let labels: Vec<String> = (0..labels).map(|i| format!("class {i}")).collect();
        let r = runtime
            .postprocessor(&asset("components/classification.wasm"), &params, &labels)
            .and_then(|mut p| p.process(&outputs, &lpdnn_runtime::InputMeta::none()).map(|_| ()));
        no_crash(r, &params)?;
    }

    #[test]
    fn shipped_segments_never_crashes_on_wild_params_scores_or_meta(
        params in wild_params(example_params("voice-activity", "postprocessor"),
            &["threshold", "neg_threshold", "min_speech_duration_ms", "min_silence_duration_ms",
              "speech_pad_ms", "output"]),
        scores in proptest::collection::vec(wild_score(), 0..200),
        meta in wild_audio_meta(),
    ) {
        let runtime = common::runtime(cache());
        let outputs: Vec<Vec<lpdnn_engine_api::Tensor>> = scores
            .iter()
            .map(|s| vec![lpdnn_engine_api::Tensor::from_f32("output", vec![1, 1], &[*s]).unwrap()])
            .collect();
        let r = runtime
            .postprocessor(&asset("components/segments.wasm"), &params, &[])
            .and_then(|mut p| p.process(&outputs, &meta).map(|_| ()));
        no_crash(r, &format!("{params} {}", serde_json::to_string(&meta).unwrap()))?;
    }
}
