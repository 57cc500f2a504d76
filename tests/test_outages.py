"""Long outages of a live producer (a camera rebooting): the watch rides them out and stores each as a gap.

The producer is real ffmpeg over loopback TCP (:class:`benchmarks.faults.LiveProducer`),
killed and started again. Before, a source down for more than its few reconnect
attempts (about 16 s with the defaults) ended the watch, and that last outage was
never stored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from media import wait_for

from benchmarks.faults import LiveProducer, flap
from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.memory import Store

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not on PATH")]


def _settings(store: Path, cap: float) -> Settings:
    # Reconnect settings left at their defaults (no limit on attempts or outage) but the backoff cap.
    return Settings(store=store, fps=5, detect_people=False, detect_faces=False, detect_text=False,
                    detect_colors=False, open_timeout_s=2, read_timeout_s=2, reconnect_backoff_s=0.1,
                    reconnect_backoff_max_s=cap)


@pytest.mark.parametrize("down_s, cap", [
    pytest.param(4.0, 0.3, marks=pytest.mark.timeout(90), id="4s"),
    pytest.param(20.0, 2.0, marks=[pytest.mark.slow, pytest.mark.timeout(150)], id="20s"),
    pytest.param(60.0, 5.0, marks=[pytest.mark.slow, pytest.mark.timeout(240)], id="60s"),
])
def test_a_long_outage_is_ridden_out_and_stored_as_a_gap(tmp_path: Path, down_s: float, cap: float) -> None:
    # 4 s with reconnects every <= 0.3 s is over a dozen attempts: more than the 5 the old default allowed.
    store = tmp_path / "store"
    with LiveProducer() as cam:
        cam.start()
        engine = StreamEngine(cam.uri, settings=_settings(store, cap), stream_id="cam")
        try:
            engine.start()
            wait_for(lambda: engine.stats["frames_kept"] >= 5, 30, "frames before the outage")
            cam.stop()
            killed = time.time()
            # The outage is stored open as soon as it is noticed, and shown in status.
            opened = wait_for(lambda: engine.store.gaps(), 10, "the outage's gap in the store")[0]
            assert opened.end is None and opened.wall_end is None
            assert killed - 2 <= opened.wall_start <= killed + 1  # the last frame got before the kill
            outage = engine.status()["outage"]
            assert outage is not None and outage["start"] == pytest.approx(opened.start, abs=1e-3)
            time.sleep(max(0.0, down_s - (time.time() - killed)))
            assert engine.running and engine.error is None, "the watch ended during the outage"
            assert [g.end for g in engine.store.gaps()] == [None]
            cam.start()
            restarted = time.time()
            closed = wait_for(lambda: [g for g in engine.store.gaps() if g.end is not None], cap + 30,
                              "frames after the outage")[0]
            wait_for(lambda: engine.store.frames(since=closed.end), 10, "a frame after the outage stored")
            assert engine.status()["outage"] is None
        finally:
            engine.close()
    assert engine.error is None
    with Store(store, readonly=True) as st:
        gaps = st.gaps()
        assert gaps == [closed]  # one outage, one gap: the open one was closed, not added to
        before = st.frames(until=closed.start)
        inside = [f for f in st.frames(since=closed.start) if closed.start < f["t"] < closed.end]
        after = st.frames(since=closed.end)
    assert closed.start == opened.start and closed.wall_start == opened.wall_start
    assert before and before[-1]["t"] <= closed.start and not inside and after[0]["t"] == closed.end
    assert closed.wall_end is not None and closed.wall_end >= restarted
    assert closed.wall_end - closed.wall_start >= down_s
    # Stream time kept up with the wall clock through the outage.
    assert closed.end - closed.start == pytest.approx(closed.wall_end - closed.wall_start, abs=0.3)


def test_max_outage_ends_the_watch_with_the_gap_stored_open(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "store", 0.2).model_copy(update={"max_outage_s": 1.5})
    with LiveProducer() as cam:
        cam.start()
        engine = StreamEngine(cam.uri, settings=settings, stream_id="cam")
        engine.start()
        wait_for(lambda: engine.stats["frames_kept"] >= 3, 30, "frames before the outage")
        cam.stop()
        assert engine.done.wait(20), "the watch did not give up"
        engine.close()
    assert type(engine.error).__name__ == "SourceExhausted" and "down" in str(engine.error)
    with Store(tmp_path / "store", readonly=True) as st:
        [gap] = st.gaps()
    assert gap.end is None and gap.reason == "stream ended"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_flap_fault_script_reports_one_gap_per_outage() -> None:
    report = flap(3, up_s=1.5, down_s=(0.5, 2.0, 4.0))
    assert report.ok, report
    assert report.gaps_stored == 3 and report.frames_decoded > 0
    assert all(r is not None and r >= 0 for r in report.reconnect_s)
