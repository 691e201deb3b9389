//! Which operators are linear, data movement, reductions or pooling, and
//! the arithmetic shared by every format (see `docs/static-metrics.md`).

/// How an operator's work is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Counted by its own MACs formula.
    Linear,
    /// Moves or reshapes data: 0 operations.
    Movement,
    /// One operation per input element.
    Reduction,
    /// One operation per output element and kernel element.
    Pool,
    /// One operation per output element.
    Elementwise,
}

/// The class of an ONNX operator.
pub(crate) fn onnx_class(op: &str) -> Class {
    match op {
        "Conv" | "ConvInteger" | "QLinearConv" | "ConvTranspose" | "MatMul" | "MatMulInteger"
        | "QLinearMatMul" | "Gemm" | "Einsum" | "LSTM" | "GRU" | "RNN" => Class::Linear,
        "Constant" | "ConstantOfShape" | "Shape" | "Size" | "Reshape" | "Flatten" | "Squeeze"
        | "Unsqueeze" | "Transpose" | "Concat" | "Split" | "Slice" | "Gather"
        | "GatherElements" | "GatherND" | "Scatter" | "ScatterElements" | "ScatterND" | "Pad"
        | "Identity" | "Cast" | "CastLike" | "Expand" | "Tile" | "DepthToSpace"
        | "SpaceToDepth" | "Dropout" | "Range" | "NonZero" | "EyeLike" | "OneHot" | "Compress"
        | "Trilu" | "If" | "Loop" | "Scan" => Class::Movement,
        "ArgMax" | "ArgMin" | "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            Class::Reduction
        }
        op if op.starts_with("Reduce") => Class::Reduction,
        "AveragePool" | "MaxPool" | "LpPool" => Class::Pool,
        _ => Class::Elementwise,
    }
}

/// The class of a TFLite builtin operator (by its schema name).
pub(crate) fn tflite_class(op: &str) -> Class {
    match op {
        "CONV_2D" | "CONV_3D" | "DEPTHWISE_CONV_2D" | "FULLY_CONNECTED" | "BATCH_MATMUL"
        | "TRANSPOSE_CONV" => Class::Linear,
        "RESHAPE" | "SQUEEZE" | "EXPAND_DIMS" | "TRANSPOSE" | "CONCATENATION" | "SPLIT"
        | "SPLIT_V" | "SLICE" | "STRIDED_SLICE" | "GATHER" | "GATHER_ND" | "PAD" | "PADV2"
        | "MIRROR_PAD" | "CAST" | "TILE" | "BROADCAST_TO" | "DEPTH_TO_SPACE" | "SPACE_TO_DEPTH"
        | "SHAPE" | "PACK" | "UNPACK" | "FILL" | "ZEROS_LIKE" | "ONES_LIKE" | "RANGE" => {
            Class::Movement
        }
        "MEAN" | "SUM" | "REDUCE_MAX" | "REDUCE_MIN" | "REDUCE_PROD" | "ARG_MAX" | "ARG_MIN" => {
            Class::Reduction
        }
        "AVERAGE_POOL_2D" | "MAX_POOL_2D" | "L2_POOL_2D" => Class::Pool,
        _ => Class::Elementwise,
    }
}

/// The class of a TensorFlow operator (`Const` nodes are stored tensors,
/// not layers).
pub(crate) fn tf_class(op: &str) -> Class {
    match op {
        "Conv2D"
        | "DepthwiseConv2dNative"
        | "MatMul"
        | "BatchMatMul"
        | "BatchMatMulV2"
        | "BatchMatMulV3" => Class::Linear,
        "Placeholder" | "Const" | "Identity" | "NoOp" | "Reshape" | "Squeeze" | "ExpandDims"
        | "Transpose" | "ConcatV2" | "Pack" | "Unpack" | "Split" | "SplitV" | "Slice"
        | "StridedSlice" | "GatherV2" | "GatherNd" | "Pad" | "PadV2" | "MirrorPad" | "Cast"
        | "Tile" | "Fill" | "Shape" | "Range" | "SpaceToBatchND" | "BatchToSpaceND"
        | "DepthToSpace" | "SpaceToDepth" => Class::Movement,
        "Mean" | "Sum" | "Max" | "Min" | "Prod" | "ArgMax" | "ArgMin" => Class::Reduction,
        "AvgPool" | "MaxPool" => Class::Pool,
        _ => Class::Elementwise,
    }
}

/// Elements of a shape; `None` when a dimension is unknown (negative).
pub(crate) fn elements(shape: &[i64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| {
        u64::try_from(d).ok().map(|d| acc.saturating_mul(d))
    })
}

/// Product of a list of counts, saturating.
pub(crate) fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f))
}

