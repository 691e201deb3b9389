//! Bad models handed to the native engines: each is refused with a clear
//! error before the native library sees it where the bytes already tell,
//! and never crashes the process.

mod common;

use std::path::{Path, PathBuf};

use common::{asset, edited_app, runtime};
use lpdnn_app::{App, AppError, Pipeline, RunOptions};
use lpdnn_engine_api::{EngineError, LoadOptions};
use serde_json::json;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn load(engine: &str, model: &Path) -> EngineError {
    lpdnn_engines::engine(engine)
        .unwrap()
        .load(model, &LoadOptions::default())
        .err()
        .unwrap_or_else(|| panic!("{engine} loaded {}", model.display()))
}

#[test]
fn a_tflite_file_given_to_onnxruntime() {
    let err = load(
        "onnxruntime",
        &asset("models/face_detection_short_range.tflite"),
    );
    assert!(matches!(err, EngineError::WrongFormat { .. }), "{err}");
    assert!(
        err.to_string().contains(
            "face_detection_short_range.tflite is TFLite; engine onnxruntime accepts {ONNX}"
        ),
        "{err}"
    );
}

#[test]
fn a_truncated_onnx_file_on_every_onnx_engine() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(asset("models/efficientnet_lite0.onnx")).unwrap();
    let cut = write(dir.path(), "cut.onnx", &bytes[..bytes.len() / 2]);
    for engine in ["lne", "onnxruntime"] {
        let err = load(engine, &cut);
        assert!(
            err.to_string()
                .contains("cut.onnx is not a recognised model"),
            "{engine}: {err}"
        );
    }
}

#[test]
fn tensorrt_plans_and_ascend_om_files_are_recognised_and_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write(
        dir.path(),
        "model.onnx",
        b"ftrt\x00\x00\x00\x00\x10\x00\x00\x00",
    );
    let om = write(
        dir.path(),
        "model2.onnx",
        b"IMOD\x00\x00\x00\x10rest of header",
    );
    for engine in ["lne", "onnxruntime"] {
        assert!(load(engine, &plan).to_string().contains("is TensorRT plan"));
        assert!(load(engine, &om).to_string().contains("is Ascend OM"));
    }
    assert!(load("ncnn", &plan)
        .to_string()
        .contains("engine ncnn accepts {NCNN}"));
    assert!(load("litert", &om)
        .to_string()
        .contains("engine litert accepts {TFLite}"));
}

#[test]
fn an_ncnn_param_without_its_bin() {
    let dir = tempfile::tempdir().unwrap();
    let param = write(
        dir.path(),
        "m.ncnn.param",
        &std::fs::read(asset("models/face_detection_short_range.ncnn.param")).unwrap(),
    );
    let err = load("ncnn", &param);
    assert!(err.to_string().contains("m.ncnn.bin are missing"), "{err}");
    // In an app, the pipeline refuses it before the engine sees it and
    // names the field.
    let app = edited_app("face-detection", dir.path(), |v| {
        v["model"] = json!({ "ncnn": param.display().to_string() });
    });
    let app = App::load(&app).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = RunOptions {
        engine: Some("ncnn".into()),
        ..RunOptions::default()
    };
    let err = Pipeline::load(&app, &runtime(cache.path()), &options)
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("field `model.ncnn`") && msg.contains("has no weights beside it"),
        "{msg}"
    );
}

#[test]
fn an_ncnn_bin_that_is_truncated_or_not_this_params() {
    let dir = tempfile::tempdir().unwrap();
    let param = write(
        dir.path(),
        "m.ncnn.param",
        &std::fs::read(asset("models/face_detection_short_range.ncnn.param")).unwrap(),
    );
    let bin = std::fs::read(asset("models/face_detection_short_range.ncnn.bin")).unwrap();
    write(dir.path(), "m.ncnn.bin", &bin[..bin.len() / 3]);
    let err = load("ncnn", &param);
    assert!(err.to_string().contains("cannot read the weights"), "{err}");
    // The classifier's weights behind the face detector's graph.
    let other = std::fs::read(asset("models/efficientnet_lite0.ncnn.bin")).unwrap();
    write(dir.path(), "m.ncnn.bin", &other[..1000]);
    assert!(load("ncnn", &param)
        .to_string()
        .contains("cannot read the weights"));
}

