//! LNE on the real models, and inputs in other encodings.

mod common;

use common::{asset, example, runtime};
use lpdnn_app::{App, Pipeline, Prediction, RunOptions};
use lpdnn_engine_api::{Engine, EngineError, LoadOptions, Tensor};
use lpdnn_lne::Lne;

fn chelsea_tensor() -> Tensor {
    // The classification app's own pre-processing, run through the wasm component.
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("image-classification")).unwrap();
    let params = serde_json::Value::Object(app.preprocessor.params.clone()).to_string();
    let mut pre = runtime(cache.path())
        .preprocessor(&app.preprocessor.component, &params, &[])
        .unwrap();
    let bytes = std::fs::read(asset("images/chelsea.png")).unwrap();
    pre.process(&bytes).unwrap().chunks.remove(0).remove(0)
}

#[test]
fn lne_reports_the_model_signature() {
    let model = Lne
        .load(
            &asset("models/efficientnet_lite0.onnx"),
            &LoadOptions::default(),
        )
        .unwrap();
    assert_eq!(model.inputs().len(), 1);
    assert_eq!(model.inputs()[0].name, "input");
    assert_eq!(model.inputs()[0].shape_string(), "[1,3,224,224]");
    assert_eq!(model.outputs()[0].shape_string(), "[1,1000]");
    let face = Lne
        .load(
            &asset("models/face_detection_short_range.onnx"),
            &LoadOptions::default(),
        )
        .unwrap();
    let names: Vec<&str> = face.outputs().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["regressors", "classificators"]);
}

#[test]
fn lne_gives_the_same_logits_on_one_and_two_threads() {
    let x = chelsea_tensor();
    let run = |threads| {
        let mut m = Lne
            .load(
                &asset("models/efficientnet_lite0.onnx"),
                &LoadOptions {
                    threads: Some(threads),
                    ..Default::default()
                },
            )
            .unwrap();
        m.run(vec![x.clone()]).unwrap().remove(0).to_f32().unwrap()
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.len(), 1000);
    let argmax = |v: &[f32]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
    assert_eq!(argmax(&one), 285);
    for (a, b) in one.iter().zip(&two) {
        assert!((a - b).abs() <= 1e-4 + 1e-5 * a.abs(), "{a} vs {b}");
    }
}

#[test]
fn lne_refuses_inputs_of_the_wrong_shape() {
    let mut m = Lne
        .load(
            &asset("models/efficientnet_lite0.onnx"),
            &LoadOptions::default(),
        )
        .unwrap();
    let wrong = Tensor::from_f32("input", vec![1, 3, 2, 2], &[0.0; 12]).unwrap();
    let err = m.run(vec![wrong]).unwrap_err();
    assert!(
        matches!(&err, EngineError::InputMismatch(m) if m.contains("[1,3,224,224]") && m.contains("[1, 3, 2, 2]")),
        "{err}"
    );
    assert!(m.run(vec![]).is_err());
    // Still usable.
    assert!(m.run(vec![chelsea_tensor()]).is_ok());
}

#[test]
fn a_corrupt_onnx_graph_is_a_load_error_naming_the_file() {
    // A well-formed ModelProto whose graph bytes are garbage: the sniffer
    // says ONNX, the engine must refuse it cleanly.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.onnx");
    std::fs::write(&path, [0x08, 0x08, 0x3a, 0x04, 0xff, 0xff, 0xff, 0xff]).unwrap();
    let err = Lne.load(&path, &LoadOptions::default()).err().unwrap();
    assert!(matches!(&err, EngineError::Load { .. }), "{err}");
    assert!(err.to_string().contains("garbage.onnx"), "{err}");
}

#[test]
fn a_jpeg_input_is_classified_like_the_png() {
    let img = image::open(asset("images/chelsea.png"))
        .unwrap()
        .into_rgb8();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode_image(&img)
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("image-classification")).unwrap();
    let mut p = Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let Prediction::Classes(c) = p.run(&jpeg.into_inner()).unwrap() else {
        panic!("classes expected")
    };
    assert_eq!(c[0].id, 285, "{c:?}");
}
