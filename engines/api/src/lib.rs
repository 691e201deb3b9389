//! The inference-engine API of lpdnn-host.
//!
//! Every engine (LNE, ONNX Runtime, NCNN, LiteRT, ...) implements [`Engine`]
//! and hands out [`Model`]s. Nothing here knows about WebAssembly: the host's
//! processor runtime converts its own tensors into [`Tensor`] at the boundary.

#![warn(missing_docs)]

mod layers;
mod native;
mod synthetic;
mod tensor;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use layers::{node_name, LayerProfile, LayerTimes, MAX_PROFILED_RUNS};
pub use lpdnn_model_file::{
    check_file, check_threads, max_file_bytes, max_threads, ncnn_bin_path, ncnn_layers,
    parse_input_shape, read_file, set_max_file_bytes, sniff, sniff_file, tensorflow_hint,
    NcnnLayer, ReadError, DEFAULT_MAX_FILE_BYTES,
};
pub use lpdnn_types::ModelFormat;
pub use native::{
    cache_dir, capture_stderr, contain, load_quietly, locate_library, package_root, NativeLibrary,
};
pub use synthetic::{describe_inputs, resolve_input_shapes, synthetic, ShapeError};
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
    #[error("model {path} is {}; engine {engine} accepts {accepted}", .hint.as_deref().unwrap_or(&.found.to_string()))]
    WrongFormat {
        /// The model file.
        path: PathBuf,
        /// What the file's bytes say it is.
        found: ModelFormat,
        /// The engine's name.
        engine: String,
        /// Formats the engine accepts, human-readable.
        accepted: String,
        /// What the file is and how to convert it, when it is a TensorFlow
        /// form no engine takes (a SavedModel, a Keras file).
        hint: Option<Box<str>>,
    },
    /// The engine could not parse or prepare the model.
    #[error("engine {engine} cannot load model {path}: {}", untrusted(.message))]
    Load {
        /// The engine's name.
        engine: String,
        /// The model file.
        path: PathBuf,
        /// The engine's own explanation.
        message: String,
    },
    /// Inputs handed to [`Model::run`] do not fit the model.
    #[error("input does not fit the model: {}", untrusted(.0))]
    InputMismatch(String),
    /// The engine failed while running the model.
    #[error("engine {engine} failed to run: {}", untrusted(.message))]
    Run {
        /// The engine's name.
        engine: String,
        /// The engine's own explanation.
        message: String,
    },
    /// An engine option in app.json or on the command line is wrong.
    #[error("engine {engine}: option `{option}`: {message}")]
    Option {
        /// The engine's name.
        engine: String,
        /// The option's name.
        option: String,
        /// Why it is refused.
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

pub use lpdnn_types::{Device, EngineName};

/// Engine-specific options (`engine.options` in app.json), by name.
pub type EngineOptions = serde_json::Map<String, serde_json::Value>;

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Worker threads for the engine; `None` lets the engine decide.
    pub threads: Option<usize>,
    /// The device to run on.
    pub device: Device,
    /// Engine-specific options; each engine refuses names it does not know.
    pub options: EngineOptions,
    /// Time each layer of every run, for [`Model::layer_profile`]. A
    /// profiled model runs slower: load another for the timed runs.
    pub profile_layers: bool,
}

impl LoadOptions {
    /// Refuses any device but the CPU for an engine that has no other;
    /// `what` names the build, e.g. `"this libncnn (NCNN_VULKAN=OFF)"`.
    pub fn cpu_only(&self, engine: &str, what: &str) -> Result<(), EngineError> {
        if self.device == Device::Cpu {
            return Ok(());
        }
        Err(EngineError::Unavailable {
            engine: engine.into(),
            reason: format!("{what} runs on the CPU only, not on {}", self.device),
        })
    }

    /// Refuses any option not in `known`, naming the engine and the option.
    pub fn check_known(&self, engine: &str, known: &[&str]) -> Result<(), EngineError> {
        match self.options.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(EngineError::Option {
                engine: engine.to_owned(),
                option: k.clone(),
                message: if known.is_empty() {
                    "this engine takes no options".to_owned()
                } else {
                    format!("unknown; this engine takes: {}", known.join(", "))
                },
            }),
        }
    }

    /// A boolean option, `default` when absent.
    pub fn flag(&self, engine: &str, name: &str, default: bool) -> Result<bool, EngineError> {
        match self.options.get(name) {
            None => Ok(default),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(v) => Err(EngineError::Option {
                engine: engine.to_owned(),
                option: name.to_owned(),
                message: format!("expected true or false, got {v}"),
            }),
        }
    }

    /// A string option, `None` when absent.
    pub fn string(&self, engine: &str, name: &str) -> Result<Option<&str>, EngineError> {
        match self.options.get(name) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(EngineError::Option {
                engine: engine.to_owned(),
                option: name.to_owned(),
                message: format!("expected a string, got {v}"),
            }),
        }
    }

    /// A non-negative integer option, `None` when absent.
    pub fn uint(&self, engine: &str, name: &str) -> Result<Option<usize>, EngineError> {
        match self.options.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| EngineError::Option {
                    engine: engine.to_owned(),
                    option: name.to_owned(),
                    message: format!("expected a non-negative integer, got {v}"),
                }),
        }
    }
}

