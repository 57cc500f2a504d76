"""tools/models/oidv4_ssd.py: MediaPipe's SSD anchors, the box decoding appended to the graph, the label map."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from tool_loader import load_tool

from onlook import models
from onlook.vocabulary import Label


def _tool():
    return load_tool("oidv4_ssd")


def test_anchors_are_mediapipe_s_1917_in_layer_order():
    a = _tool().ssd_anchors()
    assert a.shape == (1917, 4)
    # Lowest layer: 19x19 cells, 3 anchors each (0.1 square, then scale 0.2 at ratios 2 and 0.5).
    assert np.allclose(a[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1])
    assert np.allclose(a[1, 2:], [0.2 / np.sqrt(2), 0.2 * np.sqrt(2)], atol=1e-6)
    assert np.allclose(a[2, 2:], [0.2 * np.sqrt(2), 0.2 / np.sqrt(2)], atol=1e-6)
    # The last layer is one cell in the middle with six anchors; the sixth is the interpolated scale
    # between 0.95 and 1.0.
    last = a[-6:]
    assert np.allclose(last[:, :2], 0.5)
    assert np.allclose(last[-1, 2:], np.sqrt(0.95 * 1.0), atol=1e-6)
    assert 19 * 19 * 3 + (10 * 10 + 5 * 5 + 3 * 3 + 2 * 2 + 1) * 6 == 1917


def test_zero_encodings_decode_to_the_anchors_and_the_onnx_nodes_match_numpy():
    tool = _tool()
    anchors = tool.ssd_anchors()
    rng = np.random.default_rng(1)
    raw_b = rng.normal(scale=2.0, size=(1, 1917, 4)).astype(np.float32)
    raw_s = rng.normal(size=(1, 1917, 24)).astype(np.float32)
    boxes, scores = tool.decode(np.zeros_like(raw_b), raw_s, anchors)
    yc, xc, h, w = anchors.T
    assert np.allclose(boxes, np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], 1), atol=1e-6)
    assert scores.shape == (1917, 23)  # the background column is dropped
    # The decoding as ONNX nodes, on a graph whose only "model" is an identity of the raw outputs.
    g = helper.make_graph(
        [helper.make_node("Identity", ["rb"], ["raw_boxes"]), helper.make_node("Identity", ["rs"], ["raw_scores"])],
        "t", [helper.make_tensor_value_info("rb", TensorProto.FLOAT, [1, 1917, 4]),
              helper.make_tensor_value_info("rs", TensorProto.FLOAT, [1, 1917, 24])],
        [helper.make_tensor_value_info("raw_boxes", TensorProto.FLOAT, [1, 1917, 4]),
         helper.make_tensor_value_info("raw_scores", TensorProto.FLOAT, [1, 1917, 24])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    tool.add_decoding(model, anchors, "raw_boxes", "raw_scores", 23)
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got_b, got_s = sess.run(["boxes", "scores"], {"rb": raw_b, "rs": raw_s})
    ref_b, ref_s = tool.decode(raw_b, raw_s, anchors)
    assert np.abs(got_b[0] - ref_b).max() < 1e-5 and np.abs(got_s[0] - ref_s).max() < 1e-6


def test_the_label_map_names_onlook_labels_or_nothing():
    tool = _tool()
    for source, label in tool.LABEL_MAP.items():
        assert label is None or Label(label), source
    assert tool.LABEL_MAP["Box"] == "box" and tool.LABEL_MAP["Mug"] == "cup" and tool.LABEL_MAP["Camera"] is None
    # The shipped manifest was written from this map.
    m = models.manifest("oidv4_ssd")
    assert m["labels"] == [tool.LABEL_MAP[x] for x in m["source_labels"]]
    assert tool.vocabulary() >= {v for v in tool.LABEL_MAP.values() if v}
