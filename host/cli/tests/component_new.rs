//! `lpdnn-host component new`: the starting point it writes builds with its
//! own build.sh (the tools pinned as the examples pin them), passes
//! `component check`, and runs on its own test input, in every language.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{host, text};

/// Where the set-up installed the pinned tools, and Rust builds go.
fn cache() -> PathBuf {
    std::env::var_os("LPDNN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lpdnn"))
}

/// `component new` into `dir`, then its build.sh; the component's path.
fn new_and_build(lang: &str, world: &str, dir: &Path) -> PathBuf {
    let o = host(&[
        "component",
        "new",
        "--lang",
        lang,
        "--world",
        world,
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("./build.sh"), "{}", text(&o));
    let build = Command::new(dir.join("build.sh"))
        .current_dir(dir)
        .env("LPDNN_TOOLS", cache().join("tools"))
        .env("CARGO_TARGET_DIR", cache().join("component-new-target"))
        .env_remove("RUSTFLAGS")
        .env_remove("LPDNN_WIT")
        .output()
        .unwrap();
    assert!(build.status.success(), "{lang} {world}: {}", text(&build));
    let name = dir.file_name().unwrap().to_str().unwrap();
    let file = if lang == "rust" {
        name.to_owned()
    } else {
        name.replace('-', "_")
    };
    let wasm = dir.join(format!("{file}.wasm"));
    assert!(wasm.is_file(), "{lang} {world}: no {}", wasm.display());
    wasm
}

fn check_and_run(lang: &str, world: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(format!("my-{lang}-{world}"));
    let wasm = new_and_build(lang, world, &dir);
    let wasm = wasm.to_str().unwrap();
    let o = host(&["component", "check", wasm]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("world {world}")), "{}", text(&o));

    // The README's own `component run` line, on the test input it wrote.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("lpdnn-host component run"))
        .unwrap();
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let input = dir.join(args[args.iter().position(|a| *a == "--input").unwrap() + 1]);
    let out = dir.join(args.last().unwrap());
    let o = Command::new(env!("CARGO_BIN_EXE_lpdnn-host"))
        .args(&args)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{lang} {world}: {}", text(&o));
    let input = std::fs::read(input).unwrap();
    let out = std::fs::read(out).unwrap();
    if world == "postprocessor" {
        // The scores come back as a `tensors` prediction, unchanged.
        let p: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let t = &p["tensors"][0];
        assert_eq!(t["name"], "scores", "{p}");
        assert_eq!(t["shape"], serde_json::json!([1, 4]), "{p}");
        assert_eq!(t["data"], serde_json::json!([0.1, 2.5, -1.0, 0.7]), "{p}");
    } else {
        // The input's bytes as one u8 tensor [1, N]: the .npy ends with them.
        assert!(
            out.ends_with(&input),
            "{lang} {world}: not the input's bytes"
        );
        let header = String::from_utf8_lossy(&out[..out.len() - input.len()]).into_owned();
        assert!(header.contains("'|u1'"), "{header}");
        assert!(
            header.contains(&format!("(1, {},", input.len())),
            "{header}"
        );
    }
}

#[test]
fn a_new_rust_processor_builds_checks_and_runs() {
    check_and_run("rust", "image-preprocessor");
    check_and_run("rust", "postprocessor");
}

#[test]
fn a_new_python_processor_builds_checks_and_runs() {
    check_and_run("python", "audio-preprocessor");
    check_and_run("python", "postprocessor");
}

#[test]
fn a_new_javascript_processor_builds_checks_and_runs() {
    check_and_run("js", "signal-preprocessor");
    check_and_run("js", "postprocessor");
}

#[test]
fn a_new_c_processor_builds_checks_and_runs() {
    check_and_run("c", "image-preprocessor");
    check_and_run("c", "postprocessor");
}

#[test]
fn a_folder_that_holds_anything_is_refused_and_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("mine.txt"), "keep").unwrap();
    let o = host(&[
        "component",
        "new",
        "--lang",
        "c",
        "--world",
        "postprocessor",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("exists and is not empty"), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
    let o = host(&[
        "component",
        "new",
        "--lang",
        "cobol",
        "--world",
        "postprocessor",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("rust, python, js, c"), "{}", text(&o));
}
