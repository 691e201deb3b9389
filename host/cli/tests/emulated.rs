//! The aarch64 deployment package under user-mode emulation (qemu-user):
//! the same `.wasm` processors give byte-identical tensors and predictions
//! to x86_64 on the same inputs, the face app finds the astronaut's face on
//! every engine the package carries, a benchmark marks itself emulated, and
//! a BaaS worker started from the package serves its platform: a sweep over
//! it and this machine is one report of four cells.
//!
//! They need `scripts/cross.sh aarch64` (the test command runs it); without
//! it they are skipped, unless `LPDNN_REQUIRE_CROSS` is set (CI sets it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use common::baas::{curl, serve};
use common::{asset, host, read_json, root, text};

const TRIPLE: &str = "aarch64-unknown-linux-gnu";
const SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// Whether the cross build is there; panics when CI requires it.
fn ready(what: &str) -> bool {
    let target = lpdnn_engine_api::cache_dir().join("targets").join(TRIPLE);
    // The binary and the libraries of the Raspberry Pi 4's default profile.
    let files = [
        "bin/lpdnn-host",
        "lib/onnxruntime/libonnxruntime.so",
        "lib/ncnn/libncnn.so",
    ];
    let absent = files.iter().map(|f| target.join(f)).find(|f| !f.is_file());
    let qemu = Command::new("qemu-aarch64").arg("--version").output();
    let missing = if let Some(f) = absent {
        Some(format!(
            "{} is missing (scripts/cross.sh aarch64)",
            f.display()
        ))
    } else if !qemu.is_ok_and(|o| o.status.success()) {
        Some("qemu-aarch64 is missing (scripts/cross.sh aarch64 installs it)".into())
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) if std::env::var_os("LPDNN_REQUIRE_CROSS").is_some() => {
            panic!("{what}: {why}")
        }
        Some(why) => {
            eprintln!("skipped {what}: {why}");
            false
        }
    }
}

/// Packages the face and voice apps for `platform` into `dir/NAME`, with
/// `engines` (comma-separated) or the profile's.
fn build_package(platform: &str, engines: Option<&str>, dir: &Path) -> PathBuf {
    let pkg = dir.join(platform);
    let mut args = vec!["package", "--platform", platform];
    if let Some(e) = engines {
        args.extend(["--engines", e]);
    }
    args.extend([
        "--app",
        "examples/face-detection",
        "--app",
        "examples/voice-activity",
        "-o",
        pkg.to_str().unwrap(),
    ]);
    let o = host(&args);
    assert!(o.status.success(), "{platform}: {}", text(&o));
    pkg
}

/// The generic aarch64 package, built once for all tests, with every
/// engine whose aarch64 library the cache has.
fn package() -> &'static Path {
    static PKG: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &PKG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let lib = lpdnn_engine_api::cache_dir()
            .join("targets")
            .join(TRIPLE)
            .join("lib");
        let mut engines = vec!["lne"];
        for (e, file) in [
            ("onnxruntime", "onnxruntime/libonnxruntime.so"),
            ("litert", "litert/libLiteRt.so"),
            ("ncnn", "ncnn/libncnn.so"),
        ] {
            if lib.join(file).is_file() {
                engines.push(e);
            }
        }
        let pkg = build_package("aarch64-linux", Some(&engines.join(",")), dir.path());
        (dir, pkg)
    })
    .1
}

/// The Raspberry Pi 4's package (its default profile), built once.
fn board_package() -> &'static Path {
    static PKG: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &PKG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pkg = build_package("raspberry-pi-4b", None, dir.path());
        (dir, pkg)
    })
    .1
}

