//! `lpdnn-host component new`: the starting point of a processor component
//! in Rust, Python, JavaScript or C — its source (a pass-through processor
//! of the chosen world), our WIT, a build script that installs its pinned
//! tools (the same pins as the examples in `examples/`), a test input and
//! a README saying how to check and run it.

#![warn(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

use lpdnn_runtime::Kind;

/// The languages a processor can be started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Lang {
    /// Rust, with `wit-bindgen` (target `wasm32-wasip2`).
    Rust,
    /// Python, with `componentize-py`.
    Python,
    /// JavaScript, with `jco componentize` (componentize-js).
    Js,
    /// C, with clang, wasi-libc and `wit-bindgen c`.
    C,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
        })
    }
}

/// Errors of writing a scaffold.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The folder exists and is not empty.
    #[error("{0} exists and is not empty: give a new folder")]
    NotEmpty(PathBuf),
    /// The path is a file or a symbolic link, not a folder.
    #[error("{0} is a file or a link, not a folder: give a new folder")]
    NotAFolder(PathBuf),
    /// Reading what is there failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One file of a scaffold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its path inside the folder.
    pub path: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether it is a script to run.
    pub executable: bool,
}

const WIT: &str = include_str!("../../../wit/processing.wit");

/// The examples' build scripts, whose head says what they build; a
/// scaffold's is the same script with its own head.
const BUILD_PYTHON: &str = include_str!("../../../examples/python-audio-preprocess/build.sh");
const BUILD_JS: &str = include_str!("../../../examples/js-classification/build.sh");
const BUILD_C: &str = include_str!("../../../examples/c-detection/build.sh");
const PYTHON_LOCK: &str =
    include_str!("../../../examples/python-audio-preprocess/requirements.lock");
const JS_PACKAGE: &str = include_str!("../../../examples/js-classification/package.json");
const JS_LOCK: &str = include_str!("../../../examples/js-classification/package-lock.json");

/// A usable crate and file name from a folder's name: lower-case ASCII
/// letters, digits and `-`, starting with a letter (`processor` if none is left).
pub fn name_of(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    // Names cargo refuses for a crate (Rust's keywords, its own crates).
    const RESERVED: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "test",
        "core",
        "std",
        "alloc",
        "proc-macro",
        "build",
    ];
    if RESERVED.contains(&name.as_str()) {
        name = format!("processor-{name}");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = if name.is_empty() {
            "processor".into()
        } else {
            format!("processor-{name}")
        };
    }
    name
}

/// The stem of the `.wasm` a scaffold's build.sh writes: the crate's name
/// for Rust (cargo's file, renamed), its snake case for the others.
pub fn wasm_stem(lang: Lang, name: &str) -> String {
    match lang {
        Lang::Rust => name.to_owned(),
        _ => name.replace('-', "_"),
    }
}

/// `audio-preprocess` → `AudioPreprocess` (Python's class) or
/// `audioPreprocess` (JavaScript's export).
fn camel(kebab: &str, upper_first: bool) -> String {
    let mut out = String::new();
    for (i, part) in kebab.split('-').enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            if i > 0 || upper_first {
                out.extend(first.to_uppercase());
            } else {
                out.push(first);
            }
            out.extend(chars);
        }
    }
    out
}

/// Fills a template's `{{...}}` slots.
fn fill(template: &str, name: &str, kind: Kind) -> String {
    let iface = kind.interface();
    let arg = iface.split('-').next().unwrap_or("input");
    template
        .replace("{{name}}", name)
        .replace("{{world}}", kind.world())
        .replace("{{iface_snake}}", &iface.replace('-', "_"))
        .replace("{{c_world}}", &kind.world().replace('-', "_"))
        .replace("{{Class}}", &camel(iface, true))
        .replace("{{camel}}", &camel(iface, false))
        .replace("{{arg}}", arg)
}

/// An example's build script with its head (`world=`, `source=`, `name=`,
/// `wit_default=`) set for a scaffold; `None` if a head line is missing.
fn build_script(example: &str, world: &str, source: &str, name: &str) -> Option<String> {
    let mut seen = 0;
    let lines: Vec<String> = example
        .lines()
        .map(|line| {
            let head = |key: &str, value: &str| {
                line.starts_with(&format!("{key}="))
                    .then(|| format!("{key}={value}"))
            };
            let set = head("world", world)
                .or_else(|| head("source", source))
                .or_else(|| head("name", name))
                .or_else(|| head("wit_default", "wit"));
            seen += usize::from(set.is_some());
            set.unwrap_or_else(|| line.to_owned())
        })
        .collect();
    // The first comment block describes the example: say what this is.
    let body: Vec<String> = lines
        .iter()
        .skip_while(|l| l.starts_with('#'))
        .cloned()
        .collect();
    (seen == 4).then(|| {
        format!(
            "#!/usr/bin/env bash\n# Builds {source} (world {world}) into a WebAssembly component.\n#\n\
             #   ./build.sh [OUT.wasm]        (default: ./{name}.wasm)\n#\n\
             # Written by `lpdnn-host component new`; the tools are installed once, pinned,\n\
             # into ${{LPDNN_TOOLS:-~/.cache/lpdnn/tools}}. WIT: ./wit (or $LPDNN_WIT).\n{}\n",
            body.join("\n")
        )
    })
}

