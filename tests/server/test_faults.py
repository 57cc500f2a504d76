"""Server faults: a full disk fails the stream with its reason, SIGTERM stops cleanly, non-finite times get 422."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
from faults import database_fills_up, keyframes_fill_up
from media import free_port, wait_for

from onlook.memory import Store
from onlook.server.manager import check_store_root, read_streams_file

from .helpers import start_server, wait_state

pytestmark = [pytest.mark.timeout(90)]


# --- disk full ------------------------------------------------------------------------------------


def test_keyframe_enospc_is_a_failed_stream_with_its_reason(tmp_path, media_dir, monkeypatch):
    disk = keyframes_fill_up(monkeypatch)
    srv = start_server(tmp_path / "root", allow_files=[media_dir])
    try:
        with srv.client() as c:
            r = c.post("/streams", json={"id": "cut", "source": str(media_dir / "cut.mp4"),
                                         "alerts": ["a scene change"]})
            assert r.status_code == 201, r.text
            st = wait_state(c, "cut", {"ended", "failed", "stopped"}, 30)
            assert st["state"] == "failed" and disk.refused
            assert "full" in st["error"] and "\n" not in st["error"]
            listed = c.get("/streams").json()["streams"]
            assert [(s["id"], s["state"], s["error"]) for s in listed] == [("cut", "failed", st["error"])]
            # What was stored stays readable. (The event that closed at the cut, 3 s, needed the first
            # keyframe; the shot model confirms a cut about a second after it, so the cut itself was not
            # yet known when the stream failed.)
            a = c.post("/streams/cut/ask", json={"question": "what happened so far?"})
            assert a.status_code == 200 and not a.json()["abstained"] and "00:00-00:02" in a.json()["text"]
    finally:
        srv.stop()


def test_full_database_fails_the_stream_and_its_open_event_is_stored_once_there_is_room(
        tmp_path, media_dir, monkeypatch):
    disk = database_fills_up(monkeypatch, after=40)
    srv = start_server(tmp_path / "root", allow_files=[media_dir])
    try:
        with srv.client() as c:
            r = c.post("/streams", json={"id": "long", "source": str(media_dir / "long.mp4")})
            assert r.status_code == 201, r.text
            # It used to stay 'running' for ever, its ingest thread dead.
            st = wait_state(c, "long", {"ended", "failed", "stopped"}, 30)
            assert st["state"] == "failed" and "full" in st["error"] and disk.refused
            assert c.get("/streams/long/search", params={"q": "scene change"}).status_code == 200
            old = srv.server.config.app.state.manager.get("long").engine
            assert old.memory.pending == 1  # the open event is kept, not lost
            disk.room()
            # Starting it again first stores what the old worker kept back.
            r = c.post("/streams/long/start")
            assert r.status_code == 200, r.text
            assert old.memory.pending == 0
            wait_state(c, "long", {"ended"}, 60)
        with Store(srv.store_root / "long", readonly=True) as store:
            events = store.events()
            assert events[0].start == 0.0 and events[-1].end >= 29.0
    finally:
        srv.stop()


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["Infinity", "1e400", "NaN", "-Infinity"])
@pytest.mark.parametrize(("path", "body", "status"), [
    ("/streams/nope/ask", '{"question": "how many people?", "at": %s}', 422),
    # The OpenAI-compatible route answers bad requests as OpenAI does: 400, invalid_request_error.
    ("/v1/chat/completions", '{"model": "nope", "messages": [{"role": "user", "content": "hi"}], "at": %s}', 400),
    ("/streams", '{"source": "rtsp://cam/1", "start": %s}', 422),
    ("/streams", '{"source": "rtsp://cam/1", "until": %s}', 422),
    ("/streams", '{"source": "rtsp://cam/1", "fps": %s}', 422),
])
def test_non_finite_times_are_refused(client, path, body, status, number):
    r = client.post(path, content=(body % number).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert "finite" in r.text or "greater" in r.text or "less" in r.text
    assert "Traceback" not in r.text
    assert client.get("/streams").json()["streams"] == []  # nothing was created


def test_non_finite_mjpeg_rate_is_refused(client):
    r = client.get("/streams/nope/live.mjpg", params={"fps": "inf"})
    assert r.status_code == 422, r.text


# --- the server process: SIGTERM, a port in use ---------------------------------------------------


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "onlook.cli", "serve", "--log-level", "warning", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_stops_serve_cleanly(tmp_path, media_dir):
    port, root = free_port(), tmp_path / "root"
    proc = _serve("--port", str(port), "--store-root", str(root), "--allow-files", str(media_dir),
                  "--fps", "2")
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            assert proc.poll() is None, proc.communicate()
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, 40, "onlook serve to answer", interval=0.2)
        r = httpx.post(f"{url}/streams", json={"id": "long", "source": str(media_dir / "long.mp4"),
                                               "realtime": True}, timeout=30)
        assert r.status_code == 201, r.text
        wait_for(lambda: httpx.get(f"{url}/streams/long", timeout=5).json()["t"] >= 2.0, 30, "stream time 2 s")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    check_store_root(root)  # the server's lock on the root is released
    assert [(e["id"], e["state"]) for e in read_streams_file(root)] == [("long", "running")]  # resumes next start
    with Store(root / "long") as store:  # and each stream's store: a writer can open it
        events = store.events()
        assert events and events[-1].end >= 2.0  # the open event was flushed
        assert store.last_time() < 25  # it really stopped early


def test_port_in_use_is_bad_input(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve("--port", str(port), "--store-root", str(tmp_path / "root"))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err
    assert not (tmp_path / "root" / "streams.json").exists()

