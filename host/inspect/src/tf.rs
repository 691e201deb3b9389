//! Static metrics of a TensorFlow frozen graph: shapes from tract's
//! inference, counts by the rules of `docs/static-metrics.md`. `Const`
//! nodes are the stored tensors (as ONNX initializers are), not layers.

use std::collections::HashMap;
use std::path::Path;

use tract_tensorflow::prelude::*;
use tract_tensorflow::tfpb::tensorflow::{attr_value, GraphDef, NodeDef};

use crate::ops::{self, Class};
use crate::{InspectError, Layer, StaticMetrics};

/// Elements and bytes of a `Const` node's value, with its shape.
fn constant(node: &NodeDef) -> Option<(u64, u64, Vec<i64>)> {
    let Some(attr_value::Value::Tensor(t)) = node.attr.get("value")?.value.as_ref() else {
        return None;
    };
    let dims: Vec<i64> = t
        .tensor_shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.size).collect())
        .unwrap_or_default();
    let n = ops::elements(&dims)?;
    Some((n, n.saturating_mul(lpdnn_lne::tf_dtype_size(t.dtype)), dims))
}

/// A node input's producer and output index: `name`, `name:1`; `None` for
/// a control input (`^name`).
fn producer(input: &str) -> Option<(&str, usize)> {
    if input.starts_with('^') {
        return None;
    }
    Some(match input.rsplit_once(':') {
        Some((name, ix)) => (name, ix.parse().ok()?),
        None => (input, 0),
    })
}

fn ints<'a>(node: &'a NodeDef, name: &str) -> Option<&'a [i64]> {
    match node.attr.get(name)?.value.as_ref()? {
        attr_value::Value::List(l) => Some(&l.i),
        _ => None,
    }
}

fn flag(node: &NodeDef, name: &str) -> bool {
    matches!(
        node.attr.get(name).and_then(|a| a.value.as_ref()),
        Some(attr_value::Value::B(true))
    )
}

pub(crate) fn inspect(path: &Path, bytes: &[u8]) -> Result<StaticMetrics, InspectError> {
    let bad = |message: String| InspectError::Model {
        path: path.to_owned(),
        message,
    };
    let graph: GraphDef = <GraphDef as prost::Message>::decode(bytes)
        .map_err(|e| bad(format!("not a TensorFlow GraphDef: {e}")))?;
    lpdnn_lne::check_constants(&graph, bytes.len() as u64).map_err(bad)?;
    let mut notes = Vec::new();
    let mut shapes: HashMap<(String, usize), Vec<i64>> = HashMap::new();
    let mut stored: HashMap<&str, (u64, u64)> = HashMap::new();
    let (mut parameters, mut parameter_bytes) = (0u64, 0u64);
    for node in graph.node.iter().filter(|n| n.op == "Const") {
        if let Some((n, b, dims)) = constant(node) {
            parameters = parameters.saturating_add(n);
            parameter_bytes = parameter_bytes.saturating_add(b);
            stored.insert(&node.name, (n, b));
            shapes.insert((node.name.clone(), 0), dims);
        }
    }
    match lpdnn_engine_api::contain(|| infer_shapes(&graph)) {
        Ok(Ok(inferred)) => shapes.extend(inferred),
        Ok(Err(e)) => notes.push(format!("shape inference stopped: {e}")),
        Err(panic) => return Err(bad(format!("shape inference failed: {panic}"))),
    }

    let (mut macs, mut other_ops) = (0u64, 0u64);
    let mut unknown = Vec::new();
    let mut layers = Vec::new();
    for node in graph.node.iter().filter(|n| n.op != "Const") {
        let mut params = 0u64;
        for (name, _) in node.input.iter().filter_map(|i| producer(i)) {
            if let Some((n, _)) = stored.remove(name) {
                params = params.saturating_add(n);
            }
        }
        let (m, o) = match count(node, &shapes) {
            Some(c) => c,
            None => {
                unknown.push(node.name.clone());
                (0, 0)
            }
        };
        macs = macs.saturating_add(m);
        other_ops = other_ops.saturating_add(o);
        layers.push(Layer {
            name: node.name.clone(),
            op_type: node.op.clone(),
            parameters: params,
            macs: m,
            other_ops: o,
            output_shape: shapes
                .get(&(node.name.clone(), 0))
                .cloned()
                .unwrap_or_default(),
        });
    }
    let orphans = stored
        .values()
        .fold(0u64, |sum, (n, _)| sum.saturating_add(*n));
    if orphans > 0 {
        notes.push(format!(
            "{orphans} parameters in {} constants no layer reads",
            stored.len()
        ));
    }
    crate::note_unknown(&mut notes, &unknown);
    Ok(StaticMetrics::new(
        path,
        lpdnn_engine_api::ModelFormat::TfGraph,
        bytes,
        parameters,
        parameter_bytes,
        Some((macs, other_ops)),
        notes,
        layers,
    ))
}

/// Every node output's shape as tract infers it (symbolic dimensions as 1).
fn infer_shapes(graph: &GraphDef) -> TractResult<HashMap<(String, usize), Vec<i64>>> {
    let mut model = tract_tensorflow::tensorflow().parse_graph(graph)?.0;
    Ok(crate::ops::inferred_shapes(&mut model)?
        .into_iter()
        .map(|(outlet, dims)| ((model.node(outlet.node).name.clone(), outlet.slot), dims))
        .collect())
}

/// MACs and other ops of one node; `None` when a shape it needs is unknown.
fn count(node: &NodeDef, shapes: &HashMap<(String, usize), Vec<i64>>) -> Option<(u64, u64)> {
    let input = |ix: usize| -> Option<&[i64]> {
        let (name, out) = producer(node.input.get(ix)?)?;
        shapes.get(&(name.to_owned(), out)).map(Vec::as_slice)
    };
    let output = shapes.get(&(node.name.clone(), 0)).map(Vec::as_slice);
    let n = ops::elements;
    let op = node.op.as_str();
    Some(match ops::tf_class(op) {
        Class::Linear => {
            let macs = match op {
                // Filter [kh, kw, in, out].
                "Conv2D" => n(output?)?.saturating_mul(n(input(1)?.get(..3)?)?),
                // Filter [kh, kw, in, multiplier]: kh × kw per output element.
                "DepthwiseConv2dNative" => n(output?)?.saturating_mul(n(input(1)?.get(..2)?)?),
                "MatMul" => {
                    let a = input(0)?;
                    let k = if flag(node, "transpose_a") {
                        a.first()
                    } else {
                        a.get(1)
                    };
                    n(output?)?.saturating_mul(u64::try_from(*k?).ok()?)
                }
                // BatchMatMul, BatchMatMulV2/V3.
                _ => {
                    let a = input(0)?;
                    let k = if flag(node, "adj_x") {
                        a.len().checked_sub(2).and_then(|i| a.get(i))
                    } else {
                        a.last()
                    };
                    n(output?)?.saturating_mul(u64::try_from(*k?).ok()?)
                }
            };
            (macs, 0)
        }
        Class::Movement => (0, 0),
        Class::Reduction => (0, n(input(0)?)?),
        Class::Pool => {
            let kernel = ints(node, "ksize")?;
            (0, n(output?)?.saturating_mul(n(kernel)?))
        }
        Class::Elementwise => (0, n(output?)?),
    })
}
