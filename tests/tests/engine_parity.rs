//! Every real engine against its own Python package: the same fixed input
//! gives the same outputs as onnxruntime, ai_edge_litert and ncnn in Python
//! (reference arrays computed by scripts/models/reference_outputs.py at
//! set-up). LNE has no Python package; it is held to ONNX Runtime's outputs.

mod common;

use common::{asset, root};
use lpdnn_engine_api::{DType, Engine, LoadOptions, Tensor};
use serde_json::Value;

fn read_f32(file: &str) -> Vec<f32> {
    let bytes = std::fs::read(asset(&format!("reference/{file}"))).unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// Largest |got - want| - rtol * |want| over the tensor (≤ atol passes).
fn excess(got: &[f32], want: &[f32], rtol: f32) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() - rtol * w.abs())
        .fold(f32::MIN, f32::max)
}

/// Runs every manifest case of `reference_engine` on `engine` and checks
/// each output within atol + rtol·|want|; returns how many cases ran.
fn check(engine: &dyn Engine, reference_engine: &str, atol: f32, rtol: f32) -> usize {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(asset("reference/manifest.json")).unwrap())
            .unwrap();
    let mut cases = 0;
    for case in manifest.as_array().unwrap() {
        if case["engine"] != reference_engine {
            continue;
        }
        let model_path = root()
            .join("assets/models")
            .join(case["model"].as_str().unwrap());
        let mut model = engine
            .load(
                &model_path,
                &LoadOptions {
                    threads: Some(1),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{}: {e}", model_path.display()));
        let input = read_f32(case["input"]["file"].as_str().unwrap());
        let bytes: Vec<u8> = input.iter().flat_map(|x| x.to_le_bytes()).collect();
        let name = model.inputs()[0].name.clone();
        let tensor = Tensor::new(name, DType::F32, shape(&case["input"]["shape"]), bytes).unwrap();
        let outputs = model.run(vec![tensor]).unwrap();
        for want in case["outputs"].as_array().unwrap() {
            let name = want["name"].as_str().unwrap();
            let got = outputs
                .iter()
                .find(|t| t.name() == name)
                .unwrap_or_else(|| panic!("{}: no output named {name}", engine.name()));
            assert_eq!(got.shape(), shape(&want["shape"]), "{name}");
            let got: Vec<f32> = got
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let want = read_f32(want["file"].as_str().unwrap());
            let e = excess(&got, &want, rtol);
            assert!(
                e <= atol,
                "{} on {}: output {name} differs from {reference_engine}'s Python package by {e} beyond rtol",
                engine.name(),
                case["model"]
            );
            assert!(
                want.iter().any(|&w| w != 0.0),
                "a reference of zeros proves nothing"
            );
        }
        cases += 1;
    }
    cases
}

#[test]
fn onnxruntime_equals_the_onnxruntime_python_package() {
    let engine = lpdnn_engines::engine("onnxruntime").unwrap();
    assert_eq!(check(engine.as_ref(), "onnxruntime", 1e-4, 1e-5), 2);
}

#[test]
fn litert_equals_the_ai_edge_litert_python_package() {
    let engine = lpdnn_engines::engine("litert").unwrap();
    assert_eq!(check(engine.as_ref(), "litert", 1e-4, 1e-5), 1);
}

#[test]
fn ncnn_equals_the_ncnn_python_package() {
    let engine = lpdnn_engines::engine("ncnn").unwrap();
    assert_eq!(check(engine.as_ref(), "ncnn", 1e-3, 1e-5), 2);
}

#[test]
fn lne_equals_onnxruntime() {
    let engine = lpdnn_engines::engine("lne").unwrap();
    assert_eq!(check(engine.as_ref(), "onnxruntime", 1e-4, 1e-5), 2);
}

#[test]
fn ncnn_fp16_storage_is_a_user_switch_that_changes_the_numbers() {
    // The switch reaches the library: with fp16 weights the logits move by
    // more than fp32 rounding, yet the class stays.
    let engine = lpdnn_engines::engine("ncnn").unwrap();
    let param = asset("models/efficientnet_lite0.ncnn.param");
    let run = |fp16: bool| {
        let mut options = LoadOptions {
            threads: Some(1),
            ..Default::default()
        };
        options
            .options
            .insert("fp16_storage".into(), Value::Bool(fp16));
        let mut m = engine.load(&param, &options).unwrap();
        let input: Vec<u8> = (0..3 * 224 * 224)
            .flat_map(|i| (((i % 255) as f32) / 127.5 - 1.0).to_le_bytes())
            .collect();
        let t = Tensor::new("input", DType::F32, vec![1, 3, 224, 224], input).unwrap();
        let out = m.run(vec![t]).unwrap().remove(0);
        out.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect::<Vec<f32>>()
    };
    let (fp32, fp16) = (run(false), run(true));
    let diff = fp32
        .iter()
        .zip(&fp16)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        diff > 1e-4,
        "fp16 storage changed nothing (max diff {diff})"
    );
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    assert_eq!(argmax(&fp32), argmax(&fp16));
}

#[test]
fn lne_runs_the_tensorflow_graph_as_onnxruntime_runs_its_onnx_form() {
    // The same EfficientNet-Lite0 weights written as a frozen GraphDef
    // (NHWC) at set-up; ONNX Runtime's Python outputs of the ONNX form are
    // the reference, on the same input transposed.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(asset("reference/manifest.json")).unwrap())
            .unwrap();
    let case = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["engine"] == "onnxruntime" && c["model"] == "efficientnet_lite0.onnx")
        .unwrap();
    let nchw = read_f32(case["input"]["file"].as_str().unwrap());
    let (c, h, w) = (3, 224, 224);
    let mut nhwc = vec![0f32; nchw.len()];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                nhwc[(y * w + x) * c + ch] = nchw[(ch * h + y) * w + x];
            }
        }
    }
    {
        let name = "lne";
        let engine = lpdnn_engines::engine(name).unwrap();
        let mut model = engine
            .load(
                &asset("models/efficientnet_lite0.pb"),
                &LoadOptions::default(),
            )
            .unwrap();
        assert_eq!(model.inputs()[0].name, "input");
        assert_eq!(model.outputs()[0].name, "logits");
        let bytes = nhwc.iter().flat_map(|x| x.to_le_bytes()).collect();
        let input = Tensor::new("input", DType::F32, vec![1, h, w, c], bytes).unwrap();
        let out = model.run(vec![input]).unwrap();
        let got: Vec<f32> = out[0]
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let want = read_f32(case["outputs"][0]["file"].as_str().unwrap());
        let e = excess(&got, &want, 1e-5);
        assert!(e <= 1e-4, "{name}: logits differ by {e} beyond rtol");
    }
}
