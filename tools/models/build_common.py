"""Build-time helpers shared by the model conversion scripts in this folder (not part of the onlook package)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ort_session(model: str | Path, threads: int = 2):
    """An onnxruntime CPU session with ``threads`` intra-op threads (one inter-op)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def read_bgr(path: Path, frame: int) -> np.ndarray:
    """Frame ``frame`` of a video as OpenCV reads it (BGR uint8); exits with one line if it cannot."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {frame} of {path}")
    return bgr
