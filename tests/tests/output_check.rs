//! `benchmark --check-against`: an engine's outputs against a reference
//! engine's on the same inputs. The same model agrees across engines; a
//! model whose weights were rounded to f16 (for one engine only) differs,
//! though it still picks the same class.

mod common;

use std::path::{Path, PathBuf};

use common::{asset, bench_config, bench_runs, face_app_on_astronaut};
use lpdnn_bench::{BenchConfig, CheckAgainst, EngineRun, ModelInputs, Subject, Verdict};
use prost::Message;
use tract_onnx::pb::ModelProto;

fn bench(subject: Subject, engines: &[&str], against: CheckAgainst) -> Vec<EngineRun> {
    let config = BenchConfig {
        check_against: Some(against),
        ..bench_config(3)
    };
    bench_runs(subject, engines, config)
}

fn model(path: &Path) -> Subject {
    Subject::Model {
        path: path.to_owned(),
        inputs: ModelInputs::Synthetic {
            shapes: Default::default(),
            seed: 7,
        },
    }
}

fn against(engine: &str, model: Option<PathBuf>) -> CheckAgainst {
    CheckAgainst {
        engine: engine.into(),
        model,
        tolerance: CheckAgainst::DEFAULT_TOLERANCE,
    }
}

/// `from`, with every f32 weight rounded to the nearest f16 (and stored
/// as f32 again): what a model converted to half precision computes with.
fn rounded_to_f16(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap();
    let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
    let round = |v: f32| half::f16::from_f32(v).to_f32();
    let mut rounded = 0;
    for t in &mut model.graph.as_mut().unwrap().initializer {
        if t.data_type != 1 {
            continue;
        }
        if !t.raw_data.is_empty() {
            for c in t.raw_data.chunks_exact_mut(4) {
                let v = round(f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                c.copy_from_slice(&v.to_le_bytes());
            }
        } else {
            t.float_data.iter_mut().for_each(|v| *v = round(*v));
        }
        rounded += 1;
    }
    assert!(rounded > 50, "{rounded} tensors rounded");
    std::fs::write(to, model.encode_to_vec()).unwrap();
}

#[test]
fn the_same_model_agrees_across_engines_and_f16_weights_differ() {
    let original = asset("models/efficientnet_lite0.onnx");
    let runs = bench(model(&original), &["onnxruntime"], against("lne", None));
    let check = runs[0].check.as_ref().expect("checked");
    assert_eq!(check.verdict, Verdict::Agrees, "{check:?}");
    let logits = &check.outputs[0];
    assert!(
        logits.max_rel < 1e-5 && logits.cosine > 0.999_999,
        "{logits:?}"
    );
    assert_eq!((logits.top1, logits.top5), (Some(1.0), Some(1.0)));

    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("efficientnet_lite0_f16_weights.onnx");
    rounded_to_f16(&original, &half);
    let runs = bench(
        model(&half),
        &["onnxruntime"],
        against("lne", Some(original)),
    );
    let check = runs[0].check.as_ref().expect("checked");
    assert_eq!(check.verdict, Verdict::Differs, "{check:?}");
    assert!(check.reference_model.ends_with("efficientnet_lite0.onnx"));
    let logits = &check.outputs[0];
    // Small, and a hundred times what engines computing in f32 differ by.
    assert!(
        (1e-3..0.1).contains(&logits.max_rel) && logits.cosine > 0.999,
        "{logits:?}"
    );
}

#[test]
fn an_apps_boxes_are_matched_across_engines_and_model_formats() {
    let subject = face_app_on_astronaut();
    // ONNX Runtime runs the ONNX model, LiteRT the TFLite one: outputs
    // paired by name.
    let runs = bench(subject, &["onnxruntime", "litert"], against("lne", None));
    for run in &runs {
        let check = run.check.as_ref().expect("checked");
        assert_eq!(check.verdict, Verdict::Agrees, "{}: {check:?}", run.engine);
        let names: Vec<&str> = check.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["regressors", "classificators"], "{}", run.engine);
        let boxes = check.boxes.as_ref().unwrap();
        assert_eq!((boxes.matched, boxes.unmatched), (1, 0), "{}", run.engine);
        assert!(boxes.mean_iou.unwrap() > 0.99);
    }
}

#[test]
fn outputs_that_cannot_be_paired_are_not_comparable_and_say_why() {
    let face = asset("models/face_detection_short_range.onnx");
    let effnet = asset("models/efficientnet_lite0.onnx");
    let runs = bench(model(&face), &["onnxruntime"], against("lne", Some(effnet)));
    let check = runs[0].check.as_ref().expect("checked");
    assert_eq!(check.verdict, Verdict::NotComparable, "{check:?}");
    assert!(
        check
            .notes
            .iter()
            .any(|n| n.contains("output regressors has no counterpart")),
        "{:?}",
        check.notes
    );
}
