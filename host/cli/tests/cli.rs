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
            "input 'input' is f32 [1,3,128,128]; [1,3,96,96] does not fit it",
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

#[test]
fn convert_takes_input_shapes_by_name_as_benchmark_does() {
    let face = asset("models/face_detection_short_range.onnx");
    let vad = asset("models/silero_vad_16k.onnx");
    let convert = |model: &std::path::Path, shape: &str, out: &std::path::Path| {
        host(
            &[
                "convert",
                "--to",
                "ncnn",
                model.to_str().unwrap(),
                "--input-shape",
                shape,
                "--output",
                out.to_str().unwrap(),
            ],
            &[],
        )
    };
    let dir = tempfile::tempdir().unwrap();
    // A name the model lacks, or bare dimensions for a model of several
    // inputs: refused naming the model's inputs, nothing written.
    let o = convert(&face, "image=1,3,128,128", dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no input 'image'; its inputs: input f32 [1,3,128,128]"),
        "{}",
        text(&o)
    );
    let o = convert(&vad, "1,576", dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("--input-shape 1,576: the model has 2 inputs (input ")
            && t.contains("name the input, NAME=DIMS"),
        "{t}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // NAME=DIMS, as `benchmark --input-shape` takes it.
    let o = convert(&face, "input=1,3,128,128", dir.path());
    assert!(o.status.success(), "{}", text(&o));
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("face_detection_short_range.ncnn.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        meta["inputs"][0]["shape"],
        serde_json::json!([1, 3, 128, 128])
    );
    // The help says so.
    let help = text(&host(&["convert", "--help"], &[]));
    assert!(help.contains("--input-shape <NAME=DIMS>"), "{help}");
}

/// The ncnn release the set-up builds: the pinned source archive's version.
fn pinned_ncnn() -> String {
    let list = std::fs::read_to_string(root().join("scripts/requirements/downloads.txt")).unwrap();
    list.lines()
        .find_map(|l| {
            let file = l.split_whitespace().nth(1)?;
            Some(
                file.strip_prefix("ncnn-")?
                    .strip_suffix(".tar.gz")?
                    .to_owned(),
            )
        })
        .expect("downloads.txt pins an ncnn source archive")
}

/// NCNN's entry in `engines --json`.
fn ncnn_entry(stdout: &[u8]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = serde_json::from_slice(stdout).unwrap();
    list.into_iter()
        .find(|e| e["name"] == "ncnn")
        .expect("engines lists ncnn")
}

#[test]
fn ncnn_reports_the_release_built_not_the_build_date() {
    let want = format!("ncnn {}", pinned_ncnn());
    let out = host(&["engines", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let ncnn = ncnn_entry(&out.stdout);
    assert_eq!(ncnn["version"], want.as_str(), "{ncnn}");
    assert!(text(&host(&["engines"], &[])).contains(&want));
    // The same in a benchmark's result and text.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = host(
        &[
            "benchmark",
            asset("models/face_detection_short_range.ncnn.param")
                .to_str()
                .unwrap(),
            "--number",
            "1",
            "--warmup",
            "1",
            "--no-monitors",
            "--filename",
            json.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("== engine ncnn ({want})")),
        "{}",
        text(&out)
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["runs"][0]["engine_version"], want.as_str());
}

#[test]
fn a_package_is_readable_as_the_umask_allows_and_its_ncnn_says_its_release() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"));
    cmd.args([
        "package",
        "--platform",
        "x86_64-linux",
        "--engines",
        "lne,ncnn",
    ])
    .args(["--app", "examples/face-detection", "-o"])
    .arg(&pkg)
    .current_dir(root());
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // The folder is a temporary one renamed: it keeps 0777 less the umask.
    assert_eq!(mode(&pkg), 0o755, "{:o}", mode(&pkg));
    assert_eq!(mode(&pkg.join("engines.yml")), 0o644);
    // The release libncnn was built from travels beside it; the package's
    // binary reports it, as engines.yml records it.
    let want = pinned_ncnn();
    let engines = std::fs::read_to_string(pkg.join("engines.yml")).unwrap();
    assert!(engines.contains(&format!("version: {want}")), "{engines}");
    assert_eq!(
        std::fs::read_to_string(pkg.join("lib/ncnn/libncnn.so.version"))
            .unwrap()
            .trim(),
        want
    );
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(pkg.join("bin/lpdnn-host"))
        .args(["engines", "--json"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("LPDNN_CACHE", home.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let ncnn = ncnn_entry(&o.stdout);
    assert_eq!(ncnn["version"], format!("ncnn {want}").as_str(), "{ncnn}");
    assert!(
        ncnn["library"]
            .as_str()
            .unwrap()
            .starts_with(pkg.to_str().unwrap()),
        "{ncnn}"
    );
    let o = host(&["package", "verify", pkg.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));
}
