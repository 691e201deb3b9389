//! One app, several engines: the same answers whichever engine runs it.

mod common;

use common::{asset, example, iou, runtime};
use lpdnn_app::{App, Pipeline, Prediction, RunOptions};

fn run(app: &str, engine: &str, input: &str) -> (Prediction, String) {
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example(app)).unwrap();
    let mut pipeline = Pipeline::load(
        &app,
        &runtime(cache.path()),
        &RunOptions {
            engine: Some(engine.into()),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{engine}: {e}"));
    let model = pipeline.model_path().display().to_string();
    (pipeline.run_file(&asset(input)).unwrap(), model)
}

#[test]
fn the_cat_is_an_egyptian_cat_on_lne_onnxruntime_and_ncnn() {
    let mut scores = Vec::new();
    for engine in ["lne", "onnxruntime", "ncnn"] {
        let (prediction, model) = run("image-classification", engine, "images/chelsea.png");
        let Prediction::Classes(classes) = prediction else {
            panic!("{engine}: not a classification");
        };
        assert_eq!(classes[0].id, 285, "{engine} ({model}): {classes:?}");
        assert_eq!(classes[0].label.as_deref(), Some("Egyptian cat"));
        scores.push(classes[0].score);
    }
    // The ncnn engine picked the NCNN form of the model.
    assert!(run("image-classification", "ncnn", "images/chelsea.png")
        .1
        .ends_with(".ncnn.param"));
    for s in &scores {
        assert!((s - scores[0]).abs() < 1e-3, "{scores:?}");
    }
}

#[test]
fn the_astronaut_face_is_found_on_every_engine_in_the_same_place() {
    let mut boxes = Vec::new();
    for engine in ["lne", "onnxruntime", "ncnn", "litert"] {
        let (prediction, model) = run("face-detection", engine, "images/astronaut.png");
        let Prediction::Detections(found) = prediction else {
            panic!("{engine}: not a detection");
        };
        assert_eq!(found.len(), 1, "{engine} ({model}): {found:?}");
        assert!((found[0].score - 0.92).abs() < 0.01, "{engine}: {found:?}");
        boxes.push((engine, found[0].bounds));
    }
    for (e1, b1) in &boxes {
        for (e2, b2) in &boxes {
            assert!(iou(*b1, *b2) >= 0.9, "{e1} {b1:?} vs {e2} {b2:?}");
        }
    }
}
