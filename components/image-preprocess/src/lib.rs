//! The image pre-processor component: decodes an untrusted PNG/JPEG inside
//! the sandbox and produces the model's input tensor (see `imageproc-core`
//! for the parameters).

#[cfg(target_arch = "wasm32")]
mod component {
    use std::sync::Mutex;

    use imageproc_core::{decode, preprocess, Error, OutType, Params};

    use lpdnn_sdk::image::Guest;
    use lpdnn_sdk::{
        Config, Dtype, ImageGeometry, InputMeta, Preprocessed, ProcessorError, Tensor,
    };

    static PARAMS: Mutex<Option<Params>> = Mutex::new(None);

    fn wit_error(e: Error) -> ProcessorError {
        match e {
            Error::Params(m) => ProcessorError::InvalidParams(m),
            Error::Input(m) => ProcessorError::InvalidInput(m),
        }
    }

    struct ImagePreprocessor;

    impl Guest for ImagePreprocessor {
        fn configure(config: Config) -> Result<(), ProcessorError> {
            let params = Params::from_json(&config.params).map_err(wit_error)?;
            *PARAMS.lock().unwrap() = Some(params);
            Ok(())
        }

        fn process(image: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
            let guard = PARAMS.lock().unwrap();
            let p = guard.as_ref().ok_or_else(|| {
                ProcessorError::Internal("process called before configure".into())
            })?;
            let img = decode(&image, p.max_pixels).map_err(wit_error)?;
            drop(image);
            let out = preprocess(&img, p).map_err(wit_error)?;
            let g = out.geometry;
            Ok(Preprocessed {
                chunks: vec![vec![Tensor {
                    name: p.input.clone(),
                    shape: out.shape.to_vec(),
                    dtype: match p.dtype {
                        OutType::F32 => Dtype::F32,
                        OutType::U8 => Dtype::U8,
                    },
                    data: out.data,
                }]],
                meta: InputMeta::Image(ImageGeometry {
                    width: g.width,
                    height: g.height,
                    tensor_width: g.tensor_width,
                    tensor_height: g.tensor_height,
                    scale_x: g.scale_x,
                    scale_y: g.scale_y,
                    offset_x: g.offset_x,
                    offset_y: g.offset_y,
                }),
            })
        }
    }

    lpdnn_sdk::export_image_preprocessor!(ImagePreprocessor);
}
