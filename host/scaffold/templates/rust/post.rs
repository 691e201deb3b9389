//! {{name}}: a postprocessor for lpdnn-host (`lpdnn-host component new`
//! wrote this starting point: replace the body of `process` with your own).

wit_bindgen::generate!({ world: "postprocessor", path: "wit" });

use exports::lpdnn::processing::postprocess::{Guest, Prediction};
use lpdnn::processing::types::{Config, InputMeta, ProcessorError, Tensor};

struct Processor;

impl Guest for Processor {
    /// `config.params` is the app's `params` object, as JSON text;
    /// `config.labels` the app's labels.
    fn configure(config: Config) -> Result<(), ProcessorError> {
        if !config.params.trim_start().starts_with('{') {
            return Err(ProcessorError::InvalidParams("params: not a JSON object".into()));
        }
        Ok(())
    }

    /// The model's outputs of every chunk (one for an image) in, a
    /// prediction out.
    fn process(outputs: Vec<Vec<Tensor>>, _meta: InputMeta) -> Result<Prediction, ProcessorError> {
        // Here the last chunk's outputs come back as they are: turn them
        // into classes, detections or segments instead.
        let last = outputs
            .into_iter()
            .last()
            .ok_or_else(|| ProcessorError::InvalidTensor("no outputs".into()))?;
        Ok(Prediction::Tensors(last))
    }
}

export!(Processor);
