"""Static metrics of models, counted independently of lpdnn-host.

Follows `docs/static-metrics.md` (the contract) to the letter: parameters,
parameter bytes, MACs, other ops, top-level nodes and file size of

- the `onnx` package's backend node tests whose graph holds a MAC operator
  (Conv, ConvTranspose, ConvInteger, QLinearConv, MatMul, MatMulInteger,
  QLinearMatMul, Gemm, Einsum, LSTM, GRU, RNN), plus a few other-ops cases
  (EXTRA_CASES); each is written to OUT_DIR/node-tests/<case>.onnx;
- every `*.onnx` and `*.tflite` file in MODELS_DIR.

ONNX shapes come from `onnx.shape_inference.infer_shapes(strict_mode=True,
data_prop=True)` with the graph inputs' symbolic dimensions set to 1; when a
node output is still without a full static shape, the model is run once with
onnxruntime (every node output made a graph output) and the actual shapes are
taken (stderr names each model that needed it). Of the shipped models only
silero_vad_16k.onnx needs it: the widths of its STFT's reflect Pad are
computed (ConstantOfShape → Reshape → Transpose → Reshape), which the onnx
data propagation does not follow, leaving 38 node outputs without a shape. Of
the node tests, the expanded Attention and FlexAttention cases need it (their
Range/Expand shapes come from computed values); their bfloat16 forms are
skipped, onnxruntime having no bfloat16 kernels for Add and Expand. TFLite
files store every tensor's shape and are read with the `tflite` flatbuffer
package.

The result, OUT_DIR/static.json (written atomically), is

    {"<file>": {"parameters", "parameter_bytes", "macs", "other_ops", "nodes",
                "storage_bytes", "initializers" (ONNX only),
                "uncounted" (only when a layer's shapes were not found)},
     ...,
     "skipped": {"node-tests/<case>.onnx": reason}}

keyed by the file name for shipped models and `node-tests/<case>.onnx` for
the node tests. A node test is skipped (and not written) when it holds an If,
Loop or Scan, or when its shapes cannot all be determined.

usage: static_counts.py MODELS_DIR OUT_DIR
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, shape_inference

# --- The convention's operator classes -------------------------------------------

MAC_OPS = {
    "Conv", "ConvTranspose", "ConvInteger", "QLinearConv",
    "MatMul", "MatMulInteger", "QLinearMatMul", "Gemm", "Einsum",
    "LSTM", "GRU", "RNN",
}
# Data movement: 0 other ops.
ONNX_MOVES = {
    "Constant", "ConstantOfShape", "Shape", "Size", "Reshape", "Flatten", "Squeeze",
    "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements",
    "GatherND", "Scatter", "ScatterElements", "ScatterND", "Pad", "Identity", "Cast",
    "CastLike", "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "Dropout", "Range",
    "NonZero", "EyeLike", "OneHot", "Compress", "Trilu", "If", "Loop", "Scan",
}
# Reductions: one per element of the first input (plus every Reduce*).
ONNX_REDUCTIONS = {"ArgMax", "ArgMin", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}
# Pooling: prod(Y) × prod(kernel_shape).
ONNX_POOLS = {"AveragePool", "MaxPool", "LpPool"}
CONTROL_FLOW = {"If", "Loop", "Scan"}

TFL_MOVES = {
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "CONCATENATION", "SPLIT", "SPLIT_V",
    "SLICE", "STRIDED_SLICE", "GATHER", "GATHER_ND", "PAD", "PADV2", "MIRROR_PAD", "CAST",
    "TILE", "BROADCAST_TO", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "SHAPE", "PACK", "UNPACK",
    "FILL", "ZEROS_LIKE", "ONES_LIKE", "RANGE",
}
TFL_REDUCTIONS = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "ARG_MAX", "ARG_MIN"}
TFL_POOLS = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}

# Node tests counted besides those holding a MAC operator: one or two of each
# other-ops class (element-wise, pooling, reduction, data movement, Constant).
EXTRA_CASES = [
    "test_relu", "test_add", "test_sigmoid", "test_softmax_example",
    "test_maxpool_2d_default", "test_averagepool_2d_pads", "test_lppool_2d_default",
    "test_reduce_mean_default_axes_keepdims_example", "test_argmax_default_axis_example",
    "test_globalaveragepool", "test_transpose_default", "test_constant_pad", "test_constant",
]

# Bits per element of each ONNX data type (STRING is counted by its bytes).
ONNX_BITS = {
    TensorProto.FLOAT: 32, TensorProto.UINT8: 8, TensorProto.INT8: 8, TensorProto.UINT16: 16,
    TensorProto.INT16: 16, TensorProto.INT32: 32, TensorProto.INT64: 64, TensorProto.BOOL: 8,
    TensorProto.FLOAT16: 16, TensorProto.DOUBLE: 64, TensorProto.UINT32: 32,
    TensorProto.UINT64: 64, TensorProto.COMPLEX64: 64, TensorProto.COMPLEX128: 128,
    TensorProto.BFLOAT16: 16, TensorProto.FLOAT8E4M3FN: 8, TensorProto.FLOAT8E4M3FNUZ: 8,
    TensorProto.FLOAT8E5M2: 8, TensorProto.FLOAT8E5M2FNUZ: 8, TensorProto.UINT4: 4,
    TensorProto.INT4: 4, TensorProto.FLOAT4E2M1: 4, TensorProto.FLOAT8E8M0: 8,
    TensorProto.UINT2: 2, TensorProto.INT2: 2, TensorProto.FLOAT6E2M3: 6,
    TensorProto.FLOAT6E3M2: 6,
}


def prod(shape) -> int:
    return math.prod(int(d) for d in shape)


def write_atomically(path: str, data: bytes) -> None:
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


class Undetermined(Exception):
    """A model's shapes could not all be found."""