/// A test input for the world's `component run`: its file name and bytes.
fn test_input(kind: Kind) -> (&'static str, Vec<u8>) {
    match kind {
        Kind::ImagePreprocessor => {
            // A 4×2 binary PPM: red, green, blue, white; then black, grey...
            let mut ppm = b"P6\n4 2\n255\n".to_vec();
            for px in [
                [255, 0, 0],
                [0, 255, 0],
                [0, 0, 255],
                [255, 255, 255],
                [0, 0, 0],
                [64, 64, 64],
                [128, 128, 128],
                [192, 192, 192],
            ] {
                ppm.extend(px);
            }
            ("test/input.ppm", ppm)
        }
        Kind::AudioPreprocessor => {
            // 0.1 s of a 440 Hz tone, 16 kHz mono 16-bit PCM.
            let samples: Vec<i16> = (0..1600)
                .map(|i| {
                    let t = f64::from(i) / 16000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                })
                .collect();
            let data = (samples.len() * 2) as u32;
            let mut wav = Vec::new();
            wav.extend(b"RIFF");
            wav.extend((36 + data).to_le_bytes());
            wav.extend(b"WAVEfmt ");
            wav.extend(16u32.to_le_bytes());
            wav.extend(1u16.to_le_bytes()); // PCM
            wav.extend(1u16.to_le_bytes()); // mono
            wav.extend(16000u32.to_le_bytes());
            wav.extend(32000u32.to_le_bytes());
            wav.extend(2u16.to_le_bytes());
            wav.extend(16u16.to_le_bytes());
            wav.extend(b"data");
            wav.extend(data.to_le_bytes());
            for s in samples {
                wav.extend(s.to_le_bytes());
            }
            ("test/input.wav", wav)
        }
        Kind::SignalPreprocessor => (
            "test/input.csv",
            b"t,ax,ay,az\n0.00,0.01,-0.02,9.81\n0.01,0.03,-0.01,9.79\n0.02,0.02,0.00,9.80\n"
                .to_vec(),
        ),
        Kind::Postprocessor => {
            // Scores of 4 classes as a model gives them: f32 [1, 4], `.npy`.
            use npyz::WriterBuilder;
            let mut npy = std::io::Cursor::new(Vec::new());
            let written = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&[1, 4])
                .writer(&mut npy)
                .begin_nd()
                .and_then(|mut w| {
                    w.extend([0.1f32, 2.5, -1.0, 0.7])?;
                    w.finish()
                });
            // Writing four floats into memory cannot fail.
            debug_assert!(written.is_ok());
            let npy = npy.into_inner();
            ("test/scores.npy", npy)
        }
    }
}

/// The commands that build, check and run a new processor, from its folder.
pub fn next_steps(lang: Lang, kind: Kind, name: &str) -> [String; 3] {
    let wasm = format!("{}.wasm", wasm_stem(lang, name));
    let (input, _) = test_input(kind);
    let output = if kind.is_preprocessor() {
        "tensor.npy"
    } else {
        "prediction.json"
    };
    [
        "./build.sh".into(),
        format!("lpdnn-host component check {wasm}"),
        format!("lpdnn-host component run {wasm} --input {input} --output {output}"),
    ]
}

