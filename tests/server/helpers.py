"""A real uvicorn server on 127.0.0.1 in a thread, and readers for SSE and MJPEG bodies."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from media import free_port, wait_for

from onlook.config import Settings
from onlook.server import create_app
from onlook.server.run import Server, make_server


@dataclass
class LiveServer:
    url: str
    server: Server
    thread: threading.Thread
    store_root: Path

    def client(self, **kw: Any) -> httpx.Client:
        """A client that, like the web page, says JSON on every request (the server refuses a state-changing
        request without it, unless it carries the API key)."""
        kw.setdefault("timeout", httpx.Timeout(20.0))
        kw["headers"] = {"Content-Type": "application/json", **(kw.get("headers") or {})}
        return httpx.Client(base_url=self.url, **kw)

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "server did not stop"


LOOPBACK = ["127.0.0.0/8", "::1"]
"""What test servers allow sources and webhooks to reach: the tests' producers and receivers run on loopback,
which a server refuses by default (pass ``allow_hosts=[]`` for a server that does)."""


def test_settings(**kw: Any) -> Settings:
    """Light perception for tests: no faces, no OCR, no speech (people on unless told otherwise); loopback allowed."""
    base: dict[str, Any] = {"fps": 2.0, "detect_faces": False, "detect_text": False, "allow_hosts": LOOPBACK,
                            "speech": False}
    base.update(kw)
    return Settings(**base)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


def start_server(store_root: Path, *, settings: Settings | None = None, **app_kw: Any) -> LiveServer:
    """Start ``create_app(...)`` under uvicorn on a free loopback port; returns once it accepts requests."""
    app = create_app(settings or test_settings(), store_root, **app_kw)
    port = free_port()
    server = make_server(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during startup")
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread, store_root)


def wait_state(client: httpx.Client, stream_id: str, states: set[str], timeout: float) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        st = client.get(f"/streams/{stream_id}").json()
        return st if st["state"] in states else None

    return wait_for(check, timeout, f"stream {stream_id} to be {states}")


def sse_messages(response: httpx.Response, deadline: float) -> Iterator[dict[str, Any]]:
    """JSON objects of the ``data:`` lines of an SSE body, until ``deadline`` (monotonic)."""
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            return
        if line.startswith("data:"):
            yield json.loads(line[5:].strip())


_PART_HEAD = re.compile(rb"--(?P<b>[^\r\n]+)\r\n(?P<h>(?:[^\r\n]+\r\n)*)\r\n")


def mjpeg_frames(response: httpx.Response, boundary: str, count: int, deadline: float) -> list[tuple[dict, bytes]]:
    """Read ``count`` parts of a ``multipart/x-mixed-replace`` body: (headers, JPEG bytes) each."""
    buf = b""
    frames: list[tuple[dict, bytes]] = []
    for chunk in response.iter_bytes():
        buf += chunk
        while True:
            m = _PART_HEAD.match(buf)
            if not m:
                break
            assert m.group("b").decode() == boundary, m.group("b")
            headers = dict(line.split(": ", 1) for line in m.group("h").decode().strip().split("\r\n"))
            n = int(headers["Content-Length"])
            end = m.end() + n
            if len(buf) < end + 2:
                break
            assert buf[end:end + 2] == b"\r\n"
            frames.append((headers, buf[m.end():end]))
            buf = buf[end + 2:]
            if len(frames) >= count:
                return frames
        if time.monotonic() > deadline:
            break
    return frames
