//! Static metrics of an ONNX model: shapes from tract's inference, counts
//! by the rules of `docs/static-metrics.md`.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, NodeProto, TensorProto};
use tract_onnx::pb::{tensor_proto::DataType, ModelProto};
use tract_onnx::prelude::*;

use crate::ops::{self, Class};
use crate::{InspectError, Layer, StaticMetrics};

fn dtype_size(data_type: i32) -> u64 {
    match DataType::try_from(data_type).unwrap_or(DataType::Undefined) {
        DataType::Double | DataType::Int64 | DataType::Uint64 | DataType::Complex64 => 8,
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16 => 2,
        DataType::Complex128 => 16,
        _ => 1,
    }
}

/// Elements and bytes of a tensor stored in the model.
fn tensor_size(t: &TensorProto) -> (u64, u64) {
    let n = ops::product(&t.dims.iter().map(|&d| d.max(0) as u64).collect::<Vec<_>>());
    (n, n.saturating_mul(dtype_size(t.data_type)))
}

/// Elements, bytes and shape of a `Constant` node's value.
fn constant_value(node: &NodeProto) -> Option<(u64, u64, Vec<i64>)> {
    let a = node.attribute.first()?;
    match (a.name.as_str(), AttributeType::try_from(a.r#type).ok()?) {
        ("value", _) => {
            let t = a.t.as_ref()?;
            let (n, b) = tensor_size(t);
            Some((n, b, t.dims.clone()))
        }
        ("sparse_value", _) => {
            let t = a.sparse_tensor.as_ref()?;
            let dims = t.dims.clone();
            let (n, b) = t.values.as_ref().map(tensor_size).unwrap_or((0, 0));
            Some((n, b, dims))
        }
        ("value_float" | "value_int", _) => {
            Some((1, 4 + 4 * (a.name == "value_int") as u64, vec![]))
        }
        ("value_floats", _) => Some((
            a.floats.len() as u64,
            4 * a.floats.len() as u64,
            vec![a.floats.len() as i64],
        )),
        ("value_ints", _) => Some((
            a.ints.len() as u64,
            8 * a.ints.len() as u64,
            vec![a.ints.len() as i64],
        )),
        ("value_string" | "value_strings", _) => Some((0, 0, vec![])),
        _ => None,
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_str<'a>(node: &'a NodeProto, name: &str) -> &'a str {
    attr(node, name).map_or("", |a| std::str::from_utf8(&a.s).unwrap_or(""))
}

/// Inspects ONNX bytes read from `path`.
pub(crate) fn inspect(path: &Path, bytes: &[u8]) -> Result<StaticMetrics, InspectError> {
    let bad = |message: String| InspectError::Model {
        path: path.to_owned(),
        message,
    };
    let proto: ModelProto = <ModelProto as prost::Message>::decode(bytes)
        .map_err(|e| bad(format!("not an ONNX protobuf: {e}")))?;
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| bad("the ONNX model has no graph".into()))?;
    let mut notes = Vec::new();

    // Shapes by value name: declared first, then tract's inference.
    let mut shapes: HashMap<String, Vec<i64>> = HashMap::new();
    for v in graph
        .input
        .iter()
        .chain(&graph.value_info)
        .chain(&graph.output)
    {
        if let Some(shape) = declared_shape(v) {
            shapes.insert(v.name.clone(), shape);
        }
    }
    // Stored tensors: initializers and Constant nodes, and who reads them.
    let mut stored: HashMap<&str, (u64, u64)> = HashMap::new();
    let (mut parameters, mut parameter_bytes) = (0u64, 0u64);
    for init in &graph.initializer {
        let (n, b) = tensor_size(init);
        parameters = parameters.saturating_add(n);
        parameter_bytes = parameter_bytes.saturating_add(b);
        stored.insert(&init.name, (n, b));
        shapes.insert(init.name.clone(), init.dims.clone());
    }
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some((n, b, dims)), Some(out)) = (constant_value(node), node.output.first()) {
            parameters = parameters.saturating_add(n);
            parameter_bytes = parameter_bytes.saturating_add(b);
            stored.insert(out, (n, b));
            shapes.insert(out.clone(), dims);
        }
    }
    let dir = path
        .parent()
        .and_then(|d| d.to_str())
        .map(|d| if d.is_empty() { "." } else { d });
    match lpdnn_engine_api::contain(|| infer_shapes(&proto, dir)) {
        Ok(Ok(inferred)) => shapes.extend(inferred),
        Ok(Err(e)) => notes.push(format!("shape inference stopped: {e}")),
        Err(panic) => {
            return Err(bad(format!("shape inference failed: {panic}")));
        }
    }

    let mut name_uses: HashMap<&str, usize> = HashMap::new();
    for node in &graph.node {
        *name_uses.entry(node.name.as_str()).or_default() += 1;
    }
    let (mut macs, mut other_ops) = (0u64, 0u64);
    let mut unknown = Vec::new();
    let mut bodies = Vec::new();
    let mut layers: Vec<Layer> = Vec::with_capacity(graph.node.len());
    for (i, node) in graph.node.iter().enumerate() {
        let name = if !node.name.is_empty() && name_uses[node.name.as_str()] == 1 {
            node.name.clone()
        } else if let Some(out) = node.output.first().filter(|o| !o.is_empty()) {
            out.clone()
        } else {
            format!("#{i} {}", node.op_type)
        };
        let mut params = 0u64;
        for input in &node.input {
            if let Some((n, _)) = stored.remove(input.as_str()) {
                params = params.saturating_add(n);
            }
        }
        if matches!(node.op_type.as_str(), "If" | "Loop" | "Scan") {
            bodies.push(name.clone());
        }
        let (m, o) = match count(node, &shapes) {
            Some(c) => c,
            None => {
                unknown.push(name.clone());
                (0, 0)
            }
        };
        macs = macs.saturating_add(m);
        other_ops = other_ops.saturating_add(o);
        layers.push(Layer {
            output_shape: node
                .output
                .first()
                .and_then(|o| shapes.get(o))
                .cloned()
                .unwrap_or_default(),
            name,
            op_type: node.op_type.clone(),
            parameters: params,
            macs: m,
            other_ops: o,
        });
    }
    // A Constant nobody reads keeps its own elements.
    for (layer, node) in layers.iter_mut().zip(&graph.node) {
        if let Some((n, _)) = node.output.first().and_then(|o| stored.remove(o.as_str())) {
            layer.parameters = layer.parameters.saturating_add(n);
        }
    }
    // Initializers nobody reads (or read only inside a subgraph).
    let orphans = stored
        .values()
        .fold(0u64, |sum, (n, _)| sum.saturating_add(*n));
    if orphans > 0 {
        notes.push(format!(
            "{orphans} parameters in {} tensors no top-level layer reads",
            stored.len()
        ));
    }
    if !bodies.is_empty() {
        notes.push(format!(
            "the bodies of {} are not counted",
            crate::list(&bodies)
        ));
    }
    crate::note_unknown(&mut notes, &unknown);
    Ok(StaticMetrics::new(
        path,
        lpdnn_engine_api::ModelFormat::Onnx,
        bytes,
        parameters,
        parameter_bytes,
        Some((macs, other_ops)),
        notes,
        layers,
    ))
}

