//! The `lpdnn-host` binary as a user runs it: `engines`, `convert`, and the
//! behaviour when a native engine library is missing.

mod common;

use common::{asset, root, text};

use std::process::{Command, Output};

fn host(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"));
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn engines_lists_every_engine_with_what_it_can_do_here() {
    let out = host(&["engines", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_name = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing"))
            .clone()
    };
    for (name, format) in [
        ("lne", "ONNX"),
        ("onnxruntime", "ONNX"),
        ("ncnn", "NCNN"),
        ("litert", "TFLite"),
    ] {
        let e = by_name(name);
        assert_eq!(e["available"], true, "{e}");
        assert_eq!(e["formats"][0], format, "{e}");
        assert!(
            e["devices"].as_array().unwrap().contains(&"cpu".into()),
            "{e}"
        );
        assert!(e["version"].as_str().is_some_and(|v| !v.is_empty()), "{e}");
    }
    assert!(by_name("onnxruntime")["version"]
        .as_str()
        .unwrap()
        .contains("1.32.0"));
    // No GPU or NPU build of ONNX Runtime here: tensorrt and acl say what
    // is missing and how to get it, and claim no device.
    for (name, needs) in [("tensorrt", "TensorRT"), ("acl", "CANN")] {
        let e = by_name(name);
        assert_eq!(e["available"], false, "{e}");
        assert!(e["devices"].as_array().unwrap().is_empty(), "{e}");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(needs) && reason.contains("pip install"),
            "{reason}"
        );
    }
    let table = host(&["engines"], &[]);
    assert!(text(&table).contains("litert") && text(&table).contains("LiteRT 2.3.0"));
}

#[test]
fn without_native_libraries_lne_still_runs_and_the_others_say_why() {
    let cache = tempfile::tempdir().unwrap();
    let missing = cache.path().join("nowhere.so");
    let env = [
        ("LPDNN_ORT_LIB", missing.to_str().unwrap()),
        ("LPDNN_NCNN_LIB", missing.to_str().unwrap()),
        ("LPDNN_LITERT_LIB", missing.to_str().unwrap()),
    ];
    let out = host(&["engines", "--json"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for e in list.as_array().unwrap() {
        if e["name"] == "lne" {
            assert_eq!(e["available"], true);
        } else {
            assert_eq!(e["available"], false, "{e}");
            assert!(e["reason"].as_str().unwrap().contains("nowhere.so"), "{e}");
        }
    }
    let app = root().join("examples/face-detection/app.json");
    let img = asset("images/astronaut.png");
    let ok = host(
        &[
            "run",
            app.to_str().unwrap(),
            "--input",
            img.to_str().unwrap(),
        ],
        &env,
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("1 object(s)"), "{}", text(&ok));
    let refused = host(
        &[
            "run",
            app.to_str().unwrap(),
            "--input",
            img.to_str().unwrap(),
            "--engine",
            "onnxruntime",
        ],
        &env,
    );
    assert!(!refused.status.success());
    let msg = text(&refused);
    assert!(
        msg.contains("engine onnxruntime is not available on this platform")
            && msg.contains("nowhere.so"),
        "{msg}"
    );
}

#[test]
fn onnxruntime_on_a_gpu_that_this_build_cannot_use_is_refused_not_faked() {
    let app = root().join("examples/image-classification/app.json");
    let img = asset("images/chelsea.png");
    let out = host(
        &[
            "run",
            app.to_str().unwrap(),
            "--input",
            img.to_str().unwrap(),
            "--engine",
            "onnxruntime",
            "--device",
            "gpu",
        ],
        &[],
    );
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("not available on this platform") && msg.contains("CUDA"),
        "{msg}"
    );
    for engine in ["tensorrt", "acl"] {
        let out = host(
            &[
                "run",
                app.to_str().unwrap(),
                "--input",
                img.to_str().unwrap(),
                "--engine",
                engine,
            ],
            &[],
        );
        assert!(!out.status.success());
        assert!(
            text(&out).contains(&format!(
                "engine {engine} is not available on this platform"
            )),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn convert_to_ncnn_writes_a_model_an_app_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let model = asset("models/face_detection_short_range.onnx");
    // No --input-shape: the model's own [1,3,128,128].
    let out = host(
        &[
            "convert",
            "--to",
            "ncnn",
            model.to_str().unwrap(),
            "--output",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The converted model was loaded and run against the source first.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("checked: its outputs match onnxruntime's on a seeded input"),
        "{said}"
    );
    let param = dir.path().join("face_detection_short_range.ncnn.param");
    assert!(param.is_file() && param.with_extension("bin").is_file());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(param.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(meta["inputs"][0]["blob"], "in0");
    assert_eq!(meta["inputs"][0]["name"], "input");
    assert_eq!(meta["outputs"][0]["name"], "regressors");
    assert_eq!(meta["outputs"][1]["name"], "classificators");
    assert_eq!(meta["outputs"][1]["shape"], serde_json::json!([1, 896, 1]));
    // Nothing but the three files is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn convert_refuses_bad_input_clearly() {
    let tflite = asset("models/face_detection_short_range.tflite");
    let onnx = asset("models/face_detection_short_range.onnx");
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "convert",
                "--to",
                "ncnn",
                tflite.to_str().unwrap(),
                "--input-shape",
                "1,3,128,128",
            ],
            "is TFLite; convert --to ncnn takes an ONNX model",
        ),
        (
            &[
                "convert",
                "--to",
                "ncnn",
                onnx.to_str().unwrap(),
                "--input-shape",
                "1,3,96,96",
            ],
            "does not fit input 'input' [1,3,128,128]",
        ),
        (
            &[
                "convert",
                "--to",
                "ncnn",
                onnx.to_str().unwrap(),
                "--input-shape",
                "1,x,3",
            ],
            "is not a shape",
        ),
    ];
    for (args, want) in cases {
        let out = host(args, &[]);
        assert!(!out.status.success());
        assert!(text(&out).contains(want), "{args:?}: {}", text(&out));
    }
}

#[test]
fn convert_writes_nothing_when_the_converted_model_does_not_load() {
    // pnnx turns silero-vad's LSTM into an NCNN layer that NCNN then
    // cannot read: the conversion "succeeds", the self-check does not.
    let dir = tempfile::tempdir().unwrap();
    let model = asset("models/silero_vad_16k.onnx");
    let out = host(
        &[
            "convert",
            "--to",
            "ncnn",
            model.to_str().unwrap(),
            "--output",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NCNN cannot load the converted model"),
        "{err}"
    );
    assert!(
        err.contains("nothing was written") && err.contains("LSTM"),
        "{err}"
    );
    assert!(
        !err.contains(".pnnx-"),
        "the private work folder is not the user's: {err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wrote"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
