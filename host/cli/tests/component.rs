//! `lpdnn-host component` as a component author uses it: inspect, check,
//! compile, run alone; and a third-party component built outside our
//! workspace with the SDK, as a user would build it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, text};

fn asset(rel: &str) -> String {
    common::asset(rel).display().to_string()
}

fn host(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(args)
        .env("LPDNN_CACHE_DIR", cache)
        .current_dir(root())
        .output()
        .unwrap()
}

/// Reads a `.npy` array of f32 or f64 as f64, with its shape.
fn read_npy(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = f.shape().to_vec();
    let wide = matches!(f.dtype(), npyz::DType::Plain(t) if t.size_field() == 8);
    let values = if wide {
        f.into_vec::<f64>().unwrap()
    } else {
        f.into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    (shape, values)
}

/// `lpdnn-host component run WASM --input INPUT [--params PARAMS] --output OUT`.
fn run_component(
    wasm: &str,
    input: &str,
    params: Option<&str>,
    out: &Path,
    cache: &Path,
) -> Output {
    let mut args = vec!["component", "run", wasm, "--input", input];
    if let Some(p) = params {
        args.extend(["--params", p]);
    }
    args.extend(["--output", out.to_str().unwrap()]);
    host(&args, cache)
}

#[test]
fn inspect_names_the_world_version_and_imports() {
    let cache = tempfile::tempdir().unwrap();
    let o = host(
        &[
            "component",
            "inspect",
            "--json",
            &asset("components/audio_preprocess.wasm"),
        ],
        cache.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["worlds"], serde_json::json!(["audio-preprocessor"]));
    assert_eq!(v["wit_versions"], serde_json::json!(["0.2.0"]));
    assert!(v["exports"]
        .as_array()
        .unwrap()
        .contains(&"lpdnn:processing/audio-preprocess@0.2.0".into()));
    assert!(v["imports"].as_array().unwrap().iter().all(|i| {
        let i = i.as_str().unwrap();
        i.starts_with("wasi:") || i.starts_with("lpdnn:processing/types@")
    }));
    assert!(v["problems"].as_array().unwrap().is_empty());
    assert!(v["size_bytes"].as_u64().unwrap() > 10_000);
}

#[test]
fn check_refuses_an_old_wit_version_and_an_import_we_do_not_grant() {
    let cache = tempfile::tempdir().unwrap();
    let ok = host(
        &["component", "check", &asset("components/segments.wasm")],
        cache.path(),
    );
    assert!(
        ok.status.success() && text(&ok).contains("postprocessor"),
        "{}",
        text(&ok)
    );

    let old = host(
        &[
            "component",
            "check",
            &asset("components/testing/old_version.wasm"),
        ],
        cache.path(),
    );
    let t = text(&old);
    assert_eq!(old.status.code(), Some(1), "{t}");
    assert!(
        t.contains("lpdnn:processing@0.1.0") && t.contains("lpdnn:processing@0.2.0"),
        "{t}"
    );

    // A component that asks for a network interface of its own.
    let evil = wat::parse_str(
        r#"(component
             (import "evil:net/send" (instance (export "send" (func (param "data" string)))))
           )"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.wasm");
    std::fs::write(&file, evil).unwrap();
    let o = host(
        &["component", "check", file.to_str().unwrap()],
        cache.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("imports evil:net/send, which the sandbox does not grant"),
        "{t}"
    );
    assert!(
        t.contains("exports no lpdnn:processing@0.2.0 interface"),
        "{t}"
    );

    let png = host(
        &["component", "check", &asset("images/chelsea.png")],
        cache.path(),
    );
    assert!(!png.status.success() && text(&png).contains("not a valid WebAssembly component"));
}

#[test]
fn compile_fills_the_cache_and_run_writes_the_tensor_as_npy() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = asset("components/audio_preprocess.wasm");
    let o = host(&["component", "compile", &wasm], cache.path());
    assert!(o.status.success(), "{}", text(&o));
    let cwasm: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(cwasm.len(), 1, "{}", text(&o));

    let out = tempfile::tempdir().unwrap();
    let npy = out.path().join("mfcc.npy");
    let speech = asset("audio/speech.wav");
    let mfcc = r#"{"sr": 16000, "n_mfcc": 13, "n_fft": 400, "hop_length": 160, "n_mels": 40, "fmin": 20, "fmax": 7600}"#;
    let o = run_component(&wasm, &speech, Some(mfcc), &npy, cache.path());
    assert!(o.status.success(), "{}", text(&o));
    let (shape, got) = read_npy(&npy);
    let (want_shape, want) = read_npy(Path::new(&asset("reference/audio/mfcc_16000.npy")));
    assert_eq!(shape[1..], want_shape[..]);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-3, "{worst}");

    // A streaming pre-processor: its chunks stacked on a new first axis.
    let chunks = r#"{"sr": 16000, "features": "waveform", "chunk_length": 576, "chunk_hop": 512, "pad_start": 64}"#;
    let o = run_component(&wasm, &speech, Some(chunks), &npy, cache.path());
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(read_npy(&npy).0, vec![284, 1, 576]);

    // Bad input: a clear error, and the earlier output left whole.
    let o = run_component(
        &wasm,
        &asset("images/chelsea.png"),
        None,
        &npy,
        cache.path(),
    );
    assert!(
        !o.status.success() && text(&o).contains("not a valid WAV"),
        "{}",
        text(&o)
    );
    assert_eq!(read_npy(&npy).0, vec![284, 1, 576]);
}