/// MACs of an Einsum: `(n − 1) ×` the product of the sizes of every
/// distinct index (and of the broadcast ellipsis dimensions); `None` when
/// the equation does not match the shapes.
pub(crate) fn einsum_macs(equation: &str, inputs: &[&[i64]]) -> Option<u64> {
    let lhs = equation.split("->").next()?;
    let terms: Vec<&str> = lhs.split(',').map(str::trim).collect();
    if terms.len() != inputs.len() {
        return None;
    }
    if inputs.len() < 2 {
        return Some(0);
    }
    let mut sizes: std::collections::BTreeMap<char, u64> = Default::default();
    let mut ellipsis: Vec<u64> = Vec::new();
    for (term, shape) in terms.iter().zip(inputs) {
        let (before, after) = match term.split_once("...") {
            Some((b, a)) => (b, Some(a)),
            None => (*term, None),
        };
        let letters: Vec<char> = before.chars().chain(after.unwrap_or("").chars()).collect();
        if letters.len() > shape.len() || (after.is_none() && letters.len() != shape.len()) {
            return None;
        }
        let head = before.chars().count();
        let tail = after.map_or(0, |a| a.chars().count());
        let dims: Vec<u64> = shape
            .iter()
            .map(|&d| u64::try_from(d).ok())
            .collect::<Option<_>>()?;
        for (c, &d) in before.chars().zip(&dims[..head]) {
            let e = sizes.entry(c).or_insert(d);
            *e = (*e).max(d);
        }
        for (c, &d) in after.unwrap_or("").chars().zip(&dims[dims.len() - tail..]) {
            let e = sizes.entry(c).or_insert(d);
            *e = (*e).max(d);
        }
        if after.is_some() {
            // Right-aligned broadcast of the ellipsis dimensions.
            let mid = &dims[head..dims.len() - tail];
            if mid.len() > ellipsis.len() {
                let mut grown = vec![1; mid.len() - ellipsis.len()];
                grown.extend_from_slice(&ellipsis);
                ellipsis = grown;
            }
            let off = ellipsis.len() - mid.len();
            for (e, &d) in ellipsis[off..].iter_mut().zip(mid) {
                *e = (*e).max(d);
            }
        }
    }
    let all: Vec<u64> = sizes.values().copied().chain(ellipsis).collect();
    Some(product(&all).saturating_mul(inputs.len() as u64 - 1))
}

/// Every outlet's shape that tract's analysis of `model` makes concrete,
/// the inputs' symbolic or unknown dimensions taken as 1; obstinate: a node
/// that fails leaves the others' facts.
pub(crate) fn inferred_shapes(
    model: &mut tract_onnx::prelude::InferenceModel,
) -> tract_onnx::prelude::TractResult<Vec<(tract_onnx::prelude::OutletId, Vec<i64>)>> {
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::infer::{Factoid, GenericFactoid, InferenceModelExt, ShapeFactoid};
    for ix in 0..model.input_outlets()?.len() {
        let mut fact = model.input_fact(ix)?.clone();
        if !fact.shape.is_open() {
            let dims = fact
                .shape
                .dims()
                .map(|d| match d.concretize() {
                    Some(TDim::Val(v)) => GenericFactoid::Only(TDim::Val(v)),
                    _ => GenericFactoid::Only(TDim::Val(1)),
                })
                .collect();
            fact.shape = ShapeFactoid::closed(dims);
            model.set_input_fact(ix, fact)?;
        }
    }
    let _ = model.analyse(true);
    let mut ones = SymbolValues::default();
    for s in model.symbols.all_symbols() {
        ones = ones.with(&s, 1);
    }
    let mut shapes = Vec::new();
    for node in model.nodes() {
        for ix in 0..node.outputs.len() {
            let outlet = OutletId::new(node.id, ix);
            let fact = model.outlet_fact(outlet)?;
            if fact.shape.is_open() {
                continue;
            }
            let dims: Option<Vec<i64>> = fact
                .shape
                .dims()
                .map(|d| d.concretize().and_then(|d| d.eval_to_i64(&ones).ok()))
                .collect();
            if let Some(dims) = dims {
                shapes.push((outlet, dims));
            }
        }
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn einsum_counts_every_index_once() {
        // A batched matmul: b=2, i=3, k=4, j=5 → 2·3·4·5.
        assert_eq!(
            einsum_macs("bik,bkj->bij", &[&[2, 3, 4], &[2, 4, 5]]),
            Some(120)
        );
        // Ellipsis broadcast, and a transpose alone does no MACs.
        assert_eq!(
            einsum_macs("...ij,...jk", &[&[7, 2, 3], &[3, 4]]),
            Some(168)
        );
        assert_eq!(einsum_macs("ij->ji", &[&[3, 4]]), Some(0));
        assert_eq!(einsum_macs("ij,jk", &[&[3, 4]]), None);
    }

    #[test]
    fn classes() {
        assert_eq!(onnx_class("ReduceMean"), Class::Reduction);
        assert_eq!(onnx_class("Relu"), Class::Elementwise);
        assert_eq!(tflite_class("RESHAPE"), Class::Movement);
    }
}
