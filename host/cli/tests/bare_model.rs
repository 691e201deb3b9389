//! `lpdnn-host benchmark MODEL`: a bare model timed on its engine alone, as
//! onnxruntime_perf_test, trtexec and benchmark_model do, on seeded
//! synthetic tensors or on `.npy` files, with the same statistics, static
//! metrics and provenance as an app benchmark.

mod common;

use common::{host, read_json, root, text, validate};

use serde_json::Value;
use sha2::Digest;

/// Runs `benchmark` with a short plan and `--filename`; gives the exit
/// status's success, the text and the JSON (when written).
fn bench(model: &str, args: &[&str]) -> (bool, String, Option<Value>) {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    let mut all = vec![
        "benchmark",
        model,
        "--number",
        "10",
        "--warmup",
        "2",
        "--no-monitors",
        "--filename",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = host(&all);
    let result = json.is_file().then(|| read_json(&json));
    (o.status.success(), text(&o), result)
}

fn outputs(run: &Value) -> Vec<(String, Value)> {
    run["predictions"][0]["prediction"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap().to_owned(), o["shape"].clone()))
        .collect()
}

#[test]
fn an_onnx_model_runs_alone_on_two_engines_with_static_metrics_and_provenance() {
    let model = "assets/models/face_detection_short_range.onnx";
    let (ok, t, r) = bench(model, &["--engine", "lne,onnxruntime", "--seed", "3"]);
    assert!(ok, "{t}");
    let r = r.unwrap();
    validate(&r);
    assert_eq!(r["config"]["subject"], "model");
    assert_eq!(r["config"]["app_name"], "face_detection_short_range.onnx");
    assert_eq!(r["config"]["dataset"], "synthetic, seed 3");
    assert_eq!(r["config"]["inputs"], serde_json::json!(["synthetic-3"]));
    assert_eq!(r["config"]["inference_only"], true);
    let sha = hex::encode(sha2::Sha256::digest(
        std::fs::read(root().join(model)).unwrap(),
    ));
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{t}");
    for run in runs {
        let steady = &run["phases"]["steady"];
        assert_eq!(steady["iterations"], 10);
        assert_eq!(steady["ended_by"], "number");
        // The engine alone: one `inference` anchor, no pipeline stages.
        let anchors: Vec<&String> = steady["anchors"].as_object().unwrap().keys().collect();
        assert_eq!(anchors, ["inference"], "{t}");
        assert_eq!(steady["anchors"]["inference"]["real_ms"]["n"], 10);
        assert!(run["phases"]["load_ms"]["load.model"].as_f64().unwrap() > 0.0);
        assert_eq!(run["model_sha256"], sha.as_str());
        assert_eq!(run["model_format"], "ONNX");
        assert_eq!(run["static_metrics"]["macs"], 30_760_960);
        assert_eq!(
            outputs(run),
            [
                ("regressors".to_owned(), serde_json::json!([1, 896, 16])),
                ("classificators".to_owned(), serde_json::json!([1, 896, 1])),
            ]
        );
    }
    assert!(t.contains("inference"), "{t}");
    assert!(r["provenance"]["lpdnn_host"]["version"].is_string(), "{r}");
}

#[test]
fn layers_are_timed_on_each_engine_and_shown_within_the_width() {
    let model = "assets/models/efficientnet_lite0.onnx";
    let (ok, t, r) = bench(
        model,
        &[
            "--engine",
            "lne,onnxruntime",
            "--threads",
            "1",
            "--layers",
            "12",
        ],
    );
    assert!(ok, "{t}");
    let r = r.unwrap();
    validate(&r);
    for run in r["runs"].as_array().unwrap() {
        let layers = &run["layers"];
        assert_eq!(layers["runs"], 12, "{}", run["engine"]);
        let rows = layers["layers"].as_array().unwrap();
        // Every layer in the JSON, the slowest first, the stem among them.
        assert!(rows.len() > 50, "{}: {} layers", run["engine"], rows.len());
        assert!(rows.iter().any(|l| l["node"] == "_conv_stem_1"), "{t}");
    }
    // The text: one header line and ten rows per engine, within 100 columns.
    let sections: Vec<&str> = t.split("layers: 12 profiled runs").skip(1).collect();
    assert_eq!(sections.len(), 2, "{t}");
    for s in sections {
        let lines: Vec<&str> = s.lines().take(12).collect();
        assert!(lines[1].contains("GFLOP/s"), "{s}");
        assert!(
            lines[2..12]
                .iter()
                .all(|l| l.contains(" ms") || l.contains('%')),
            "{s}"
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 100), "{s}");
    }
}

