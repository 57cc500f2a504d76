"""Generated media for tests: small clips made with PyAV, free loopback ports, bounded waits (``media``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10, codec: str = "mpeg4") -> Path:
    """Encode BGR frames into a video file with PyAV."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for img in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def scene_frames(seconds: float = 6.0, fps: int = 10, w: int = 320, h: int = 240, *, walker_from: float = 2.0,
                 cut_at: float | None = None, seed: int = 0) -> list[np.ndarray]:
    """A static textured scene; a dark person-shaped blob walks in from the right at ``walker_from`` s.

    With ``cut_at``, the background switches to a different scene (a hard cut) at that time.
    """
    rng = np.random.default_rng(seed)
    bg1 = np.full((h, w, 3), (90, 140, 110), np.uint8)
    bg1[: h // 3] = (200, 180, 160)
    bg1 = np.clip(bg1.astype(int) + rng.integers(-12, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    bg2 = np.clip(np.full((h, w, 3), (40, 60, 200), int) + rng.integers(-12, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    out = []
    pw, ph = w // 14, h // 3
    for i in range(int(seconds * fps)):
        t = i / fps
        img = (bg2 if cut_at is not None and t >= cut_at else bg1).copy()
        if t >= walker_from and (cut_at is None or t < cut_at):
            x = int(w - (t - walker_from) * w / 5)  # crosses the frame in 5 s
            y = h // 2
            x0, x1 = max(0, x), min(w, x + pw)
            if x1 > x0:
                img[y: y + ph, x0:x1] = (30, 30, 160)  # red-ish torso in BGR... dark red
                img[y - pw: y, x0:x1] = (60, 80, 120)  # head
        out.append(img)
    return out


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 15.0) -> None:
    """Wait until something listens on loopback TCP ``port``, without connecting to it.

    ``ffmpeg ... tcp://...?listen=1`` serves exactly one client, so a probing connect would
    take its only connection; Linux's socket table shows the listening state instead. Where
    that table is missing, a fixed pause stands in.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        time.sleep(1.0)
        return
    want = f":{port:04X}"

    def listening() -> bool:
        for table in tables:
            if not table.exists():
                continue
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[1].endswith(want) and fields[3] == "0A":  # 0A = LISTEN
                    return True
        return False

    wait_for(listening, timeout, f"a listener on port {port}", interval=0.05)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def start_local_ray(**kwargs: Any) -> None:
    """``ray.init(address="local", ...)``, tried twice: on a busy 2-core machine a fresh local Ray
    sometimes misses its own 30 s start-up deadline ('Failed to get node info'), once."""
    import ray

    try:
        ray.init(address="local", include_dashboard=False, log_to_driver=False, **kwargs)
    except Exception:  # noqa: BLE001 - Ray raises a bare Exception for a node that did not come up
        ray.shutdown()
        ray.init(address="local", include_dashboard=False, log_to_driver=False, **kwargs)
