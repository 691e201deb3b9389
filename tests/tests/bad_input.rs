//! Bad app files, models and images: each a clear error naming the file and
//! field, never a panic.

mod common;

use std::path::Path;

use common::{asset, edited_app, example, runtime};
use lpdnn_app::{App, AppError, Pipeline, Prediction, RunOptions};
use lpdnn_engine_api::EngineError;
use lpdnn_runtime::{ProcessorErrorKind, RuntimeError};
use serde_json::json;

/// An app file's mistake, as the pipeline reports it (the app file crate's
/// `SpecError`, variant for variant).
fn load_err(app: &Path) -> AppError {
    App::load(app).expect_err("the app must be refused").into()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_missing_app_file() {
    let err = load_err(Path::new("/nonexistent/app.json"));
    assert!(matches!(err, AppError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/app.json"), "{err}");
}

#[test]
fn an_app_file_that_is_not_json() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&write(dir.path(), "app.json", b"{ \"name\": "));
    assert!(matches!(err, AppError::Parse { .. }), "{err}");
    assert!(
        err.to_string().contains("app.json is not valid JSON"),
        "{err}"
    );
}

#[test]
fn a_missing_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |v| {
        v["engine"].as_object_mut().unwrap().remove("name");
    });
    let err = load_err(&app);
    assert!(
        matches!(&err, AppError::Field { field, message, .. } if field == "engine.name" && message.contains("missing")),
        "{err}"
    );
}

#[test]
fn valid_json_with_wrong_fields_names_the_field_not_the_syntax() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str, &str); 3] = [
        (|v| v["class"] = json!(null), "class", "invalid type: null"),
        (
            |v| v["engine"]["device"] = json!(1),
            "engine.device",
            "invalid type: integer",
        ),
        (
            |v| {
                v.as_object_mut().unwrap().remove("model");
            },
            "model",
            "missing",
        ),
    ];
    for (edit, want_field, want) in cases {
        let err = load_err(&edited_app("face-detection", dir.path(), edit));
        assert!(
            matches!(&err, AppError::Field { field, message, .. } if field == want_field && message.contains(want)),
            "{want_field}: {err}"
        );
        assert!(!err.to_string().contains("not valid JSON"), "{err}");
    }
}

#[test]
fn a_bom_is_skipped_and_trailing_text_or_an_array_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |_| {});
    let text = std::fs::read(&app).unwrap();
    let bom = write(
        dir.path(),
        "bom.json",
        &[b"\xEF\xBB\xBF".as_slice(), &text].concat(),
    );
    App::load(&bom).expect("a UTF-8 byte-order mark is skipped");
    let trailing = write(
        dir.path(),
        "trailing.json",
        &[text.as_slice(), b"\ngarbage"].concat(),
    );
    let err = load_err(&trailing);
    assert!(err.to_string().contains("trailing characters"), "{err}");
    let array = write(dir.path(), "array.json", b"[1, 2]");
    let err = load_err(&array);
    assert!(err.to_string().contains("an app is a JSON object"), "{err}");
    assert!(err.to_string().contains("this is an array"), "{err}");
}

#[test]
fn an_unknown_class_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |v| {
        v["class"] = json!("mind_reading")
    });
    let err = load_err(&app);
    assert!(
        matches!(&err, AppError::Field { field, message, .. } if field == "class" && message.contains("mind_reading") && message.contains("face_detection")),
        "{err}"
    );
}

#[test]
fn an_unknown_engine_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::load(&edited_app("face-detection", dir.path(), |v| {
        v["engine"]["name"] = json!("warp-drive")
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let err = Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(&err, AppError::Field { field, message, .. } if field == "engine.name" && message.contains("unknown engine 'warp-drive'") && message.contains("lne")),
        "{err}"
    );
}

#[test]
fn an_unknown_component_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |v| {
        v["postprocessor"]["component"] = json!("/nowhere/detect.wasm")
    });
    let err = load_err(&app);
    assert!(
        matches!(&err, AppError::MissingFile { field, .. } if field == "postprocessor.component"),
        "{err}"
    );
    assert!(err.to_string().contains("/nowhere/detect.wasm"), "{err}");
}

#[test]
fn a_missing_model_is_named_when_the_engine_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |v| {
        v["model"]["onnx"] = json!("missing.onnx");
        v["model"]["ncnn"] = json!("missing.ncnn.param");
    });
    // The app loads: which file is needed depends on the engine.
    let app = App::load(&app).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(cache.path());
    for (engine, field) in [("lne", "model.onnx"), ("ncnn", "model.ncnn")] {
        let options = RunOptions {
            engine: Some(engine.into()),
            ..RunOptions::default()
        };
        let err = Pipeline::load(&app, &runtime, &options).err().unwrap();
        assert!(
            matches!(&err, AppError::MissingFile { field: f, file, .. } if f == field && file.starts_with(dir.path())),
            "{engine}: {err}"
        );
    }
}

