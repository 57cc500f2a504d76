"""Streams survive a server restart: listed again, queryable, running ones carry on where they were."""

from __future__ import annotations

import json

import pytest

from .helpers import start_server, wait_for, wait_state

pytestmark = [pytest.mark.timeout(90)]


def test_streams_survive_a_restart(tmp_path, media_dir):
    root = tmp_path / "root"
    first = start_server(root, allow_files=[media_dir])
    try:
        with first.client() as c:
            # A file that finishes, one that is still running at shutdown, one stopped by hand.
            assert c.post("/streams", json={"source": str(media_dir / "cut.mp4"), "id": "done",
                                            "alerts": ["a scene change"], "detect_people": False}).status_code == 201
            assert c.post("/streams", json={"source": str(media_dir / "long.mp4"), "id": "live", "realtime": True,
                                            "detect_people": False}).status_code == 201
            assert c.post("/streams", json={"source": str(media_dir / "long.mp4"), "id": "held", "realtime": True,
                                            "detect_people": False}).status_code == 201
            wait_state(c, "done", {"ended"}, 30)
            assert c.post("/streams/held/stop").json()["state"] == "stopped"
            # far enough past the cut at 2 s for the shot model to have confirmed it (12 frames later at 5 fps)
            wait_for(lambda: c.get("/streams/live").json()["t"] >= 5.0, 20, "live stream past 5 s")
            first_answer = c.post("/streams/done/ask", json={"question": "when was the first scene change?"}).json()
    finally:
        first.stop()
    t_at_stop = json.loads((root / "streams.json").read_text())
    assert {s["id"]: s["state"] for s in t_at_stop["streams"]} == {"done": "ended", "live": "running",
                                                                  "held": "stopped"}
    with_t = {}
    second = start_server(root, allow_files=[media_dir])
    try:
        with second.client() as c:
            listed = {s["id"]: s for s in c.get("/streams").json()["streams"]}
            assert set(listed) == {"done", "live", "held"}
            assert listed["done"]["state"] == "ended" and listed["held"]["state"] == "stopped"
            assert listed["done"]["alerts"] == ["a scene change"]
            assert listed["live"]["state"] in ("starting", "running")
            again = c.post("/streams/done/ask", json={"question": "when was the first scene change?"}).json()
            assert again["value"] == first_answer["value"] == pytest.approx(3.0, abs=0.6)
            hits = c.get("/search", params={"q": "scene change"}).json()["hits"]
            assert {"done", "live"} <= {h["stream"] for h in hits}
            # The running file carries on after what was stored (it does not start over at 0 s).
            with_t["resumed"] = wait_for(lambda: (s := c.get("/streams/live").json())["frames_kept"] > 0 and s, 20,
                                         "the live stream to analyse a frame again")
            assert with_t["resumed"]["t"] >= 3.0
            gaps = c.post("/streams/live/ask", json={"question": "when was the first scene change?"}).json()
            assert gaps["value"] == pytest.approx(2.0, abs=0.6)  # memory from before the restart
            # A stopped stream can be started again by hand.
            r = c.post("/streams/held/start")
            assert r.status_code == 200 and r.json()["state"] in ("starting", "running")
            assert c.post("/streams/held/start").status_code == 409
    finally:
        second.stop()
    from onlook.memory import Store

    with Store(root / "live", readonly=True) as st:
        assert [g.reason for g in st.gaps()] == []  # resumed, not replayed from 0 s and shifted


def test_a_second_server_cannot_share_the_store_root(tmp_path):
    from onlook.errors import StoreLocked
    from onlook.server.manager import check_store_root

    srv = start_server(tmp_path / "root")
    try:
        with pytest.raises(StoreLocked, match="another onlook server"):
            check_store_root(tmp_path / "root")
    finally:
        srv.stop()
    check_store_root(tmp_path / "root")  # free again once the server stopped
