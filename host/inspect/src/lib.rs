//! Static metrics of a model graph (seed: FLOPs, parameters, storage), per
//! model and per layer, read from its ONNX form.
//!
//! Conventions, stated in every result:
//! - **MACs**: multiply-accumulates of the linear layers (Conv,
//!   ConvTranspose, MatMul, Gemm, Einsum) at batch 1 (any symbolic dimension
//!   taken as 1). Bias additions are not MACs.
//! - **FLOPs = 2 × MACs**.
//! - **Other ops**: arithmetic of every other layer (element-wise,
//!   activations, reductions, normalisations) as tract's cost model counts
//!   it: one per multiply-add, per division.
//! - **Parameters**: elements of the graph's initializers; **parameter
//!   bytes** their size in their stored type.
//! - **Storage**: bytes of the model file.
//!
//! MACs come from tract's per-operator cost model after type and shape
//! inference, so they follow the real output shapes (padding, strides,
//! groups, dilations).

#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;
use tract_onnx::pb::{tensor_proto::DataType, ModelProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::Cost;

/// The statement of conventions carried in every result.
pub const CONVENTION: &str = "MACs: multiply-accumulates of Conv/ConvTranspose/MatMul/Gemm/Einsum at batch 1, bias excluded; FLOPs = 2 x MACs; other_ops: arithmetic of all other layers (tract cost model); parameters: initializer elements; storage: model file bytes";

/// Errors of inspecting a model.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The model file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not an ONNX model tract can analyse.
    #[error("cannot analyse {path}: {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Static metrics of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaticMetrics {
    /// The model file.
    pub model: String,
    /// SHA-256 of the model file.
    pub sha256: String,
    /// Size of the model file, bytes.
    pub storage_bytes: u64,
    /// Initializer elements.
    pub parameters: u64,
    /// Initializer bytes in their stored types.
    pub parameter_bytes: u64,
    /// Multiply-accumulates of the linear layers.
    pub macs: u64,
    /// 2 × `macs`.
    pub flops: u64,
    /// Arithmetic of the other layers.
    pub other_ops: u64,
    /// The counting conventions.
    pub convention: String,
    /// Per ONNX node, in graph order.
    pub layers: Vec<Layer>,
}

/// Static metrics of one layer (ONNX node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Node name (its first output's name when the node has none).
    pub name: String,
    /// ONNX operator type.
    pub op_type: String,
    /// Initializer elements first used by this node.
    pub parameters: u64,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Other arithmetic.
    pub other_ops: u64,
    /// Shape of the first output, when known.
    pub output_shape: Vec<i64>,
}

fn dtype_size(data_type: i32) -> u64 {
    match DataType::try_from(data_type).unwrap_or(DataType::Undefined) {
        DataType::Double | DataType::Int64 | DataType::Uint64 | DataType::Complex64 => 8,
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16 => 2,
        DataType::Complex128 => 16,
        _ => 1,
    }
}