# --- ONNX: parameters -------------------------------------------------------------


def tensor_elements_bytes(t: onnx.TensorProto) -> tuple[int, int]:
    n = prod(t.dims)
    if t.data_type == TensorProto.STRING:
        return n, sum(len(s) for s in t.string_data)
    return n, (n * ONNX_BITS[t.data_type] + 7) // 8


def constant_elements_bytes(node: onnx.NodeProto) -> tuple[int, int]:
    """Elements and stored bytes of a Constant node's value (its one attribute)."""
    for a in node.attribute:
        if a.name == "value":
            return tensor_elements_bytes(a.t)
        if a.name == "sparse_value":  # counted as the dense tensor it stands for
            n = prod(a.sparse_tensor.dims)
            return n, (n * ONNX_BITS[a.sparse_tensor.values.data_type] + 7) // 8
        if a.name == "value_float":
            return 1, 4
        if a.name == "value_floats":
            return len(a.floats), 4 * len(a.floats)
        if a.name == "value_int":
            return 1, 8
        if a.name == "value_ints":
            return len(a.ints), 8 * len(a.ints)
        if a.name == "value_string":
            return 1, len(a.s)
        if a.name == "value_strings":
            return len(a.strings), sum(len(s) for s in a.strings)
    return 0, 0


# --- ONNX: shapes -----------------------------------------------------------------


def static_shape(t: onnx.TypeProto):
    """The full static shape of a tensor type, else None."""
    if t.WhichOneof("value") != "tensor_type" or not t.tensor_type.HasField("shape"):
        return None
    dims = t.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return tuple(d.dim_value for d in dims)


def fix_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose graph inputs have every symbolic or unknown dimension set to 1."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    for i in m.graph.input:
        if i.name in inits or i.type.WhichOneof("value") != "tensor_type":
            continue
        for d in i.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1
    return m


def onnx_shapes(model: onnx.ModelProto, label: str) -> dict[str, tuple]:
    """Static shape of every value the top-level nodes read or write."""
    model = fix_inputs(model)
    g = model.graph
    types: dict[str, onnx.TypeProto] = {}
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        failure = None
    except Exception as e:  # noqa: BLE001 - any inference failure sends us to ORT
        inferred, failure = None, f"onnx shape inference failed: {str(e).splitlines()[0]}"
    shapes: dict[str, tuple] = {}
    for t in g.initializer:
        shapes[t.name] = tuple(t.dims)
    for t in g.sparse_initializer:
        shapes[t.values.name] = tuple(t.dims)
    for gi in (inferred or model).graph.input:
        if gi.name not in shapes and static_shape(gi.type) is not None:
            shapes[gi.name] = static_shape(gi.type)
    if inferred is not None:
        for vi in [*inferred.graph.value_info, *inferred.graph.output]:
            types[vi.name] = vi.type
            s = static_shape(vi.type)
            if s is not None:
                shapes.setdefault(vi.name, s)
    missing = [o for n in g.node for o in n.output if o and o not in shapes]
    if missing:
        print(f"{label}: {failure or f'{len(missing)} node outputs without a static shape'}; "
              "taking the actual shapes from onnxruntime", file=sys.stderr)
        shapes.update(ort_shapes(model, types, missing))
        missing = [o for o in missing if o not in shapes]
        if missing:
            raise Undetermined(f"no static shape for {', '.join(missing[:5])}"
                               + (" …" if len(missing) > 5 else ""))
    return shapes


