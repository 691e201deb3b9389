//! AI apps: the app file and the pipeline
//! `input → [wasm] pre-processor → engine → [wasm] post-processor → prediction`
//! with a timing anchor around every stage.

#![warn(missing_docs)]

mod pipeline;

use std::path::PathBuf;

pub use lpdnn_app_spec::{
    input_files, model_key, App, AppClass, EngineSpec, ModelFile, ModelSpec, ProcessorSpec,
    SpecError, StateSpec, StreamSpec, AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, SIGNAL_EXTENSIONS,
};
pub use lpdnn_runtime::{
    ClassScore, Detection, InputMeta, Prediction, Preprocessed, Runtime, RuntimeConfig, Segment,
};
pub use lpdnn_types::Stage;
pub use pipeline::{Pipeline, RunOptions, Trace};

use lpdnn_engine_api::{EngineError, ModelFormat};
use lpdnn_runtime::RuntimeError;

/// Errors of loading or running an app. Each names the file (and field)
/// at fault.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
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
    /// An engine name this build does not know.
    #[error(transparent)]
    UnknownEngine(#[from] UnknownEngine),
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
    /// The pre-processor's tensors do not fit the model's inputs.
    #[error("pre-processor {component} does not fit model {model}: {}", lpdnn_engine_api::untrusted(.message))]
    Mismatch {
        /// The pre-processor component.
        component: PathBuf,
        /// The model file.
        model: PathBuf,
        /// What differs.
        message: String,
    },
    /// An engine error.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A processor component error.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

use lpdnn_engines::{engine, UnknownEngine};

impl From<SpecError> for AppError {
    /// The same mistake, named the same way.
    fn from(e: SpecError) -> Self {
        match e {
            SpecError::Read { path, source } => AppError::Read { path, source },
            SpecError::ModelAsApp { path, format } => AppError::ModelAsApp { path, format },
            SpecError::TensorFlowFile { path, hint } => AppError::TensorFlowFile { path, hint },
            SpecError::NoAppFile { path, hint } => AppError::NoAppFile { path, hint },
            SpecError::Parse { path, message } => AppError::Parse { path, message },
            SpecError::Field {
                path,
                field,
                message,
            } => AppError::Field {
                path,
                field,
                message,
            },
            SpecError::MissingFile { path, field, file } => {
                AppError::MissingFile { path, field, file }
            }
        }
    }
}
