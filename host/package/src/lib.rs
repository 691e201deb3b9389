//! Deployment packages (seed 4.1.2): everything one platform needs to run
//! AI apps and serve BaaS jobs where the folder is unpacked, with no
//! network and no compiler.
//!
//! ```text
//! bin/lpdnn-host                  the host, built for the platform's target
//! lib/ENGINE/*.so                 the profile's bundled engine libraries
//! apps/APP/app.json               each app, its paths rewritten to
//! apps/APP/{components,models,labels}/   the files beside it
//! solutions/*.sh                  run an app, benchmark it, start a worker
//! package.yml runtime.yml engines.yml    names, versions, SHA-256 of every file
//! ```
//!
//! [`build`] writes a package atomically (a staging folder renamed into
//! place); [`verify`] checks one: hashes, no stray file, every binary of
//! the target's architecture, every app loadable and inside the package.

#![warn(missing_docs)]

mod elf;
pub mod manifest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lpdnn_engine_api::{EngineName, ModelFormat};
use lpdnn_platforms::{Arch, Descriptor, LibrarySource};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use elf::{elf_arch, elf_needs, elf_provides, running_glibc, Needs};
pub use manifest::{AppEntry, Build, EngineEntry, EnginesYml, FileEntry, PackageYml, RuntimeYml};

/// Errors of building or checking a package.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// What the package was asked to carry is wrong or missing.
    #[error("{0}")]
    Input(String),
    /// An app cannot go into the package.
    #[error("app {path}: {message}")]
    App {
        /// The app file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Files the package would carry do not load on the platform's OS.
    #[error(
        "{platform} runs {os}, where these would not load:\n  {}\n{advice}",
        files.join("\n  ")
    )]
    WouldNotLoad {
        /// The platform.
        platform: String,
        /// Its OS.
        os: String,
        /// Each file with the symbol version it needs.
        files: Vec<String>,
        /// What to do.
        advice: String,
    },
    /// An ELF file cannot be read.
    #[error("{path}: not a readable ELF file: {source}")]
    Elf {
        /// The file.
        path: PathBuf,
        /// What `object` found wrong.
        source: object::Error,
    },
    /// The package does not verify; one line per problem.
    #[error("{dir}: {} problem(s):\n  {}", problems.len(), problems.join("\n  "))]
    Invalid {
        /// The package.
        dir: PathBuf,
        /// What is wrong, each naming the file and field.
        problems: Vec<String>,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An engine the package carries, with its library files.
#[derive(Debug, Clone)]
pub struct EngineFiles {
    /// Engine name.
    pub engine: String,
    /// Library version.
    pub version: String,
    /// Where its library comes from.
    pub library: LibrarySource,
    /// Files to copy into `lib/ENGINE/` (bundled only).
    pub files: Vec<PathBuf>,
    /// Model formats it takes (apps keep only these).
    pub formats: Vec<ModelFormat>,
    /// Note from the profile.
    pub note: Option<String>,
}

/// What to package.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The platform.
    pub platform: Descriptor,
    /// The profile's name.
    pub profile: String,
    /// `lpdnn-host` for the platform's target.
    pub binary: PathBuf,
    /// The engines, in the profile's order.
    pub engines: Vec<EngineFiles>,
    /// App files (or folders holding an `app.json`).
    pub apps: Vec<PathBuf>,
    /// The build inside.
    pub build: Build,
}

/// What [`build`] wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The package folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub package: PackageYml,
    /// Apps carried, and formats dropped from them (with why).
    pub notes: Vec<String>,
}

/// Where the library files an engine declares
/// ([`EngineName::library_files`]) are, for a target: `cache/lib` for this
/// machine's own target (scripts/setup.sh puts them there; libncnn it builds
/// into `cache/ncnn/lib`), `cache/targets/TRIPLE/lib` for another
/// (scripts/cross.sh). None for an engine this project does not know.
pub fn bundled_files(engine: &str, triple: &str, host_triple: &str, cache: &Path) -> Vec<PathBuf> {
    let Ok(engine) = engine.parse::<EngineName>() else {
        return Vec::new();
    };
    let lib = if triple == host_triple {
        cache.join("lib")
    } else {
        cache.join("targets").join(triple).join("lib")
    };
    engine
        .library_files()
        .iter()
        .map(|rel| {
            let rel = Path::new(rel).strip_prefix("lib").unwrap_or(Path::new(rel));
            match (engine, rel.file_name()) {
                (EngineName::Ncnn, Some(name)) if triple == host_triple => {
                    cache.join("ncnn/lib").join(name)
                }
                _ => lib.join(rel),
            }
        })
        .collect()
}

