"""Reference outputs of each engine's own Python package, for the engine tests.

For every (engine, model) pair this feeds one fixed input (seeded uniform
noise in [-1, 1]) to the engine's Python API — onnxruntime, ai_edge_litert,
ncnn — and writes the input and every output as raw little-endian f32 files,
plus manifest.json naming files, tensor names and shapes. The Rust tests feed
the same input through lpdnn-host's engines and compare.

usage: reference_outputs.py MODELS_DIR OUT_DIR
"""

import json
import os
import sys

import numpy as np


def save(out_dir, name, array):
    path = os.path.join(out_dir, name)
    np.ascontiguousarray(array, dtype="<f4").tofile(path + ".tmp")
    os.replace(path + ".tmp", path)
    return {"file": name, "shape": list(array.shape)}


def onnxruntime_ref(model, x):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    outs = s.run(None, {s.get_inputs()[0].name: x})
    return [(o.name, v) for o, v in zip(s.get_outputs(), outs)]


def litert_ref(model, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=model, num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [(d["name"], it.get_tensor(d["index"])) for d in it.get_output_details()]


def ncnn_ref(param, x):
    import ncnn

    meta = json.load(open(param[: -len(".param")] + ".json"))
    net = ncnn.Net()
    net.opt.num_threads = 1
    # fp32 storage and arithmetic: what lpdnn-host's ncnn engine defaults to.
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_fp16_packed = False
    net.load_param(param)
    net.load_model(param[: -len(".param")] + ".bin")
    ex = net.create_extractor()
    ex.input(meta["inputs"][0]["blob"], ncnn.Mat(x[0]).clone())
    result = []
    for o in meta["outputs"]:
        ret, mat = ex.extract(o["blob"])
        assert ret == 0, o
        result.append((o["name"], np.array(mat).reshape(o["shape"])))
    return result


def main():
    models, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    cases = [
        ("onnxruntime", "face_detection_short_range.onnx", (1, 3, 128, 128), onnxruntime_ref),
        ("litert", "face_detection_short_range.tflite", (1, 128, 128, 3), litert_ref),
        ("ncnn", "face_detection_short_range.ncnn.param", (1, 3, 128, 128), ncnn_ref),
        ("onnxruntime", "efficientnet_lite0.onnx", (1, 3, 224, 224), onnxruntime_ref),
        ("ncnn", "efficientnet_lite0.ncnn.param", (1, 3, 224, 224), ncnn_ref),
    ]
    manifest = []
    for i, (engine, model, shape, ref) in enumerate(cases):
        x = np.random.default_rng(i).uniform(-1, 1, shape).astype(np.float32)
        outputs = ref(os.path.join(models, model), x)
        entry = {
            "engine": engine,
            "model": model,
            "input": save(out_dir, f"{i}-input.f32", x),
            "outputs": [],
        }
        for name, value in outputs:
            o = save(out_dir, f"{i}-{name}.f32", np.asarray(value, dtype=np.float32))
            o["name"] = name
            entry["outputs"].append(o)
        manifest.append(entry)
    path = os.path.join(out_dir, "manifest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