#[test]
fn outputs_are_checked_against_a_reference_engine_with_a_verdict() {
    let model = "assets/models/efficientnet_lite0.onnx";
    let (ok, t, r) = bench(
        model,
        &[
            "--engine",
            "onnxruntime",
            "--check-against",
            "lne",
            "--fail-if-differs",
        ],
    );
    assert!(ok, "{t}");
    let r = r.unwrap();
    validate(&r);
    let check = &r["runs"][0]["check"];
    assert_eq!(check["verdict"], "agrees", "{check}");
    assert_eq!(check["outputs"][0]["top1"], 1.0, "{check}");
    assert!(
        t.contains("check against lne: agrees (tolerance: relative error 1e-4; 1 input(s))"),
        "{t}"
    );
    // A tolerance below what two engines computing in f32 differ by: the
    // verdict says so, and with --fail-if-differs so does the exit status.
    let strict = [
        "--engine",
        "onnxruntime",
        "--check-against",
        "lne",
        "--tolerance",
        "1e-9",
    ];
    let (ok, t, r) = bench(model, &strict);
    assert!(ok, "{t}");
    assert_eq!(r.unwrap()["runs"][0]["check"]["verdict"], "differs", "{t}");
    let (ok, t, r) = bench(model, &[&strict[..], &["--fail-if-differs"]].concat());
    assert!(!ok && r.is_some(), "{t}");
    assert!(
        t.contains("outputs differ: onnxruntime differs from lne (max relative error"),
        "{t}"
    );
    // A reference model needs a reference engine.
    let (ok, t, _) = bench(model, &["--reference-model", model]);
    assert!(!ok && t.contains("--check-against"), "{t}");
}

#[test]
fn tflite_and_ncnn_models_pick_their_engine() {
    for (model, engine, format) in [
        (
            "assets/models/face_detection_short_range.tflite",
            "litert",
            "TFLite",
        ),
        (
            "assets/models/face_detection_short_range.ncnn.param",
            "ncnn",
            "NCNN",
        ),
    ] {
        let (ok, t, r) = bench(model, &[]);
        assert!(ok, "{model}: {t}");
        let r = r.unwrap();
        validate(&r);
        let run = &r["runs"][0];
        assert_eq!(run["engine"], engine, "{model}");
        assert_eq!(run["model_format"], format, "{model}");
        assert_eq!(run["phases"]["steady"]["iterations"], 10, "{model}");
        assert_eq!(run["static_metrics"]["macs"], 30_760_960, "{model}");
        assert_eq!(outputs(run).len(), 2, "{model}: {run}");
    }
}

#[test]
fn a_tensorflow_graph_runs_on_lne_and_a_savedmodel_or_keras_file_is_told_how_to_freeze() {
    let (ok, t, r) = bench("assets/models/efficientnet_lite0.pb", &[]);
    assert!(ok, "{t}");
    let r = r.unwrap();
    validate(&r);
    let run = &r["runs"][0];
    assert_eq!(run["engine"], "lne");
    assert_eq!(run["model_format"], "TensorFlow");
    assert_eq!(run["static_metrics"]["format"], "tf");
    assert_eq!(run["static_metrics"]["macs"], 385_187_552);
    assert_eq!(
        outputs(run),
        [("logits".to_owned(), serde_json::json!([1, 1000]))]
    );

    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    // saved_model_schema_version: 1, meta_graphs { graph_def { } }.
    std::fs::write(
        saved.join("saved_model.pb"),
        [0x08, 0x01, 0x12, 0x02, 0x12, 0x00],
    )
    .unwrap();
    let h5 = dir.path().join("model.h5");
    std::fs::write(&h5, b"\x89HDF\r\n\x1a\n\0\0\0\0").unwrap();
    for (model, what) in [
        (saved.clone(), "a TensorFlow SavedModel folder"),
        (
            saved.join("saved_model.pb"),
            "a TensorFlow SavedModel (saved_model.pb",
        ),
        (h5.clone(), "an HDF5 file (a Keras .h5 model)"),
    ] {
        let (ok, t, _) = bench(model.to_str().unwrap(), &[]);
        assert!(!ok);
        assert!(t.contains(what), "{t}");
        assert!(t.contains("convert_variables_to_constants_v2"), "{t}");
    }
    // An engine given one says it too.
    let (ok, t, _) = bench(saved.to_str().unwrap(), &["--engine", "lne"]);
    assert!(!ok && t.contains("SavedModel"), "{t}");
}

