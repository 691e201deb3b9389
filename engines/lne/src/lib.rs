//! LNE, the LPDNN native engine: dependency-free inference on tract.
//!
//! Loads ONNX models and TensorFlow frozen graphs, optimises them once at load time and runs them with a
//! reusable execution state. Threads are a per-model rayon pool handed to
//! tract's matrix kernels.

#![warn(missing_docs)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use lpdnn_engine_api::{
    check_format, check_inputs, DType, Device, Engine, EngineError, EngineInfo, LayerProfile,
    LayerTimes, LoadOptions, Model, ModelFormat, Tensor, TensorInfo, MAX_PROFILED_RUNS,
};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;
use tract_onnx::tract_hir::internal::DimLike;

const NAME: &str = lpdnn_engine_api::EngineName::Lne.as_str();

/// Most bytes of freed tensor buffers a model keeps for its next run: a run
/// with fixed shapes needs its working set back (tens of MiB for the image
/// models); inputs that change shape from run to run stop at this.
const POOL_BYTES: usize = 256 << 20;

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
                ModelFormat::TfGraph => {
                    let tf = tract_tensorflow::tensorflow();
                    let bytes = lpdnn_engine_api::read_file(path)?;
                    let graph = tf.read_frozen_model(&mut bytes.as_slice())?;
                    check_constants(&graph, bytes.len() as u64).map_err(TractError::msg)?;
                    tf.model_for_proto_model(&graph)?
                }
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
            let sources: HashSet<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
            let plan = model.into_optimized()?.into_runnable()?;
            Ok::<_, TractError>((plan, inputs, outputs, sources))
        })
        .map_err(|message| EngineError::Load {
            engine: NAME.into(),
            path: path.to_owned(),
            message,
        })?
        .map_err(load_err)?;
        let (plan, input_names, output_names, sources) = plan;
        let model = plan.model();
        let profile = options
            .profile_layers
            .then(|| Profile::new(&plan, &sources));
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
            pool: BlobPool::new(POOL_BYTES),
            state,
            executor,
            inputs,
            outputs,
            profile,
        }))
    }
}

/// Bytes of one element of a TensorFlow data type (`DataType` as its
/// protobuf number); 4 for types not listed.
pub fn tf_dtype_size(dt: i32) -> u64 {
    use tract_tensorflow::tfpb::tensorflow::DataType as D;
    match D::try_from(dt) {
        Ok(D::DtDouble | D::DtInt64 | D::DtUint64 | D::DtComplex64) => 8,
        Ok(D::DtHalf | D::DtBfloat16 | D::DtInt16 | D::DtUint16) => 2,
        Ok(D::DtUint8 | D::DtInt8 | D::DtBool | D::DtQint8 | D::DtQuint8) => 1,
        _ => 4,
    }
}

/// Refuses a TensorFlow graph whose constants declare far more data than
/// its file holds. TensorFlow fills a constant from its last value, so a
/// 40-byte node can ask for any amount of memory: past the file's size and
/// 256 MiB of such fills, the graph is refused before tract builds it.
pub fn check_constants(
    graph: &tract_tensorflow::tfpb::tensorflow::GraphDef,
    file_bytes: u64,
) -> Result<(), String> {
    use tract_tensorflow::tfpb::tensorflow::attr_value::Value;
    const FILLS: u64 = 256 << 20;
    let mut declared = 0u64;
    for node in graph.node.iter().filter(|n| n.op == "Const") {
        let Some(Value::Tensor(t)) = node.attr.get("value").and_then(|a| a.value.as_ref()) else {
            continue;
        };
        let elements = t.tensor_shape.as_ref().map_or(1, |s| {
            s.dim.iter().fold(1u64, |n, d| {
                n.saturating_mul(u64::try_from(d.size).unwrap_or(u64::MAX))
            })
        });
        declared = declared.saturating_add(elements.saturating_mul(tf_dtype_size(t.dtype)));
        if declared > file_bytes.saturating_add(FILLS) {
            return Err(format!(
                "constant '{}' declares {elements} elements: the graph's constants would take \
                 more than its {file_bytes} bytes and 256 MiB of filled values",
                node.name
            ));
        }
    }
    Ok(())
}

struct LneModel {
    path: PathBuf,
    /// A run panicked: tract's state may be half updated.
    poisoned: bool,
    /// Buffers of the last run's tensors, for the next run to reuse.
    pool: BlobPool,
    state: TypedSimpleState,
    executor: Executor,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    /// Per-layer times, when loaded with `profile_layers`.
    profile: Option<Profile>,
}

/// The per-layer times of a profiled model.
struct Profile {
    /// Layer index of each plan node that is timed.
    index: HashMap<usize, usize>,
    layers: Vec<LayerTimes>,
    runs: usize,
}

impl Profile {
    /// One layer per node tract runs (inputs excepted), named back to the
    /// source model's node: tract names the nodes its optimiser makes after
    /// the node they came from (`conv.im2col`, `conv.matmatmul`, `conv.1`), and a
    /// fused node after its first member, so the longest prefix of dotted
    /// segments that names a source node is the one.
    fn new(plan: &TypedRunnableModel, sources: &HashSet<String>) -> Profile {
        let model = plan.model();
        let mut index = HashMap::new();
        let mut layers = Vec::new();
        for &id in plan.order_without_consts() {
            let node = model.node(id);
            if node.op_is::<tract_onnx::tract_core::ops::source::TypedSource>() {
                continue;
            }
            index.insert(id, layers.len());
            layers.push(LayerTimes {
                name: node.name.clone(),
                op: node.op.name().into_owned(),
                node: source_of(&node.name, sources).map(str::to_owned),
                fused: Vec::new(),
                nanos: Vec::new(),
            });
        }
        Profile {
            index,
            layers,
            runs: 0,
        }
    }
}

