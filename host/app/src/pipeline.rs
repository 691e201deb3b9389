//! The pipeline of one app, with timing anchors around every stage.

use std::path::{Path, PathBuf};

use lpdnn_anchors::{Anchors, Mark};
use lpdnn_engine_api::{Device, LoadOptions, Model, ModelFormat, Tensor};
use lpdnn_runtime::{ImagePreprocessor, Postprocessor, Prediction, Runtime};

use crate::{App, AppError};

/// Overrides of the app file for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Engine to use instead of the app's.
    pub engine: Option<String>,
    /// Threads instead of the app's.
    pub threads: Option<usize>,
    /// Device instead of the app's.
    pub device: Option<Device>,
}

/// A loaded app, ready to run inputs.
pub struct Pipeline {
    engine: String,
    model_path: PathBuf,
    pre: ImagePreprocessor,
    model: Box<dyn Model>,
    post: Postprocessor,
    anchors: Anchors,
}

impl Pipeline {
    /// Loads the app's components and model.
    pub fn load(app: &App, runtime: &Runtime, options: &RunOptions) -> Result<Pipeline, AppError> {
        let engine_name = options.engine.as_deref().unwrap_or(&app.engine.name);
        let engine = crate::engine(engine_name).map_err(|message| AppError::Field {
            path: app.file.clone(),
            field: if options.engine.is_some() {
                "--engine".into()
            } else {
                "engine.name".into()
            },
            message,
        })?;
        let available = app.model.available();
        let join = |formats: &mut dyn Iterator<Item = &ModelFormat>| {
            formats
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let model_file = available
            .iter()
            .find(|(f, _)| engine.formats().contains(f))
            .map(|(_, file)| *file)
            .ok_or_else(|| AppError::Field {
                path: app.file.clone(),
                field: "model".into(),
                message: format!(
                    "engine {} accepts {{{}}}; this app has {{{}}}",
                    engine.name(),
                    join(&mut engine.formats().iter()),
                    join(&mut available.iter().map(|(f, _)| f)),
                ),
            })?;
        let model_path = model_file.file.clone();
        let mut pre_params = app.preprocessor.params.clone();
        pre_params.extend(model_file.preprocessor.clone());

        let mut anchors = Anchors::default();
        let labels = app.read_labels()?;
        let params = |p: &serde_json::Map<String, serde_json::Value>| {
            serde_json::Value::Object(p.clone()).to_string()
        };
        let start = Mark::now();
        let pre = runtime.image_preprocessor(
            &app.preprocessor.component,
            &params(&pre_params),
            &labels,
        )?;
        anchors.record("load.preprocessor", start.elapsed());
        let start = Mark::now();
        let post = runtime.postprocessor(
            &app.postprocessor.component,
            &params(&app.postprocessor.params),
            &labels,
        )?;
        anchors.record("load.postprocessor", start.elapsed());
        let start = Mark::now();
        let model = engine.load(
            &model_path,
            &LoadOptions {
                threads: options.threads.or(app.engine.threads),
                device: options.device.or(app.engine.device).unwrap_or_default(),
                options: app.engine.options.clone(),
            },
        )?;
        anchors.record("load.model", start.elapsed());
        Ok(Pipeline {
            engine: engine.name().to_owned(),
            model_path,
            pre,
            model,
            post,
            anchors,
        })
    }

    /// Runs one encoded input (e.g. PNG bytes) through every stage.
    pub fn run(&mut self, input: &[u8]) -> Result<Prediction, AppError> {
        let total = Mark::now();

        let start = Mark::now();
        let pre = self.pre.process(input)?;
        self.anchors.record("preprocess", start.elapsed());

        let outputs = self.infer(pre.tensors)?;

        let start = Mark::now();
        let prediction = self.post.process(&outputs, &pre.meta)?;
        self.anchors.record("postprocess", start.elapsed());

        self.anchors.record("total", total.elapsed());
        Ok(prediction)
    }

    /// The inference stage alone: binds the pre-processor's tensors to the
    /// model's inputs, runs the engine, and records the `inference` anchor
    /// (around the engine call only; binding is checked before it).
    pub fn infer(&mut self, tensors: Vec<Tensor>) -> Result<Vec<Tensor>, AppError> {
        let inputs = self.bind(tensors)?;
        let start = Mark::now();
        let outputs = self.model.run(inputs)?;
        self.anchors.record("inference", start.elapsed());
        Ok(outputs)
    }

    /// Runs the pre-processor alone (no anchor), e.g. to feed [`Pipeline::infer`].
    pub fn preprocess(&mut self, input: &[u8]) -> Result<Vec<Tensor>, AppError> {
        Ok(self.pre.process(input)?.tensors)
    }

    /// Reads a file and runs it.
    pub fn run_file(&mut self, path: &Path) -> Result<Prediction, AppError> {
        let bytes = std::fs::read(path).map_err(|source| AppError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.run(&bytes)
    }

    /// Orders the pre-processor's tensors as the model's inputs (by name
    /// where named, else by position) and checks type and shape.
    fn bind(&self, mut tensors: Vec<Tensor>) -> Result<Vec<Tensor>, AppError> {
        let inputs = self.model.inputs();
        let mismatch = |message: String| AppError::Mismatch {
            component: self.pre.path().to_owned(),
            model: self.model_path.clone(),
            message,
        };
        if tensors.len() != inputs.len() {
            return Err(mismatch(format!(
                "it produced {} tensor(s), the model takes {} input(s)",
                tensors.len(),
                inputs.len()
            )));
        }
        if tensors.iter().all(|t| !t.name.is_empty()) {
            let mut ordered = Vec::with_capacity(inputs.len());
            for info in inputs {
                let i = tensors
                    .iter()
                    .position(|t| t.name == info.name)
                    .ok_or_else(|| {
                        mismatch(format!(
                            "no tensor is named '{}' (the model's input)",
                            info.name
                        ))
                    })?;
                ordered.push(tensors.swap_remove(i));
            }
            tensors = ordered;
        }
        for (t, info) in tensors.iter().zip(inputs) {
            if !info.accepts(t.dtype, &t.shape) {
                return Err(mismatch(format!(
                    "it produced {} {:?}, model input '{}' expects {} {}",
                    t.dtype,
                    t.shape,
                    info.name,
                    info.dtype,
                    info.shape_string()
                )));
            }
        }
        Ok(tensors)
    }

    /// The anchors recorded so far: `load.preprocessor`,
    /// `load.postprocessor` and `load.model` from [`Pipeline::load`], then
    /// `preprocess`, `inference`, `postprocess` and `total` per input.
    pub fn anchors(&self) -> &Anchors {
        &self.anchors
    }

    /// Takes the anchors recorded so far and starts afresh, e.g. between
    /// the phases of a benchmark.
    pub fn take_anchors(&mut self) -> Anchors {
        std::mem::take(&mut self.anchors)
    }

    /// Peak linear memory of each processor component so far, in bytes.
    pub fn component_memory(&self) -> Vec<(PathBuf, usize)> {
        vec![
            (self.pre.path().to_owned(), self.pre.peak_memory()),
            (self.post.path().to_owned(), self.post.peak_memory()),
        ]
    }

    /// The engine's name.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    /// The model file in use.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// What ran each stage, for the anchor table's plugin column.
    pub fn plugin(&self, stage: &str) -> String {
        let file = |p: &Path| {
            p.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        };
        match stage {
            "preprocess" => file(self.pre.path()),
            "inference" => format!("engines/{}", self.engine),
            "postprocess" => file(self.post.path()),
            _ => String::new(),
        }
    }
}
