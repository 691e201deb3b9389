//! What a benchmark runs: an app's whole pipeline over a dataset, or a bare
//! model on one engine fed tensors. Both are loaded into a [`Workload`]
//! that the runner times the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lpdnn_anchors::{Anchors, Mark};
use lpdnn_app::{App, Pipeline, RunOptions, Runtime, Stage};
use lpdnn_engine_api::{LoadOptions, Model, Tensor, TensorInfo};

use crate::config::BenchConfig;
use crate::{BenchError, Input};
use lpdnn_report::InputPrediction;

/// What to benchmark.
pub enum Subject {
    /// An AI app over a dataset of encoded inputs (images, WAV files,
    /// recordings): every stage is timed.
    App {
        /// The app.
        app: Box<App>,
        /// Its inputs, in run order.
        inputs: Vec<Input>,
    },
    /// A model alone on each engine, fed tensors: only `inference` is
    /// timed, as onnxruntime_perf_test, trtexec and benchmark_model do.
    Model {
        /// The model file (ONNX, TFLite or NCNN `.param`).
        path: PathBuf,
        /// The tensors it is fed.
        inputs: ModelInputs,
    },
}

/// The tensors a bare model is fed.
#[derive(Debug, Clone)]
pub enum ModelInputs {
    /// One seeded set made from the model's input types and shapes
    /// ([`lpdnn_engine_api::synthetic`] documents the distribution). An
    /// open dimension takes its size from `shapes` (input name → shape).
    Synthetic {
        /// Shapes of inputs with open dimensions (or to override).
        shapes: BTreeMap<String, Vec<usize>>,
        /// The seed.
        seed: u64,
    },
    /// Given sets (e.g. read from `.npy` files), each named; the tensors of
    /// a set are bound to the model's inputs by name.
    Given(Vec<(String, Vec<Tensor>)>),
}

impl Subject {
    /// Names of the inputs, in run order.
    pub fn input_names(&self) -> Vec<String> {
        match self {
            Subject::App { inputs, .. } => inputs.iter().map(|i| i.name.clone()).collect(),
            Subject::Model {
                inputs: ModelInputs::Synthetic { seed, .. },
                ..
            } => vec![synthetic_name(*seed)],
            Subject::Model {
                inputs: ModelInputs::Given(sets),
                ..
            } => sets.iter().map(|(name, _)| name.clone()).collect(),
        }
    }
}

/// The name of the synthetic set of `seed`.
fn synthetic_name(seed: u64) -> String {
    format!("synthetic-{seed}")
}

/// One engine's loaded subject, ready to be timed.
pub(crate) trait Workload {
    /// Inputs per pass.
    fn inputs(&self) -> usize;
    /// The name of input `ix`.
    fn input_name(&self, ix: usize) -> &str;
    /// Runs input `ix` once, untimed by the runner, and gives its prediction
    /// (the first inference, and the first pass's predictions).
    fn predict(&mut self, ix: usize) -> Result<InputPrediction, BenchError>;
    /// Like `predict`, and also gives the model's outputs of each run (one
    /// per chunk of a streaming input).
    fn traced(&mut self, ix: usize) -> Result<(InputPrediction, Vec<Vec<Tensor>>), BenchError>;
    /// Readies what the timed iterations need (inputs pre-processed once in
    /// engine-only mode).
    fn prepare(&mut self) -> Result<(), BenchError>;
    /// One timed iteration over input `ix`; the prediction when the whole
    /// pipeline ran.
    fn step(&mut self, ix: usize) -> Result<Option<InputPrediction>, BenchError>;
    /// The stage whose anchor times a whole iteration.
    fn timed_stage(&self) -> Stage;
    /// Stages that run on one thread whatever the engine's settings.
    fn single_threaded(&self) -> &'static [Stage];
    /// The anchors recorded so far.
    fn anchors(&self) -> &Anchors;
    /// Takes the anchors recorded so far.
    fn take_anchors(&mut self) -> Anchors;
    /// The engine's name.
    fn engine(&self) -> &str;
    /// The model file this engine runs.
    fn model_path(&self) -> &Path;
    /// Peak linear memory of each processor component, bytes.
    fn component_memory(&self) -> Vec<(PathBuf, usize)>;
    /// How the engine loaded the model.
    fn load_options(&self) -> LoadOptions;
    /// Swaps `model` (the same file, loaded again) with the workload's.
    fn swap_model(&mut self, model: &mut Box<dyn Model>);
}

/// Loads the subject for `engine`.
pub(crate) fn load<'a>(
    subject: &'a Subject,
    runtime: &Runtime,
    engine: &str,
    config: &BenchConfig,
) -> Result<Box<dyn Workload + 'a>, BenchError> {
    match subject {
        Subject::App { app, inputs } => {
            let pipeline = Pipeline::load(
                app,
                runtime,
                &RunOptions {
                    engine: Some(engine.to_owned()),
                    threads: config.threads,
                    device: config.device,
                },
            )?;
            Ok(Box::new(AppWorkload {
                pipeline,
                inputs,
                inference_only: config.inference_only,
                tensors: Vec::new(),
            }))
        }
        Subject::Model { path, inputs } => {
            Ok(Box::new(ModelWorkload::load(path, inputs, engine, config)?))
        }
    }
}