def ort_shapes(model: onnx.ModelProto, types: dict, wanted: list[str]) -> dict[str, tuple]:
    """Actual shapes of `wanted` values, from one onnxruntime run on ones (floats)
    or zeros (other types) at the graph inputs' declared shapes."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    outputs = {o.name for o in m.graph.output}
    for name in wanted:
        if name in outputs:
            continue
        vi = onnx.ValueInfoProto(name=name)
        if name in types:
            vi.type.CopyFrom(types[name])
            vi.type.tensor_type.ClearField("shape")
        m.graph.output.append(vi)
    inits = {i.name for i in m.graph.initializer}
    feeds = {}
    for gi in m.graph.input:
        if gi.name in inits:
            continue
        tt = gi.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        shape = [d.dim_value for d in tt.shape.dim]
        if dtype == np.dtype(object):  # STRING
            feeds[gi.name] = np.full(shape, "", dtype=object)
        else:
            fill = 1 if np.issubdtype(dtype, np.floating) else 0
            feeds[gi.name] = np.full(shape, fill, dtype=dtype)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        values = sess.run(names, feeds)
    except Exception as e:  # noqa: BLE001
        raise Undetermined(f"onnxruntime could not run it: {str(e).splitlines()[0][:200]}")
    return {n: tuple(v.shape) for n, v in zip(names, values) if isinstance(v, np.ndarray)}


# --- ONNX: MACs and other ops -----------------------------------------------------


def attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def einsum_macs(equation: str, shapes: list[tuple]) -> int:
    """(n − 1) × ∏ size of every distinct index; the ellipsis contributes its
    broadcast dimensions."""
    lhs = equation.replace(" ", "").split("->")[0]
    sizes: dict[str, int] = {}
    ellipses: list[tuple] = []
    for term, shape in zip(lhs.split(","), shapes):
        if "..." in term:
            before, after = term.split("...")
            n_ell = len(shape) - len(before) - len(after)
            ellipses.append(shape[len(before):len(before) + n_ell])
            letters = list(zip(before, shape)) + list(zip(after, shape[len(shape) - len(after):]))
        else:
            letters = list(zip(term, shape))
        for c, d in letters:
            sizes[c] = max(sizes.get(c, 1), d)
    rank = max((len(e) for e in ellipses), default=0)
    broadcast = [1] * rank
    for e in ellipses:
        for i, d in enumerate(e, start=rank - len(e)):
            broadcast[i] = max(broadcast[i], d)
    return (len(shapes) - 1) * prod(sizes.values()) * prod(broadcast)


def onnx_node_counts(node: onnx.NodeProto, shape) -> tuple[int, int]:
    """(MACs, other ops) of one node; `shape(name)` raises KeyError when unknown."""
    op = node.op_type
    inp = lambda i: shape(node.input[i])  # noqa: E731
    out = lambda i: shape(node.output[i])  # noqa: E731
    if op in ("Conv", "ConvInteger"):
        return prod(out(0)) * prod(inp(1)[1:]), 0
    if op == "QLinearConv":  # x, x_scale, x_zero_point, w, …
        return prod(out(0)) * prod(inp(3)[1:]), 0
    if op == "ConvTranspose":
        return prod(inp(0)) * prod(inp(1)[1:]), 0
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        return prod(out(0)) * inp(0)[-1], 0
    if op == "Gemm":
        a = inp(0)
        k = a[0] if attr(node, "transA", 0) else a[1]
        return prod(out(0)) * k, 0  # Y = M × N
    if op == "Einsum":
        operands = [shape(i) for i in node.input]
        if len(operands) == 1:
            return 0, prod(operands[0])
        return einsum_macs(attr(node, "equation").decode(), operands), 0
    if op in ("LSTM", "GRU", "RNN"):
        g = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
        x, w, r = inp(0), inp(1), inp(2)  # W: dirs × g·hidden × input; R: … × hidden
        seq, batch = (x[1], x[0]) if attr(node, "layout", 0) else (x[0], x[1])
        directions, hidden, inputs = w[0], r[2], x[2]
        return seq * batch * directions * g * hidden * (inputs + hidden), 0
    if op in ONNX_MOVES:
        return 0, 0
    if op.startswith("Reduce") or op in ONNX_REDUCTIONS:
        return 0, prod(inp(0))
    if op in ONNX_POOLS:
        return 0, prod(out(0)) * prod(attr(node, "kernel_shape"))
    return 0, prod(out(0))


def count_onnx(model: onnx.ModelProto, path: str, label: str) -> dict:
    g = model.graph
    parameters = parameter_bytes = 0
    for t in g.initializer:
        n, b = tensor_elements_bytes(t)
        parameters, parameter_bytes = parameters + n, parameter_bytes + b
    for t in g.sparse_initializer:  # counted as the dense tensor it stands for
        n = prod(t.dims)
        parameters += n
        parameter_bytes += (n * ONNX_BITS[t.values.data_type] + 7) // 8
    for node in g.node:  # top level only: bodies of If/Loop/Scan are not counted
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            n, b = constant_elements_bytes(node)
            parameters, parameter_bytes = parameters + n, parameter_bytes + b

    shapes = onnx_shapes(model, label)
    macs = other = 0
    uncounted = []
    for i, node in enumerate(g.node):
        try:
            m, o = onnx_node_counts(node, lambda name: shapes[name])
        except (KeyError, IndexError):
            uncounted.append(node.name or node.output[0] or f"#{i}")
            continue
        macs, other = macs + m, other + o
    result = {
        "parameters": parameters,
        "parameter_bytes": parameter_bytes,
        "macs": macs,
        "other_ops": other,
        "nodes": len(g.node),
        "storage_bytes": os.path.getsize(path),
        "initializers": len(g.initializer),
    }
    if uncounted:
        print(f"{label}: shapes unknown, counted 0: {uncounted}", file=sys.stderr)
        result["uncounted"] = uncounted
    return result


# --- TFLite -----------------------------------------------------------------------

TFL_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
TFL_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
TFL_BITS = {
    "FLOAT16": 16, "FLOAT32": 32, "FLOAT64": 64, "INT16": 16, "UINT16": 16, "INT32": 32,
    "UINT32": 32, "INT64": 64, "UINT64": 64, "INT8": 8, "UINT8": 8, "BOOL": 8, "INT4": 4,
    "COMPLEX64": 64, "COMPLEX128": 128, "BFLOAT16": 16,
}


def tfl_shape(t: tflite.Tensor) -> tuple:
    # A dynamic dimension (-1, only in shape_signature in practice) counts as 1.
    return tuple(int(d) if d >= 0 else 1 for d in (t.ShapeAsNumpy() if t.ShapeLength() else []))


def tfl_options(op: tflite.Operator, cls):
    table = op.BuiltinOptions()
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def tfl_op_counts(name: str, op: tflite.Operator, shape) -> tuple[int, int]:
    """(MACs, other ops) of one TFLite operator; `shape(i)` gives tensor i's shape."""
    ins, outs = op.InputsAsNumpy(), op.OutputsAsNumpy()
    inp = lambda i: shape(int(ins[i]))  # noqa: E731
    out = lambda i: shape(int(outs[i]))  # noqa: E731
    if name == "CONV_2D":  # W = M × kh × kw × C/groups
        return prod(out(0)) * prod(inp(1)[1:]), 0
    if name == "CONV_3D":  # W = kd × kh × kw × C × M
        return prod(out(0)) * prod(inp(1)[:4]), 0
    if name == "DEPTHWISE_CONV_2D":  # W = 1 × kh × kw × C·multiplier
        w = inp(1)
        return prod(out(0)) * w[1] * w[2], 0
    if name == "FULLY_CONNECTED":  # W = units × K
        return prod(out(0)) * inp(1)[-1], 0
    if name == "BATCH_MATMUL":  # K: the contracted dimension of A (adj_x transposes it)
        a = inp(0)
        adj_x = tfl_options(op, tflite.BatchMatMulOptions).AdjX()
        return prod(out(0)) * (a[-2] if adj_x else a[-1]), 0
    if name == "TRANSPOSE_CONV":  # inputs: output_shape, W = M × kh × kw × C, X
        return prod(inp(2)) * prod(inp(1)[:3]), 0
    if name in TFL_MOVES:
        return 0, 0
    if name in TFL_REDUCTIONS:
        return 0, prod(inp(0))
    if name in TFL_POOLS:
        o = tfl_options(op, tflite.Pool2DOptions)
        return 0, prod(out(0)) * o.FilterHeight() * o.FilterWidth()
    return 0, prod(out(0))


