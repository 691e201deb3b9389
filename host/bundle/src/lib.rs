//! App bundles: a whole AI app in one archive (`.tar`, `.tar.gz` or
//! `.zip`) — `app.json` at its root, the model files, components and
//! labels it names, and its sample inputs in `inputs/`.
//!
//! A bundle comes from a stranger, so [`unpack`] writes only regular files
//! and folders, each under the target folder (no absolute path, no `..`,
//! no link, no device), within a count and a size; and [`check`] loads the
//! app and refuses one whose files lie outside the bundle or are missing.
//! [`outline`] makes the same checks as the archive streams without
//! writing its files out (the service's check at upload).

#![warn(missing_docs)]

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

use lpdnn_app_spec::{App, SpecError};
use lpdnn_types::ModelFormat;

/// The archive formats a bundle comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleFormat {
    /// POSIX tar.
    Tar,
    /// Gzip-compressed tar.
    TarGz,
    /// Zip (stored or deflated entries).
    Zip,
}

impl BundleFormat {
    /// The name a job records (`tar`, `tar.gz`, `zip`).
    pub fn as_str(self) -> &'static str {
        match self {
            BundleFormat::Tar => "tar",
            BundleFormat::TarGz => "tar.gz",
            BundleFormat::Zip => "zip",
        }
    }
}

impl std::fmt::Display for BundleFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The archive format `bytes` start with.
pub fn sniff(bytes: &[u8]) -> Option<BundleFormat> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(BundleFormat::Zip)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(BundleFormat::TarGz)
    } else if tar_header(bytes) {
        Some(BundleFormat::Tar)
    } else {
        None
    }
}

/// Whether `bytes` start with a tar header (POSIX `ustar`, or an old
/// header whose checksum holds).
fn tar_header(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..512) else {
        return false;
    };
    if &header[257..262] == b"ustar" {
        return true;
    }
    let field = String::from_utf8_lossy(&header[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    // The sum of the header's bytes, its checksum field read as spaces.
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    header[0] != 0 && sum == stored
}

/// How much a bundle may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files and folders.
    pub entries: usize,
    /// Bytes of all files together.
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 4096,
            bytes: 2 << 30,
        }
    }
}