#[test]
fn an_app_runs_on_an_engine_whose_file_is_there_though_another_format_is_missing() {
    // A fresh set-up makes the ONNX model first; the NCNN form comes later.
    let dir = tempfile::tempdir().unwrap();
    let app = edited_app("face-detection", dir.path(), |v| {
        v["model"]["ncnn"] = json!("not-made-yet.ncnn.param");
    });
    let app = App::load(&app).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut pipeline =
        Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let Prediction::Detections(found) = pipeline.run_file(&asset("images/astronaut.png")).unwrap()
    else {
        panic!("a face app must return detections");
    };
    assert_eq!(found.len(), 1, "{found:?}");
    assert!((found[0].score - 0.92).abs() < 0.01, "{found:?}");
}

#[test]
fn a_truncated_model_is_refused_before_the_engine_parses_it() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(asset("models/face_detection_short_range.onnx")).unwrap();
    let cut = write(dir.path(), "cut.onnx", &bytes[..bytes.len() / 2]);
    let app = App::load(&edited_app("face-detection", dir.path(), |v| {
        v["model"] = json!({ "onnx": cut.display().to_string() });
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let err = Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(&err, AppError::Engine(EngineError::WrongFormat { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("cut.onnx is not a recognised model"),
        "{err}"
    );
}

#[test]
fn a_model_with_only_a_format_the_engine_cannot_load() {
    let dir = tempfile::tempdir().unwrap();
    let tflite = asset("models/face_detection_short_range.tflite");
    let app = App::load(&edited_app("face-detection", dir.path(), |v| {
        v["model"] = json!({ "tflite": tflite.display().to_string() });
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let err = Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("engine lne accepts {ONNX, TensorFlow}; this app has {TFLite}"),
        "{err}"
    );
}

#[test]
fn a_preprocessor_tensor_that_does_not_fit_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::load(&edited_app("face-detection", dir.path(), |v| {
        v["preprocessor"]["params"]["width"] = json!(100)
    }))
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut pipeline =
        Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let err = pipeline
        .run_file(&asset("images/astronaut.png"))
        .unwrap_err();
    assert!(matches!(&err, AppError::Mismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("[1, 3, 128, 100]")
            && msg.contains("[1,3,128,128]")
            && msg.contains("image_preprocess.wasm"),
        "{msg}"
    );
    // The pipeline still serves a correct input afterwards... with the right app.
    let good = App::load(&example("face-detection")).unwrap();
    let mut pipeline =
        Pipeline::load(&good, &runtime(cache.path()), &RunOptions::default()).unwrap();
    assert!(pipeline.run_file(&asset("images/astronaut.png")).is_ok());
}

fn face_pipeline(cache: &Path) -> Pipeline {
    let app = App::load(&example("face-detection")).unwrap();
    Pipeline::load(&app, &runtime(cache), &RunOptions::default()).unwrap()
}

fn invalid_input(err: &AppError) -> &str {
    match err {
        AppError::Runtime(RuntimeError::Processor {
            kind: ProcessorErrorKind::InvalidInput,
            message,
            ..
        }) => message,
        other => panic!("expected an invalid-input error, got {other}"),
    }
}

#[test]
fn images_that_are_not_images_corrupt_or_truncated() {
    let cache = tempfile::tempdir().unwrap();
    let mut p = face_pipeline(cache.path());
    let err = p.run(b"this is a text file").unwrap_err();
    assert!(
        invalid_input(&err).contains("not a PNG, JPEG or PNM"),
        "{err}"
    );

    let png = std::fs::read(asset("images/astronaut.png")).unwrap();
    let err = p.run(&png[..png.len() / 3]).unwrap_err();
    assert!(invalid_input(&err).contains("cannot decode"), "{err}");

    let mut corrupt = png.clone();
    for b in &mut corrupt[100..4000] {
        *b ^= 0x5a;
    }
    let err = p.run(&corrupt).unwrap_err();
    assert!(invalid_input(&err).contains("Png"), "{err}");

    // Still serving.
    assert!(p.run(&png).is_ok());
}

#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    // 30000 x 30000 1-bit greyscale: 110 MB of pixel data, a 2.7 GB RGB image,
    // compressing to a few hundred KB.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.png");
    {
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut enc = png::Encoder::new(file, 30_000, 30_000);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().unwrap().into_stream_writer().unwrap();
        let row = vec![0u8; 30_000 / 8];
        for _ in 0..30_000 {
            std::io::Write::write_all(&mut w, &row).unwrap();
        }
        w.finish().unwrap();
    }
    let bomb = std::fs::read(&path).unwrap();
    assert!(
        bomb.len() < 2 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let cache = tempfile::tempdir().unwrap();
    let mut p = face_pipeline(cache.path());
    let err = p.run(&bomb).unwrap_err();
    assert!(
        invalid_input(&err).contains("30000x30000 = 900000000 pixels, over the limit"),
        "{err}"
    );
}
