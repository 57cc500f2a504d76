"""tools/models/fp16_weights.py: large weights stored as float16, arithmetic still float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tool_loader import load_tool


def _tool():
    return load_tool("fp16_weights")


def _model(rng: np.random.Generator) -> onnx.ModelProto:
    w = numpy_helper.from_array(rng.normal(size=(64, 32)).astype(np.float32), "w")   # 2048 elements: converted
    b = numpy_helper.from_array(rng.normal(size=(32,)).astype(np.float32), "b")      # 32: kept float32
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_weights_halved_outputs_float32_and_close() -> None:
    rng = np.random.default_rng(0)
    model = _model(rng)
    x = rng.normal(size=(1, 64)).astype(np.float32)
    before = _run(model, x)
    converted = _tool().store_weights_fp16(model)
    assert converted == 1  # only the 2048-element weight; the 32-element bias stays as it was
    kinds = {i.name: i.data_type for i in model.graph.initializer}
    assert kinds == {"w__fp16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    after = _run(model, x)
    assert after.dtype == np.float32
    # float16 keeps ~3 significant digits per weight; 64-term dot products of N(0,1) values stay within 0.05
    assert np.abs(after - before).max() < 0.05
    assert not np.array_equal(after, before)  # the weights really were rounded


def test_cli_refuses_a_missing_file(tmp_path: Path, capsys) -> None:
    import pytest

    with pytest.raises(SystemExit) as e:
        _tool().main([str(tmp_path / "nope.onnx"), str(tmp_path / "out.onnx")])
    assert e.value.code == 2
    assert "no such model file" in capsys.readouterr().err
