//! Audio and sensor-signal processing, defined as librosa and scipy.signal
//! define it, in plain Rust that runs natively and inside a wasm component.
//!
//! Every function computes in f64 and matches its Python namesake (named
//! in its doc) to float rounding; the tests of the host check that against
//! reference arrays made by librosa and scipy.

#![warn(missing_docs)]

pub mod chunk;
pub mod filter;
pub mod resample;
pub mod spectral;
pub mod wav;
pub mod window;

/// One chunk's model input: a tensor shape and its row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Tensor shape.
    pub shape: Vec<u32>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// Why processing failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A parameter is out of range; the text names it.
    #[error("{0}")]
    Params(String),
    /// The input cannot be processed.
    #[error("{0}")]
    Input(String),
}

/// Shorthand for a parameter error.
pub(crate) fn params<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Params(message.into()))
}

/// With the `lpdnn-sdk` feature: the chunks as WIT tensors bound to the
/// model input `input` (one tensor per chunk).
#[cfg(feature = "lpdnn-sdk")]
pub fn wit_chunks(outputs: Vec<Output>, input: &str) -> Vec<Vec<lpdnn_sdk::Tensor>> {
    outputs
        .into_iter()
        .map(|o| vec![lpdnn_sdk::Tensor::from_f32(input, &o.shape, &o.values)])
        .collect()
}

/// With the `lpdnn-sdk` feature, a component returns these as WIT errors:
/// parameter errors as `invalid-params`, input errors as `invalid-input`.
#[cfg(feature = "lpdnn-sdk")]
impl From<Error> for lpdnn_sdk::ProcessorError {
    fn from(e: Error) -> Self {
        match e {
            Error::Params(m) => lpdnn_sdk::ProcessorError::InvalidParams(m),
            Error::Input(m) => lpdnn_sdk::ProcessorError::InvalidInput(m),
        }
    }
}