/// Where `lpdnn-host` for another target is (scripts/cross.sh puts it).
pub fn cross_binary(triple: &str, cache: &Path) -> PathBuf {
    cache.join("targets").join(triple).join("bin/lpdnn-host")
}

fn sha256_file(path: &Path) -> Result<(u64, String), PackageError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h).map_err(io(path))?;
    Ok((bytes, hex::encode(h.finalize())))
}

fn copy(from: &Path, to: &Path) -> Result<(), PackageError> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    std::fs::copy(from, to).map_err(io(from))?;
    Ok(())
}

/// Drops a binary's debug info where binutils' `strip` reads it (this
/// machine's architecture; scripts/cross.sh strips its own builds): a board
/// runs without it, and it is most of a release build (446 of 490 MB). A
/// binary `strip` cannot read is left as it is.
fn strip_debug(binary: &Path) {
    let _ = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg(binary)
        .stderr(std::process::Stdio::null())
        .status();
}

/// Copies the file naming the release a library was built from
/// (`LIB.version` beside it, as scripts/build-ncnn.sh writes for libncnn)
/// into the package beside the library, where the engine reads it; a
/// release other than the profile's is refused.
fn carry_version_file(
    lib: &Path,
    rel: &str,
    engine: &str,
    version: &str,
    root: &Path,
) -> Result<(), PackageError> {
    let mut name = lib.as_os_str().to_owned();
    name.push(".version");
    let file = PathBuf::from(name);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    if text.trim() != version {
        return Err(PackageError::Input(format!(
            "{}: the library was built from {engine} {}, the profile carries {engine} {version}",
            file.display(),
            text.trim()
        )));
    }
    copy(&file, &root.join(format!("{rel}.version")))
}

fn write(path: &Path, text: &str) -> Result<(), PackageError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

fn yaml<T: serde::Serialize>(header: &str, v: &T) -> String {
    let body = serde_yaml_ng::to_string(v).expect("manifests serialize");
    format!("# {header}\n{body}")
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

const RUN_SH: &str = r#"#!/bin/sh
# Runs an app of this package: solutions/run-app.sh APP --input FILE [lpdnn-host run options]
set -eu
pkg=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ ! -f "$pkg/apps/$1/app.json" ]; then
  echo "usage: $0 APP --input FILE [options]; apps: $(ls "$pkg/apps" | tr '\n' ' ')" >&2
  exit 2
fi
app=$1; shift
exec "$pkg/bin/lpdnn-host" run "$pkg/apps/$app/app.json" "$@"
"#;

const BENCHMARK_SH: &str = r#"#!/bin/sh
# Benchmarks an app of this package on a dataset folder:
# solutions/benchmark-app.sh APP DATASET [lpdnn-host benchmark options, e.g. --number 20 --filename r.json]
set -eu
pkg=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ] || [ ! -f "$pkg/apps/$1/app.json" ]; then
  echo "usage: $0 APP DATASET [options]; apps: $(ls "$pkg/apps" | tr '\n' ' ')" >&2
  exit 2
fi
app=$1; dataset=$2; shift 2
exec "$pkg/bin/lpdnn-host" benchmark "$pkg/apps/$app/app.json" --dataset "$dataset" "$@"
"#;

fn worker_sh(platform: &str, profile: &str) -> String {
    format!(
        r#"#!/bin/sh
# Serves jobs of a Benchmark-as-a-Service for this package's platform and profile:
# solutions/start-worker.sh SERVER_URL [lpdnn-host worker options, e.g. --token TOKEN]
set -eu
pkg=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 SERVER_URL [options]" >&2
  exit 2
fi
server=$1; shift
exec "$pkg/bin/lpdnn-host" worker --server "$server" --platform {platform} --profile {profile} "$@"
"#
    )
}

