//! Static metrics of a TFLite model: its flatbuffer stores every tensor's
//! shape and the constant tensors' data.

use std::path::Path;

use tract_tflite::tflite::{self, BuiltinOperator};

use crate::ops::{self, Class};
use crate::{InspectError, Layer, StaticMetrics};

/// Inspects TFLite bytes read from `path` (the first subgraph; the others
/// are the bodies of control flow and are noted, not counted).
pub(crate) fn inspect(path: &Path, bytes: &[u8]) -> Result<StaticMetrics, InspectError> {
    let bad = |message: String| InspectError::Model {
        path: path.to_owned(),
        message,
    };
    let model =
        tflite::root_as_model(bytes).map_err(|e| bad(format!("damaged TFLite flatbuffer: {e}")))?;
    let buffers = model.buffers().map(|b| b.len()).unwrap_or(0);
    let codes = model
        .operator_codes()
        .ok_or_else(|| bad("no operator codes".into()))?;
    let subgraphs = model.subgraphs().ok_or_else(|| bad("no subgraph".into()))?;
    if subgraphs.is_empty() {
        return Err(bad("no subgraph".into()));
    }
    let graph = subgraphs.get(0);
    let tensors = graph
        .tensors()
        .ok_or_else(|| bad("subgraph 0 has no tensors".into()))?;
    let shape_of = |ix: i32| -> Option<Vec<i64>> {
        let t = tensors.get(usize::try_from(ix).ok().filter(|&i| i < tensors.len())?);
        Some(t.shape()?.iter().map(i64::from).collect())
    };
    // Constant tensors: those whose buffer holds data.
    let data_len = |t: &tflite::Tensor| -> usize {
        let b = t.buffer() as usize;
        if b == 0 || b >= buffers {
            return 0;
        }
        model
            .buffers()
            .and_then(|list| list.get(b).data())
            .map_or(0, |d| d.len())
    };
    let mut stored: Vec<Option<u64>> = Vec::with_capacity(tensors.len());
    let (mut parameters, mut parameter_bytes) = (0u64, 0u64);
    for t in tensors.iter() {
        let len = data_len(&t);
        if len == 0 {
            stored.push(None);
            continue;
        }
        let shape: Vec<i64> = t
            .shape()
            .map(|s| s.iter().map(i64::from).collect())
            .unwrap_or_default();
        let n = ops::elements(&shape).unwrap_or(0);
        parameters = parameters.saturating_add(n);
        parameter_bytes = parameter_bytes.saturating_add(len as u64);
        stored.push(Some(n));
    }

    let (mut macs, mut other_ops) = (0u64, 0u64);
    let mut unknown = Vec::new();
    let mut layers = Vec::new();
    for (i, op) in graph.operators().into_iter().flatten().enumerate() {
        let code = codes
            .iter()
            .nth(op.opcode_index() as usize)
            .map(|c| {
                c.builtin_code()
                    .0
                    .max(i32::from(c.deprecated_builtin_code()))
            })
            .unwrap_or(-1);
        let custom = codes
            .iter()
            .nth(op.opcode_index() as usize)
            .and_then(|c| c.custom_code())
            .filter(|_| code == BuiltinOperator::CUSTOM.0);
        let op_type = match custom {
            Some(c) => format!("CUSTOM:{c}"),
            None => BuiltinOperator(code)
                .variant_name()
                .map_or_else(|| format!("OP{code}"), str::to_owned),
        };
        let inputs: Vec<i32> = op.inputs().map(|v| v.iter().collect()).unwrap_or_default();
        let outputs: Vec<i32> = op.outputs().map(|v| v.iter().collect()).unwrap_or_default();
        let name = outputs
            .first()
            .and_then(|&o| tensors.iter().nth(usize::try_from(o).ok()?))
            .and_then(|t| t.name().map(str::to_owned))
            .unwrap_or_else(|| format!("#{i} {op_type}"));
        let mut params = 0u64;
        for &ix in &inputs {
            if let Some(slot) = usize::try_from(ix).ok().and_then(|i| stored.get_mut(i)) {
                params = params.saturating_add(slot.take().unwrap_or(0));
            }
        }
        let input = |k: usize| inputs.get(k).and_then(|&ix| shape_of(ix));
        let output = outputs.first().and_then(|&ix| shape_of(ix));
        let counted = count(&op_type, &op, input, output.as_deref());
        let (m, o) = counted.unwrap_or_else(|| {
            unknown.push(name.clone());
            (0, 0)
        });
        macs = macs.saturating_add(m);
        other_ops = other_ops.saturating_add(o);
        layers.push(Layer {
            name,
            op_type,
            parameters: params,
            macs: m,
            other_ops: o,
            output_shape: output.unwrap_or_default(),
        });
    }
    let mut notes = Vec::new();
    if subgraphs.len() > 1 {
        notes.push(format!(
            "{} more subgraphs (control-flow bodies) are not counted",
            subgraphs.len() - 1
        ));
    }
    let orphans: u64 = stored.iter().flatten().sum();
    if orphans > 0 {
        notes.push(format!("{orphans} parameters in tensors no operator reads"));
    }
    crate::note_unknown(&mut notes, &unknown);
    Ok(StaticMetrics::new(
        path,
        lpdnn_engine_api::ModelFormat::TfLite,
        bytes,
        parameters,
        parameter_bytes,
        Some((macs, other_ops)),
        notes,
        layers,
    ))
}

/// MACs and other ops of one operator; `None` when a shape is missing.
fn count(
    op_type: &str,
    op: &tflite::Operator,
    input: impl Fn(usize) -> Option<Vec<i64>>,
    output: Option<&[i64]>,
) -> Option<(u64, u64)> {
    let n = ops::elements;
    let dim = |s: &[i64], i: usize| s.get(i).and_then(|&d| u64::try_from(d).ok());
    Some(match ops::tflite_class(op_type) {
        Class::Linear => {
            let y = n(output?)?;
            let macs = match op_type {
                // W = [M, kh, kw, C/groups]
                "CONV_2D" => y.saturating_mul(n(input(1)?.get(1..)?)?),
                // W = [kd, kh, kw, C, M]
                "CONV_3D" => y.saturating_mul(n(input(1)?.get(..4)?)?),
                // W = [1, kh, kw, M]
                "DEPTHWISE_CONV_2D" => {
                    let w = input(1)?;
                    y.saturating_mul(dim(&w, 1)?.saturating_mul(dim(&w, 2)?))
                }
                // W = [units, K]
                "FULLY_CONNECTED" => y.saturating_mul(dim(&input(1)?, 1)?),
                "BATCH_MATMUL" => {
                    let a = input(0)?;
                    let adj = op
                        .builtin_options_as_batch_mat_mul_options()
                        .is_some_and(|o| o.adj_x());
                    let k = if adj {
                        a.len().checked_sub(2)?
                    } else {
                        a.len().checked_sub(1)?
                    };
                    y.saturating_mul(dim(&a, k)?)
                }
                // Inputs: output shape, W = [M, kh, kw, C], X.
                _ => n(&input(2)?)?.saturating_mul(n(input(1)?.get(..3)?)?),
            };
            (macs, 0)
        }
        Class::Movement => (0, 0),
        Class::Reduction => (0, n(&input(0)?)?),
        Class::Pool => {
            let o = op.builtin_options_as_pool_2_doptions()?;
            let k =
                u64::try_from(o.filter_width()).ok()? * u64::try_from(o.filter_height()).ok()?;
            (0, n(output?)?.saturating_mul(k))
        }
        Class::Elementwise => (0, n(output?)?),
    })
}
