//! The one place where host bindings for the `lpdnn:processing` WIT package
//! are generated, one module per world, sharing the `types` interface.
//! Nothing outside this crate sees these types: the rest of the crate
//! converts them to engine-API tensors and plain predictions.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "image-preprocessor",
});

/// Bindings of the `audio-preprocessor` world.
pub mod audio {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "audio-preprocessor",
        with: { "lpdnn:processing/types": super::lpdnn::processing::types },
    });
}

/// Bindings of the `signal-preprocessor` world.
pub mod signal {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "signal-preprocessor",
        with: { "lpdnn:processing/types": super::lpdnn::processing::types },
    });
}

/// Bindings of the `postprocessor` world.
pub mod post {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "postprocessor",
        with: { "lpdnn:processing/types": super::lpdnn::processing::types },
    });
}

pub use lpdnn::processing::types::{
    Config, Dtype, InputMeta, Preprocessed, ProcessorError, Tensor,
};
pub use post::exports::lpdnn::processing::postprocess::Prediction;
