//! The AI app file (`app.json`) read and checked: its fields, the files it
//! names, the inputs its class takes. Nothing here runs a model or a
//! component, so the service can check an upload without linking an engine.

#![warn(missing_docs)]

mod config;

use std::path::{Path, PathBuf};

pub use config::{
    model_key, App, AppClass, EngineSpec, ModelFile, ModelSpec, ProcessorSpec, StateSpec,
    StreamSpec,
};

use lpdnn_types::ModelFormat;

/// Errors of reading an app file. Each names the file (and field) at fault.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file given as the app is a TensorFlow form that is not run (a
    /// SavedModel, a Keras file): what it is, and how to freeze it.
    #[error("{path} is {hint}")]
    TensorFlowFile {
        /// The file.
        path: PathBuf,
        /// What it is and how to freeze it.
        hint: String,
    },
    /// The file given as the app is a model.
    #[error("{path} is a{} {format} model, not an app: give the app.json that names it (or its folder)", if matches!(.format, ModelFormat::Onnx) { "n" } else { "" })]
    ModelAsApp {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: ModelFormat,
    },
    /// A folder given as the app has no `app.json`.
    #[error("{path} is a folder without an app.json{}", .hint.as_ref().map(|h| format!(": it is {h}")).unwrap_or_default())]
    NoAppFile {
        /// The folder.
        path: PathBuf,
        /// What the folder is when it is a TensorFlow SavedModel, and how
        /// to freeze it.
        hint: Option<String>,
    },
    /// The app file is not valid JSON.
    #[error("{path} is not valid JSON: {message}")]
    Parse {
        /// The app file.
        path: PathBuf,
        /// Where and why.
        message: String,
    },
    /// A field of the app file is missing or invalid.
    #[error("{path}: field `{field}`: {message}")]
    Field {
        /// The app file.
        path: PathBuf,
        /// Dotted path of the field.
        field: String,
        /// Why.
        message: String,
    },
    /// A file the app names does not exist.
    #[error("{path}: field `{field}` names {file}, which does not exist")]
    MissingFile {
        /// The app file.
        path: PathBuf,
        /// The field.
        field: String,
        /// The missing file.
        file: PathBuf,
    },
}

/// Extensions of the image files an image app takes as inputs (any case).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "ppm", "pgm", "pnm"];
/// Extensions of the audio files an audio app takes.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave"];
/// Extensions of the recordings a signal app takes (CSV or raw f32).
pub const SIGNAL_EXTENSIONS: &[&str] = &["csv", "txt", "f32", "bin", "raw"];

/// The files directly in `dir` with one of `extensions` (any case, in name
/// order), and how many other files it holds.
pub fn input_files(dir: &Path, extensions: &[&str]) -> std::io::Result<(Vec<PathBuf>, usize)> {
    let (mut found, mut others) = (Vec::new(), 0);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()));
        if wanted {
            found.push(path);
        } else {
            others += 1;
        }
    }
    found.sort();
    Ok((found, others))
}
