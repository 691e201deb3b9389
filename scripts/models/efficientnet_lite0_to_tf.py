"""Write EfficientNet-Lite0 as a TensorFlow frozen graph (a GraphDef .pb),
from the same PyTorch state dict as efficientnet_lite0_to_onnx.py.

TensorFlow itself is not needed: the graph is written with TensorFlow's own
protobuf definitions (GraphDef, NodeDef, AttrValue, TensorProto), which the
`tensorboard` wheel carries as `tensorboard/compat/proto/*_pb2.py`; put that
folder's root on PYTHONPATH. The ops are what TensorFlow's Keras layers
freeze to: Placeholder, Const, Conv2D and DepthwiseConv2dNative (NHWC,
padding "SAME", the weights of the folded BatchNorm), BiasAdd, Relu6, AddV2,
Mean over H and W, MatMul, BiasAdd. Input: NHWC [1, 224, 224, 3] named
`input`, (x - 127.5) / 128; output: logits [1, 1000] named `logits`.

usage: efficientnet_lite0_to_tf.py IN.pth OUT.pb
"""
import os
import sys

import numpy as np
from tensorboard.compat.proto import graph_pb2, types_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientnet_lite0_to_onnx import STAGES, folded, load_state_dict  # noqa: E402

FLOAT = types_pb2.DT_FLOAT
INT32 = types_pb2.DT_INT32


class Graph:
    def __init__(self, sd):
        self.sd, self.graph = sd, graph_pb2.GraphDef()
        self.graph.versions.producer = 1882  # the GraphDef version of TensorFlow 2.21

    def node(self, op, name, inputs=(), **attrs):
        node = self.graph.node.add()
        node.op, node.name = op, name
        node.input.extend(inputs)
        for key, value in attrs.items():
            attr = node.attr[key]
            if isinstance(value, bool):
                attr.b = value
            elif isinstance(value, str):
                attr.s = value.encode()
            elif isinstance(value, list):
                attr.list.i.extend(value)
            elif isinstance(value, np.ndarray):
                t = attr.tensor
                t.dtype = FLOAT if value.dtype == np.float32 else INT32
                for d in value.shape:
                    t.tensor_shape.dim.add().size = d
                t.tensor_content = np.ascontiguousarray(value).tobytes()
            elif key in ("T", "dtype", "Tidx"):
                attr.type = value
            else:
                raise TypeError(f"{key}: {value!r}")
        return name

    @staticmethod
    def scope(key):
        """TensorFlow's node names for a state-dict key: `_blocks.3._expand_conv` is
        `blocks.3/expand_conv` (a name cannot start with `_`)."""
        return key.lstrip("_").replace("._", "/")

    def const(self, name, array):
        array = np.ascontiguousarray(array)
        dtype = FLOAT if array.dtype == np.float32 else INT32
        return self.node("Const", name, value=array, dtype=dtype)

    def conv_bn(self, x, conv, bn, stride=1, depthwise=False, relu6=True):
        w, b = folded(self.sd, conv, bn)
        if depthwise:  # [C, 1, kh, kw] -> [kh, kw, C, 1]
            op, filt = "DepthwiseConv2dNative", w.transpose(2, 3, 0, 1)
        else:  # [O, I, kh, kw] -> [kh, kw, I, O]
            op, filt = "Conv2D", w.transpose(2, 3, 1, 0)
        scope = self.scope(conv)
        y = self.node(op, f"{scope}/{op}", [x, self.const(f"{scope}/weights", filt)], T=FLOAT,
                      strides=[1, stride, stride, 1], padding="SAME", data_format="NHWC",
                      dilations=[1, 1, 1, 1])
        y = self.node("BiasAdd", f"{scope}/BiasAdd", [y, self.const(f"{scope}/bias", b)],
                      T=FLOAT, data_format="NHWC")
        if relu6:
            y = self.node("Relu6", f"{scope}/Relu6", [y], T=FLOAT)
        return y


def build(sd):
    g = Graph(sd)
    x = g.node("Placeholder", "input", dtype=FLOAT)
    shape = g.graph.node[0].attr["shape"].shape
    for d in (1, 224, 224, 3):
        shape.dim.add().size = d
    x = g.conv_bn(x, "_conv_stem", "_bn0", stride=2)
    channels, block = 32, 0
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            p = f"_blocks.{block}"
            h = x
            if expand != 1:
                h = g.conv_bn(h, p + "._expand_conv", p + "._bn0")
            assert sd[p + "._depthwise_conv.weight"].shape == (channels * expand, 1, kernel, kernel), p
            h = g.conv_bn(h, p + "._depthwise_conv", p + "._bn1", stride=s, depthwise=True)
            h = g.conv_bn(h, p + "._project_conv", p + "._bn2", relu6=False)
            if s == 1 and channels == out:
                h = g.node("AddV2", f"{g.scope(p)}/add", [h, x], T=FLOAT)
            x, channels, block = h, out, block + 1
    x = g.conv_bn(x, "_conv_head", "_bn1")
    axes = g.const("pool/axes", np.array([1, 2], np.int32))
    x = g.node("Mean", "pool", [x, axes], T=FLOAT, Tidx=INT32, keep_dims=False)
    fc = sd["_fc.weight"].T.astype(np.float32)  # [1000, 1280] -> [1280, 1000]
    x = g.node("MatMul", "fc", [x, g.const("fc/weights", fc)], T=FLOAT,
               transpose_a=False, transpose_b=False)
    g.node("BiasAdd", "logits", [x, g.const("fc/bias", sd["_fc.bias"].astype(np.float32))],
           T=FLOAT, data_format="NHWC")
    return g.graph, block


def main(src, dst):
    sd = load_state_dict(src)
    graph, blocks = build(sd)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        # Map fields (a node's attributes) in key order: the same bytes every run.
        f.write(graph.SerializeToString(deterministic=True))
    os.replace(tmp, dst)
    print(f"{dst}: {len(graph.node)} nodes, {blocks} MBConv blocks")


if __name__ == "__main__":
    main(*sys.argv[1:3])
