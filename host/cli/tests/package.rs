//! Deployment packages: built for this machine's target, verified, moved
//! elsewhere and run with nothing but the package (an empty cache, no
//! engine variables); tampering is caught by `package verify`; the
//! newcomer's mistakes get one clear line.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{asset, host, root, text};

const APPS: [&str; 3] = [
    "examples/face-detection",
    "examples/voice-activity",
    "examples/image-classification",
];

fn package(platform: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["package", "--platform", platform];
    for a in APPS {
        args.extend(["--app", a]);
    }
    args.extend(extra);
    let out = out.to_str().unwrap();
    args.extend(["-o", out]);
    host(&args)
}

/// Runs a start script of the package with a bare environment: no
/// LPDNN_* variables, an empty cache and HOME.
fn solution(pkg: &Path, script: &str, args: &[&str], home: &Path) -> Output {
    Command::new(pkg.join("solutions").join(script))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("LPDNN_CACHE", home)
        .current_dir(home)
        .output()
        .unwrap()
}

#[test]
fn a_package_verifies_moves_and_runs_every_engine_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("built");
    let o = package("x86_64-linux", &built, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("lpdnn-host-x86_64-linux-default"), "{out}");
    for f in [
        "package.yml",
        "runtime.yml",
        "engines.yml",
        "bin/lpdnn-host",
    ] {
        assert!(built.join(f).is_file(), "{f}");
    }
    let engines = std::fs::read_to_string(built.join("engines.yml")).unwrap();
    for e in ["lne", "onnxruntime", "litert", "ncnn"] {
        assert!(engines.contains(&format!("name: {e}")), "{engines}");
    }

    // Moved: nothing in it points back to where it was built.
    let pkg = dir.path().join("elsewhere/pkg");
    std::fs::create_dir_all(pkg.parent().unwrap()).unwrap();
    std::fs::rename(&built, &pkg).unwrap();
    let o = host(&["package", "verify", pkg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("hashes match; 3 app(s)"), "{}", text(&o));

    let home = tempfile::tempdir().unwrap();
    let image = asset("images/astronaut.png");
    for engine in ["lne", "onnxruntime", "litert", "ncnn"] {
        let o = solution(
            &pkg,
            "run-app.sh",
            &[
                "face-detection-blazeface",
                "--input",
                image.to_str().unwrap(),
                "--engine",
                engine,
            ],
            home.path(),
        );
        let out = text(&o);
        assert!(o.status.success(), "{engine}: {out}");
        assert!(
            out.contains("1 object(s)") && out.contains("face 0.92"),
            "{engine}: {out}"
        );
        assert!(
            out.contains(&format!("model {}", pkg.join("apps").display())),
            "{engine} runs the package's model: {out}"
        );
    }
    // The VAD app runs on ONNX Runtime, whose library only the package has.
    let speech = asset("audio/speech.wav");
    let o = solution(
        &pkg,
        "run-app.sh",
        &["voice-activity", "--input", speech.to_str().unwrap()],
        home.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 segment(s)"), "{}", text(&o));
    // The benchmark script writes the same three files as `benchmark`.
    let data = common::dataset();
    let o = solution(
        &pkg,
        "benchmark-app.sh",
        &[
            "face-detection-blazeface",
            data.path().to_str().unwrap(),
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
    let r = common::read_json(&home.path().join("r.json"));
    common::validate(&r);
    assert_eq!(
        r["provenance"]["host"]["emulated_on"],
        serde_json::Value::Null
    );
    assert!(home.path().join("r.html").is_file() && home.path().join("r.results.txt").is_file());
}

#[test]
fn verify_names_each_file_that_was_changed_added_or_removed() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    let o = common::face_package("x86_64-linux", "lne", &pkg);
    let engines = std::fs::read_to_string(pkg.join("engines.yml")).unwrap();
    assert!(!engines.contains("onnxruntime") && !pkg.join("lib").exists());
    // LNE takes ONNX and TFLite: the NCNN files are left out, and said so.
    assert!(text(&o).contains("model.ncnn left out"), "{}", text(&o));

    let model = pkg.join("apps/face-detection-blazeface/models/face_detection_short_range.onnx");
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    std::fs::write(pkg.join("lib-extra.so"), b"stray").unwrap();
    std::fs::remove_file(pkg.join("solutions/start-worker.sh")).unwrap();
    let o = host(&["package", "verify", pkg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("3 problem(s)"), "{out}");
    assert!(
        out.contains(
            "apps/face-detection-blazeface/models/face_detection_short_range.onnx: SHA-256"
        ),
        "{out}"
    );
    assert!(
        out.contains("lib-extra.so: not listed in package.yml"),
        "{out}"
    );
    assert!(out.contains("solutions/start-worker.sh: missing"), "{out}");

    // An app rewritten to name a file outside the package.
    let app = pkg.join("apps/face-detection-blazeface/app.json");
    let edited = std::fs::read_to_string(&app).unwrap().replace(
        "\"labels/face.txt\"",
        &format!("{:?}", asset("labels/face.txt")),
    );
    std::fs::write(&app, edited).unwrap();
    let out = text(&host(&["package", "verify", pkg.to_str().unwrap()]));
    assert!(
        out.contains("which is not a file inside the package"),
        "{out}"
    );
}

#[test]
fn package_mistakes_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let repo = root();
    let o = |args: &[&str]| {
        let mut all = vec!["package"];
        all.extend(args);
        host(&all)
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--platform", "stm32h7a3", "-o", out.to_str().unwrap()],
            "is a microcontroller: no MMU",
        ),
        (
            vec!["--platform", "jetson", "-o", out.to_str().unwrap()],
            "did you mean jetson-nano or jetson-xavier",
        ),
        (
            vec![
                "--platform",
                "x86_64-linux",
                "--profile",
                "jetpack",
                "-o",
                out.to_str().unwrap(),
            ],
            "--profile: x86_64-linux has no profile \"jetpack\" (it has default)",
        ),
        (
            vec![
                "--platform",
                "armv7-linux",
                "--engines",
                "onnxruntime",
                "-o",
                out.to_str().unwrap(),
            ],
            "--engines: onnxruntime is not in profile default of armv7-linux",
        ),
        (
            vec![
                "--platform",
                "x86_64-linux",
                "--app",
                "examples/voice-activity",
                "--engines",
                "lne",
                "-o",
                out.to_str().unwrap(),
            ],
            "engine.name: onnxruntime is not in this package (it carries lne)",
        ),
        (
            vec![
                "--platform",
                "raspberry-pi-4b",
                "--engines",
                "lne",
                "--bin",
                env!("CARGO_BIN_EXE_lpdnn-host"),
                "-o",
                out.to_str().unwrap(),
            ],
            "an x86_64 binary, not an aarch64 binary for raspberry-pi-4b",
        ),
        (
            vec!["--platform", "x86_64-linux", "-o", repo.to_str().unwrap()],
            "exists and is not empty",
        ),
    ];
    for (args, expected) in cases {
        let r = o(&args);
        let t = text(&r);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains(expected), "{args:?}: {t}");
        assert_eq!(t.lines().count(), 1, "{args:?}: {t}");
    }
    assert!(!out.exists(), "nothing is left behind by a refused package");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Another target's binary that was never built.
    let empty = tempfile::tempdir().unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(["package", "--platform", "aarch64-linux", "-o"])
        .arg(&out)
        .env("LPDNN_CACHE", empty.path())
        .output()
        .unwrap();
    let t = text(&r);
    assert!(t.contains("scripts/cross.sh aarch64"), "{t}");
}

