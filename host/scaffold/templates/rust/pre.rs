//! {{name}}: a {{world}} for lpdnn-host (`lpdnn-host component new` wrote
//! this starting point: replace the body of `process` with your own).

wit_bindgen::generate!({ world: "{{world}}", path: "wit" });

use exports::lpdnn::processing::{{iface_snake}}::Guest;
use lpdnn::processing::types::{Config, Dtype, InputMeta, Preprocessed, ProcessorError, Tensor};

struct Processor;

impl Guest for Processor {
    /// `config.params` is the app's `params` object, as JSON text.
    fn configure(config: Config) -> Result<(), ProcessorError> {
        if !config.params.trim_start().starts_with('{') {
            return Err(ProcessorError::InvalidParams("params: not a JSON object".into()));
        }
        Ok(())
    }

    /// The input file's bytes (untrusted) in, the model's tensors out.
    fn process({{arg}}: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
        if {{arg}}.is_empty() {
            return Err(ProcessorError::InvalidInput("the input is empty".into()));
        }
        // Here the raw bytes become one u8 tensor [1, N]: decode and
        // normalise them into what your model takes instead.
        let tensor = Tensor {
            name: String::new(),
            shape: vec![1, {{arg}}.len() as u32],
            dtype: Dtype::U8,
            data: {{arg}},
        };
        Ok(Preprocessed {
            chunks: vec![vec![tensor]],
            meta: InputMeta::None,
        })
    }
}

export!(Processor);