#[test]
fn open_dimensions_need_input_shapes_and_run_with_them() {
    let model = "tests/models/open_dims.onnx";
    let (ok, t, r) = bench(model, &["--engine", "onnxruntime"]);
    assert!(!ok, "{t}");
    assert!(t.contains("input 'x' is f32 [?,3,?,?]"), "{t}");
    assert!(t.contains("--input-shape x=N,3,N,N"), "{t}");
    assert!(r.unwrap()["runs"].as_array().unwrap().is_empty());

    let (ok, t, r) = bench(
        model,
        &[
            "--engine",
            "onnxruntime,lne",
            "--input-shape",
            "x=2,3,8,5",
            "--input-shape",
            "ids=2",
        ],
    );
    assert!(ok, "{t}");
    for run in r.unwrap()["runs"].as_array().unwrap() {
        assert_eq!(
            outputs(run),
            [
                ("y".to_owned(), serde_json::json!([2, 3, 8, 5])),
                ("z".to_owned(), serde_json::json!([2])),
            ],
            "{run}"
        );
    }
}

/// A `.npy` file (format 1.0) of little-endian values.
fn npy(path: &std::path::Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_inputs_feed_the_model_by_name_one_set_per_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (set, batch) in [("a", 1usize), ("b", 3)] {
        let d = dir.path().join(set);
        std::fs::create_dir(&d).unwrap();
        let x: Vec<u8> = (0..batch * 3 * 4 * 4)
            .flat_map(|i| (i as f32 - 20.0).to_le_bytes())
            .collect();
        npy(&d.join("x.npy"), "<f4", &[batch, 3, 4, 4], &x);
        let ids: Vec<u8> = (0..batch as i64).flat_map(|i| i.to_le_bytes()).collect();
        npy(&d.join("ids.npy"), "<i8", &[batch], &ids);
    }
    let dir_arg = dir.path().to_str().unwrap();
    let (ok, t, r) = bench("tests/models/open_dims.onnx", &["--inputs", dir_arg]);
    assert!(ok, "{t}");
    let r = r.unwrap();
    assert_eq!(r["config"]["inputs"], serde_json::json!(["a", "b"]));
    assert_eq!(r["config"]["dataset"], dir_arg);
    let run = &r["runs"][0];
    assert_eq!(run["predictions"].as_array().unwrap().len(), 2);
    assert_eq!(
        run["predictions"][1]["prediction"]["outputs"][0]["shape"],
        serde_json::json!([3, 3, 4, 4])
    );

    // A set that does not fit is refused naming the set and the input.
    npy(&dir.path().join("b/ids.npy"), "<i4", &[3], &[0; 12]);
    let (ok, t, _) = bench("tests/models/open_dims.onnx", &["--inputs", dir_arg]);
    assert!(!ok, "{t}");
    assert!(
        t.contains("input b:") && t.contains("'ids'") && t.contains("i64"),
        "{t}"
    );
}

