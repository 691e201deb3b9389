//! Built against a copy of the 0.1.0 WIT (`wit/` beside this crate): a
//! host that speaks another version must refuse it, naming both versions.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "wit", world: "image-preprocessor" });

use exports::lpdnn::processing::image_preprocess::{Guest, Preprocessed};
use lpdnn::processing::types::{Config, InputMeta, ProcessorError};

struct Old;

impl Guest for Old {
    fn configure(_: Config) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn process(_: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
        Ok(Preprocessed {
            tensors: vec![],
            meta: InputMeta::None,
        })
    }
}

export!(Old);