fn readme(lang: Lang, kind: Kind, name: &str, source: &str) -> String {
    let tools = match lang {
        Lang::Rust => "Rust (rustup.rs); `build.sh` adds the `wasm32-wasip2` target",
        Lang::Python => {
            "python3 with venv; `build.sh` installs componentize-py 0.25.1 (PyPI, hash-checked \
             by requirements.lock)"
        }
        Lang::Js => {
            "Node.js 20.19 or later with npm; `build.sh` installs jco 1.35.0 and \
             componentize-js 0.23.0 (`npm ci` from package-lock.json, integrity-checked)"
        }
        Lang::C => {
            "Debian 12's clang 14, lld 14, wasi-libc (`build.sh` installs them as root) and \
             cargo; `build.sh` installs wit-bindgen-cli 0.63.0 and wasm-component-ld 0.5.31 \
             from crates.io"
        }
    };
    let wasm = wasm_stem(lang, name);
    let steps = next_steps(lang, kind, name).join("\n");
    let stage = if kind.is_preprocessor() {
        "preprocessor"
    } else {
        "postprocessor"
    };
    format!(
        "# {name}\n\n\
         A processor of world `{world}` for lpdnn-host, in {lang}, as `lpdnn-host component \
         new` wrote it: it \
         builds and runs as it is ({what}). Replace the body of `process` in `{source}` with \
         your own.\n\n\
         Tools: {tools}. They are pinned and installed once into \
         `${{LPDNN_TOOLS:-~/.cache/lpdnn/tools}}`.\n\n\
         ```sh\n{steps}\n```\n\n\
         Then, in an app.json:\n\n\
         ```json\n\"{stage}\": {{ \"component\": \"{wasm}.wasm\", \"params\": {{}} }}\n```\n\n\
         `wit/processing.wit` is the contract (package `lpdnn:processing@{version}`); the \
         guide is lpdnn-host's `docs/authoring-components.md`, and `examples/` there holds a \
         real processor in each language.\n",
        world = kind.world(),
        what = if kind.is_preprocessor() {
            "the input's bytes become one u8 tensor [1, N]"
        } else {
            "the model's outputs come back as a `tensors` prediction"
        },
        version = lpdnn_runtime::WIT_VERSION,
    )
}

/// The files of a new processor named `name` (see [`name_of`]).
pub fn files(lang: Lang, kind: Kind, name: &str) -> Vec<File> {
    let text = |path: &'static str, s: String| File {
        path,
        bytes: s.into_bytes(),
        executable: false,
    };
    let script = |s: String| File {
        path: "build.sh",
        bytes: s.into_bytes(),
        executable: true,
    };
    let pre = kind.is_preprocessor();
    let pick = |pre_t: &str, post_t: &str| fill(if pre { pre_t } else { post_t }, name, kind);
    let snake = name.replace('-', "_");
    let (input, input_bytes) = test_input(kind);
    let mut out = vec![
        text("wit/processing.wit", WIT.to_owned()),
        File {
            path: input,
            bytes: input_bytes,
            executable: false,
        },
    ];
    let expect = "the examples' build scripts keep their head";
    let source = match lang {
        Lang::Rust => {
            out.push(text(
                "Cargo.toml",
                fill(include_str!("../templates/rust/Cargo.toml"), name, kind),
            ));
            out.push(text(
                "src/lib.rs",
                pick(
                    include_str!("../templates/rust/pre.rs"),
                    include_str!("../templates/rust/post.rs"),
                ),
            ));
            out.push(script(fill(
                include_str!("../templates/rust/build.sh"),
                name,
                kind,
            )));
            out.push(text(
                ".gitignore",
                include_str!("../templates/rust/gitignore").into(),
            ));
            "src/lib.rs"
        }
        Lang::Python => {
            out.push(text(
                "app.py",
                pick(
                    include_str!("../templates/python/pre.py"),
                    include_str!("../templates/python/post.py"),
                ),
            ));
            out.push(text("requirements.lock", PYTHON_LOCK.into()));
            out.push(script(
                build_script(BUILD_PYTHON, kind.world(), "app.py", &snake).expect(expect),
            ));
            out.push(text(
                ".gitignore",
                include_str!("../templates/python/gitignore").into(),
            ));
            "app.py"
        }
        Lang::Js => {
            out.push(text(
                "processor.js",
                pick(
                    include_str!("../templates/js/pre.js"),
                    include_str!("../templates/js/post.js"),
                ),
            ));
            out.push(text("package.json", JS_PACKAGE.into()));
            out.push(text("package-lock.json", JS_LOCK.into()));
            out.push(script(
                build_script(BUILD_JS, kind.world(), "processor.js", &snake).expect(expect),
            ));
            out.push(text(
                ".gitignore",
                include_str!("../templates/js/gitignore").into(),
            ));
            "processor.js"
        }
        Lang::C => {
            out.push(text(
                "processor.c",
                pick(
                    include_str!("../templates/c/pre.c"),
                    include_str!("../templates/c/post.c"),
                ),
            ));
            out.push(script(
                build_script(BUILD_C, kind.world(), "processor.c", &snake).expect(expect),
            ));
            out.push(text(
                ".gitignore",
                include_str!("../templates/c/gitignore").into(),
            ));
            "processor.c"
        }
    };
    out.push(text("README.md", readme(lang, kind, name, source)));
    out
}

/// What [`write`] made.
#[derive(Debug)]
pub struct Written {
    /// The processor's name (from the folder's).
    pub name: String,
    /// Its files.
    pub files: Vec<File>,
}