#[test]
fn mistakes_are_refused_with_what_to_do() {
    let face = "assets/models/face_detection_short_range.onnx";
    for (args, needle) in [
        (
            vec!["benchmark", face, "--dataset", "assets/images"],
            "--dataset is for an app",
        ),
        (
            vec![
                "benchmark",
                "examples/face-detection/app.json",
                "--input-shape",
                "input=1,3,128,128",
            ],
            "--input-shape and --inputs are for a bare model",
        ),
        (
            vec!["benchmark", "examples/face-detection/app.json"],
            "--dataset is needed for an app",
        ),
        (
            vec!["benchmark", face, "--input-shape", "input"],
            "give NAME=DIMS",
        ),
        (
            vec!["benchmark", face, "--input-shape", "input=1,0,3"],
            "dimensions are positive integers",
        ),
        (
            vec![
                "benchmark",
                face,
                "--input-shape",
                "image=1,3,128,128",
                "--number",
                "1",
            ],
            "the model has no input 'image'; its inputs: input f32 [1,3,128,128]",
        ),
        (
            vec![
                "benchmark",
                face,
                "--input-shape",
                "input=1,3,64,64",
                "--number",
                "1",
            ],
            "input 'input' is f32 [1,3,128,128]; [1,3,64,64] does not fit it",
        ),
        (
            vec!["benchmark", face, "--engine", "litert", "--number", "1"],
            "litert: takes TFLite models; this is ONNX",
        ),
        (
            vec!["benchmark", face, "--inputs", "assets/images"],
            "holds no .npy files",
        ),
    ] {
        let o = host(&args);
        let t = text(&o);
        assert!(!o.status.success(), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: want {needle:?} in {t}");
        assert!(!t.contains("panicked"), "{args:?}: {t}");
    }
}

/// Every engine is checked against the model before anything is measured:
/// the two that cannot run ONNX are named once each, with how to get the
/// format they take, and no engine runs, no result is written.
#[test]
fn engines_that_cannot_run_the_model_are_refused_before_anything_runs() {
    let face = "assets/models/face_detection_short_range.onnx";
    let (ok, t, r) = bench(face, &["--engine", "lne,onnxruntime,ncnn,litert"]);
    assert!(!ok, "{t}");
    assert!(r.is_none(), "a result was written: {t}");
    assert!(
        t.contains(&format!(
            "2 engines cannot run {face}; nothing was measured"
        )),
        "{t}"
    );
    assert_eq!(
        t.matches("ncnn: takes NCNN models; this is ONNX").count(),
        1,
        "{t}"
    );
    assert!(
        t.contains(&format!("lpdnn-host convert --to ncnn {face}")),
        "{t}"
    );
    assert_eq!(t.matches("litert: takes TFLite models").count(), 1, "{t}");
    // Nothing ran: no engine's table, no load.
    assert!(!t.contains("inference"), "{t}");

    // An app without the TFLite form: the app's field to add is named.
    let dir = tempfile::tempdir().unwrap();
    let mut app: Value = read_json(&root().join("examples/face-detection/app.json"));
    app["model"].as_object_mut().unwrap().remove("tflite");
    let base = root().join("examples/face-detection");
    for key in ["onnx", "ncnn"] {
        let rel = app["model"][key].as_str().unwrap().to_owned();
        app["model"][key] = Value::from(base.join(rel).to_str().unwrap());
    }
    for (p, key) in [
        ("preprocessor", "component"),
        ("postprocessor", "component"),
    ] {
        let rel = app[p][key].as_str().unwrap().to_owned();
        app[p][key] = Value::from(base.join(rel).to_str().unwrap());
    }
    let rel = app["labels"].as_str().unwrap().to_owned();
    app["labels"] = Value::from(base.join(rel).to_str().unwrap());
    let app_json = dir.path().join("app.json");
    std::fs::write(&app_json, app.to_string()).unwrap();
    let o = host(&[
        "benchmark",
        app_json.to_str().unwrap(),
        "--dataset",
        "assets/images",
        "--engine",
        "lne,litert",
        "--number",
        "1",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("litert: takes TFLite models; the app has ONNX, NCNN"),
        "{t}"
    );
    assert!(t.contains(r#"as "model": {"tflite": "FILE"}"#), "{t}");
}

/// A contained panic of an engine's library (tract asked for 2^50 elements
/// by a ~100-byte model) is an error naming the file; Rust's panic message
/// never reaches the terminal, where it reads as a crash.
#[test]
fn a_contained_engine_panic_prints_no_panic_message() {
    for name in ["constant_of_shape_2e50.onnx", "range_2e40.onnx"] {
        let bomb = format!("tests/hostile/models/{name}");
        for args in [
            vec!["inspect", &bomb],
            vec!["benchmark", &bomb, "--engine", "lne", "--number", "1"],
        ] {
            let o = host(&args);
            let t = text(&o);
            assert!(!t.contains("panicked at"), "{args:?}: {t}");
            if args[0] == "benchmark" {
                assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
                assert!(t.contains(name), "{args:?}: {t}");
            }
        }
    }
}
