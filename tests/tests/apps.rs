//! The two example apps on real models and real images.

mod common;

use common::{asset, example, iou, runtime};
use lpdnn_app::{App, Pipeline, Prediction, RunOptions};

/// MediaPipe's own detector on astronaut.png: one face, score 0.92,
/// box ≈ (178, 83)–(273, 178) px.
const MEDIAPIPE_BOX: [f32; 4] = [178.0, 83.0, 273.0, 178.0];

#[test]
fn face_detection_finds_the_astronaut_face() {
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("face-detection")).unwrap();
    let mut pipeline =
        Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let Prediction::Detections(found) = pipeline.run_file(&asset("images/astronaut.png")).unwrap()
    else {
        panic!("a face app must return detections");
    };
    assert_eq!(found.len(), 1, "{found:?}");
    let face = &found[0];
    assert!((face.score - 0.92).abs() < 0.01, "score {}", face.score);
    assert!(
        iou(face.bounds, MEDIAPIPE_BOX) > 0.85,
        "box {:?}",
        face.bounds
    );
    assert_eq!(face.label.as_deref(), Some("face"));
    assert_eq!(face.keypoints.len(), 6);
    // Keypoints: right eye, left eye, nose tip, mouth, right and left ear
    // tragion. The first four lie inside the box, eyes above the mouth.
    let [x0, y0, x1, y1] = face.bounds;
    let k = &face.keypoints;
    for [x, y] in &k[..4] {
        assert!(
            (x0..=x1).contains(x) && (y0..=y1).contains(y),
            "keypoint ({x}, {y}) outside {:?}",
            face.bounds
        );
    }
    assert!(
        k[0][1] < k[3][1] && k[1][1] < k[3][1],
        "eyes above the mouth: {k:?}"
    );
    assert!(
        k[4][0] < k[0][0] && k[1][0] < k[5][0],
        "ears outside the eyes: {k:?}"
    );
}

#[test]
fn face_detection_finds_no_face_on_the_cat() {
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("face-detection")).unwrap();
    let mut pipeline =
        Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let Prediction::Detections(found) = pipeline.run_file(&asset("images/chelsea.png")).unwrap()
    else {
        panic!("a face app must return detections");
    };
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn classification_says_chelsea_is_a_cat() {
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("image-classification")).unwrap();
    let mut pipeline = Pipeline::load(
        &app,
        &runtime(cache.path()),
        &RunOptions {
            threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let Prediction::Classes(classes) = pipeline.run_file(&asset("images/chelsea.png")).unwrap()
    else {
        panic!("a classification app must return classes");
    };
    assert_eq!(classes.len(), 5);
    // ImageNet 281..=285 are the domestic cats; ONNX Runtime on the same
    // model gives 285 (Egyptian cat) with p = 0.79.
    assert_eq!(classes[0].id, 285, "{classes:?}");
    assert_eq!(classes[0].label.as_deref(), Some("Egyptian cat"));
    assert!((classes[0].score - 0.79).abs() < 0.01, "{classes:?}");
    assert!(classes.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        classes[..3].iter().all(|c| (281..=285).contains(&c.id)),
        "{classes:?}"
    );
}

#[test]
fn both_apps_share_one_preprocessor_component() {
    let face = App::load(&example("face-detection")).unwrap();
    let cls = App::load(&example("image-classification")).unwrap();
    assert_eq!(
        std::fs::read(&face.preprocessor.component).unwrap(),
        std::fs::read(&cls.preprocessor.component).unwrap()
    );
}

#[test]
fn anchors_count_every_stage_of_every_input() {
    let cache = tempfile::tempdir().unwrap();
    let app = App::load(&example("face-detection")).unwrap();
    let mut pipeline =
        Pipeline::load(&app, &runtime(cache.path()), &RunOptions::default()).unwrap();
    let load = pipeline.take_anchors().summary();
    let names: Vec<&str> = load.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["load.preprocessor", "load.postprocessor", "load.model"]
    );
    assert!(load[2].real_ms.mean > 0.0);
    for _ in 0..3 {
        pipeline.run_file(&asset("images/astronaut.png")).unwrap();
    }
    let summary = pipeline.anchors().summary();
    let names: Vec<&str> = summary.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["preprocess", "inference", "postprocess", "total"]);
    assert!(summary.iter().all(|s| s.calls == 3));
    let stage_sum: f64 = summary[..3].iter().map(|s| s.real_ms.mean).sum();
    assert!(
        summary[3].real_ms.mean >= stage_sum,
        "total covers its stages"
    );
    assert!(summary[1].cpu_ms.mean > 0.0);
}
