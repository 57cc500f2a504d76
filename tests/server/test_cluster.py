"""The server over an executor (the code path of ``onlook serve --cluster``), without Ray.

The server is given an :class:`~onlook.cluster.InProcessExecutor`: every
stream then lives in a :class:`~onlook.cluster.StreamWorker` that the server
reaches only through the executor (messages polled, keyframes and the timeline
fetched as bytes/dicts), exactly as with Ray actors. Also ``GET /cluster`` and
``onlook cluster status``, with and without an executor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from onlook.cli import app as cli_app
from onlook.cluster import InProcessExecutor
from onlook.cluster.remote import RemoteStream

from .helpers import LiveServer, mjpeg_frames, sse_messages, start_server, wait_for, wait_state

pytestmark = [pytest.mark.timeout(90)]

CUT = "a scene change"


@pytest.fixture(scope="module")
def executor() -> Iterator[InProcessExecutor]:
    ex = InProcessExecutor()
    yield ex
    ex.shutdown()


@pytest.fixture(scope="module")
def cluster_server(tmp_path_factory: pytest.TempPathFactory, media_dir: Path,
                   executor: InProcessExecutor) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("root"), allow_files=[media_dir], executor=executor)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cc(cluster_server: LiveServer) -> Iterator[httpx.Client]:
    with cluster_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def cut_stream(cluster_server: LiveServer, cc: httpx.Client, media_dir: Path) -> dict[str, Any]:
    """cut.mp4 in real time with a scene-change alert, its SSE feed open before it starts."""
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=httpx.Timeout(20.0)) as feed_client:
        with feed_client.stream("GET", f"{cluster_server.url}/events?types=alert") as feed:
            r = cc.post("/streams", json={"id": "cut", "source": str(media_dir / "cut.mp4"), "realtime": True,
                                          "alerts": [CUT]})
            assert r.status_code == 201, r.text
            alert = next((m for m in sse_messages(feed, deadline) if m.get("type") == "alert"), None)
    assert alert is not None, "no alert arrived over SSE"
    return alert


def test_streams_are_remote_workers(cluster_server: LiveServer, cut_stream, executor):
    h = cluster_server.server.config.app.state.manager.get("cut")
    assert isinstance(h.engine, RemoteStream)
    assert h.store is None  # the server holds no store: the worker does
    assert "cut" in executor.workers


def test_alert_arrives_through_the_executor(cut_stream):
    assert cut_stream["stream"] == "cut" and cut_stream["query"] == CUT
    assert 2.5 <= cut_stream["t"] <= 4.0  # the cut is at 3 s


def test_keyframe_is_fetched_from_the_worker(cc, cut_stream):
    url = cut_stream["keyframe_url"]
    r = cc.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"
    assert cc.get("/streams/cut/keyframes/0000000000999.jpg").status_code == 404


def test_ask_search_and_timeline(cc, cut_stream):
    wait_state(cc, "cut", {"ended"}, 30)
    ans = cc.post("/streams/cut/ask", json={"question": "when did the scene change?"}).json()
    assert ans["stream"] == "cut" and ans["span"] is not None
    assert 2.0 <= ans["span"][0] <= 4.0
    hits = cc.get("/streams/cut/search", params={"q": "scene change"}).json()["hits"]
    assert hits and hits[0]["stream"] == "cut"
    hist = cc.get("/streams/cut/history").json()
    assert [a["query"] for a in hist["alerts"]] == [CUT]


def test_chat_completion_through_the_executor(cc, cut_stream):
    r = cc.post("/v1/chat/completions", json={"model": "cut", "messages": [
        {"role": "user", "content": "when did the scene change?"}]})
    assert r.status_code == 200, r.text
    assert "00:0" in r.json()["choices"][0]["message"]["content"]


def test_cluster_status_lists_the_stream(cc, cut_stream):
    data = cc.get("/cluster").json()
    assert data["executor"] == "local"
    assert [n["node_id"] for n in data["nodes"]] == ["local"]
    (st,) = [s for s in data["streams"] if s["id"] == "cut"]
    assert st["node_id"] == "local" and st["restarts"] == 0 and st["store_bytes"] > 0 and st["t"] > 5


def test_runtime_alerts_and_stop_delete(cc, cluster_server, media_dir, executor):
    r = cc.post("/streams", json={"id": "long", "source": str(media_dir / "long.mp4"), "realtime": True})
    assert r.status_code == 201, r.text
    wait_state(cc, "long", {"running"}, 20)
    assert cc.post("/streams/long/alerts", json={"query": "a person appears"}).json()["alerts"] == [
        "a person appears"]
    boundary = "frame"
    with httpx.Client(timeout=httpx.Timeout(20.0)) as c, c.stream(
            "GET", f"{cluster_server.url}/streams/long/live.mjpg") as resp:
        boundary = resp.headers["content-type"].split("boundary=")[1]
        frames = mjpeg_frames(resp, boundary, 2, time.monotonic() + 15)
    assert len(frames) == 2 and all(jpeg[:2] == b"\xff\xd8" for _, jpeg in frames)
    assert cc.post("/streams/long/stop").json()["state"] == "stopped"
    assert cc.post("/streams/long/start").status_code == 200
    wait_state(cc, "long", {"running"}, 20)
    assert cc.delete("/streams/long").json()["deleted"] is True
    wait_for(lambda: "long" not in executor.workers, 10, "the worker to be closed")


def test_cluster_status_cli(cluster_server, cut_stream):
    res = CliRunner().invoke(cli_app, ["cluster", "status", "--url", cluster_server.url, "--json"])
    assert res.exit_code == 0, res.output
    assert any(s["id"] == "cut" for s in json.loads(res.output)["streams"])
    res = CliRunner().invoke(cli_app, ["cluster", "status", "--url", cluster_server.url])
    assert res.exit_code == 0 and "cut" in res.output and "local" in res.output


def test_cluster_status_cli_without_server():
    from media import free_port

    res = CliRunner().invoke(cli_app, ["cluster", "status", "--url", f"http://127.0.0.1:{free_port()}",
                                       "--timeout", "2"])
    assert res.exit_code != 0
    assert "cannot reach the onlook server" in res.output and "Traceback" not in res.output


def test_plain_server_reports_local_executor(client):
    data = client.get("/cluster").json()
    assert data["executor"] == "local" and data["nodes"][0]["alive"] is True


def test_restart_resumes_streams_on_the_executor(tmp_path: Path, media_dir: Path):
    """A server over an executor reopens its streams after a restart, as the in-process one does."""
    ex = InProcessExecutor()
    try:
        srv = start_server(tmp_path, allow_files=[media_dir], executor=ex)
        with srv.client() as c:
            assert c.post("/streams", json={"id": "l", "source": str(media_dir / "long.mp4"),
                                            "realtime": True}).status_code == 201
            wait_for(lambda: (c.get("/streams/l").json().get("t") or 0) >= 3, 20, "3 s of stream")
        srv.stop()
        assert "l" not in ex.workers  # closed with the server
        srv = start_server(tmp_path, allow_files=[media_dir], executor=ex)
        with srv.client() as c:
            st = wait_state(c, "l", {"running"}, 20)
            assert st["t"] >= 3  # carried on after what it had stored
            assert c.post("/streams/l/stop").json()["state"] == "stopped"
        srv.stop()
        # A stopped stream is reopened for questions only, and can be started again.
        srv = start_server(tmp_path, allow_files=[media_dir], executor=ex)
        with srv.client() as c:
            # Not running before anything asked the worker for its status.
            assert srv.server.config.app.state.manager.get("l").engine.running is False
            assert c.get("/streams/l").json()["state"] == "stopped"
            assert c.post("/streams/l/ask", json={"question": "what happened?"}).status_code == 200
            assert c.post("/streams/l/start").status_code == 200, "a reopened stopped stream must start"
            wait_state(c, "l", {"running"}, 20)
        srv.stop()
    finally:
        ex.shutdown()