fn prediction_value(p: &lpdnn_app::Prediction) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or_default()
}

/// An app's pipeline over encoded inputs.
struct AppWorkload<'a> {
    pipeline: Pipeline,
    inputs: &'a [Input],
    inference_only: bool,
    /// Engine-only mode: each input's pre-processed chunks.
    tensors: Vec<Vec<Vec<Tensor>>>,
}

/// An app error, blamed on the input it happened on.
fn input_error(input: &Input) -> impl FnOnce(lpdnn_app::AppError) -> BenchError + '_ {
    move |source| BenchError::Input {
        input: input.name.clone(),
        source,
    }
}

impl Workload for AppWorkload<'_> {
    fn inputs(&self) -> usize {
        self.inputs.len()
    }

    fn input_name(&self, ix: usize) -> &str {
        &self.inputs[ix].name
    }

    fn predict(&mut self, ix: usize) -> Result<InputPrediction, BenchError> {
        let input = &self.inputs[ix];
        let prediction = self
            .pipeline
            .run(&input.bytes)
            .map_err(input_error(input))?;
        Ok(InputPrediction {
            input: input.name.clone(),
            prediction: prediction_value(&prediction),
        })
    }

    fn traced(&mut self, ix: usize) -> Result<(InputPrediction, Vec<Vec<Tensor>>), BenchError> {
        let input = &self.inputs[ix];
        let (prediction, trace) = self
            .pipeline
            .run_traced(&input.bytes)
            .map_err(input_error(input))?;
        let prediction = InputPrediction {
            input: input.name.clone(),
            prediction: prediction_value(&prediction),
        };
        Ok((prediction, trace.outputs))
    }

    fn prepare(&mut self) -> Result<(), BenchError> {
        if self.inference_only {
            for input in self.inputs {
                let chunks = self
                    .pipeline
                    .preprocess(&input.bytes)
                    .map_err(input_error(input))?
                    .chunks;
                self.tensors.push(chunks);
            }
            self.pipeline.take_anchors();
        }
        Ok(())
    }

    fn step(&mut self, ix: usize) -> Result<Option<InputPrediction>, BenchError> {
        if self.inference_only {
            let chunks = self.tensors[ix].clone();
            let result = self.pipeline.infer_stream(chunks);
            result.map_err(input_error(&self.inputs[ix]))?;
            Ok(None)
        } else {
            self.predict(ix).map(Some)
        }
    }

    fn timed_stage(&self) -> Stage {
        if self.inference_only {
            Stage::Inference
        } else {
            Stage::Total
        }
    }

    fn single_threaded(&self) -> &'static [Stage] {
        &[Stage::Preprocess, Stage::Postprocess]
    }

    fn anchors(&self) -> &Anchors {
        self.pipeline.anchors()
    }

    fn take_anchors(&mut self) -> Anchors {
        self.pipeline.take_anchors()
    }

    fn engine(&self) -> &str {
        self.pipeline.engine()
    }

    fn model_path(&self) -> &Path {
        self.pipeline.model_path()
    }

    fn component_memory(&self) -> Vec<(PathBuf, usize)> {
        self.pipeline.component_memory()
    }

    fn load_options(&self) -> LoadOptions {
        self.pipeline.load_options().clone()
    }

    fn swap_model(&mut self, model: &mut Box<dyn Model>) {
        self.pipeline.swap_model(model)
    }
}

/// A bare model fed tensor sets.
struct ModelWorkload {
    engine: String,
    path: PathBuf,
    model: Box<dyn Model>,
    options: LoadOptions,
    sets: Vec<(String, Vec<Tensor>)>,
    anchors: Anchors,
}

impl ModelWorkload {
    fn load(
        path: &Path,
        inputs: &ModelInputs,
        engine_name: &str,
        config: &BenchConfig,
    ) -> Result<Self, BenchError> {
        let engine = lpdnn_engines::engine(engine_name)?;
        lpdnn_engine_api::check_format(engine.as_ref(), path)?;
        if let Some(Err(message)) = config.threads.map(lpdnn_engine_api::check_threads) {
            return Err(BenchError::Threads(message));
        }
        let mut anchors = Anchors::default();
        let options = LoadOptions {
            threads: config.threads,
            device: config.device.unwrap_or_default(),
            ..Default::default()
        };
        let start = Mark::now();
        let model = engine.load(path, &options)?;
        anchors.record(Stage::LoadModel.name(), start.elapsed());
        let sets = match inputs {
            ModelInputs::Synthetic { shapes, seed } => {
                let shapes = input_shapes(path, model.inputs(), shapes)?;
                vec![(
                    synthetic_name(*seed),
                    lpdnn_engine_api::synthetic(model.inputs(), &shapes, *seed)?,
                )]
            }
            ModelInputs::Given(sets) => sets
                .iter()
                .map(|(name, tensors)| Ok((name.clone(), bind(model.inputs(), name, tensors)?)))
                .collect::<Result<_, BenchError>>()?,
        };
        Ok(ModelWorkload {
            engine: engine.name().to_owned(),
            path: path.to_owned(),
            model,
            options,
            sets,
            anchors,
        })
    }
}