/// Builds the package in `out` (which must not exist, or be empty): into a
/// staging folder beside it, renamed into place at the end.
pub fn build(inputs: &Inputs, out: &Path) -> Result<Built, PackageError> {
    let d = &inputs.platform;
    if !d.hosts_lpdnn() {
        return Err(PackageError::Input(format!(
            "{} is a microcontroller: {}",
            d.name,
            d.cannot_host
                .as_deref()
                .unwrap_or("it cannot host lpdnn-host")
        )));
    }
    match elf_arch(&inputs.binary)? {
        Some(a) if a == d.arch => {}
        found => {
            return Err(PackageError::Input(format!(
                "{} is {}, not an {} binary for {}",
                inputs.binary.display(),
                found.map_or(
                    "not an ELF file of a known architecture".into(),
                    |a| format!("an {a} binary")
                ),
                d.arch,
                d.name
            )))
        }
    }
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(PackageError::Input(format!(
            "{} exists and is not empty: give a new folder",
            out.display()
        )));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".lpdnn-package-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let root = staging.path();
    let name = format!("lpdnn-host-{}-{}", d.name, inputs.profile);

    copy(&inputs.binary, &root.join("bin/lpdnn-host"))?;
    set_mode(&root.join("bin/lpdnn-host"), 0o755)?;
    strip_debug(&root.join("bin/lpdnn-host"));
    let mut engines = Vec::new();
    for e in &inputs.engines {
        let mut files = Vec::new();
        for f in &e.files {
            match elf_arch(f)? {
                Some(a) if a == d.arch => {}
                _ => {
                    return Err(PackageError::Input(format!(
                        "{}: not an {} library (engine {})",
                        f.display(),
                        d.arch,
                        e.engine
                    )))
                }
            }
            let rel = format!(
                "lib/{}/{}",
                e.engine,
                f.file_name().unwrap_or_default().to_string_lossy()
            );
            copy(f, &root.join(&rel))?;
            carry_version_file(f, &rel, &e.engine, &e.version, root)?;
            files.push(rel);
        }
        let devices = d
            .engines
            .iter()
            .find(|s| s.engine == e.engine)
            .map(|s| s.devices.clone())
            .unwrap_or_default();
        engines.push(EngineEntry {
            name: e.engine.clone(),
            version: e.version.clone(),
            library: e.library,
            files,
            devices,
            note: e.note.clone(),
        });
    }

    let requires = abi_requires(d, root, &engines)?;

    let mut notes = Vec::new();
    let mut apps = Vec::new();
    for app in &inputs.apps {
        let entry = package_app(app, &inputs.engines, root, &mut notes)?;
        if apps.iter().any(|a: &AppEntry| a.name == entry.name) {
            return Err(PackageError::App {
                path: app.clone(),
                message: format!("a second app named {}", entry.name),
            });
        }
        apps.push(entry);
    }

    write(&root.join("solutions/run-app.sh"), RUN_SH)?;
    write(&root.join("solutions/benchmark-app.sh"), BENCHMARK_SH)?;
    write(
        &root.join("solutions/start-worker.sh"),
        &worker_sh(&d.name, &inputs.profile),
    )?;
    for s in ["run-app.sh", "benchmark-app.sh", "start-worker.sh"] {
        set_mode(&root.join("solutions").join(s), 0o755)?;
    }
    let runtime = RuntimeYml {
        name: name.clone(),
        platform: d.name.clone(),
        target: d.target_triple.clone(),
        binary: "bin/lpdnn-host".into(),
        libraries: "lib".into(),
        apps,
        solutions: manifest::Solutions {
            run: "solutions/run-app.sh".into(),
            benchmark: "solutions/benchmark-app.sh".into(),
            worker: "solutions/start-worker.sh".into(),
        },
    };
    write(
        &root.join("runtime.yml"),
        &yaml(
            "How to start this package (lpdnn-host deployment package)",
            &runtime,
        ),
    )?;
    write(
        &root.join("engines.yml"),
        &yaml("The engines this package carries", &EnginesYml { engines }),
    )?;
    let package = PackageYml {
        name,
        platform: d.name.clone(),
        profile: inputs.profile.clone(),
        target: d.target_triple.clone(),
        lpdnn_host: inputs.build.clone(),
        created: now_rfc3339(),
        requires,
        files: list_files(root)?,
    };
    write(
        &root.join("package.yml"),
        &yaml(
            "lpdnn-host deployment package: every other file with its size and SHA-256 \
             (check with `lpdnn-host package verify DIR`)",
            &package,
        ),
    )?;
    let staged = staging.keep();
    if out.exists() {
        std::fs::remove_dir(out).map_err(io(out))?;
    }
    std::fs::rename(&staged, out).map_err(io(out))?;
    Ok(Built {
        dir: out.to_owned(),
        package,
        notes,
    })
}

