//! The one place where host bindings for the `lpdnn:processing` WIT package
//! are generated. Nothing outside this crate sees these types: the rest of
//! the crate converts them to engine-API tensors and plain predictions.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "image-preprocessor",
});

/// Bindings of the `postprocessor` world, sharing the `types` interface above.
pub mod post {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "postprocessor",
        with: {
            "lpdnn:processing/types": super::lpdnn::processing::types,
        },
    });
}

pub use exports::lpdnn::processing::image_preprocess::Preprocessed;
pub use lpdnn::processing::types::{Config, Dtype, InputMeta, ProcessorError, Tensor};
pub use post::exports::lpdnn::processing::postprocess::Prediction;
