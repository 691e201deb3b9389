//! The pipeline of one app, with timing anchors around every stage.

use std::path::{Path, PathBuf};

use lpdnn_anchors::{Anchors, Mark};
use lpdnn_engine_api::{Device, EngineError, LoadOptions, Model, ModelFormat, Tensor};
use lpdnn_runtime::{
    InputMeta, Kind, Postprocessor, Prediction, Preprocessed, Preprocessor, Runtime,
};

use crate::{App, AppError, Stage, StateSpec};

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

/// Checks the app's `stream.state` against the model and makes each state
/// input's initial zeros.
fn stream_state(
    app: &App,
    model: &dyn Model,
    model_path: &Path,
) -> Result<Vec<(StateSpec, Tensor)>, AppError> {
    let field = |i: usize, message: String| AppError::Field {
        path: app.file.clone(),
        field: format!("stream.state[{i}]"),
        message: format!("{message} (model {})", model_path.display()),
    };
    app.stream
        .state
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let names = |infos: &[lpdnn_engine_api::TensorInfo]| {
                infos.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
            };
            let input = model
                .inputs()
                .iter()
                .find(|t| t.name == spec.input)
                .ok_or_else(|| {
                    field(
                        i,
                        format!(
                            "input '{}' is not a model input {:?}",
                            spec.input,
                            names(model.inputs())
                        ),
                    )
                })?;
            if !model.outputs().iter().any(|t| t.name == spec.output) {
                return Err(field(
                    i,
                    format!(
                        "output '{}' is not a model output {:?}",
                        spec.output,
                        names(model.outputs())
                    ),
                ));
            }
            let shape: Vec<usize> = input
                .shape
                .iter()
                .map(|d| {
                    d.ok_or_else(|| {
                        field(
                            i,
                            format!(
                                "input '{}' has an open dimension ({}); state needs a fixed shape",
                                spec.input,
                                input.shape_string()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            let bytes = shape.iter().product::<usize>() * input.dtype.size();
            let zeros = Tensor::new(spec.input.clone(), input.dtype, shape, vec![0; bytes])
                .map_err(|e| field(i, e.to_string()))?;
            Ok((spec.clone(), zeros))
        })
        .collect()
}

/// What the post-processor of one input was handed.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The engine outputs of each chunk, in model output order.
    pub outputs: Vec<Vec<Tensor>>,
    /// The pre-processor's facts about the input.
    pub meta: InputMeta,
}

/// A loaded app, ready to run inputs.
pub struct Pipeline {
    engine: String,
    model_path: PathBuf,
    pre: Preprocessor,
    model: Box<dyn Model>,
    /// How `model` was loaded.
    load_options: LoadOptions,
    post: Postprocessor,
    anchors: Anchors,
    /// State inputs carried from chunk to chunk, with their initial zeros.
    state: Vec<(StateSpec, Tensor)>,
}

impl Pipeline {
    /// Loads the app's components and model.
    pub fn load(app: &App, runtime: &Runtime, options: &RunOptions) -> Result<Pipeline, AppError> {
        let engine_name = options.engine.as_deref().unwrap_or(&app.engine.name);
        // A name chosen by the caller is the caller's error, not the app's.
        let engine = crate::engine(engine_name).map_err(|e| match options.engine {
            Some(_) => AppError::from(e),
            None => AppError::Field {
                path: app.file.clone(),
                field: "engine.name".into(),
                message: e.to_string(),
            },
        })?;
        let available = app.model.available();
        let join = |formats: &mut dyn Iterator<Item = &ModelFormat>| {
            formats
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let format = available
            .iter()
            .map(|(f, _)| *f)
            .find(|f| engine.formats().contains(f))
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
        let model_file = app.model_file(format)?;
        let model_path = model_file.file.clone();
        let mut pre_params = app.preprocessor.params.clone();
        pre_params.extend(model_file.preprocessor.clone());

        let mut anchors = Anchors::default();
        let labels = app.read_labels()?;
        let params = |p: &serde_json::Map<String, serde_json::Value>| {
            serde_json::Value::Object(p.clone()).to_string()
        };
        let start = Mark::now();
        let pre =
            runtime.preprocessor(&app.preprocessor.component, &params(&pre_params), &labels)?;
        anchors.record(Stage::LoadPreprocessor.name(), start.elapsed());
        let start = Mark::now();
        let post = runtime.postprocessor(
            &app.postprocessor.component,
            &params(&app.postprocessor.params),
            &labels,
        )?;
        anchors.record(Stage::LoadPostprocessor.name(), start.elapsed());
        let threads = options.threads.or(app.engine.threads);
        if let Some(Err(message)) = threads.map(lpdnn_engine_api::check_threads) {
            return Err(AppError::Engine(EngineError::Load {
                engine: engine.name().to_owned(),
                path: model_path.clone(),
                message,
            }));
        }
        let load_options = LoadOptions {
            threads: options.threads.or(app.engine.threads),
            device: options.device.or(app.engine.device).unwrap_or_default(),
            options: app.engine.options.clone(),
            profile_layers: false,
        };
        let start = Mark::now();
        let model = engine.load(&model_path, &load_options)?;
        anchors.record(Stage::LoadModel.name(), start.elapsed());
        let state = stream_state(app, model.as_ref(), &model_path)?;
        Ok(Pipeline {
            engine: engine.name().to_owned(),
            model_path,
            pre,
            model,
            load_options,
            post,
            anchors,
            state,
        })
    }

    /// Runs one encoded input (an image, a WAV file, a sensor recording)
    /// through every stage.
    pub fn run(&mut self, input: &[u8]) -> Result<Prediction, AppError> {
        self.run_traced(input).map(|(prediction, _)| prediction)
    }

    /// Like [`Pipeline::run`], and also gives back what the post-processor
    /// was handed: the engine outputs of every chunk and the pre-processor's
    /// facts (for `run --dump-outputs`; nothing is copied).
    pub fn run_traced(&mut self, input: &[u8]) -> Result<(Prediction, Trace), AppError> {
        let total = Mark::now();

        let start = Mark::now();
        let pre = self.pre.process(input)?;
        self.anchors
            .record(Stage::Preprocess.name(), start.elapsed());

        let outputs = self.infer_stream(pre.chunks)?;

        let start = Mark::now();
        let prediction = self.post.process(&outputs, &pre.meta)?;
        self.anchors
            .record(Stage::Postprocess.name(), start.elapsed());

        self.anchors.record(Stage::Total.name(), total.elapsed());
        Ok((
            prediction,
            Trace {
                outputs,
                meta: pre.meta,
            },
        ))
    }

    /// The inference stage of one input: runs the model once per chunk,
    /// feeding the app's state inputs with zeros on the first chunk and with
    /// the previous chunk's outputs after. Records one `inference` anchor
    /// per engine call.
    pub fn infer_stream(&mut self, chunks: Vec<Vec<Tensor>>) -> Result<Vec<Vec<Tensor>>, AppError> {
        let mut state: Vec<Tensor> = self.state.iter().map(|(_, zeros)| zeros.clone()).collect();
        let mut all = Vec::with_capacity(chunks.len());
        for mut tensors in chunks {
            tensors.append(&mut state);
            let outputs = self.infer(tensors)?;
            for (spec, _) in &self.state {
                let out = outputs
                    .iter()
                    .find(|t| t.name() == spec.output)
                    .ok_or_else(|| AppError::Mismatch {
                        component: self.pre.path().to_owned(),
                        model: self.model_path.clone(),
                        message: format!(
                            "the model gave no output '{}' (stream.state)",
                            spec.output
                        ),
                    })?;
                let mut next = out.clone();
                next.set_name(spec.input.clone());
                state.push(next);
            }
            all.push(outputs);
        }
        Ok(all)
    }

    /// One engine call: binds the tensors to the model's inputs, runs the
    /// engine, and records the `inference` anchor (around the engine call
    /// only; binding is checked before it).
    pub fn infer(&mut self, tensors: Vec<Tensor>) -> Result<Vec<Tensor>, AppError> {
        let inputs = self.bind(tensors)?;
        let start = Mark::now();
        let outputs = self.model.run(inputs)?;
        self.anchors
            .record(Stage::Inference.name(), start.elapsed());
        Ok(outputs)
    }

    /// Runs the pre-processor alone (no anchor), e.g. to feed
    /// [`Pipeline::infer_stream`].
    pub fn preprocess(&mut self, input: &[u8]) -> Result<Preprocessed, AppError> {
        Ok(self.pre.process(input)?)
    }

    /// Which kind of pre-processor the app uses.
    pub fn preprocessor_kind(&self) -> Kind {
        self.pre.kind()
    }

    /// Reads a file and runs it.
    pub fn run_file(&mut self, path: &Path) -> Result<Prediction, AppError> {
        let bytes = lpdnn_engine_api::read_file(path).map_err(|e| AppError::Read {
            path: path.to_owned(),
            source: e.into(),
        })?;
        self.run(&bytes)
    }

    /// Orders the tensors (the pre-processor's and the carried state) as
    /// the model's inputs and checks type and shape. A named tensor binds to
    /// the input of its name; unnamed ones fill the remaining inputs in order.
    fn bind(&self, tensors: Vec<Tensor>) -> Result<Vec<Tensor>, AppError> {
        let inputs = self.model.inputs();
        let mismatch = |message: String| AppError::Mismatch {
            component: self.pre.path().to_owned(),
            model: self.model_path.clone(),
            message,
        };
        if tensors.len() != inputs.len() {
            return Err(mismatch(format!(
                "it produced {} tensor(s){}, the model takes {} input(s)",
                tensors.len(),
                if self.state.is_empty() {
                    ""
                } else {
                    " with the stream state"
                },
                inputs.len()
            )));
        }
        let mut slots: Vec<Option<Tensor>> = vec![None; inputs.len()];
        let mut unnamed = Vec::new();
        for t in tensors {
            if t.name().is_empty() {
                unnamed.push(t);
                continue;
            }
            let i = inputs
                .iter()
                .position(|info| info.name == t.name())
                .ok_or_else(|| {
                    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                    mismatch(format!(
                        "tensor '{}' names no model input (the model takes {names:?})",
                        t.name()
                    ))
                })?;
            if slots[i].is_some() {
                return Err(mismatch(format!("two tensors are named '{}'", t.name())));
            }
            slots[i] = Some(t);
        }
        let mut unnamed = unnamed.into_iter();
        let tensors: Vec<Tensor> = slots
            .into_iter()
            .map(|s| s.or_else(|| unnamed.next()))
            .collect::<Option<_>>()
            .expect("as many tensors as inputs");
        for (t, info) in tensors.iter().zip(inputs) {
            if !info.accepts(t.dtype(), t.shape()) {
                return Err(mismatch(format!(
                    "it produced {} {:?}, model input '{}' expects {} {}",
                    t.dtype(),
                    t.shape(),
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

    /// How the engine loaded the model (threads, device, engine options).
    pub fn load_options(&self) -> &LoadOptions {
        &self.load_options
    }

    /// Swaps `model` (the same file, loaded again: with per-layer
    /// profiling, say) with the pipeline's model.
    pub fn swap_model(&mut self, model: &mut Box<dyn Model>) {
        std::mem::swap(&mut self.model, model)
    }

    /// The model file the engine runs.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// What ran each stage, for the anchor table's plugin column.
    pub fn plugin(&self, stage: &str) -> String {
        let file = |p: &Path| {
            p.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        };
        match Stage::from_name(stage) {
            Some(Stage::Preprocess) => file(self.pre.path()),
            Some(Stage::Inference) => format!("engines/{}", self.engine),
            Some(Stage::Postprocess) => file(self.post.path()),
            _ => String::new(),
        }
    }
}