/// What the package's binary and libraries need of the board's system
/// (the newest of each); an error naming every file that would not load on
/// the OS the platform's descriptor names.
fn abi_requires(
    d: &Descriptor,
    root: &Path,
    engines: &[EngineEntry],
) -> Result<Needs, PackageError> {
    let mut files = vec!["bin/lpdnn-host".to_owned()];
    files.extend(engines.iter().flat_map(|e| e.files.iter().cloned()));
    let (each, requires) = read_needs(root, &files)?;
    let unmet: Vec<String> = match &d.os {
        Some(os) => each
            .iter()
            .flat_map(|(rel, n)| {
                n.unmet(os)
                    .into_iter()
                    .map(move |l| format!("{rel} needs {l}"))
            })
            .collect(),
        None => Vec::new(),
    };
    if let (Some(os), false) = (&d.os, unmet.is_empty()) {
        let mut advice = Vec::new();
        if unmet.iter().any(|l| l.starts_with("bin/")) {
            advice.push(if d.arch == Arch::Aarch64 {
                "build lpdnn-host with scripts/cross.sh aarch64 (it links against glibc 2.27)"
                    .to_owned()
            } else {
                format!(
                    "build lpdnn-host for {} on a machine as old as the board's OS, and give it with --bin",
                    d.target_triple
                )
            });
        }
        if unmet.iter().any(|l| l.starts_with("lib/")) {
            advice.push("leave those engines out with --engines".to_owned());
        }
        let mut advice = advice.join("; ");
        if let Some(first) = advice.get(..1) {
            advice = first.to_uppercase() + &advice[1..];
        }
        return Err(PackageError::WouldNotLoad {
            platform: d.name.clone(),
            os: os.name.clone(),
            files: unmet,
            advice,
        });
    }
    Ok(requires)
}

/// Reads what each ELF file among `files` (paths inside `root`) needs, and
/// what they need together: the newest versions, and the system libraries
/// they name that are not among `files`.
fn read_needs(
    root: &Path,
    files: &[String],
) -> Result<(Vec<(String, Needs)>, Needs), PackageError> {
    let mut each = Vec::new();
    let mut all = Needs::default();
    for rel in files {
        if let Some(needs) = elf_needs(&root.join(rel))? {
            all = all.max(&needs);
            each.push((rel.clone(), needs));
        }
    }
    all.keep_system_libraries(files);
    Ok((each, all))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), PackageError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<(), PackageError> {
    Ok(())
}

