"""Fidelity of `lpdnn-host benchmark`: its steady-state `inference` mean
against each engine's own timing loop in Python, on the same model, input
shape and thread count.

For each engine (onnxruntime, litert, ncnn) this runs
`lpdnn-host benchmark APP --engine E --threads T --duration D`, then times
the engine's Python package (onnxruntime, ai_edge_litert, ncnn) in a plain
`time.perf_counter()` loop over the same number of seconds, after the same
warm-up. The two alternate `--rounds` times so drift hits both. Goal: the
ratio within 1 ± 0.03.

usage: fidelity.py [--app APP] [--threads T] [--duration S] [--rounds R]
       (run from the repository root, after scripts/setup.sh)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("LPDNN_CACHE", os.path.expanduser("~/.cache/lpdnn"))


def host_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target"))
    return os.path.join(target, "release", "lpdnn-host")


def lpdnn_mean(app, engine, threads, duration, dataset, mode):
    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "r.json")
        subprocess.run(
            [host_binary(), "benchmark", app, "--dataset", dataset, "--engine", engine,
             "--threads", str(threads), "--duration", str(duration), "--warmup-time", "1",
             "--filename", path] + (["--inference-only"] if mode == "inference-only" else []),
            check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        run = json.load(open(path))["runs"][0]
        return run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"], run["model"]


def time_loop(call, duration):
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:  # warm-up, as the benchmark's 1 s
        call()
    times = []
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.fmean(times) * 1e3


def onnxruntime_loop(model, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    x = np.random.default_rng(0).uniform(-1, 1, i.shape).astype(np.float32)
    # Input bound once, outputs allocated by ONNX Runtime: the engine's own
    # cost without the Python conversions of `InferenceSession.run`.
    io = s.io_binding()
    io.bind_cpu_input(i.name, x)
    for o in s.get_outputs():
        io.bind_output(o.name)
    return lambda: s.run_with_iobinding(io)


def litert_loop(model, threads):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=model, num_threads=threads)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(0).uniform(-1, 1, d["shape"]).astype(np.float32)
    outs = it.get_output_details()

    def call():
        it.set_tensor(d["index"], x)
        it.invoke()
        return [it.get_tensor(o["index"]) for o in outs]

    return call


def ncnn_loop(param, threads):
    import ncnn

    meta = json.load(open(param[: -len(".param")] + ".json"))
    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_fp16_packed = False
    net.load_param(param)
    net.load_model(param[: -len(".param")] + ".bin")
    shape = meta["inputs"][0]["shape"]
    x = np.random.default_rng(0).uniform(-1, 1, shape[1:]).astype(np.float32)

    def call():
        ex = net.create_extractor()
        ex.input(meta["inputs"][0]["blob"], ncnn.Mat(x))
        return [np.array(ex.extract(o["blob"])[1]) for o in meta["outputs"]]

    return call


LOOPS = {"onnxruntime": onnxruntime_loop, "litert": litert_loop, "ncnn": ncnn_loop}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="examples/face-detection/app.json")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engines", default="onnxruntime,litert,ncnn")
    ap.add_argument("--mode", choices=["inference-only", "pipeline"], default="inference-only",
                    help="inference-only: lpdnn-host times the engine alone, as the Python loop does; "
                         "pipeline: inference inside the whole app (pre-processing between calls)")
    args = ap.parse_args()
    dataset = os.path.join(ROOT, "assets", "images")
    print(f"mode: {args.mode}, threads {args.threads}, {args.duration} s x {args.rounds} rounds")
    print(f"{'engine':<12} {'lpdnn-host ms':>14} {'python ms':>10} {'ratio':>7}  rounds (ours/python ms)")
    worst = 0.0
    for engine in args.engines.split(","):
        ours, theirs = [], []
        for _ in range(args.rounds):
            mean, model = lpdnn_mean(args.app, engine, args.threads, args.duration, dataset, args.mode)
            ours.append(mean)
            theirs.append(time_loop(LOOPS[engine](os.path.join(ROOT, model), args.threads), args.duration))
        a, b = statistics.fmean(ours), statistics.fmean(theirs)
        # The median of the per-round ratios resists a round disturbed by
        # the rest of the machine.
        ratio = statistics.median(x / y for x, y in zip(ours, theirs))
        worst = max(worst, abs(ratio - 1))
        rounds = ", ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(ours, theirs))
        print(f"{engine:<12} {a:>14.4f} {b:>10.4f} {ratio:>7.3f}  {rounds}", flush=True)
    print(f"largest deviation (median of per-round ratios): {worst * 100:.1f} % (goal: within 3 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
