"""Static reference of each ONNX model, from the `onnx` Python package: the
number of parameters (elements of the graph's initializers) and the file
size, for the `inspect` tests.

usage: static_reference.py MODELS_DIR OUT_FILE
"""

import json
import os
import sys

import numpy as np
import onnx


def main():
    models, out = sys.argv[1], sys.argv[2]
    result = {}
    for name in sorted(os.listdir(models)):
        if not name.endswith(".onnx"):
            continue
        path = os.path.join(models, name)
        graph = onnx.load(path).graph
        result[name] = {
            "parameters": int(sum(int(np.prod(i.dims)) for i in graph.initializer)),
            "initializers": len(graph.initializer),
            "nodes": len(graph.node),
            "storage_bytes": os.path.getsize(path),
        }
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