/// The package's binary under qemu-aarch64, in a bare environment (an
/// empty cache: engine libraries come from the package).
fn emulated(pkg: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new("qemu-aarch64")
        .arg(pkg.join("bin/lpdnn-host"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QEMU_LD_PREFIX", SYSROOT)
        .env("HOME", cwd)
        .env("LPDNN_CACHE", cwd)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn engines_of(pkg: &Path) -> Vec<String> {
    let yml = std::fs::read_to_string(pkg.join("engines.yml")).unwrap();
    yml.lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_aarch64_package_verifies_and_finds_the_face_on_every_engine() {
    if !ready("the aarch64 package's engines") {
        return;
    }
    let pkg = package();
    let o = host(&["package", "verify", pkg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(TRIPLE), "{}", text(&o));
    let engines = engines_of(pkg);
    assert!(
        ["lne", "onnxruntime", "litert"]
            .iter()
            .all(|e| engines.contains(&e.to_string())),
        "{engines:?}"
    );
    let home = tempfile::tempdir().unwrap();
    let app = pkg.join("apps/face-detection-blazeface/app.json");
    let image = asset("images/astronaut.png");
    let native = host(&[
        "run",
        app.to_str().unwrap(),
        "--input",
        image.to_str().unwrap(),
    ]);
    let native_face = text(&native)
        .lines()
        .find(|l| l.trim_start().starts_with("face "))
        .unwrap()
        .to_owned();
    for e in &engines {
        let o = emulated(
            pkg,
            &[
                "run",
                app.to_str().unwrap(),
                "--input",
                image.to_str().unwrap(),
                "--engine",
                e,
            ],
            home.path(),
        );
        let out = text(&o);
        assert!(o.status.success(), "{e}: {out}");
        assert!(out.contains("| aarch64 linux"), "{e}: {out}");
        assert!(out.contains("1 object(s)"), "{e}: {out}");
        // Score and box to the digit printed, as on x86_64.
        assert!(
            out.contains(&native_face),
            "{e}: {out}\nx86_64: {native_face}"
        );
    }
}

/// `component run` of the package's component, natively and emulated; the
/// two output files' bytes.
fn both(pkg: &Path, component: &str, args: &[String], out_name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let wasm = pkg.join(component);
    let mut a: Vec<String> = vec!["component".into(), "run".into(), wasm.display().to_string()];
    a.extend(args.iter().cloned());
    let native_out = dir.path().join(format!("x86_64-{out_name}"));
    let emulated_out = dir.path().join(format!("aarch64-{out_name}"));
    let mut n = a.clone();
    n.extend(["-o".into(), native_out.display().to_string()]);
    let n: Vec<&str> = n.iter().map(String::as_str).collect();
    let o = host(&n);
    assert!(o.status.success(), "x86_64 {component}: {}", text(&o));
    let mut e = a.clone();
    e.extend(["-o".into(), emulated_out.display().to_string()]);
    let e: Vec<&str> = e.iter().map(String::as_str).collect();
    let o = emulated(pkg, &e, dir.path());
    assert!(o.status.success(), "aarch64 {component}: {}", text(&o));
    (
        std::fs::read(native_out).unwrap(),
        std::fs::read(emulated_out).unwrap(),
    )
}

/// The parameters of an app's processor, written to a file.
fn params(app: &Path, which: &str, dir: &Path) -> String {
    let v = read_json(app);
    let p = dir.join(format!("{which}.json"));
    std::fs::write(&p, v[which]["params"].to_string()).unwrap();
    format!("@{}", p.display())
}

#[test]
fn the_same_wasm_gives_byte_identical_tensors_and_predictions_on_aarch64() {
    if !ready("byte-identical processing under emulation") {
        return;
    }
    let pkg = package();
    let tmp = tempfile::tempdir().unwrap();
    let face = pkg.join("apps/face-detection-blazeface/app.json");
    let vad = pkg.join("apps/voice-activity/app.json");
    let image = asset("images/astronaut.png");
    let speech = asset("audio/speech.wav");

    // Pre-processors: image and audio.
    let p = params(&face, "preprocessor", tmp.path());
    let (x, a) = both(
        pkg,
        "apps/face-detection-blazeface/components/image_preprocess.wasm",
        &[
            "--input".into(),
            image.display().to_string(),
            "--params".into(),
            p,
        ],
        "image.npy",
    );
    assert!(x.len() > 3 * 128 * 128 * 4, "{} bytes", x.len());
    assert!(x == a, "image_preprocess.wasm: the tensors differ");
    let p = params(&vad, "preprocessor", tmp.path());
    let (x, a) = both(
        pkg,
        "apps/voice-activity/components/audio_preprocess.wasm",
        &[
            "--input".into(),
            speech.display().to_string(),
            "--params".into(),
            p,
        ],
        "audio.npy",
    );
    assert!(x.len() > 100_000, "{} bytes", x.len());
    assert!(x == a, "audio_preprocess.wasm: the tensors differ");

    // Post-processors, on the model outputs x86_64 dumped.
    for (app, input, component, labels) in [
        (
            &face,
            &image,
            "apps/face-detection-blazeface/components/detection.wasm",
            "apps/face-detection-blazeface/labels/face.txt",
        ),
        (
            &vad,
            &speech,
            "apps/voice-activity/components/segments.wasm",
            "apps/voice-activity/labels/speech.txt",
        ),
    ] {
        let dump = tmp.path().join("dump");
        let _ = std::fs::remove_dir_all(&dump);
        let o = host(&[
            "run",
            app.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--dump-outputs",
            dump.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let stem = input.file_stem().unwrap();
        let meta = dump.join(stem).join("meta.json");
        let mut args = vec![
            "--params".to_owned(),
            params(app, "postprocessor", tmp.path()),
        ];
        args.extend(["--meta".into(), format!("@{}", meta.display())]);
        args.extend(["--labels".into(), pkg.join(labels).display().to_string()]);
        for out in read_json(&meta)["outputs"].as_array().unwrap() {
            let npy = dump
                .join(stem)
                .join(format!("{}.npy", out.as_str().unwrap()));
            args.extend(["--input".into(), npy.display().to_string()]);
        }
        let (x, a) = both(pkg, component, &args, "prediction.json");
        let prediction = String::from_utf8_lossy(&x);
        assert!(
            prediction.contains("face") || prediction.contains("speech"),
            "{prediction}"
        );
        assert!(
            x == a,
            "{component}: the predictions differ:\n{prediction}\n{}",
            String::from_utf8_lossy(&a)
        );
    }
}

#[test]
fn an_emulated_benchmark_marks_its_figures() {
    if !ready("an emulated benchmark") {
        return;
    }
    let pkg = package();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(asset("images/astronaut.png"), data.join("astronaut.png")).unwrap();
    let app = pkg.join("apps/face-detection-blazeface/app.json");
    let o = emulated(
        pkg,
        &[
            "benchmark",
            app.to_str().unwrap(),
            "--dataset",
            data.to_str().unwrap(),
            "--number",
            "2",
            "--warmup",
            "1",
            "--filename",
            "r.json",
        ],
        home.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = read_json(&home.path().join("r.json"));
    common::validate(&r);
    let h = &r["provenance"]["host"];
    assert_eq!(h["arch"], "aarch64", "{h}");
    assert_eq!(h["emulated_on"], "x86_64", "{h}");
    assert_eq!(r["provenance"]["lpdnn_host"]["target"], TRIPLE);
    let out = text(&o);
    assert!(
        out.contains("emulated: aarch64 code ran under user-mode emulation (qemu-user)"),
        "{out}"
    );
    let html = std::fs::read_to_string(home.path().join("r.html")).unwrap();
    assert!(
        html.contains("<b>Emulated:</b>") && html.contains("yes: qemu-user on an x86_64 kernel")
    );
    let predictions = &r["runs"][0]["predictions"];
    assert_eq!(
        predictions.as_array().map(Vec::len),
        Some(1),
        "{predictions}"
    );
    assert!(
        predictions[0]["prediction"].to_string().contains("face"),
        "{predictions}"
    );
}

#[test]
fn a_sweep_of_two_engines_on_this_machine_and_an_emulated_board_is_one_report_of_four_cells() {
    if !ready("a worker from the aarch64 package") {
        return;
    }
    // The worker starts its sandboxed benchmark as a child: the kernel
    // must hand that aarch64 program to qemu (binfmt_misc).
    if !Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").is_file() {
        let why =
            "binfmt_misc has no qemu-aarch64 entry (scripts/cross.sh aarch64 registers it as root)";
        assert!(std::env::var_os("LPDNN_REQUIRE_CROSS").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let pkg = board_package();
    // The service's own worker serves this machine's platform; the board's
    // package starts a worker of the Raspberry Pi 4 under qemu.
    let s = serve(&[]);
    let here = common::baas::platform();
    let home = tempfile::tempdir().unwrap();
    let _worker = common::baas::Server {
        child: Command::new(pkg.join("solutions/start-worker.sh"))
            .arg(&s.url)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QEMU_LD_PREFIX", SYSROOT)
            .env("HOME", home.path())
            .env("LPDNN_CACHE", home.path())
            .current_dir(home.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        url: String::new(),
        data: None,
    };
    let start = std::time::Instant::now();
    let worker = loop {
        let (_, d) = curl(&[&format!("{}/v1/devices", s.url)]);
        let found = d["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["platform"] == "raspberry-pi-4b")
            .cloned();
        if let Some(w) = found {
            break w;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{d}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(worker["machine"]["arch"], "aarch64", "{worker}");
    assert_eq!(worker["machine"]["emulated_on"], "x86_64", "{worker}");
    common::baas::until_up(&s.url, &here, &[]);

    let model = root().join("assets/models/face_detection_short_range.onnx");
    let baas = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
            .arg("baas")
            .args(["--url", &s.url])
            .args(args)
            .output()
            .unwrap()
    };
    let platforms = format!("{here},raspberry-pi-4b");
    let out = baas(&[
        "submit",
        "--model-path",
        model.to_str().unwrap(),
        "--platform",
        &platforms,
        "--engine",
        "lne,onnx",
        "--profile",
        "default",
        "--duration",
        "1",
        "--wait",
        "--wait-timeout",
        "600",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    // One report: the four cells side by side, the board's marked emulated.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for label in [
        format!("lne @ {here}"),
        format!("onnxruntime @ {here}"),
        "lne @ raspberry-pi-4b".into(),
        "onnxruntime @ raspberry-pi-4b".into(),
    ] {
        assert!(
            stdout.contains(&format!("== engine {label} (")),
            "{label}: {stdout}"
        );
    }
    assert!(
        stdout.contains("emulated: lne @ raspberry-pi-4b, onnxruntime @ raspberry-pi-4b: aarch64"),
        "{stdout}"
    );
    assert!(stdout.contains("Cross-engine, steady state"), "{stdout}");
    let group = printed
        .lines()
        .find_map(|l| l.strip_prefix("group ")?.split(':').next())
        .expect("a group line on stderr")
        .to_owned();
    let (code, report) = curl(&[&format!("{}/v1/groups/{group}/report", s.url)]);
    assert_eq!(code, 200, "{report}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{report}");
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
    for run in runs {
        let p = &run["placement"];
        let board = p["platform"] == "raspberry-pi-4b";
        assert_eq!(
            p["host"]["arch"],
            if board { "aarch64" } else { "x86_64" },
            "{p}"
        );
        let emulated = if board {
            "x86_64".into()
        } else {
            serde_json::Value::Null
        };
        assert_eq!(p["host"]["emulated_on"], emulated, "{p}");
        assert!(
            run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"]
                .as_f64()
                .is_some_and(|ms| ms > 0.0)
        );
    }
    common::validate(&report);
    let (code, html) = curl(&[&format!("{}/v1/groups/{group}/report?format=html", s.url)]);
    assert_eq!(code, 200);
    let html = html.as_str().unwrap().to_owned();
    assert!(html.contains("id=\"placements\""), "{html}");
    assert_eq!(html.matches("(emulated on x86_64)").count(), 2);
}

#[test]
fn the_board_package_loads_on_the_glibc_of_the_boards_os() {
    if !ready("the Raspberry Pi 4's package") {
        return;
    }
    // The Pi 4 runs the seed's Ubuntu 20.04 (glibc 2.31): the binary and
    // libncnn are linked against glibc 2.27, ONNX Runtime's wheel needs 2.28.
    let pkg = board_package();
    let o = host(&["package", "verify", pkg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let yml = std::fs::read_to_string(pkg.join("package.yml")).unwrap();
    assert!(yml.contains("glibc: '2.28'"), "{yml}");
    for f in ["bin/lpdnn-host", "lib/ncnn/libncnn.so"] {
        let needs = lpdnn_package::elf_needs(&pkg.join(f)).unwrap().unwrap();
        assert_eq!(needs.glibc, Some("2.27".parse().unwrap()), "{f}: {needs:?}");
        // No libstdc++ or libgomp of the board's: libc++ and ncnn's own
        // OpenMP runtime are inside.
        assert!(
            needs.libstdcxx.is_none()
                && !needs
                    .libraries
                    .iter()
                    .any(|l| l.contains("stdc++") || l.contains("gomp")),
            "{f}: {needs:?}"
        );
    }
    // The same files claimed for the Jetson Nano (Ubuntu 18.04, glibc 2.27):
    // verify names the one library that would not load there.
    let nano = tempfile::tempdir().unwrap();
    let copy = nano.path().join("pkg");
    let status = Command::new("cp")
        .args(["-a", pkg.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let yml = yml.replace("platform: raspberry-pi-4b", "platform: jetson-nano");
    std::fs::write(copy.join("package.yml"), yml).unwrap();
    let o = host(&["package", "verify", copy.to_str().unwrap()]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(
            "lib/onnxruntime/libonnxruntime.so: needs GLIBC_2.28 (Ubuntu 18.04 (L4T R32.7, JetPack 4.6) has glibc 2.27): it would not load on jetson-nano"
        ),
        "{out}"
    );
    assert!(!out.contains("bin/lpdnn-host"), "{out}");
}