def count_tflite(path: str) -> dict:
    buf = open(path, "rb").read()
    model = tflite.Model.GetRootAsModel(buf, 0)

    def has_data(b: tflite.Buffer) -> bool:
        # Inline data, or (files over 2 GB) an offset/size outside the flatbuffer.
        return b.DataLength() > 0 or (b.Offset() > 1 and b.Size() > 0)

    # Parameters: every tensor with data, in every subgraph.
    parameters = parameter_bytes = 0
    for s in range(model.SubgraphsLength()):
        g = model.Subgraphs(s)
        for i in range(g.TensorsLength()):
            t = g.Tensors(i)
            b = model.Buffers(t.Buffer())
            if t.Buffer() == 0 or not has_data(b):
                continue
            n = prod(tfl_shape(t))
            bits = TFL_BITS.get(TFL_TYPE_NAMES.get(t.Type(), ""), None)
            parameters += n
            parameter_bytes += (n * bits + 7) // 8 if bits else (b.DataLength() or b.Size())

    # MACs and other ops: the main subgraph (others are control-flow bodies).
    g = model.Subgraphs(0)
    macs = other = 0
    uncounted = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = TFL_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        try:
            m, o = tfl_op_counts(name, op, lambda t: tfl_shape(g.Tensors(t)))
        except (IndexError, ValueError):
            uncounted.append(f"{name}#{i}")
            continue
        macs, other = macs + m, other + o
    result = {
        "parameters": parameters,
        "parameter_bytes": parameter_bytes,
        "macs": macs,
        "other_ops": other,
        "nodes": g.OperatorsLength(),
        "storage_bytes": os.path.getsize(path),
    }
    if uncounted:
        result["uncounted"] = uncounted
    return result