/// Inspects an ONNX model file.
pub fn inspect(path: &Path) -> Result<StaticMetrics, InspectError> {
    let bytes = std::fs::read(path).map_err(|source| InspectError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |message: String| InspectError::Model {
        path: path.to_owned(),
        message,
    };
    let onnx = tract_onnx::onnx();
    let proto: ModelProto = <ModelProto as prost::Message>::decode(bytes.as_slice())
        .map_err(|e| bad(format!("not an ONNX protobuf: {e}")))?;
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| bad("the ONNX model has no graph".into()))?;

    // Parameters: every initializer, attributed to the first node using it.
    let mut init_elems: HashMap<&str, u64> = HashMap::new();
    let (mut parameters, mut parameter_bytes) = (0u64, 0u64);
    for init in &graph.initializer {
        let n = init.dims.iter().map(|&d| d.max(0) as u64).product::<u64>();
        parameters += n;
        parameter_bytes += n * dtype_size(init.data_type);
        init_elems.insert(init.name.as_str(), n);
    }
    let mut layers: Vec<Layer> = Vec::with_capacity(graph.node.len());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        let name = if !node.name.is_empty() {
            node.name.clone()
        } else if node.output.first().is_some_and(|o| !o.is_empty()) {
            node.output[0].clone()
        } else {
            format!("{i}-{}", node.op_type)
        };
        let params = node
            .input
            .iter()
            .filter_map(|input| init_elems.remove(input.as_str()))
            .sum();
        by_name.insert(name.clone(), layers.len());
        layers.push(Layer {
            name,
            op_type: node.op_type.clone(),
            parameters: params,
            macs: 0,
            other_ops: 0,
            output_shape: Vec::new(),
        });
    }

    // Costs from tract's typed model, mapped back to the ONNX nodes.
    let model = onnx
        .model_for_proto_model(&proto)
        .and_then(|m| m.into_typed())
        .map_err(|e| bad(format!("{e:#}")))?;
    let mut ones = SymbolValues::default();
    for s in model.symbols.all_symbols() {
        ones = ones.with(&s, 1);
    }
    let to_u64 = |d: &TDim| d.eval_to_i64(&ones).map(|v| v.max(0) as u64);
    let (mut macs, mut other_ops) = (0u64, 0u64);
    for node in model.nodes() {
        let Some(&ix) = owner(&by_name, &node.name) else {
            continue;
        };
        let facts = model
            .node_input_facts(node.id)
            .map_err(|e| bad(format!("{e:#}")))?;
        let costs = node.op.cost(&facts).map_err(|e| bad(format!("{e:#}")))?;
        let op = node.op.name();
        let linear = ["Conv", "Deconv", "EinSum", "MatMul", "Gemm"]
            .iter()
            .any(|k| op.contains(k));
        let layer = &mut layers[ix];
        for (cost, n) in costs {
            let n = to_u64(&n).map_err(|e| bad(format!("{}: {e:#}", node.name)))?;
            match cost {
                Cost::FMA(_) if linear => {
                    layer.macs += n;
                    macs += n;
                }
                Cost::FMA(_) | Cost::Div(_) => {
                    layer.other_ops += n;
                    other_ops += n;
                }
                _ => {}
            }
        }
        if node.name == layer.name {
            if let Some(fact) = node.outputs.first().map(|o| &o.fact) {
                layer.output_shape = fact
                    .shape
                    .iter()
                    .map(|d| d.eval_to_i64(&ones).unwrap_or(-1))
                    .collect();
            }
        }
    }
    Ok(StaticMetrics {
        model: path.display().to_string(),
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        storage_bytes: bytes.len() as u64,
        parameters,
        parameter_bytes,
        macs,
        flops: 2 * macs,
        other_ops,
        convention: CONVENTION.into(),
        layers,
    })
}

/// The ONNX node a tract node comes from: the same name, or the longest
/// ONNX name it extends with `.`.
fn owner<'a>(by_name: &'a HashMap<String, usize>, name: &str) -> Option<&'a usize> {
    if let Some(ix) = by_name.get(name) {
        return Some(ix);
    }
    let mut prefix = name;
    while let Some((head, _)) = prefix.rsplit_once('.') {
        if let Some(ix) = by_name.get(head) {
            return Some(ix);
        }
        prefix = head;
    }
    None
}

impl StaticMetrics {
    /// A human-readable table: totals, then one line per layer.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "model       {}", self.model);
        let _ = writeln!(out, "sha256      {}", self.sha256);
        let _ = writeln!(
            out,
            "storage     {} bytes ({:.2} MiB)",
            self.storage_bytes,
            self.storage_bytes as f64 / 1048576.0
        );
        let _ = writeln!(
            out,
            "parameters  {} ({:.3} M, {} bytes)",
            self.parameters,
            self.parameters as f64 / 1e6,
            self.parameter_bytes
        );
        let _ = writeln!(
            out,
            "MACs        {} ({:.3} G)",
            self.macs,
            self.macs as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "FLOPs       {} ({:.3} G) = 2 x MACs",
            self.flops,
            self.flops as f64 / 1e9
        );
        let _ = writeln!(out, "other ops   {}", self.other_ops);
        let _ = writeln!(out, "convention  {}", self.convention);
        let width = self
            .layers
            .iter()
            .map(|l| l.name.len())
            .max()
            .unwrap_or(4)
            .clamp(4, 48);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:width$} {:<18} {:>12} {:>14} {:>12}  output",
            "layer", "op", "params", "MACs", "other ops"
        );
        for l in &self.layers {
            let _ = writeln!(
                out,
                "{:width$} {:<18} {:>12} {:>14} {:>12}  {:?}",
                l.name, l.op_type, l.parameters, l.macs, l.other_ops, l.output_shape
            );
        }
        out
    }
}