#[test]
fn truncated_tflite_flatbuffers_never_reach_litert() {
    // LiteRT trusts its input (a cut file crashed it): the flatbuffer is
    // verified first, at every cut point.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(asset("models/face_detection_short_range.tflite")).unwrap();
    for k in 1..16 {
        let cut = write(dir.path(), "cut.tflite", &bytes[..bytes.len() * k / 16]);
        let err = load("litert", &cut);
        assert!(
            matches!(err, EngineError::WrongFormat { .. }),
            "{k}/16: {err}"
        );
        assert!(
            err.to_string()
                .contains("cut.tflite is not a recognised model"),
            "{err}"
        );
    }
}

#[test]
fn unknown_or_mistyped_engine_options_are_named() {
    let model = asset("models/efficientnet_lite0.onnx");
    let mut options = LoadOptions::default();
    options.options.insert("thread".into(), json!(2));
    let err = lpdnn_engines::engine("onnxruntime")
        .unwrap()
        .load(&model, &options)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains(
            "engine onnxruntime: option `thread`: unknown; this engine takes: inter_threads"
        ),
        "{err}"
    );
    let mut options = LoadOptions::default();
    options.options.insert("optimization".into(), json!("max"));
    let err = lpdnn_engines::engine("onnxruntime")
        .unwrap()
        .load(&model, &options)
        .err()
        .unwrap();
    assert!(err.to_string().contains("'max' is not one of"), "{err}");
    let mut options = LoadOptions::default();
    options.options.insert("fp16_storage".into(), json!("yes"));
    let err = lpdnn_engines::engine("ncnn")
        .unwrap()
        .load(&asset("models/efficientnet_lite0.ncnn.param"), &options)
        .err()
        .unwrap();
    assert!(err.to_string().contains("expected true or false"), "{err}");
}

#[test]
fn a_preprocessor_tensor_that_does_not_fit_the_model_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::load(&edited_app("face-detection", dir.path(), |v| {
        v["preprocessor"]["params"]["width"] = json!(100)
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    for engine in ["lne", "onnxruntime", "ncnn", "litert"] {
        let mut pipeline = Pipeline::load(
            &app,
            &runtime(cache.path()),
            &RunOptions {
                engine: Some(engine.into()),
                ..Default::default()
            },
        )
        .unwrap();
        let err = pipeline
            .run_file(&asset("images/astronaut.png"))
            .unwrap_err();
        assert!(matches!(&err, AppError::Mismatch { .. }), "{engine}: {err}");
        assert!(err.to_string().contains("100"), "{engine}: {err}");
    }
}

/// The hostile corpus (`tests/hostile/`): a ~100-byte model that asks tract
/// for 2^50 elements is an error naming the file on LNE and in `inspect`,
/// never a panic of the host.
#[test]
fn allocation_bombs_are_errors_not_crashes() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile/models");
    for name in ["constant_of_shape_2e50.onnx", "range_2e40.onnx"] {
        let model = corpus.join(name);
        let err = load("lne", &model);
        assert!(err.to_string().contains(name), "{err}");
        match lpdnn_inspect::inspect(&model) {
            Ok(m) => assert!(!m.notes.is_empty(), "{name}: {m:?}"),
            Err(e) => assert!(e.to_string().contains(name), "{e}"),
        }
    }
}

#[test]
fn a_model_with_external_data_is_counted() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile/models/external_data.onnx");
    let m = lpdnn_inspect::inspect(&model).unwrap();
    assert_eq!(m.parameters, 36);
    assert_eq!(m.macs, Some(2304), "{:?}", m.notes);
}