/// Every file under `root` but `package.yml`, sorted, hashed.
fn list_files(root: &Path) -> Result<Vec<FileEntry>, PackageError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(|e| PackageError::Io {
            path: e.path().unwrap_or(root).to_owned(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "package.yml" {
            continue;
        }
        let (bytes, sha256) = sha256_file(entry.path())?;
        files.push(FileEntry {
            path: rel,
            bytes,
            sha256,
        });
    }
    Ok(files)
}

/// Copies one app and the files it names into `apps/NAME/`, rewriting its
/// paths; keeps the model formats a packaged engine takes and whose files
/// exist.
fn package_app(
    path: &Path,
    engines: &[EngineFiles],
    root: &Path,
    notes: &mut Vec<String>,
) -> Result<AppEntry, PackageError> {
    let app = lpdnn_app::App::load(path).map_err(|e| PackageError::App {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let fail = |message: String| PackageError::App {
        path: app.file.clone(),
        message,
    };
    if !engines.iter().any(|e| e.engine == app.engine.name) {
        let names: Vec<&str> = engines.iter().map(|e| e.engine.as_str()).collect();
        return Err(fail(format!(
            "engine.name: {} is not in this package (it carries {})",
            app.engine.name,
            names.join(", ")
        )));
    }
    let text = std::fs::read_to_string(&app.file).map_err(io(&app.file))?;
    let mut json: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let dir = root.join("apps").join(&app.name);
    let put = |from: &Path, sub: &str| -> Result<String, PackageError> {
        let name = from.file_name().unwrap_or_default().to_string_lossy();
        let rel = format!("{sub}/{name}");
        let to = dir.join(&rel);
        if to.exists() && std::fs::read(&to).ok() != std::fs::read(from).ok() {
            return Err(fail(format!(
                "two different files named {name} go to {sub}/"
            )));
        }
        copy(from, &to)?;
        Ok(rel)
    };
    json["preprocessor"]["component"] = put(&app.preprocessor.component, "components")?.into();
    json["postprocessor"]["component"] = put(&app.postprocessor.component, "components")?.into();
    if let Some(l) = &app.labels {
        json["labels"] = put(l, "labels")?.into();
    }
    let wanted: Vec<ModelFormat> = engines.iter().flat_map(|e| e.formats.clone()).collect();
    let mut formats = Vec::new();
    for (format, file) in app.model.available() {
        let key = lpdnn_app::model_key(format);
        let keep = wanted.contains(&format);
        let exists = app.model_file(format).is_ok();
        if !keep || !exists {
            notes.push(format!(
                "{}: model.{key} left out ({})",
                app.name,
                if keep {
                    "its file is missing"
                } else {
                    "no engine of the package takes it"
                }
            ));
            if let Some(m) = json["model"].as_object_mut() {
                m.remove(key);
            }
            continue;
        }
        let rel = put(&file.file, "models")?;
        if format == ModelFormat::NcnnParam {
            // The weights, and the side file of tensor names and shapes
            // that `lpdnn-host convert` writes beside the param.
            put(&file.file.with_extension("bin"), "models")?;
            let side = file.file.with_extension("json");
            if side.is_file() {
                put(&side, "models")?;
            }
        }
        match &mut json["model"][key] {
            Value::Object(o) => {
                o.insert("file".into(), rel.into());
            }
            v => *v = rel.into(),
        }
        formats.push(key.to_owned());
    }
    if formats.is_empty() {
        return Err(fail(
            "model: no model file that an engine of the package takes".into(),
        ));
    }
    let app_json = dir.join("app.json");
    write(
        &app_json,
        &(serde_json::to_string_pretty(&json).expect("JSON serializes") + "\n"),
    )?;
    Ok(AppEntry {
        name: app.name.clone(),
        app: format!("apps/{}/app.json", app.name),
        engine: app.engine.name.clone(),
        formats,
    })
}

/// What [`verify`] found right.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `package.yml`.
    pub package: PackageYml,
    /// `runtime.yml`.
    pub runtime: RuntimeYml,
    /// `engines.yml`.
    pub engines: EnginesYml,
    /// Bytes in all.
    pub bytes: u64,
    /// What its binary and libraries need, read from the files.
    pub requires: Needs,
}

fn read_yml<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            return None;
        }
    };
    match serde_yaml_ng::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            None
        }
    }
}