#[test]
fn run_a_post_processor_alone_on_npy_outputs() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let logits = dir.path().join("logits.npy");
    let mut values = vec![0.0f32; 1000];
    values[285] = 9.0;
    values[281] = 4.0;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        use npyz::WriterBuilder;
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&[1, 1000])
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        w.extend(values).unwrap();
        w.finish().unwrap();
    }
    std::fs::write(&logits, buf.into_inner()).unwrap();
    let json = dir.path().join("prediction.json");
    let o = host(
        &[
            "component",
            "run",
            &asset("components/classification.wasm"),
            "--input",
            logits.to_str().unwrap(),
            "--params",
            r#"{"top_k": 2}"#,
            "--labels",
            &asset("labels/imagenet.txt"),
            "--output",
            json.to_str().unwrap(),
        ],
        cache.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["classes"][0]["label"], "Egyptian cat");
    assert_eq!(v["classes"][1]["id"], 281);
}

#[test]
fn a_third_party_component_built_with_the_sdk_checks_and_runs() {
    // Built as its author would: cargo, the wasm32-wasip2 target, its own workspace.
    let crate_dir = root().join("examples/third-party-component");
    let target = std::env::var_os("LPDNN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lpdnn"))
        .join("third-party-target");
    let build = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let wasm = target.join("wasm32-wasip2/release/rms_energy.wasm");
    let wasm = wasm.to_str().unwrap();

    let cache = tempfile::tempdir().unwrap();
    let o = host(&["component", "check", wasm], cache.path());
    assert!(
        o.status.success() && text(&o).contains("audio-preprocessor"),
        "{}",
        text(&o)
    );

    let out = tempfile::tempdir().unwrap();
    let npy = out.path().join("rms.npy");
    let frames = r#"{"frame_length": 2205, "hop_length": 2205}"#;
    let o = run_component(
        wasm,
        &asset("audio/speech.wav"),
        Some(frames),
        &npy,
        cache.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let (shape, rms) = read_npy(&npy);
    assert_eq!(shape, vec![1, rms.len() as u64]);
    // 0.1 s frames: silent before 1.0 s, loud in the first sentence.
    let silence = rms[..9].iter().copied().fold(0.0, f64::max);
    let speech = rms[12..38].iter().sum::<f64>() / 26.0;
    assert!(
        silence < 1e-3 && speech > 0.02,
        "silence {silence}, speech {speech}"
    );
}

/// `run --dump-outputs` writes what each post-processor was handed; fed
/// back to `component run` with `--meta`, the shipped post-processors give
/// the app's own prediction: boxes in original-image pixels (the geometry),
/// speech segments in seconds (the stream's hop and rate, 284 chunks).
#[test]
fn every_post_processor_runs_alone_on_a_dump_of_the_app() {
    let cache = tempfile::tempdir().unwrap();
    let dump = tempfile::tempdir().unwrap();
    let d = dump.path().to_str().unwrap();
    let cases = [
        (
            "examples/face-detection/app.json",
            asset("images/astronaut.png"),
            "detection.wasm",
            "astronaut",
        ),
        (
            "examples/voice-activity/app.json",
            asset("audio/speech.wav"),
            "segments.wasm",
            "speech",
        ),
    ];
    for (app, input, post, stem) in cases {
        let json = dump.path().join(format!("{stem}.run.json"));
        let out = host(
            &[
                "run",
                app,
                "--input",
                &input,
                "--dump-outputs",
                d,
                "--json",
                json.to_str().unwrap(),
            ],
            cache.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let folder = dump.path().join(stem);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("meta.json")).unwrap()).unwrap();
        let app_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(root().join(app)).unwrap()).unwrap();
        let mut args: Vec<String> = vec![
            "component".into(),
            "run".into(),
            asset(&format!("components/{post}")),
        ];
        for name in meta["outputs"].as_array().unwrap() {
            args.push("--input".into());
            args.push(
                folder
                    .join(format!("{}.npy", name.as_str().unwrap()))
                    .display()
                    .to_string(),
            );
        }
        if let Some(labels) = app_json["labels"].as_str() {
            let app_dir = root().join(app).parent().unwrap().to_owned();
            args.push("--labels".into());
            args.push(app_dir.join(labels).display().to_string());
        }
        let predicted = dump.path().join(format!("{stem}.json"));
        args.extend([
            "--meta".into(),
            format!("@{}", folder.join("meta.json").display()),
            "--params".into(),
            app_json["postprocessor"]["params"].to_string(),
            "-o".into(),
            predicted.display().to_string(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = host(&args, cache.path());
        assert!(out.status.success(), "{}", text(&out));
        let alone: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&predicted).unwrap()).unwrap();
        let mut from_app = run["predictions"][0].clone();
        from_app.as_object_mut().unwrap().remove("input");
        assert_eq!(alone, from_app, "{post} alone vs in the app");
        // Without the facts, the same outputs give other figures: the meta matters.
        let pos = args.iter().position(|a| *a == "--meta").unwrap();
        let mut bare = args.clone();
        bare.drain(pos..pos + 2);
        let out = host(&bare, cache.path());
        let differs = !out.status.success()
            || serde_json::from_slice::<serde_json::Value>(&std::fs::read(&predicted).unwrap())
                .unwrap()
                != from_app;
        assert!(differs, "{post}: the meta changed nothing");
    }
    let speech: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dump.path().join("speech/meta.json")).unwrap())
            .unwrap();
    assert!(speech["chunks"].as_u64().unwrap() > 100, "{speech}");
    assert_eq!(speech["meta"]["audio"]["sample_rate"], 16000);
}