/// Why a bundle is refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not a tar, tar.gz or zip archive.
    #[error("not an app bundle: give a .tar, .tar.gz or .zip of the app's folder")]
    NotABundle,
    /// The archive could not be read.
    #[error("the {format} archive is damaged: {message}")]
    Damaged {
        /// Its format.
        format: BundleFormat,
        /// What the reader said.
        message: String,
    },
    /// An entry's path would leave the bundle's folder.
    #[error("entry '{entry}' would be written outside the bundle (absolute path or '..')")]
    Escape {
        /// The entry's path as the archive gives it.
        entry: String,
    },
    /// An entry is a link, a device or another non-regular file.
    #[error("entry '{entry}' is a {kind}; a bundle holds only files and folders")]
    NotAFile {
        /// The entry.
        entry: String,
        /// What it is.
        kind: String,
    },
    /// Too many entries.
    #[error("the bundle has more than {0} entries")]
    TooManyEntries(usize),
    /// Too many bytes once unpacked.
    #[error("the bundle unpacks to more than {} MiB", .0 >> 20)]
    TooLarge(u64),
    /// `app.json` is larger than an app file can be.
    #[error("the bundle's app.json is larger than {} KiB", .0 >> 10)]
    AppTooLarge(u64),
    /// No `app.json` at the root.
    #[error("the bundle has no app.json at its root (entries: {0})")]
    NoApp(String),
    /// The app does not load.
    #[error("{0}")]
    App(#[from] SpecError),
    /// The app names a file outside the bundle.
    #[error("app.json field {field} names {file}, outside the bundle")]
    Outside {
        /// The app field.
        field: String,
        /// The file, as resolved.
        file: String,
    },
    /// No sample inputs.
    #[error("the bundle has no inputs/ folder of sample inputs to run the app on")]
    NoInputs,
    /// The app has no model the engine takes.
    #[error("the app has no model file engine {engine} takes ({takes}); it lists {lists}")]
    NoModelFor {
        /// The engine.
        engine: String,
        /// The formats it takes.
        takes: String,
        /// The formats the app lists.
        lists: String,
    },
    /// Writing the unpacked files failed.
    #[error("cannot unpack the bundle: {0}")]
    Io(#[from] std::io::Error),
}

/// The folder-relative path of an entry, or why it cannot be one.
fn inside(entry: &Path) -> Result<Option<PathBuf>, BundleError> {
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(BundleError::Escape {
                    entry: entry.display().to_string(),
                })
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// The largest `app.json` [`outline`] takes.
pub const APP_JSON_MAX: u64 = 1 << 20;

/// What unpacking writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every file with its bytes.
    Files,
    /// The folders, `app.json`, and every other file empty.
    Outline,
}

/// Counts entries and bytes against the limits as files are written.
struct Budget {
    limits: Limits,
    mode: Mode,
    entries: usize,
    bytes: u64,
}

impl Budget {
    fn entry(&mut self) -> Result<(), BundleError> {
        self.entries += 1;
        if self.entries > self.limits.entries {
            return Err(BundleError::TooManyEntries(self.limits.entries));
        }
        Ok(())
    }

    /// Writes `from` to `path` (under `dir`), within the byte budget: a
    /// file whose declared size is past it is refused before it is read,
    /// and the bytes are counted as they inflate, whatever it declares.
    fn write(
        &mut self,
        dir: &Path,
        rel: &Path,
        declared: u64,
        from: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let left = self.limits.bytes - self.bytes;
        if declared > left {
            return Err(BundleError::TooLarge(self.limits.bytes));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // A file already there (a second entry of the same name) is
        // replaced, never followed: nothing unpacked is a link.
        let mut out = File::create(&path)?;
        let n = if self.mode == Mode::Files || rel == Path::new("app.json") {
            let cap = if self.mode == Mode::Files {
                left
            } else {
                left.min(APP_JSON_MAX)
            };
            let n = std::io::copy(&mut from.take(cap + 1), &mut out)?;
            if n > cap && cap < left {
                return Err(BundleError::AppTooLarge(APP_JSON_MAX));
            }
            n
        } else {
            // Read to its end (the archive's checks run), kept nowhere.
            std::io::copy(&mut from.take(left + 1), &mut std::io::sink())?
        };
        if n > left {
            return Err(BundleError::TooLarge(self.limits.bytes));
        }
        self.bytes += n;
        Ok(())
    }
}

/// Unpacks `bytes` into `dir` (which should be empty): regular files and
/// folders only, each inside `dir`, within `limits`. Gives the format.
pub fn unpack(bytes: &[u8], dir: &Path, limits: Limits) -> Result<BundleFormat, BundleError> {
    unpack_as(bytes, dir, limits, Mode::Files)
}

/// Checks `bytes` as [`unpack`] does, entry by entry as the archive
/// streams (paths, kinds, count, sizes as they inflate; each file read to
/// its end into nothing), but writes only its outline into `dir`: the
/// folders, `app.json` (at most [`APP_JSON_MAX`] bytes) and every other
/// file empty — enough for [`check`] to judge the app, in a scratch space
/// that stays small whatever the archive inflates to. Gives the format.
pub fn outline(bytes: &[u8], dir: &Path, limits: Limits) -> Result<BundleFormat, BundleError> {
    unpack_as(bytes, dir, limits, Mode::Outline)
}

fn unpack_as(
    bytes: &[u8],
    dir: &Path,
    limits: Limits,
    mode: Mode,
) -> Result<BundleFormat, BundleError> {
    let format = sniff(bytes).ok_or(BundleError::NotABundle)?;
    let mut budget = Budget {
        limits,
        mode,
        entries: 0,
        bytes: 0,
    };
    match format {
        BundleFormat::Tar => unpack_tar(tar::Archive::new(bytes), format, dir, &mut budget)?,
        BundleFormat::TarGz => unpack_tar(
            tar::Archive::new(flate2::read::GzDecoder::new(bytes)),
            format,
            dir,
            &mut budget,
        )?,
        BundleFormat::Zip => unpack_zip(bytes, dir, &mut budget)?,
    }
    Ok(format)
}

fn unpack_tar<R: Read>(
    mut archive: tar::Archive<R>,
    format: BundleFormat,
    dir: &Path,
    budget: &mut Budget,
) -> Result<(), BundleError> {
    let damaged = |e: std::io::Error| BundleError::Damaged {
        format,
        message: e.to_string(),
    };
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        budget.entry()?;
        let path = entry.path().map_err(damaged)?.into_owned();
        let kind = entry.header().entry_type();
        let rel = inside(&path)?;
        use tar::EntryType as T;
        match (kind, rel) {
            (T::Directory, Some(rel)) => std::fs::create_dir_all(dir.join(rel))?,
            (T::Directory, None) => {}
            (T::Regular | T::Continuous, Some(rel)) => {
                let declared = entry.size();
                budget.write(dir, &rel, declared, &mut entry)?
            }
            // pax and GNU long-name headers are read by the tar crate itself.
            (T::XHeader | T::XGlobalHeader | T::GNULongName, _) => {}
            (kind, _) => {
                return Err(BundleError::NotAFile {
                    entry: path.display().to_string(),
                    kind: match kind {
                        T::Symlink => "symbolic link".into(),
                        T::Link => "hard link".into(),
                        T::Char | T::Block => "device".into(),
                        T::Fifo => "named pipe".into(),
                        other => format!("{other:?} entry"),
                    },
                })
            }
        }
    }
    Ok(())
}

fn unpack_zip(bytes: &[u8], dir: &Path, budget: &mut Budget) -> Result<(), BundleError> {
    let damaged = |e: zip::result::ZipError| BundleError::Damaged {
        format: BundleFormat::Zip,
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    for i in 0..archive.len() {
        budget.entry()?;
        let mut file = archive.by_index(i).map_err(damaged)?;
        let name = file.name().map_err(damaged)?.into_owned();
        let rel = inside(Path::new(&name))?;
        if file.is_symlink() {
            return Err(BundleError::NotAFile {
                entry: name,
                kind: "symbolic link".into(),
            });
        }
        match rel {
            Some(rel) if file.is_dir() => std::fs::create_dir_all(dir.join(rel))?,
            Some(rel) => {
                let declared = file.size();
                budget.write(dir, &rel, declared, &mut file)?
            }
            None => {}
        }
    }
    Ok(())
}

/// What a checked bundle holds.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Its app.json.
    pub app: PathBuf,
    /// Its `inputs/` folder.
    pub inputs: PathBuf,
}

/// Loads the app of an unpacked bundle and checks that every file it names
/// (components, labels, the model files of `formats`) lies inside `dir` and
/// exists, and that one model file is in a format of `formats`.
pub fn check(dir: &Path, engine: &str, formats: &[ModelFormat]) -> Result<Bundle, BundleError> {
    let file = dir.join("app.json");
    if !file.is_file() {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.truncate(10);
        return Err(BundleError::NoApp(names.join(", ")));
    }
    let root = dir.canonicalize()?;
    let app = App::load(&file).map_err(|e| match e {
        // Whether a file outside the bundle exists is not the sender's
        // business: both cases read the same.
        SpecError::MissingFile { field, file, .. } if !file.starts_with(&root) => {
            BundleError::Outside {
                field,
                file: file.display().to_string(),
            }
        }
        e => BundleError::App(e),
    })?;
    let within = |field: &str, p: &Path| -> Result<(), BundleError> {
        // Resolved through any link on the way (unpack writes none, but the
        // folder's own path may have some).
        let real = p.canonicalize().unwrap_or_else(|_| p.to_owned());
        if real.starts_with(&root) {
            Ok(())
        } else {
            Err(BundleError::Outside {
                field: field.to_owned(),
                file: p.display().to_string(),
            })
        }
    };
    within("preprocessor.component", &app.preprocessor.component)?;
    within("postprocessor.component", &app.postprocessor.component)?;
    if let Some(labels) = &app.labels {
        within("labels", labels)?;
    }
    let available = app.model.available();
    let mut usable = None;
    for (format, model) in &available {
        within(
            &format!("model.{}", lpdnn_app_spec::model_key(*format)),
            &model.file,
        )?;
        if formats.contains(format) && usable.is_none() {
            usable = Some(*format);
        }
    }
    let Some(format) = usable else {
        let names = |fs: &mut dyn Iterator<Item = ModelFormat>| {
            fs.map(|f| f.to_string()).collect::<Vec<_>>().join(", ")
        };
        return Err(BundleError::NoModelFor {
            engine: engine.to_owned(),
            takes: names(&mut formats.iter().copied()),
            lists: names(&mut available.iter().map(|(f, _)| *f)),
        });
    };
    // The file itself (and an NCNN model's .bin) must be there.
    let model = app.model_file(format)?;
    if format == ModelFormat::NcnnParam {
        within("model.ncnn", &lpdnn_model_file::ncnn_bin_path(&model.file))?;
    }
    let inputs = dir.join("inputs");
    if !inputs.is_dir() {
        return Err(BundleError::NoInputs);
    }
    Ok(Bundle { app: file, inputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of `(path, bytes)` files, paths written as given (even `..`).
    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_old();
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn unpacked(bytes: &[u8]) -> (tempfile::TempDir, Result<BundleFormat, BundleError>) {
        let dir = tempfile::tempdir().unwrap();
        let r = unpack(bytes, dir.path(), Limits::default());
        (dir, r)
    }

    #[test]
    fn files_and_folders_unpack_inside_the_folder() {
        let bytes = tar_of(&[("app.json", b"{}"), ("./inputs/a.png", b"png")]);
        let (dir, r) = unpacked(&bytes);
        assert_eq!(r.unwrap(), BundleFormat::Tar);
        assert_eq!(
            std::fs::read(dir.path().join("inputs/a.png")).unwrap(),
            b"png"
        );
    }

    #[test]
    fn a_path_out_of_the_bundle_is_refused_and_nothing_is_written_there() {
        let outer = tempfile::tempdir().unwrap();
        let inner = outer.path().join("bundle");
        std::fs::create_dir(&inner).unwrap();
        for path in ["../evil.txt", "/tmp/evil.txt", "inputs/../../evil.txt"] {
            let bytes = tar_of(&[(path, b"x")]);
            let e = unpack(&bytes, &inner, Limits::default()).unwrap_err();
            assert!(matches!(e, BundleError::Escape { .. }), "{path}: {e}");
            assert!(e.to_string().contains(path), "{e}");
        }
        assert!(!outer.path().join("evil.txt").exists());
    }

    #[test]
    fn links_are_refused() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "labels.txt", "/etc/passwd").unwrap();
        let (_, r) = unpacked(&b.into_inner().unwrap());
        let e = r.unwrap_err();
        assert!(
            e.to_string().contains("'labels.txt' is a symbolic link"),
            "{e}"
        );
    }

    #[test]
    fn a_bundle_past_its_size_or_count_is_refused() {
        let big = vec![0u8; 4096];
        let bytes = tar_of(&[("a", &big), ("b", &big)]);
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            entries: 10,
            bytes: 6000,
        };
        let e = unpack(&bytes, dir.path(), limits).unwrap_err();
        assert!(matches!(e, BundleError::TooLarge(6000)), "{e}");
        let limits = Limits {
            entries: 1,
            bytes: 1 << 20,
        };
        let e = unpack(&bytes, dir.path(), limits).unwrap_err();
        assert!(matches!(e, BundleError::TooManyEntries(1)), "{e}");
    }

    #[test]
    fn zip_and_gzip_bundles_unpack_and_other_bytes_are_not_bundles() {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        z.start_file("app.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"{}").unwrap();
        let bytes = z.finish().unwrap().into_inner();
        let (dir, r) = unpacked(&bytes);
        assert_eq!(r.unwrap(), BundleFormat::Zip);
        assert_eq!(std::fs::read(dir.path().join("app.json")).unwrap(), b"{}");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar_of(&[("app.json", b"{}")])).unwrap();
        let (_, r) = unpacked(&gz.finish().unwrap());
        assert_eq!(r.unwrap(), BundleFormat::TarGz);

        let (_, r) = unpacked(b"ir_version onnx...");
        assert!(matches!(r, Err(BundleError::NotABundle)));
        let mut broken = bytes.clone();
        broken.truncate(20);
        let (_, r) = unpacked(&broken);
        assert!(matches!(r, Err(BundleError::Damaged { .. })), "{r:?}");
    }

    #[test]
    fn an_outline_holds_the_app_and_empty_files_and_is_enough_to_check() {
        let app = br#"{"name": "x", "class": "image_classification",
            "preprocessor": {"component": "pre.wasm"}, "engine": {"name": "lne"},
            "model": {"onnx": "m.onnx"}, "postprocessor": {"component": "post.wasm"},
            "labels": "l.txt"}"#;
        let big = vec![7u8; 100_000];
        let bytes = tar_of(&[
            ("app.json", app),
            ("pre.wasm", b"wasm"),
            ("post.wasm", b"wasm"),
            ("m.onnx", &big),
            ("l.txt", b"a\n"),
            ("inputs/a.png", &big),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let format = outline(&bytes, dir.path(), Limits::default()).unwrap();
        assert_eq!(format, BundleFormat::Tar);
        assert_eq!(std::fs::read(dir.path().join("app.json")).unwrap(), app);
        for empty in ["m.onnx", "inputs/a.png", "pre.wasm"] {
            let len = std::fs::metadata(dir.path().join(empty)).unwrap().len();
            assert_eq!(len, 0, "{empty}");
        }
        check(dir.path(), "lne", &[ModelFormat::Onnx]).unwrap();
        // The sizes still count, though nothing is written.
        let limits = Limits {
            entries: 10,
            bytes: 150_000,
        };
        let dir = tempfile::tempdir().unwrap();
        let e = outline(&bytes, dir.path(), limits).unwrap_err();
        assert!(matches!(e, BundleError::TooLarge(150_000)), "{e}");
    }

    #[test]
    fn a_declared_size_past_the_budget_is_refused_before_it_is_read() {
        // The header says 1 MiB; the data is not even there.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..5].copy_from_slice(b"big.x");
        h.set_size(1 << 20);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 512]);
        let limits = Limits {
            entries: 10,
            bytes: 6000,
        };
        for mode in [Mode::Files, Mode::Outline] {
            let dir = tempfile::tempdir().unwrap();
            let e = unpack_as(&bytes, dir.path(), limits, mode).unwrap_err();
            assert!(matches!(e, BundleError::TooLarge(6000)), "{mode:?}: {e}");
        }
    }

    #[test]
    fn an_outline_refuses_a_zip_bomb_and_a_huge_app_json_writing_nothing_big() {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("inputs/zeros.bin", deflated).unwrap();
        std::io::Write::write_all(&mut z, &vec![0u8; 1 << 20]).unwrap();
        let bomb = z.finish().unwrap().into_inner();
        assert!(bomb.len() < 16 << 10, "{}", bomb.len());
        let limits = Limits {
            entries: 10,
            bytes: 512 << 10,
        };
        let dir = tempfile::tempdir().unwrap();
        let e = outline(&bomb, dir.path(), limits).unwrap_err();
        assert!(matches!(e, BundleError::TooLarge(_)), "{e}");
        // Within the budget it passes, and the file is there empty.
        outline(&bomb, dir.path(), Limits::default()).unwrap();
        let len = std::fs::metadata(dir.path().join("inputs/zeros.bin"))
            .unwrap()
            .len();
        assert_eq!(len, 0);

        let huge = vec![b' '; APP_JSON_MAX as usize + 1];
        let dir = tempfile::tempdir().unwrap();
        let e = outline(
            &tar_of(&[("app.json", &huge)]),
            dir.path(),
            Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, BundleError::AppTooLarge(_)), "{e}");
        assert!(
            e.to_string().contains("app.json is larger than 1024 KiB"),
            "{e}"
        );
    }

    #[test]
    fn an_app_naming_files_outside_or_missing_is_refused_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let app = |labels: &str| {
            format!(
                r#"{{"name": "x", "class": "image_classification",
                  "preprocessor": {{"component": "pre.wasm"}},
                  "engine": {{"name": "lne"}},
                  "model": {{"onnx": "m.onnx"}},
                  "postprocessor": {{"component": "post.wasm"}},
                  "labels": "{labels}"}}"#
            )
        };
        for f in ["pre.wasm", "post.wasm", "m.onnx"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("inputs")).unwrap();
        let formats = [ModelFormat::Onnx];
        for (labels, needle) in [
            (
                "/etc/passwd",
                "field labels names /etc/passwd, outside the bundle",
            ),
            ("../../../../etc/hostname", "outside the bundle"),
            // A missing file outside reads as one that exists outside.
            ("/nonexistent/labels.txt", "outside the bundle"),
            ("labels.txt", "labels"),
        ] {
            std::fs::write(dir.path().join("app.json"), app(labels)).unwrap();
            let e = check(dir.path(), "lne", &formats).unwrap_err();
            assert!(e.to_string().contains(needle), "{labels}: {e}");
        }
        std::fs::write(dir.path().join("labels.txt"), b"a\n").unwrap();
        std::fs::write(dir.path().join("app.json"), app("labels.txt")).unwrap();
        let bundle = check(dir.path(), "lne", &formats).unwrap();
        assert_eq!(bundle.inputs, dir.path().join("inputs"));
        let e = check(dir.path(), "litert", &[ModelFormat::TfLite]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no model file engine litert takes (TFLite); it lists ONNX"),
            "{e}"
        );
    }
}
