"""Cost of the resource monitors: `lpdnn-host benchmark` with monitors on
(sampling every --interval ms) against `--no-monitors`, alternating runs so
drift hits both. Reports the steady-state `inference` mean of each and
their ratio. Goal: within 1 %.

usage: monitor_overhead.py [--app APP] [--engine E] [--duration S] [--rounds R] [--interval MS]
       (run from the repository root, after scripts/setup.sh)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from fidelity import ROOT, host_binary


def mean(app, engine, duration, monitors, interval, dataset):
    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "r.json")
        cmd = [host_binary(), "benchmark", app, "--dataset", dataset, "--engine", engine,
               "--threads", "1", "--duration", str(duration), "--warmup-time", "1",
               "--filename", path]
        cmd += ["--monitor-interval", str(interval)] if monitors else ["--no-monitors"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        run = json.load(open(path))["runs"][0]
        return run["phases"]["steady"]["anchors"]["inference"]["real_ms"]["mean"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="examples/face-detection/app.json")
    ap.add_argument("--engine", default="onnxruntime")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--interval", type=int, default=100)
    args = ap.parse_args()
    dataset = os.path.join(ROOT, "assets", "images")
    on, off = [], []
    for _ in range(args.rounds):
        off.append(mean(args.app, args.engine, args.duration, False, args.interval, dataset))
        on.append(mean(args.app, args.engine, args.duration, True, args.interval, dataset))
    a, b = statistics.fmean(on), statistics.fmean(off)
    print(f"engine {args.engine}, monitors every {args.interval} ms, {args.rounds} x {args.duration} s each")
    print("rounds (on/off ms): " + ", ".join(f"{x:.4f}/{y:.4f}" for x, y in zip(on, off)))
    ratio = statistics.median(x / y for x, y in zip(on, off))
    print(f"inference mean: monitors on {a:.4f} ms, off {b:.4f} ms; median per-round ratio {ratio:.4f} (goal within 1 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