# --- Node tests -------------------------------------------------------------------


def node_tests(out_dir: str, result: dict, skipped: dict) -> None:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # the cases' reference code warns on inf/nan
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    folder = os.path.join(out_dir, "node-tests")
    os.makedirs(folder, exist_ok=True)
    written = set()
    for case in sorted(cases, key=lambda c: c.name):
        ops = {n.op_type for n in case.model.graph.node}
        if not (ops & MAC_OPS or case.name in EXTRA_CASES):
            continue
        key = f"node-tests/{case.name}.onnx"
        if ops & CONTROL_FLOW:
            skipped[key] = f"holds {', '.join(sorted(ops & CONTROL_FLOW))}"
            continue
        path = os.path.join(folder, case.name + ".onnx")
        write_atomically(path, case.model.SerializeToString())
        try:
            result[key] = count_onnx(case.model, path, key)
        except Undetermined as e:
            os.remove(path)
            skipped[key] = str(e)
            continue
        written.add(case.name + ".onnx")
    missing = set(EXTRA_CASES) - {c.name for c in cases}
    if missing:
        print(f"node tests not in this onnx version: {sorted(missing)}", file=sys.stderr)
    for stale in set(os.listdir(folder)) - written:  # from an earlier run
        if stale.endswith(".onnx"):
            os.remove(os.path.join(folder, stale))


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    models, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    result: dict = {}
    skipped: dict = {}
    node_tests(out_dir, result, skipped)
    for name in sorted(os.listdir(models)):
        path = os.path.join(models, name)
        if name.endswith(".onnx"):
            result[name] = count_onnx(onnx.load(path), path, name)
        elif name.endswith(".tflite"):
            result[name] = count_tflite(path)
    result["skipped"] = skipped
    out = os.path.join(out_dir, "static.json")
    write_atomically(out, (json.dumps(result, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