/// A value's declared shape, symbolic dimensions as 1.
fn declared_shape(v: &tract_onnx::pb::ValueInfoProto) -> Option<Vec<i64>> {
    use tract_onnx::pb::{tensor_shape_proto::dimension::Value, type_proto::Value as T};
    let T::TensorType(t) = v.r#type.as_ref()?.value.as_ref()?;
    Some(
        t.shape
            .as_ref()?
            .dim
            .iter()
            .map(|d| match d.value {
                Some(Value::DimValue(v)) if v > 0 => v,
                Some(Value::DimValue(0)) => 0,
                _ => 1,
            })
            .collect(),
    )
}

/// Every value's shape as tract infers it, the inputs' symbolic dimensions
/// taken as 1. `dir` is where external data files are looked for.
fn infer_shapes(proto: &ModelProto, dir: Option<&str>) -> TractResult<HashMap<String, Vec<i64>>> {
    let mut model = tract_onnx::onnx().parse(proto, dir)?.model;
    Ok(crate::ops::inferred_shapes(&mut model)?
        .into_iter()
        .filter_map(|(outlet, dims)| Some((model.outlet_label(outlet)?.to_owned(), dims)))
        .collect())
}

/// MACs and other ops of one node; `None` when a shape it needs is unknown.
fn count(node: &NodeProto, shapes: &HashMap<String, Vec<i64>>) -> Option<(u64, u64)> {
    let shape = |ix: usize, outputs: bool| -> Option<&[i64]> {
        let list = if outputs { &node.output } else { &node.input };
        let name = list.get(ix).filter(|n| !n.is_empty())?;
        shapes.get(name).map(Vec::as_slice)
    };
    let input = |ix| shape(ix, false);
    let output = |ix| shape(ix, true);
    let n = |s: &[i64]| ops::elements(s);
    let dims =
        |s: &[i64]| -> Option<Vec<u64>> { s.iter().map(|&d| u64::try_from(d).ok()).collect() };
    let op = node.op_type.as_str();
    Some(match ops::onnx_class(op) {
        Class::Linear => {
            let macs = match op {
                "Conv" | "ConvInteger" | "QLinearConv" => {
                    let w = input(if op == "QLinearConv" { 3 } else { 1 })?;
                    n(output(0)?)?.saturating_mul(n(w.get(1..)?)?)
                }
                "ConvTranspose" => n(input(0)?)?.saturating_mul(n(input(1)?.get(1..)?)?),
                "MatMul" | "MatMulInteger" | "QLinearMatMul" => {
                    let k = *input(0)?.last()?;
                    n(output(0)?)?.saturating_mul(u64::try_from(k).ok()?)
                }
                "Gemm" => {
                    let a = dims(input(0)?)?;
                    let k = if attr_int(node, "transA", 0) != 0 {
                        a.first()
                    } else {
                        a.get(1)
                    };
                    n(output(0)?)?.saturating_mul(*k?)
                }
                "Einsum" => {
                    let inputs: Vec<&[i64]> =
                        (0..node.input.len()).map(input).collect::<Option<_>>()?;
                    if inputs.len() < 2 {
                        return Some((0, n(inputs.first()?)?));
                    }
                    ops::einsum_macs(attr_str(node, "equation"), &inputs)?
                }
                _ => {
                    // LSTM, GRU, RNN: X is [seq, batch, input] (layout 1: batch first).
                    let x = dims(input(0)?)?;
                    let (seq, batch) = match attr_int(node, "layout", 0) {
                        0 => (*x.first()?, *x.get(1)?),
                        _ => (*x.get(1)?, *x.first()?),
                    };
                    let hidden = u64::try_from(attr_int(node, "hidden_size", 0)).ok()?;
                    let dirs = if attr_str(node, "direction") == "bidirectional" {
                        2
                    } else {
                        1
                    };
                    let gates = match op {
                        "LSTM" => 4,
                        "GRU" => 3,
                        _ => 1,
                    };
                    ops::product(&[seq, batch, dirs, gates, hidden, x.get(2)? + hidden])
                }
            };
            (macs, 0)
        }
        Class::Movement => (0, 0),
        Class::Reduction => (0, n(input(0)?)?),
        Class::Pool => {
            let kernel = attr(node, "kernel_shape")?.ints.clone();
            (0, n(output(0)?)?.saturating_mul(n(&kernel)?))
        }
        Class::Elementwise => (0, n(output(0)?)?),
    })
}
