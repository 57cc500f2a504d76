"""Build-time helper: store an ONNX model's large float32 weights as float16, computing in float32.

onnxruntime's CPU kernels for float16 are few and slow, so a fully converted fp16 graph is no use on a CPU.
Storing only the *weights* as float16, each followed by a ``Cast`` back to float32, halves the file while the
arithmetic stays float32: onnxruntime folds the casts into float32 constants when the session is built, so
inference speed is unchanged. The only loss is the rounding of each weight to float16 (about 3 significant
digits), which the build scripts measure on real inputs before shipping a converted file.

    python tools/models/fp16_weights.py IN.onnx OUT.onnx [--min-elements 1024]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Small tensors (biases, shape constants, scalars) gain nothing from halving and some are used as shapes or
# indices by ops that insist on float32 inputs being initializers: leave them as they are.
MIN_ELEMENTS = 1024


def store_weights_fp16(model, min_elements: int = MIN_ELEMENTS):
    """Rewrite ``model`` (an ``onnx.ModelProto``) in place so large float32 initializers are float16 + Cast.

    Returns:
        The number of initializers converted.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    graph_inputs = {i.name for i in graph.input}
    converted = 0
    new_inits = []
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name in graph_inputs:
            new_inits.append(init)
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements or not np.all(np.isfinite(arr)) or np.abs(arr).max() > 65000:
            new_inits.append(init)
            continue
        half_name = init.name + "__fp16"
        new_inits.append(numpy_helper.from_array(arr.astype(np.float16), half_name))
        casts.append(helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "__cast"))
        converted += 1
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    # Casts first: every consumer of a weight now reads the Cast's output, which must precede it.
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    return converted


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--min-elements", type=int, default=MIN_ELEMENTS)
    a = p.parse_args(argv)
    if not a.src.is_file():
        p.error(f"no such model file: {a.src}")
    import onnx

    model = onnx.load(str(a.src))
    n = store_weights_fp16(model, a.min_elements)
    onnx.save(model, str(a.dst))
    print(f"{n} initializers stored as float16: {a.src.stat().st_size:,} -> {a.dst.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
