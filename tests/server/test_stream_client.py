"""The server talks to streams only through :class:`~onlook.client.StreamClient`.

A :class:`~onlook.client.FakeStreamClient` stands in for the engine: every capability of the
interface is exercised through the HTTP API (create, status, ask, search, alerts, keyframes,
history, the event feed, the live picture, chat completions, stop, restart, delete), with no
source, perception or store behind it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from onlook.client import FakeStreamClient, StreamClient
from onlook.cluster.executor import InProcessExecutor
from onlook.cluster.remote import RemoteStream
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.server.manager import StreamHandle
from onlook.sources import FakeSource
from onlook.sources.netpolicy import SOURCE_REFUSED
from onlook.types import Frame, MessageType, SearchHit, StreamState

from .helpers import LiveServer, sse_messages, start_server, test_settings, wait_state

pytestmark = pytest.mark.timeout(120)

SOURCE = "rtsp://127.0.0.1:8554/cam"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


def test_the_engine_the_remote_stream_and_the_fake_are_stream_clients(tmp_path: Path) -> None:
    engine = StreamEngine(FakeSource([np.zeros((8, 8, 3), np.uint8)], fps=1), settings=test_settings(),
                          store=None)
    try:
        assert isinstance(engine, StreamClient)
        assert isinstance(RemoteStream(InProcessExecutor(), "x"), StreamClient)
        assert isinstance(FakeStreamClient(), StreamClient)
    finally:
        engine.close()


def test_an_object_missing_a_capability_is_not_a_stream_client() -> None:
    class Half:
        def ask(self, question: str, at: float | None = None) -> Any: ...

    assert not isinstance(Half(), StreamClient)


@pytest.fixture()
def fakes() -> dict[str, FakeStreamClient]:
    return {}


@pytest.fixture()
def fake_server(tmp_path: Path, fakes: dict[str, FakeStreamClient]) -> Iterator[LiveServer]:
    frame = Frame("cam", 7, 3.5, time.time(), np.full((48, 64, 3), 90, np.uint8))

    def build(h: StreamHandle, settings: Settings) -> FakeStreamClient:
        assert settings.store == tmp_path / "root" / h.id  # the stream's own settings reach the factory
        fake = FakeStreamClient(
            h.id, answers={"how many people are there now?": "2 people visible at 00:03."},
            hits={"red car": [SearchHit(1.0, 2.5, 0.9, "a red car", "keyframes/0000001000.jpg", h.id)]},
            keyframes={"0000001000.jpg": JPEG}, latest=(frame, []), unseeable=("unicorn",))
        fakes[h.id] = fake
        return fake

    srv = start_server(tmp_path / "root", clients=build)
    try:
        yield srv
    finally:
        srv.stop()


def test_every_capability_through_the_server(fake_server: LiveServer, fakes: dict[str, FakeStreamClient]) -> None:
    with fake_server.client() as c:
        r = c.post("/streams", json={"source": SOURCE, "id": "cam"})
        assert r.status_code == 201, r.text
        st = wait_state(c, "cam", {StreamState.RUNNING}, 10)  # the fake's "started" message reached the manager
        fake = fakes["cam"]
        assert ("start",) in fake.calls
        assert st["capabilities"] == [] and st["t"] == 0.0

        # questions, search and keyframes go to the client
        r = c.post("/streams/cam/ask", json={"question": "how many people are there now?"})
        assert r.status_code == 200 and r.json()["text"] == "2 people visible at 00:03.", r.text
        assert c.post("/streams/cam/ask", json={"question": "is it raining?"}).json()["abstained"] is True
        hits = c.get("/streams/cam/search", params={"q": "red car"}).json()["hits"]
        assert [(h["start"], h["end"], h["description"]) for h in hits] == [(1.0, 2.5, "a red car")]
        r = c.get("/streams/cam/keyframes/0000001000.jpg")
        assert r.status_code == 200 and r.content == JPEG and r.headers["content-type"] == "image/jpeg"
        assert c.get("/streams/cam/keyframes/0000009999.jpg").status_code == 404
        assert ("keyframe", "0000009999.jpg") in fake.calls

        # alerts: added, refused with the client's reason, listed, removed
        assert c.post("/streams/cam/alerts", json={"query": "a person enters"}).status_code == 201
        r = c.post("/streams/cam/alerts", json={"query": "a unicorn appears"})
        assert r.status_code in (400, 422) and "unicorn" in r.text
        assert c.get("/streams/cam/alerts").json()["alerts"] == ["a person enters"]
        assert c.request("DELETE", "/streams/cam/alerts", json={"query": "a person enters"}).status_code in (200, 204)
        assert fake.alert_queries == []

        # the timeline is the client's record
        h = c.get("/streams/cam/history").json()
        assert h["stream"] == "cam" and h["events"] == []
        assert any(call[0] == "record" for call in fake.calls)

        # messages the client emits reach subscribers, with the stream named and keyframe_url added
        with httpx.Client(base_url=fake_server.url, timeout=10) as feed, \
                feed.stream("GET", "/streams/cam/events", params={"types": "alert"}) as resp:
            fake.emit({"type": MessageType.ALERT, "t": 4.0, "query": "a person enters",
                       "keyframe": "keyframes/0000001000.jpg"})
            got = next(sse_messages(resp, time.monotonic() + 10))
        assert got["type"] == "alert" and got["stream"] == "cam" and got["t"] == 4.0
        assert got["keyframe_url"].endswith("/streams/cam/keyframes/0000001000.jpg")

        # the live picture is the client's latest frame
        with c.stream("GET", "/streams/cam/live.mjpg") as resp:
            assert resp.status_code == 200
            first = next(resp.iter_bytes())
            assert b"image/jpeg" in first

        # the OpenAI-compatible endpoint asks the client
        r = c.post("/v1/chat/completions", json={"model": "cam", "messages": [
            {"role": "user", "content": "how many people are there now?"}]})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "2 people visible at 00:03."

        # stop, restart (a new client replaces the old, which is closed), delete (closed)
        assert c.post("/streams/cam/stop").json()["state"] == "stopped"
        assert ("stop",) in fake.calls
        assert c.post("/streams/cam/start").status_code == 200
        assert ("close",) in fake.calls and fakes["cam"] is not fake
        wait_state(c, "cam", {StreamState.RUNNING}, 10)
        second = fakes["cam"]
        second.finish(error="the camera went away")
        st = wait_state(c, "cam", {StreamState.FAILED}, 10)
        assert st["error"] == SOURCE_REFUSED  # a live source's reason stays in the server log
        assert c.delete("/streams/cam").status_code in (200, 204)
        assert ("close",) in second.calls
        assert c.get("/streams/cam").status_code == 404
