//! LNE, the LPDNN native engine: dependency-free inference on tract.
//!
//! Loads ONNX models and TensorFlow frozen graphs, optimises them once at load time and runs them with a
//! reusable execution state. Threads are a per-model rayon pool handed to
//! tract's matrix kernels.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use lpdnn_engine_api::{
    check_format, check_inputs, DType, Device, Engine, EngineError, EngineInfo, LoadOptions, Model,
    ModelFormat, Tensor, TensorInfo,
};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;
use tract_onnx::tract_hir::internal::DimLike;

const NAME: &str = lpdnn_engine_api::EngineName::Lne.as_str();

/// The LNE engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lne;

impl Engine for Lne {
    fn name(&self) -> &'static str {
        NAME
    }

    fn formats(&self) -> &'static [ModelFormat] {
        &[ModelFormat::Onnx, ModelFormat::TfGraph]
    }

    fn info(&self) -> EngineInfo {
        EngineInfo {
            available: true,
            // The workspace pins tract-onnx and tract-tensorflow with `=`; keep this in step.
            version: Some("tract 0.23.9".into()),
            devices: vec![Device::Cpu],
            ..EngineInfo::new(NAME, self.formats(), &[])
        }
    }

    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Box<dyn Model>, EngineError> {
        options.check_known(NAME, &[])?;
        options.cpu_only(NAME, "LNE")?;
        let format = check_format(self, path)?;
        let load_err = |e: TractError| EngineError::Load {
            engine: NAME.into(),
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        // The names of the model's inputs and outputs are read before
        // optimisation: removing an Identity after an input moves its
        // output's label onto the input.
        let plan = lpdnn_engine_api::contain(|| {
            let model = match format {
                ModelFormat::TfGraph => tract_tensorflow::tensorflow().model_for_path(path)?,
                _ => tract_onnx::onnx().model_for_path(path)?,
            };
            let inputs: Vec<String> = model
                .inputs
                .iter()
                .map(|o| model.node(o.node).name.clone())
                .collect();
            let outputs: Vec<String> = model
                .outputs
                .iter()
                .map(|o| {
                    model
                        .outlet_label(*o)
                        .unwrap_or(&model.node(o.node).name)
                        .to_owned()
                })
                .collect();
            let plan = model.into_optimized()?.into_runnable()?;
            Ok::<_, TractError>((plan, inputs, outputs))
        })
        .map_err(|message| EngineError::Load {
            engine: NAME.into(),
            path: path.to_owned(),
            message,
        })?
        .map_err(load_err)?;
        let (plan, input_names, output_names) = plan;
        let model = plan.model();
        let inputs = input_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| info(name, model.input_fact(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(load_err)?;
        let outputs = output_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| info(name, model.output_fact(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(load_err)?;
        let state = SimpleState::new(&plan).map_err(load_err)?;
        let executor = match options.threads {
            Some(n) if n > 1 => Executor::multithread_with_name(n, "lne"),
            _ => Executor::SingleThread,
        };
        Ok(Box::new(LneModel {
            path: path.to_owned(),
            poisoned: false,
            state,
            executor,
            inputs,
            outputs,
        }))
    }
}

struct LneModel {
    path: PathBuf,
    /// A run panicked: tract's state may be half updated.
    poisoned: bool,
    state: TypedSimpleState,
    executor: Executor,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
}

fn info(name: String, fact: TractResult<&TypedFact>) -> TractResult<TensorInfo> {
    let fact = fact?;
    let dtype = from_datum(fact.datum_type).ok_or_else(|| {
        tract_onnx::tract_core::internal::format_err!(
            "tensor '{name}' has unsupported type {:?}",
            fact.datum_type
        )
    })?;
    let shape = fact.shape.iter().map(|d| d.to_usize().ok()).collect();
    Ok(TensorInfo { name, dtype, shape })
}

fn from_datum(dt: DatumType) -> Option<DType> {
    Some(match dt {
        DatumType::F32 => DType::F32,
        DatumType::F16 => DType::F16,
        DatumType::U8 => DType::U8,
        DatumType::I8 => DType::I8,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        _ => return None,
    })
}

fn to_datum(dt: DType) -> DatumType {
    match dt {
        DType::F32 => DatumType::F32,
        DType::F16 => DatumType::F16,
        DType::U8 => DatumType::U8,
        DType::I8 => DatumType::I8,
        DType::I32 => DatumType::I32,
        DType::I64 => DatumType::I64,
    }
}

impl Model for LneModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        check_inputs(&self.inputs, &inputs)?;
        let mut values = TVec::with_capacity(inputs.len());
        for t in &inputs {
            // SAFETY: `Tensor::new` guarantees `data` holds exactly
            // `shape.product() * dtype.size()` bytes of plain numbers.
            let tensor = unsafe {
                tract_onnx::prelude::Tensor::from_raw_dt(to_datum(t.dtype()), t.shape(), t.data())
            }
            .map_err(|e| self.run_err(e))?;
            values.push(tensor.into_tvalue());
        }
        if self.poisoned {
            return Err(EngineError::Run {
                engine: NAME.into(),
                message: "an earlier run panicked inside tract; load the model again".into(),
            });
        }
        let state = &mut self.state;
        let executor = self.executor.clone();
        let outputs =
            lpdnn_engine_api::contain(|| multithread_tract_scope(executor, || state.run(values)));
        clear_avx_upper_state();
        let outputs = match outputs {
            Ok(outputs) => outputs.map_err(|e| self.run_err(e))?,
            Err(message) => {
                self.poisoned = true;
                return Err(EngineError::Run {
                    engine: NAME.into(),
                    message,
                });
            }
        };
        outputs
            .into_iter()
            .zip(&self.outputs)
            .map(|(value, info)| {
                let dtype = from_datum(value.datum_type()).ok_or_else(|| EngineError::Run {
                    engine: NAME.into(),
                    message: format!(
                        "output '{}' has unsupported type {:?}",
                        info.name,
                        value.datum_type()
                    ),
                })?;
                Tensor::new(
                    info.name.clone(),
                    dtype,
                    value.shape().to_vec(),
                    value.as_bytes().to_vec(),
                )
            })
            .collect()
    }
}

impl LneModel {
    fn run_err(&self, e: TractError) -> EngineError {
        EngineError::Run {
            engine: NAME.into(),
            message: format!("{}: {e:#}", self.path.display()),
        }
    }
}

/// tract's AVX kernels can return with the upper halves of the YMM registers
/// dirty (no `VZEROUPPER`). Legacy-SSE code run next on the same thread — the
/// wasm pre- and post-processors that Cranelift compiles — then pays the
/// AVX–SSE transition penalty on every instruction: measured on an Intel Xeon,
/// the face app's image pre-processor took 58 ms after an LNE inference
/// against 3.6 ms after ONNX Runtime's. Clearing the state after each run
/// costs one instruction.
fn clear_avx_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked above); VZEROUPPER only zeroes the
        // upper halves of the YMM registers, which hold no live value here.
        unsafe { std::arch::x86_64::_mm256_zeroupper() }
    }
}