/// Writes a new processor into `dir`: a new folder, or an empty one (`.`
/// included), never a file, a link or a folder holding anything. The
/// files are written into a temporary folder beside it first, then moved
/// in, so a failure leaves nothing half written.
pub fn write(dir: &Path, lang: Lang, kind: Kind) -> Result<Written, ScaffoldError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Write { path, source }
    };
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Read { path, source }
    };
    let exists = match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if std::fs::read_dir(dir)
                .map_err(read_err(dir))?
                .next()
                .is_some()
            {
                return Err(ScaffoldError::NotEmpty(dir.to_owned()));
            }
            true
        }
        Ok(_) => return Err(ScaffoldError::NotAFolder(dir.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(read_err(dir)(e)),
    };
    // The folder's absolute path: `.` and `..` are named by what they are.
    let absolute = if exists {
        dir.canonicalize().map_err(read_err(dir))?
    } else {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(write_err(&parent))?;
        let file_name = dir
            .file_name()
            .ok_or_else(|| ScaffoldError::NotAFolder(dir.to_owned()))?;
        parent
            .canonicalize()
            .map_err(read_err(&parent))?
            .join(file_name)
    };
    let name = name_of(&absolute);
    let files = files(lang, kind, &name);
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let tmp = tempfile::Builder::new()
        .prefix(".component-new-")
        .tempdir_in(parent)
        .map_err(write_err(parent))?;
    for f in &files {
        let path = tmp.path().join(f.path);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(write_err(p))?;
        }
        std::fs::write(&path, &f.bytes).map_err(write_err(&path))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(write_err(&path))?;
        }
    }
    if exists {
        // Filled in place (it may be the shell's current folder).
        for entry in std::fs::read_dir(tmp.path()).map_err(read_err(tmp.path()))? {
            let entry = entry.map_err(read_err(tmp.path()))?;
            let to = absolute.join(entry.file_name());
            std::fs::rename(entry.path(), &to).map_err(write_err(&to))?;
        }
    } else {
        std::fs::rename(tmp.path(), &absolute).map_err(write_err(&absolute))?;
        // Moved: nothing is left for the guard to remove.
        let _ = tmp.keep();
    }
    Ok(Written { name, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_and_world_fills_every_slot() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::C] {
            for kind in Kind::ALL {
                for f in files(lang, kind, "my-proc") {
                    let s = String::from_utf8_lossy(&f.bytes);
                    assert!(!s.contains("{{"), "{lang} {kind:?} {}", f.path);
                }
            }
        }
    }

    #[test]
    fn a_build_script_gets_its_own_head() {
        let s = build_script(BUILD_C, "audio-preprocessor", "processor.c", "x").unwrap();
        assert!(s.contains("\nworld=audio-preprocessor\n"), "{s}");
        assert!(s.contains("\nwit_default=wit\n"));
        assert!(!s.contains("detection"), "{s}");
        assert_eq!(build_script("echo\n", "w", "s", "n"), None);
    }

    #[test]
    fn a_new_or_empty_folder_is_filled_and_nothing_else_is_touched() {
        let tmp = tempfile::tempdir().unwrap();
        let new = tmp.path().join("a/b/my-proc");
        let w = write(&new, Lang::C, Kind::Postprocessor).unwrap();
        assert_eq!(w.name, "my-proc");
        assert!(new.join("processor.c").is_file() && new.join("build.sh").is_file());
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let w = write(&empty.join("."), Lang::Js, Kind::SignalPreprocessor).unwrap();
        assert_eq!(w.name, "empty");
        assert!(empty.join("processor.js").is_file());
        let file = tmp.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            write(&file, Lang::C, Kind::Postprocessor),
            Err(ScaffoldError::NotAFolder(_))
        ));
        let link = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &link).unwrap();
        assert!(matches!(
            write(&link, Lang::C, Kind::Postprocessor),
            Err(ScaffoldError::NotAFolder(_))
        ));
        assert!(matches!(
            write(&new, Lang::C, Kind::Postprocessor),
            Err(ScaffoldError::NotEmpty(_))
        ));
        // No temporary folder left behind anywhere.
        for dir in [tmp.path().to_owned(), tmp.path().join("a/b")] {
            for e in std::fs::read_dir(dir).unwrap() {
                let name = e.unwrap().file_name();
                assert!(!name.to_string_lossy().starts_with(".component-new-"));
            }
        }
    }

    #[test]
    fn names_come_from_the_folder() {
        assert_eq!(name_of(Path::new("/x/My Filter_2")), "my-filter-2");
        assert_eq!(name_of(Path::new("9lives")), "processor-9lives");
        assert_eq!(name_of(Path::new("/")), "processor");
        assert_eq!(name_of(Path::new("test")), "processor-test");
    }
}
