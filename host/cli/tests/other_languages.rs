//! Processors written outside Rust, as third parties lay them out
//! (`examples/c-detection`, `examples/js-classification`,
//! `examples/python-audio-preprocess`, built at set-up by their own
//! build.sh from pinned registry packages): each passes `component check`
//! and, inside the app it was written for, gives the Rust component's
//! predictions on the same inputs.

mod common;

use std::path::{Path, PathBuf};

use common::{asset, host, read_json, root, text};
use serde_json::Value;

/// A built third-party component.
fn built(file: &str) -> String {
    let path = asset(&format!("components/third-party/{file}"));
    assert!(
        path.is_file(),
        "{} is missing: scripts/setup.sh --all builds it",
        path.display()
    );
    path.display().to_string()
}

/// `examples/NAME/app.json` written into `dir` with every path made
/// absolute, and the pre- or post-processor (`stage`) replaced by `wasm`.
fn app_with(name: &str, stage: &str, wasm: &str, dir: &Path) -> PathBuf {
    let base = root().join("examples").join(name);
    let mut app: Value =
        serde_json::from_slice(&std::fs::read(base.join("app.json")).unwrap()).unwrap();
    let abs = |v: &mut Value| {
        if let Some(p) = v.as_str() {
            *v = Value::from(base.join(p).display().to_string());
        }
    };
    for s in ["preprocessor", "postprocessor"] {
        abs(&mut app[s]["component"]);
    }
    abs(&mut app["labels"]);
    for (_, model) in app["model"].as_object_mut().unwrap() {
        if model.is_string() {
            abs(model);
        } else {
            abs(&mut model["file"]);
        }
    }
    app[stage]["component"] = Value::from(wasm);
    let path = dir.join(format!("{name}-{stage}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&app).unwrap()).unwrap();
    path
}

/// The predictions `run` gives for `inputs`, without the input paths.
fn predictions(app: &Path, inputs: &[PathBuf], out: &Path) -> Vec<Value> {
    let json = out.join(format!(
        "{}.out.json",
        app.file_stem().unwrap().to_str().unwrap()
    ));
    let mut args = vec!["run", app.to_str().unwrap()];
    for i in inputs {
        args.extend(["--input", i.to_str().unwrap()]);
    }
    args.extend(["--json", json.to_str().unwrap()]);
    let o = host(&args);
    assert!(o.status.success(), "{}", text(&o));
    read_json(&json)["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("input");
            p
        })
        .collect()
}

fn check(wasm: &str, world: &str) {
    let o = host(&["component", "check", wasm]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(world), "{}", text(&o));
}

/// Runs the app with `stage` replaced by `wasm`, and the shipped app, on
/// `inputs`: the same predictions, exactly.
fn same_predictions(name: &str, stage: &str, wasm: &str, inputs: &[PathBuf]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let theirs = app_with(name, stage, wasm, dir.path());
    let ours = root().join("examples").join(name).join("app.json");
    let got = predictions(&theirs, inputs, dir.path());
    let want = predictions(&ours, inputs, dir.path());
    assert_eq!(got, want, "{name}: {stage} {wasm}");
    got
}

/// A bad parameter is the component's own `invalid-params`, naming it.
fn refuses_param(name: &str, stage: &str, wasm: &str, input: &Path, field: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(name, stage, wasm, dir.path());
    let mut v: Value = serde_json::from_slice(&std::fs::read(&app).unwrap()).unwrap();
    v[stage]["params"][field] = Value::from(1);
    std::fs::write(&app, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = host(&[
        "run",
        app.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("invalid params") && t.contains(field), "{t}");
    assert!(!t.contains("crash"), "a processor-error, not a trap: {t}");
}

#[test]
fn the_c_detection_decoder_finds_the_rust_components_faces() {
    let wasm = built("detection_c.wasm");
    check(&wasm, "postprocessor");
    let images = [asset("images/astronaut.png"), asset("images/chelsea.png")];
    let got = same_predictions("face-detection", "postprocessor", &wasm, &images);
    assert_eq!(
        got[0]["detections"].as_array().unwrap().len(),
        1,
        "one face"
    );
    assert_eq!(got[1]["detections"].as_array().unwrap().len(), 0, "a cat");
    refuses_param(
        "face-detection",
        "postprocessor",
        &wasm,
        &images[0],
        "treshold",
    );
}

#[test]
fn the_javascript_classifier_gives_the_rust_components_top_5() {
    let wasm = built("classification_js.wasm");
    check(&wasm, "postprocessor");
    let images = [asset("images/chelsea.png"), asset("images/astronaut.png")];
    let got = same_predictions("image-classification", "postprocessor", &wasm, &images);
    assert_eq!(got[0]["classes"][0]["label"], "Egyptian cat");
    assert_eq!(got[0]["classes"].as_array().unwrap().len(), 5);
    refuses_param(
        "image-classification",
        "postprocessor",
        &wasm,
        &images[0],
        "topk",
    );
}

#[test]
fn the_python_audio_preprocessor_gives_the_rust_components_tensors_and_segments() {
    let wasm = built("audio_preprocess_py.wasm");
    check(&wasm, "audio-preprocessor");
    let speech = [asset("audio/speech.wav")];
    let got = same_predictions("voice-activity", "preprocessor", &wasm, &speech);
    assert_eq!(got[0]["segments"].as_array().unwrap().len(), 2, "{got:?}");
    // The tensors themselves, bit for bit (22,050 Hz resampled to 16 kHz).
    let app: Value = serde_json::from_slice(
        &std::fs::read(root().join("examples/voice-activity/app.json")).unwrap(),
    )
    .unwrap();
    let params = app["preprocessor"]["params"].to_string();
    let dir = tempfile::tempdir().unwrap();
    let rust = asset("components/audio_preprocess.wasm");
    let mut outs = Vec::new();
    for (tag, component) in [("py", wasm.as_str()), ("rust", rust.to_str().unwrap())] {
        let out = dir.path().join(format!("{tag}.npy"));
        let o = host(&[
            "component",
            "run",
            component,
            "--input",
            speech[0].to_str().unwrap(),
            "--params",
            &params,
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        outs.push(std::fs::read(out).unwrap());
    }
    assert!(outs[0].len() > 100_000, "{} bytes", outs[0].len());
    assert!(outs[0] == outs[1], "the .npy files differ");
    refuses_param("voice-activity", "preprocessor", &wasm, &speech[0], "n_fft");
}