#[test]
fn a_package_for_an_older_os_names_each_file_that_would_not_load() {
    // A board on Ubuntu 16.04 (glibc 2.23, GCC 5's libstdc++): this
    // machine's binary and ONNX Runtime's wheel need newer symbols.
    let dir = tempfile::tempdir().unwrap();
    let descriptor = dir.path().join("old-board.json");
    let d = serde_json::json!({
        "name": "old-board",
        "title": "A board on an old OS",
        "kind": "board",
        "description": "x86_64 with Ubuntu 16.04",
        "arch": "x86_64",
        "target_triple": "x86_64-unknown-linux-gnu",
        "cpu": {"model": "any", "cores": 2, "clusters": [{"core": "any", "count": 2, "max_mhz": 2000}]},
        "os": {"name": "Ubuntu 16.04", "glibc": "2.23", "libstdcxx": "3.4.21"},
        "engines": [{"engine": "lne", "devices": ["cpu"]}, {"engine": "onnxruntime", "devices": ["cpu"]}],
        "profiles": [{"name": "default", "description": "two", "engines": [
            {"engine": "lne", "version": "tract", "library": "builtin"},
            {"engine": "onnxruntime", "version": "1.32.0", "library": "bundled"}]}],
        "sources": [{"about": "a test", "url": "host/cli/tests/package.rs"}]
    });
    std::fs::write(&descriptor, d.to_string()).unwrap();
    let out = dir.path().join("p");
    let r = host(&[
        "package",
        "--platform",
        descriptor.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let t = text(&r);
    assert_eq!(r.status.code(), Some(1), "{t}");
    assert!(
        t.contains("old-board runs Ubuntu 16.04, where these would not load:"),
        "{t}"
    );
    assert!(t.contains("  bin/lpdnn-host needs GLIBC_2."), "{t}");
    assert!(
        t.contains(
            "  lib/onnxruntime/libonnxruntime.so needs GLIBC_2.28 (Ubuntu 16.04 has glibc 2.23)"
        ),
        "{t}"
    );
    assert!(
        t.contains("GLIBCXX_3.4.22 (Ubuntu 16.04 has libstdc++ up to GLIBCXX_3.4.21)"),
        "{t}"
    );
    assert!(
        t.contains("on a machine as old as the board's OS, and give it with --bin; leave those engines out with --engines"),
        "{t}"
    );
    assert!(!out.exists(), "nothing is left behind by a refused package");
}
