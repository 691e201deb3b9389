//! The guest side of lpdnn processors.
//!
//! A processor is a WebAssembly component (target `wasm32-wasip2`) that
//! exports one world of the `lpdnn:processing` WIT package: an image, audio
//! or signal pre-processor, or a post-processor. This crate holds the
//! generated bindings of every world (one set of shared types), an export
//! macro per world, and helpers for tensors, parameters and configured
//! state. A processor written with it:
//!
//! ```ignore
//! use lpdnn_sdk::{audio::Guest, Config, Preprocessed, ProcessorError};
//!
//! struct Mine;
//! impl Guest for Mine {
//!     fn configure(config: Config) -> Result<(), ProcessorError> { Ok(()) }
//!     fn process(audio: Vec<u8>) -> Result<Preprocessed, ProcessorError> { todo!() }
//! }
//! lpdnn_sdk::export_audio_preprocessor!(Mine);
//! ```
//!
//! See `docs/authoring-components.md` for the whole path from `cargo new`
//! to a line in app.json.

#![warn(missing_docs)]

use std::sync::Mutex;

/// Bindings of the `image-preprocessor` world; owns the shared types.
#[allow(missing_docs)]
pub mod image_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "image-preprocessor",
        pub_export_macro: true,
        export_macro_name: "export_image_preprocessor",
        default_bindings_module: "lpdnn_sdk::image_world",
    });
}

/// Bindings of the `audio-preprocessor` world.
#[allow(missing_docs)]
pub mod audio_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "audio-preprocessor",
        with: { "lpdnn:processing/types@0.2.0": crate::image_world::lpdnn::processing::types },
        pub_export_macro: true,
        export_macro_name: "export_audio_preprocessor",
        default_bindings_module: "lpdnn_sdk::audio_world",
    });
}

/// Bindings of the `signal-preprocessor` world.
#[allow(missing_docs)]
pub mod signal_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "signal-preprocessor",
        with: { "lpdnn:processing/types@0.2.0": crate::image_world::lpdnn::processing::types },
        pub_export_macro: true,
        export_macro_name: "export_signal_preprocessor",
        default_bindings_module: "lpdnn_sdk::signal_world",
    });
}

/// Bindings of the `postprocessor` world.
#[allow(missing_docs)]
pub mod post_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "postprocessor",
        with: { "lpdnn:processing/types@0.2.0": crate::image_world::lpdnn::processing::types },
        pub_export_macro: true,
        export_macro_name: "export_postprocessor",
        default_bindings_module: "lpdnn_sdk::post_world",
    });
}

pub use audio_world::export_audio_preprocessor;
pub use image_world::export_image_preprocessor;
pub use post_world::export_postprocessor;
pub use signal_world::export_signal_preprocessor;

/// The trait an image pre-processor implements.
pub mod image {
    pub use crate::image_world::exports::lpdnn::processing::image_preprocess::Guest;
}
/// The trait an audio pre-processor implements.
pub mod audio {
    pub use crate::audio_world::exports::lpdnn::processing::audio_preprocess::Guest;
}
/// The trait a signal pre-processor implements.
pub mod signal {
    pub use crate::signal_world::exports::lpdnn::processing::signal_preprocess::Guest;
}
/// The trait a post-processor implements, and its result types.
pub mod post {
    pub use crate::post_world::exports::lpdnn::processing::postprocess::{
        Bbox, ClassScore, Detection, Guest, Point, Prediction, Segment,
    };
}

pub use image_world::lpdnn::processing::types::{
    AudioMeta, Config, Dtype, ImageGeometry, InputMeta, Preprocessed, ProcessorError, SignalMeta,
    Tensor,
};

/// The version of the `lpdnn:processing` package these bindings speak.
pub const WIT_VERSION: &str = "0.2.0";

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 => 2,
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::I64 => 8,
        }
    }
}

impl Tensor {
    /// A 32-bit float tensor named `name` (empty: bound by position).
    pub fn from_f32(name: &str, shape: &[u32], values: &[f32]) -> Tensor {
        Tensor {
            name: name.to_owned(),
            shape: shape.to_vec(),
            dtype: Dtype::F32,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// Number of elements its shape holds.
    pub fn len(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    /// Whether its shape holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its elements as f32, checking dtype and length; the error names the
    /// tensor.
    pub fn to_f32(&self) -> Result<Vec<f32>, ProcessorError> {
        if self.dtype != Dtype::F32 {
            return Err(ProcessorError::InvalidTensor(format!(
                "tensor '{}' is {:?}, expected f32",
                self.name, self.dtype
            )));
        }
        if self.data.len() != self.len() * 4 {
            return Err(ProcessorError::InvalidTensor(format!(
                "tensor '{}' has {} bytes for shape {:?}",
                self.name,
                self.data.len(),
                self.shape
            )));
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

/// Finds a tensor by name among a chunk's outputs (empty `name`: the first).
pub fn find<'a>(tensors: &'a [Tensor], name: &str) -> Result<&'a Tensor, ProcessorError> {
    let found = if name.is_empty() {
        tensors.first()
    } else {
        tensors.iter().find(|t| t.name == name)
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        ProcessorError::InvalidTensor(format!(
            "no output named '{name}' (the model gave {names:?})"
        ))
    })
}

/// Parses the app's `params` object into `T`; a failure is an
/// `invalid-params` error carrying serde's message (which names the field).
pub fn params<T: serde::de::DeserializeOwned>(config: &Config) -> Result<T, ProcessorError> {
    serde_json::from_str(&config.params).map_err(|e| ProcessorError::InvalidParams(e.to_string()))
}

/// What `configure` stored, for `process` to use: a processor's one piece of
/// global state.
pub struct Configured<T>(Mutex<Option<T>>);

impl<T> Configured<T> {
    /// Nothing configured yet.
    pub const fn new() -> Self {
        Configured(Mutex::new(None))
    }

    /// Stores the configuration.
    pub fn set(&self, value: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }

    /// Runs `f` with the configuration; an `internal` error if `configure`
    /// was never called.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&T) -> Result<R, ProcessorError>,
    ) -> Result<R, ProcessorError> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let value = guard
            .as_ref()
            .ok_or_else(|| ProcessorError::Internal("process called before configure".into()))?;
        f(value)
    }
}

impl<T> Default for Configured<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trip_and_checks() {
        let t = Tensor::from_f32("x", &[2, 2], &[1.0, -2.0, 3.5, 0.0]);
        assert_eq!(t.to_f32().unwrap(), vec![1.0, -2.0, 3.5, 0.0]);
        let bad = Tensor {
            data: vec![0; 3],
            ..t.clone()
        };
        assert!(matches!(
            bad.to_f32(),
            Err(ProcessorError::InvalidTensor(_))
        ));
        assert!(find(&[t], "y").is_err());
    }

    #[test]
    fn params_error_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            n: u32,
        }
        let c = Config {
            params: r#"{"n": "x"}"#.into(),
            labels: vec![],
        };
        match params::<P>(&c) {
            Err(ProcessorError::InvalidParams(m)) => assert!(m.contains("invalid type"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
