"""Media generators and loopback servers shared by the source tests.

Kept out of ``conftest.py`` under a name of its own so that test modules can
import it without clashing with other test folders' ``conftest`` modules.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

W, H = 64, 48


def square_is_at(img: np.ndarray, i: int) -> bool:
    """Whether the red square of frame ``i`` is where :func:`moving_square` drew it."""
    x, y = (i * 2) % (img.shape[1] - 8), img.shape[0] // 3
    inner = img[y + 2:y + 6, x + 2:x + 6].astype(int)
    return bool(inner[..., 2].mean() > 150 and inner[..., 0].mean() < 110)


_TEXTURE = np.random.default_rng(7).integers(20, 90, (H, W, 3), dtype=np.uint8)


def moving_square(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A BGR frame: a red square moving two pixels per frame over a fixed texture.

    The texture makes keyframes big, so that cutting a file in half cuts
    through the stream rather than only through its header.
    """
    img = _TEXTURE[:h, :w].copy()
    x = (i * 2) % (w - 8)
    img[h // 3:h // 3 + 8, x:x + 8] = (0, 0, 255)
    return img


def write_clip(path: Path, *, seconds: float = 2.0, fps: int = 25, codec: str = "libx264",
               format: str | None = None, options: dict[str, str] | None = None) -> Path:
    """Encode a moving-square clip with PyAV."""
    with av.open(str(path), "w", format=format, options=options or {}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if codec == "libx264":
            # A keyframe every second, so a stream joined or cut mid-way recovers.
            stream.options = {"g": str(fps), "preset": "ultrafast"}
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(moving_square(i), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path










def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])




class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()




class ReplayServer:
    """Serves the bytes of a file to each TCP client, then hangs up or stalls.

    A stand-in for a live MPEG-TS sender that needs no ffmpeg: each
    connection replays the file from the start, so a reconnecting reader sees
    the stream's clock restart and must keep its own pts monotonic.
    """

    def __init__(self, data: bytes, *, stall: bool = False, max_conns: int = 100, port: int = 0,
                 silent_after: int | None = None) -> None:
        self.data = data
        self.stall = stall
        self.max_conns = max_conns
        self.silent_after = silent_after  # connections after this many get nothing at all (a hung sender)
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections > self.max_conns:
                # Stop accepting altogether: later connects are refused.
                conn.close()
                self.sock.close()
                return
            if self.silent_after is not None and self.connections > self.silent_after:
                self._open.append(conn)
                continue
            try:
                conn.sendall(self.data)
            except OSError:
                conn.close()
                continue
            if self.stall:
                self._open.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        # shutdown() first: on Linux a plain close() leaves a thread blocked in accept() listening.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for c in self._open:
            c.close()




FFMPEG = shutil.which("ffmpeg")


class FfmpegServer:
    """``ffmpeg -re`` streaming a clip as MPEG-TS, listening on a TCP port."""

    def __init__(self, clip: Path, port: int) -> None:
        self.clip, self.port = clip, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert FFMPEG is not None
        self.proc = subprocess.Popen(
            [FFMPEG, "-nostdin", "-loglevel", "error", "-re", "-i", str(self.clip),
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10",
             "-f", "mpegts", f"{self.uri}?listen=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)




def wait_for(cond: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()
