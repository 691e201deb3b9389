//! The inference-engine API of lpdnn-host.
//!
//! Every engine (LNE, ONNX Runtime, NCNN, LiteRT, ...) implements [`Engine`]
//! and hands out [`Model`]s. Nothing here knows about WebAssembly: the host's
//! processor runtime converts its own tensors into [`Tensor`] at the boundary.

#![warn(missing_docs)]

mod format;
mod tensor;

use std::path::{Path, PathBuf};

pub use format::{sniff_file, ModelFormat};
pub use tensor::{DType, Tensor, TensorInfo};

/// Errors an engine reports.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model file cannot be read.
    #[error("cannot read model {path}: {source}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The model file is not in a format this engine accepts.
    #[error("model {path} is {found}; engine {engine} accepts {accepted}")]
    WrongFormat {
        /// The model file.
        path: PathBuf,
        /// What the file's bytes say it is.
        found: ModelFormat,
        /// The engine's name.
        engine: String,
        /// Formats the engine accepts, human-readable.
        accepted: String,
    },
    /// The engine could not parse or prepare the model.
    #[error("engine {engine} cannot load model {path}: {message}")]
    Load {
        /// The engine's name.
        engine: String,
        /// The model file.
        path: PathBuf,
        /// The engine's own explanation.
        message: String,
    },
    /// Inputs handed to [`Model::run`] do not fit the model.
    #[error("input does not fit the model: {0}")]
    InputMismatch(String),
    /// The engine failed while running the model.
    #[error("engine {engine} failed to run: {message}")]
    Run {
        /// The engine's name.
        engine: String,
        /// The engine's own explanation.
        message: String,
    },
    /// The engine (or a device it needs) is not available on this platform.
    #[error("engine {engine} is not available on this platform: {reason}")]
    Unavailable {
        /// The engine's name.
        engine: String,
        /// What is missing and how to get it.
        reason: String,
    },
}

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Worker threads for the engine; `None` lets the engine decide.
    pub threads: Option<usize>,
}

/// An inference engine: a factory of loaded models.
pub trait Engine: Send + Sync {
    /// Short name, as written in app.json (`"lne"`, `"onnxruntime"`, ...).
    fn name(&self) -> &'static str;
    /// Model formats this engine loads.
    fn formats(&self) -> &'static [ModelFormat];
    /// Loads and prepares a model for inference.
    fn load(&self, model: &Path, options: &LoadOptions) -> Result<Box<dyn Model>, EngineError>;
}

/// A model ready to run.
pub trait Model: Send {
    /// The model's inputs, in order.
    fn inputs(&self) -> &[TensorInfo];
    /// The model's outputs, in order.
    fn outputs(&self) -> &[TensorInfo];
    /// Runs one forward pass. `inputs` are in model input order.
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError>;
}

/// Refuses a model whose bytes are not in one of `engine`'s formats, before
/// any native code sees it.
pub fn check_format(engine: &dyn Engine, model: &Path) -> Result<ModelFormat, EngineError> {
    let found = sniff_file(model).map_err(|source| EngineError::Io {
        path: model.to_owned(),
        source,
    })?;
    if engine.formats().contains(&found) {
        return Ok(found);
    }
    let accepted = engine
        .formats()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(EngineError::WrongFormat {
        path: model.to_owned(),
        found,
        engine: engine.name().to_owned(),
        accepted: format!("{{{accepted}}}"),
    })
}