/// The shape of each model input: the one given, else the model's own,
/// which must then be fixed.
fn input_shapes(
    model: &Path,
    inputs: &[TensorInfo],
    given: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<Vec<usize>>, BenchError> {
    lpdnn_engine_api::resolve_input_shapes(inputs, given).map_err(|e| BenchError::InputShape {
        model: model.to_owned(),
        message: e.to_string(),
        example: match e {
            lpdnn_engine_api::ShapeError::Open { example, .. } => Some(example),
            _ => None,
        },
    })
}

/// Orders a given set as the model's inputs (by name) and checks it.
fn bind(inputs: &[TensorInfo], set: &str, tensors: &[Tensor]) -> Result<Vec<Tensor>, BenchError> {
    let bound = inputs
        .iter()
        .map(|info| {
            tensors
                .iter()
                .find(|t| t.name() == info.name)
                .cloned()
                .ok_or_else(|| BenchError::ModelInput {
                    input: set.to_owned(),
                    message: format!(
                        "no tensor for model input '{}'; the model takes {}",
                        info.name,
                        lpdnn_engine_api::describe_inputs(inputs)
                    ),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(extra) = tensors
        .iter()
        .find(|t| !inputs.iter().any(|i| i.name == t.name()))
    {
        return Err(BenchError::ModelInput {
            input: set.to_owned(),
            message: format!(
                "tensor '{}' names no model input; the model takes {}",
                extra.name(),
                lpdnn_engine_api::describe_inputs(inputs)
            ),
        });
    }
    lpdnn_engine_api::check_inputs(inputs, &bound).map_err(|e| BenchError::ModelInput {
        input: set.to_owned(),
        message: e.to_string(),
    })?;
    Ok(bound)
}

impl Workload for ModelWorkload {
    fn inputs(&self) -> usize {
        self.sets.len()
    }

    fn input_name(&self, ix: usize) -> &str {
        &self.sets[ix].0
    }

    /// The outputs' names, types and shapes (a bare model has no
    /// post-processor to make a prediction of them).
    fn predict(&mut self, ix: usize) -> Result<InputPrediction, BenchError> {
        self.traced(ix).map(|(prediction, _)| prediction)
    }

    fn traced(&mut self, ix: usize) -> Result<(InputPrediction, Vec<Vec<Tensor>>), BenchError> {
        let outputs =
            self.model
                .run(self.sets[ix].1.clone())
                .map_err(|e| BenchError::ModelInput {
                    input: self.sets[ix].0.clone(),
                    message: e.to_string(),
                })?;
        let described: Vec<serde_json::Value> = outputs
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": lpdnn_engine_api::untrusted(t.name()),
                    "dtype": t.dtype(),
                    "shape": t.shape(),
                })
            })
            .collect();
        let prediction = InputPrediction {
            input: self.sets[ix].0.clone(),
            prediction: serde_json::json!({ "outputs": described }),
        };
        Ok((prediction, vec![outputs]))
    }

    fn prepare(&mut self) -> Result<(), BenchError> {
        Ok(())
    }

    fn step(&mut self, ix: usize) -> Result<Option<InputPrediction>, BenchError> {
        let inputs = self.sets[ix].1.clone();
        let start = Mark::now();
        let result = self.model.run(inputs);
        let took = start.elapsed();
        result.map_err(|e| BenchError::ModelInput {
            input: self.sets[ix].0.clone(),
            message: e.to_string(),
        })?;
        self.anchors.record(Stage::Inference.name(), took);
        Ok(None)
    }

    fn timed_stage(&self) -> Stage {
        Stage::Inference
    }

    fn single_threaded(&self) -> &'static [Stage] {
        &[]
    }

    fn anchors(&self) -> &Anchors {
        &self.anchors
    }

    fn take_anchors(&mut self) -> Anchors {
        std::mem::take(&mut self.anchors)
    }

    fn engine(&self) -> &str {
        &self.engine
    }

    fn model_path(&self) -> &Path {
        &self.path
    }

    fn component_memory(&self) -> Vec<(PathBuf, usize)> {
        Vec::new()
    }

    fn load_options(&self) -> LoadOptions {
        self.options.clone()
    }

    fn swap_model(&mut self, model: &mut Box<dyn Model>) {
        std::mem::swap(&mut self.model, model)
    }
}
