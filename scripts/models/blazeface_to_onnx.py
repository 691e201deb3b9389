"""Convert MediaPipe's BlazeFace short-range TFLite model to ONNX.

The model stores its weights as fp16 constants behind DEQUANTIZE ops, which
tract's TFLite front-end refuses. We rewrite the flatbuffer with the weights
turned into fp32 and the DEQUANTIZE ops removed (LiteRT gives bit-identical
outputs for both files, checked below), then convert it with tflite2onnx
(the input becomes NCHW [1, 3, 128, 128]). Finally ONNX Runtime must agree
with LiteRT on the original model within 1e-4.

usage: blazeface_to_onnx.py IN.tflite OUT_FP32.tflite OUT.onnx
"""
import sys

import numpy as np
from ai_edge_litert import schema_py_generated as schema


def dequantize_weights(src: str, dst: str) -> None:
    buf = open(src, "rb").read()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    graph = model.subgraphs[0]
    kept = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin != schema.BuiltinOperator.DEQUANTIZE:
            kept.append(op)
            continue
        src_t, dst_t = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        assert src_t.type == schema.TensorType.FLOAT16, "only fp16 weights are expected"
        data = np.frombuffer(bytes(model.buffers[src_t.buffer].data), dtype=np.float16)
        new = schema.BufferT()
        new.data = np.frombuffer(data.astype(np.float32).tobytes(), dtype=np.uint8)
        model.buffers.append(new)
        dst_t.buffer = len(model.buffers) - 1
        # The fp16 original is read by nothing now: drop its data, so the
        # file holds each weight once.
        model.buffers[src_t.buffer].data = None
    removed = len(graph.operators) - len(kept)
    graph.operators = kept
    builder = __import__("flatbuffers").Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    open(dst, "wb").write(builder.Output())
    print(f"{dst}: removed {removed} DEQUANTIZE ops")


def litert_run(path: str, x: np.ndarray) -> list:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def main(src: str, fp32: str, out: str) -> None:
    dequantize_weights(src, fp32)
    import tflite2onnx

    tflite2onnx.convert(fp32, out)
    import onnxruntime as ort

    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    ref = litert_run(src, x)
    for a, b in zip(ref, litert_run(fp32, x)):
        assert np.array_equal(a, b), "fp32 rewrite changed LiteRT's output"
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = sess.run(None, {sess.get_inputs()[0].name: x.transpose(0, 3, 1, 2)})
    for name, r, g in zip(names, ref, got):
        np.testing.assert_allclose(g, r, atol=1e-4, rtol=1e-5, err_msg=name)
    print(f"{out}: outputs {names} match LiteRT within 1e-4")


if __name__ == "__main__":
    main(*sys.argv[1:4])
