"""Deleting a stream, or stopping the server, while a live source is still connecting: both are prompt.

Before, a source still making its first connection could not be interrupted: a deleted stream went on
retrying (and listening) for a minute or more, then wrote into its deleted store, and shutdown waited for
it twice (21.7 s instead of ~3 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import free_port, start_server, test_settings, wait_for, wait_state

pytestmark = [pytest.mark.timeout(90)]

# Without a stop, each target holds the stream for minutes: attempts that wait 20 s, retries 5 s apart.
SLOW_TO_GIVE_UP = {"open_timeout_s": 20.0, "read_timeout_s": 20.0, "connect_attempts": 5,
                   "reconnect_backoff_s": 5.0,
                   "allow_listen": True}  # the listen case is the operator's own (allowed) listening source


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never sends a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def _target(kind: str, silent_port: int) -> tuple[str, int]:
    port = free_port()
    return {"refused": (f"tcp://127.0.0.1:{port}", port),
            "silent": (f"tcp://127.0.0.1:{silent_port}", silent_port),
            "listen": (f"tcp://127.0.0.1:{port}?listen=1", port)}[kind]


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _files(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", ["refused", "silent", "listen"])
def test_delete_of_a_connecting_stream_is_prompt_and_it_writes_nothing_after(
    tmp_path: Path, kind: str, silent_port: int,
) -> None:
    uri, port = _target(kind, silent_port)
    srv = start_server(tmp_path / "root", settings=test_settings(**SLOW_TO_GIVE_UP))
    try:
        with srv.client() as c:
            r = c.post("/streams", json={"source": uri, "id": "cam", "detect_people": False})
            assert r.status_code == 201, r.text
            time.sleep(1.0)  # inside an attempt (silent, listen) or the wait after one (refused)
            assert c.get("/streams/cam").json()["state"] == "starting"
            started = time.monotonic()
            r = c.delete("/streams/cam", params={"keep_store": "true"})
            took = time.monotonic() - started
            assert r.status_code == 200 and r.json()["deleted"]
            assert took < 5, f"delete took {took:.1f} s"
            assert c.get("/streams/cam").status_code == 404
        folder = tmp_path / "root" / "cam"
        before = _files(folder)
        if kind == "listen":  # it stopped listening: the port is free at once, not after the 20 s attempt
            assert wait_for(lambda: _port_is_free(port), 3, "the listening port to be released")
        time.sleep(1.5)
        assert _files(folder) == before  # the stream's worker wrote nothing after it was deleted
    finally:
        srv.stop()


def test_shutdown_with_a_connecting_stream_is_prompt(tmp_path: Path, silent_port: int) -> None:
    srv = start_server(tmp_path / "root", settings=test_settings(**SLOW_TO_GIVE_UP))
    stopped = False
    try:
        with srv.client() as c:
            r = c.post("/streams", json={"source": f"tcp://127.0.0.1:{silent_port}", "id": "cam",
                                         "detect_people": False})
            assert r.status_code == 201, r.text
            time.sleep(1.0)
            assert c.get("/streams/cam").json()["state"] == "starting"
        started = time.monotonic()
        srv.stop()
        stopped = True
        took = time.monotonic() - started
        assert took < 6, f"shutdown took {took:.1f} s"
    finally:
        if not stopped:
            srv.stop()
    # It is still listed to start again with the next server.
    assert '"cam"' in (tmp_path / "root" / "streams.json").read_text()


def test_stop_of_a_connecting_stream_is_prompt(tmp_path: Path, silent_port: int) -> None:
    srv = start_server(tmp_path / "root", settings=test_settings(**SLOW_TO_GIVE_UP))
    try:
        with srv.client() as c:
            assert c.post("/streams", json={"source": f"tcp://127.0.0.1:{silent_port}", "id": "cam",
                                            "detect_people": False}).status_code == 201
            time.sleep(1.0)
            started = time.monotonic()
            assert c.post("/streams/cam/stop").json()["state"] == "stopped"
            assert time.monotonic() - started < 5
            st = wait_state(c, "cam", {"stopped"}, 5)
            assert st["error"] is None
    finally:
        srv.stop()