/// What an engine can do on this machine, for `lpdnn-host engines`.
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    /// The engine's name.
    pub name: String,
    /// Whether models can be loaded here.
    pub available: bool,
    /// Version of the engine's library, when it could be read.
    pub version: Option<String>,
    /// The native library in use, when there is one.
    pub library: Option<PathBuf>,
    /// Devices usable here.
    pub devices: Vec<Device>,
    /// Model formats accepted.
    pub formats: Vec<ModelFormat>,
    /// Engine-specific options it takes.
    pub options: Vec<&'static str>,
    /// Why it is unavailable, or which devices are not, and how to fix it.
    pub reason: Option<String>,
}

impl EngineInfo {
    /// An engine that is not (yet) known to run here: no version, library
    /// or device. `info()` fills in what its probe finds.
    pub fn new(name: &str, formats: &[ModelFormat], options: &[&'static str]) -> Self {
        EngineInfo {
            name: name.to_owned(),
            available: false,
            version: None,
            library: None,
            devices: Vec::new(),
            formats: formats.to_vec(),
            options: options.to_vec(),
            reason: None,
        }
    }
}

/// Checks tensors against a model's inputs before an engine runs them:
/// the count, then each tensor's type and shape, in order.
pub fn check_inputs(expected: &[TensorInfo], inputs: &[Tensor]) -> Result<(), EngineError> {
    if inputs.len() != expected.len() {
        return Err(EngineError::InputMismatch(format!(
            "the model takes {} input(s), got {}",
            expected.len(),
            inputs.len()
        )));
    }
    for (t, want) in inputs.iter().zip(expected) {
        if !want.accepts(t.dtype(), t.shape()) {
            return Err(EngineError::InputMismatch(format!(
                "model input '{}' expects {} {}, got {} {:?}",
                want.name,
                want.dtype,
                want.shape_string(),
                t.dtype(),
                t.shape()
            )));
        }
    }
    Ok(())
}

/// An inference engine: a factory of loaded models.
pub trait Engine: Send + Sync {
    /// Short name, as written in app.json (`"lne"`, `"onnxruntime"`, ...).
    fn name(&self) -> &'static str;
    /// Model formats this engine loads.
    fn formats(&self) -> &'static [ModelFormat];
    /// Probes the engine's library and devices on this machine.
    fn info(&self) -> EngineInfo;
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
    /// The time of each layer in every run since the model was loaded with
    /// [`LoadOptions::profile_layers`]; `None` where the engine gives no
    /// per-layer times. Ends the profiling on engines that can end it only
    /// once (ONNX Runtime).
    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        Ok(None)
    }
}

/// Refuses a model whose bytes are not in one of `engine`'s formats, before
/// any native code sees it.
pub fn check_format(engine: &dyn Engine, model: &Path) -> Result<ModelFormat, EngineError> {
    // A SavedModel is a folder: say so rather than "not a regular file".
    let found = if model.is_dir() {
        ModelFormat::Unknown
    } else {
        sniff_file(model).map_err(|source| EngineError::Io {
            path: model.to_owned(),
            source,
        })?
    };
    if engine.formats().contains(&found) {
        return Ok(found);
    }
    let hint = (found == ModelFormat::Unknown)
        .then(|| lpdnn_model_file::tensorflow_hint(model))
        .flatten()
        .map(String::into_boxed_str);
    if model.is_dir() && hint.is_none() {
        return Err(EngineError::Io {
            path: model.to_owned(),
            source: std::io::Error::other("is a folder, not a model file"),
        });
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
        hint,
    })
}

/// Most characters of untrusted text (a component's, a model's) shown in
/// an error.
pub const SHOWN_CHARS: usize = 2000;

/// Text a component, a model or a label file supplied, made safe to print: control characters
/// (terminal escapes, carriage returns) and bidirectional overrides are
/// shown as `\u{..}` escapes, newlines as `⏎`, and it is cut to
/// [`SHOWN_CHARS`] characters with the count of the rest.
pub fn untrusted(text: &str) -> String {
    let mut out = String::new();
    for (shown, c) in text.chars().enumerate() {
        if shown == SHOWN_CHARS {
            let rest = text.chars().count() - SHOWN_CHARS;
            out.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        match c {
            '\n' => out.push('⏎'),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