/// The source node `name` (a node of the optimised model) comes from.
fn source_of<'a>(mut name: &'a str, sources: &HashSet<String>) -> Option<&'a str> {
    loop {
        if sources.contains(name) {
            return Some(name);
        }
        name = &name[..name.rfind('.')?];
    }
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
        if self.poisoned {
            return Err(EngineError::Run {
                engine: NAME.into(),
                message: "an earlier run panicked inside tract; load the model again".into(),
            });
        }
        // Everything tract allocates and frees in here (the input copies,
        // each node's output, the outputs once copied out) goes through the
        // model's pool, so a run reuses the buffers of the run before.
        let (pool, state, executor) = (&mut self.pool, &mut self.state, self.executor.clone());
        let profile = self.profile.as_mut().filter(|p| p.runs < MAX_PROFILED_RUNS);
        let outcome = lpdnn_engine_api::contain(|| {
            with_blob_pool(pool, || -> TractResult<Vec<(TValue, DType)>> {
                let mut values = TVec::with_capacity(inputs.len());
                for t in &inputs {
                    // SAFETY: `Tensor::new` guarantees `data` holds exactly
                    // `shape.product() * dtype.size()` bytes of plain numbers.
                    let tensor = unsafe {
                        tract_onnx::prelude::Tensor::from_raw_dt(
                            to_datum(t.dtype()),
                            t.shape(),
                            t.data(),
                        )
                    }?;
                    values.push(tensor.into_tvalue());
                }
                let outputs = multithread_tract_scope(executor, || match profile {
                    None => state.run(values),
                    Some(profile) => {
                        let mut nanos = vec![0u64; profile.layers.len()];
                        // The production path, `SimpleState::run`, is this
                        // with `plan::eval` alone. Inputs are passed on, not
                        // cloned: a second reference would push in-place ops
                        // onto their copying path.
                        let outputs =
                            state.run_plan_with_eval(values, |ctx, st, node, inputs| {
                                let start = Instant::now();
                                let outputs =
                                    tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
                                if let Some(&i) = profile.index.get(&node.id) {
                                    nanos[i] += start.elapsed().as_nanos() as u64;
                                }
                                outputs
                            })?;
                        for (layer, n) in profile.layers.iter_mut().zip(nanos) {
                            layer.nanos.push(n);
                        }
                        profile.runs += 1;
                        Ok(outputs)
                    }
                })?;
                outputs
                    .into_iter()
                    .map(|value| {
                        let dtype = from_datum(value.datum_type()).ok_or_else(|| {
                            tract_onnx::tract_core::internal::format_err!(
                                "an output has unsupported type {:?}",
                                value.datum_type()
                            )
                        })?;
                        Ok((value, dtype))
                    })
                    .collect()
            })
        });
        clear_avx_upper_state();
        let outputs = match outcome {
            Ok(outputs) => outputs.map_err(|e| self.run_err(e))?,
            Err(message) => {
                self.poisoned = true;
                return Err(EngineError::Run {
                    engine: NAME.into(),
                    message,
                });
            }
        };
        let pool = &mut self.pool;
        with_blob_pool(pool, || {
            outputs
                .into_iter()
                .zip(&self.outputs)
                .map(|((value, dtype), info)| {
                    Tensor::new(
                        info.name.clone(),
                        dtype,
                        value.shape().to_vec(),
                        value.as_bytes().to_vec(),
                    )
                })
                .collect()
        })
    }

    fn layer_profile(&mut self) -> Result<Option<LayerProfile>, EngineError> {
        Ok(self.profile.as_ref().map(|p| LayerProfile {
            runs: p.runs,
            layers: p.layers.clone(),
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tract_tensorflow::tfpb::tensorflow::{
        attr_value::Value, tensor_shape_proto::Dim, AttrValue, GraphDef, NodeDef, TensorProto,
        TensorShapeProto,
    };

    /// A graph of one `Const` of `dims` f32, filled from one value.
    fn filled(dims: &[i64]) -> GraphDef {
        let tensor = TensorProto {
            dtype: 1, // DT_FLOAT
            tensor_shape: Some(TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&size| Dim {
                        size,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            float_val: vec![1.0],
            ..Default::default()
        };
        let mut node = NodeDef {
            name: "c".into(),
            op: "Const".into(),
            ..Default::default()
        };
        node.attr.insert(
            "value".into(),
            AttrValue {
                value: Some(Value::Tensor(tensor)),
            },
        );
        GraphDef {
            node: vec![node],
            ..Default::default()
        }
    }

    #[test]
    fn a_constant_filled_past_the_files_size_is_refused() {
        assert!(check_constants(&filled(&[1000, 1000]), 40).is_ok());
        let err = check_constants(&filled(&[1 << 20, 1 << 20]), 40).unwrap_err();
        assert!(
            err.contains("constant 'c' declares 1099511627776 elements"),
            "{err}"
        );
        assert!(check_constants(&filled(&[-1, i64::MAX]), 40).is_err());
    }
}
