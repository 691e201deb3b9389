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

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

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
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn mutated_onnx_never_panics_inspect(bytes in mutated(std::fs::read(asset("models/face_detection_short_range.onnx")).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = lpdnn_inspect::inspect(&write(&dir, "m.onnx", &bytes));
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

/// The face app's parameters with one to three fields replaced by wild
/// values (nested fields included).
fn wild_params(side: &'static str, keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    let app: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("face-detection")).unwrap()).unwrap();
    let base = app[side]["params"].clone();
    proptest::collection::vec((proptest::sample::select(keys), wild_value()), 1..=3).prop_map(
        move |edits| {
            let mut p = base.clone();
            for (key, value) in edits {
                let mut at = &mut p;
                let parts: Vec<&str> = key.split('.').collect();
                for part in &parts[..parts.len() - 1] {
                    at = &mut at[*part];
                }
                at[parts[parts.len() - 1]] = value;
            }
            p.to_string()
        },
    )
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
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn shipped_image_preprocess_never_crashes_on_wild_params(
        params in wild_params("preprocessor", &["width", "height", "mean", "std", "resize", "layout", "pad", "max_pixels", "center_crop", "crop", "dtype"])
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
        params in wild_params("postprocessor", &["scale", "score_clip", "min_score", "max_detections", "num_keypoints", "keypoint_offset", "nms.iou_threshold", "anchors.min_scale", "anchors.max_scale", "anchors.strides", "anchors.num_layers", "anchors.input_width", "anchors.aspect_ratios", "variance"])
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