/// Checks a package: every file of `package.yml` there with its size and
/// SHA-256 and nothing else; the binary and libraries of the target's
/// architecture; the engines' files listed; every app loadable, naming
/// only files inside the package.
pub fn verify(dir: &Path) -> Result<Verified, PackageError> {
    let mut problems = Vec::new();
    let package: Option<PackageYml> = read_yml(dir, "package.yml", &mut problems);
    let runtime: Option<RuntimeYml> = read_yml(dir, "runtime.yml", &mut problems);
    let engines: Option<EnginesYml> = read_yml(dir, "engines.yml", &mut problems);
    let invalid = |problems: Vec<String>| PackageError::Invalid {
        dir: dir.to_owned(),
        problems,
    };
    let (Some(package), Some(runtime), Some(engines)) = (package, runtime, engines) else {
        return Err(invalid(problems));
    };
    let descriptor = Descriptor::named(&package.platform);
    let os = descriptor.as_ref().and_then(|d| d.os.clone());
    let arch = descriptor
        .map(|d| d.arch)
        .or_else(|| Arch::from_rust(package.target.split('-').next().unwrap_or_default()));
    let mut bytes = 0;
    let mut listed: BTreeMap<&str, &FileEntry> = BTreeMap::new();
    for (i, f) in package.files.iter().enumerate() {
        if f.path.starts_with('/') || f.path.split('/').any(|c| c == ".." || c.is_empty()) {
            problems.push(format!(
                "package.yml files[{i}].path: {} is not inside the package",
                f.path
            ));
            continue;
        }
        listed.insert(&f.path, f);
        let path = dir.join(&f.path);
        match sha256_file(&path) {
            Err(_) => problems.push(format!("{}: missing (package.yml files[{i}])", f.path)),
            Ok((n, sha)) => {
                bytes += n;
                if n != f.bytes || sha != f.sha256 {
                    problems.push(format!(
                        "{}: SHA-256 {} ({n} bytes) differs from package.yml's {} ({} bytes)",
                        f.path,
                        &sha[..12],
                        f.sha256.get(..12).unwrap_or(&f.sha256),
                        f.bytes
                    ));
                }
            }
        }
    }
    match list_files(dir) {
        Ok(found) => {
            for f in found
                .iter()
                .filter(|f| !listed.contains_key(f.path.as_str()))
            {
                problems.push(format!("{}: not listed in package.yml", f.path));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    // Verified on the board the package is for: against the glibc it runs.
    let here = running_glibc().filter(|_| {
        arch.is_some()
            && arch == Arch::this()
            && lpdnn_platforms::Host::detect().descriptor.as_deref() == Some(&package.platform)
    });
    let mut binaries: Vec<String> = vec![runtime.binary.clone()];
    binaries.extend(engines.engines.iter().flat_map(|e| e.files.iter().cloned()));
    binaries.retain(|b| {
        let listed = listed.contains_key(b.as_str());
        if !listed {
            problems.push(format!(
                "{b}: named by runtime.yml or engines.yml, not in package.yml"
            ));
        }
        listed
    });
    let (each, requires) = match read_needs(dir, &binaries) {
        Ok(r) => r,
        Err(e) => {
            problems.push(e.to_string());
            Default::default()
        }
    };
    for (b, needs) in &each {
        if let Some(os) = &os {
            problems.extend(
                needs
                    .unmet(os)
                    .into_iter()
                    .map(|l| format!("{b}: needs {l}: it would not load on {}", package.platform)),
            );
        }
        if let (Some(v), Some(here)) = (&needs.glibc, &here) {
            if v > here {
                problems.push(format!(
                    "{b}: needs GLIBC_{v}: this machine has glibc {here}"
                ));
            }
        }
    }
    for b in &binaries {
        match elf_arch(&dir.join(b)) {
            Ok(found) if found == arch && found.is_some() => {}
            Ok(found) => problems.push(format!(
                "{b}: {} for a package of target {}",
                found.map_or(
                    "not an ELF file of a known architecture".into(),
                    |a| format!("an {a} binary")
                ),
                package.target
            )),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let root = std::fs::canonicalize(dir).map_err(io(dir))?;
    for (i, a) in runtime.apps.iter().enumerate() {
        match lpdnn_app::App::load(&dir.join(&a.app)) {
            Err(e) => problems.push(format!("runtime.yml apps[{i}] ({}): {e}", a.name)),
            Ok(app) => {
                let mut named = vec![
                    app.preprocessor.component.clone(),
                    app.postprocessor.component.clone(),
                ];
                named.extend(app.labels.clone());
                named.extend(
                    app.model
                        .available()
                        .into_iter()
                        .map(|(_, f)| f.file.clone()),
                );
                for f in named {
                    let inside = std::fs::canonicalize(&f).is_ok_and(|p| p.starts_with(&root));
                    if !inside {
                        problems.push(format!(
                            "{}: names {}, which is not a file inside the package",
                            a.app,
                            f.display()
                        ));
                    }
                }
                if !engines.engines.iter().any(|e| e.name == app.engine.name) {
                    problems.push(format!(
                        "{}: engine.name {} is not in engines.yml",
                        a.app, app.engine.name
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(Verified {
            package,
            runtime,
            engines,
            bytes,
            requires,
        })
    } else {
        Err(invalid(problems))
    }
}
