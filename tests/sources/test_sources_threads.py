"""Pacing, the decoder thread and its bounded queue, and the fake source."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from source_helpers import moving_square

import onlook.sources as sources
from onlook.errors import ConfigError, SourceCorrupt, SourceError
from onlook.sources import (
    FakeSource,
    PacedSource,
    Source,
    SourceInfo,
    ThreadedSource,
    open_source,
    paced,
)
from onlook.sources._pyav import BestEffortPts, StreamClock, display_name
from onlook.sources.live import Backoff
from onlook.types import Frame

IMG = np.zeros((4, 6, 3), np.uint8)


def frames_at(pts: list[float]) -> list[Frame]:
    return [Frame("s", i, p, 0.0, IMG) for i, p in enumerate(pts)]


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.now += s


# -- pacing


def test_paced_follows_pts_from_the_first_frame() -> None:
    clock = FakeClock()
    out = list(paced(frames_at([5.0, 5.5, 6.0, 7.0]), clock=clock, sleep=clock.sleep))
    assert [f.seq for f in out] == [0, 1, 2, 3]
    assert clock.sleeps == [0.5, 0.5, 1.0]


def test_paced_speed_and_no_sleep_when_behind() -> None:
    clock = FakeClock()
    out = []
    for f in paced(frames_at([0.0, 1.0, 2.0, 3.0]), speed=2.0, clock=clock, sleep=clock.sleep):
        out.append(f)
        if f.seq == 1:
            clock.now += 2.0  # the consumer stalls past frame 2's and 3's slots
    assert len(out) == 4
    assert clock.sleeps == [0.5]  # only before frame 1


def test_paced_is_drift_free() -> None:
    # Each sleep overshoots by 10 ms; the schedule absorbs it instead of adding up.
    clock = FakeClock()

    def sloppy_sleep(s: float) -> None:
        clock.sleep(s + 0.01)

    list(paced(frames_at([i * 0.1 for i in range(11)]), clock=clock, sleep=sloppy_sleep))
    assert clock.now - 100.0 == pytest.approx(1.0 + 0.01, abs=1e-6)


def test_paced_restamps_wall_and_rejects_bad_speed() -> None:
    out = list(paced(frames_at([0.0, 0.01]), speed=100))
    assert all(f.wall > 0 for f in out)
    with pytest.raises(ConfigError):
        list(paced(frames_at([0.0]), speed=0))


@pytest.mark.timeout(60)
def test_realtime_file_takes_its_duration(clip: Path) -> None:
    started = time.monotonic()
    with open_source(str(clip), realtime=True) as src:
        assert isinstance(src, ThreadedSource) and src.drop_oldest
        frames = list(src)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.5  # 2 s clip at speed 1; loose lower bound only
    assert len(frames) + src.dropped == 50
    assert frames[-1].wall - frames[0].wall >= 1.5


@pytest.mark.timeout(60)
def test_realtime_speed_up(clip: Path) -> None:
    started = time.monotonic()
    with open_source(str(clip), realtime=True, speed=4.0) as src:
        n = sum(1 for _ in src)
    assert n + src.dropped == 50
    assert time.monotonic() - started >= 0.35


@pytest.mark.timeout(60)
def test_closing_a_paced_source_interrupts_its_wait() -> None:
    fake = FakeSource(frames_at([0.0, 30.0]))
    src = ThreadedSource(PacedSource(fake), maxsize=2)
    it = iter(src)
    assert next(it).seq == 0
    started = time.monotonic()
    src.close()
    assert time.monotonic() - started < 2.5
    assert list(it) == []


# -- the threaded queue


def endless(stream_id: str = "s") -> Iterator[Frame]:
    for i in itertools.count():
        yield Frame(stream_id, i, i / 25, time.time(), IMG)


@pytest.mark.timeout(60)
def test_drop_oldest_with_slow_consumer_counts_drops_and_keeps_newest() -> None:
    src = ThreadedSource(FakeSource(frames_at([i / 25 for i in range(200)])), maxsize=4,
                         drop_oldest=True)
    got: list[Frame] = []
    with src:
        for f in src:
            got.append(f)
            time.sleep(0.01)
            assert len(got) <= 200
    assert src.dropped > 0
    assert len(got) + src.dropped == 200
    assert got[-1].seq == 199  # the newest frame is always delivered
    seqs = [f.seq for f in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.timeout(60)
def test_blocking_queue_never_drops() -> None:
    src = ThreadedSource(FakeSource(frames_at([i / 25 for i in range(60)])), maxsize=2,
                         drop_oldest=False)
    got = []
    with src:
        for f in src:
            got.append(f.seq)
            time.sleep(0.002)
    assert got == list(range(60)) and src.dropped == 0


@pytest.mark.timeout(60)
def test_errors_cross_the_thread_after_the_queued_frames() -> None:
    boom = SourceCorrupt("cannot decode 'x': boom")
    src = ThreadedSource(FakeSource([IMG] * 5, error=boom), maxsize=8, drop_oldest=False)
    got = []
    with pytest.raises(SourceCorrupt) as info, src:
        for f in src:
            got.append(f.seq)
    assert info.value is boom
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.timeout(60)
def test_error_from_open_source_file_propagates(clip: Path, tmp_path: Path) -> None:
    # Also through open_source's own thread: a file that opens but cannot be decoded.
    from source_helpers import write_clip

    fs = write_clip(tmp_path / "fs.mp4", seconds=4, options={"movflags": "+faststart"})
    data = fs.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceCorrupt), open_source(str(tmp_path / "cut.mp4")) as src:
        for _ in src:
            pass


@pytest.mark.timeout(60)
def test_close_stops_the_thread_promptly() -> None:
    for drop in (True, False):
        src = ThreadedSource(FakeSource(endless()), maxsize=3, drop_oldest=drop)
        it = iter(src)
        seqs = [next(it).seq for _ in range(3)]
        assert seqs == sorted(seqs)
        thread = src._thread
        started = time.monotonic()
        src.close()
        assert time.monotonic() - started < 2.5
        assert thread is not None and not thread.is_alive()
        assert list(it) == []


def test_threaded_rejects_bad_size_and_reports_info() -> None:
    with pytest.raises(ConfigError):
        ThreadedSource(FakeSource([IMG]), maxsize=0)
    fake = FakeSource([IMG], fps=5, stream_id="x")
    src = ThreadedSource(fake)
    assert src.info is fake.info and src.gaps is fake.gaps
    assert "ThreadedSource(FakeSource('fake://x'" in repr(src)
    src.close()


def test_threads_are_daemons_named_after_the_source() -> None:
    src = ThreadedSource(FakeSource(endless(), uri="fake://cam7"), maxsize=2)
    next(iter(src))
    assert src._thread is not None and src._thread.daemon
    assert "fake://cam7" in src._thread.name
    src.close()
    assert not any(t.name.endswith("fake://cam7") and t.is_alive() for t in threading.enumerate())


# -- the fake source


def test_fake_source_from_arrays() -> None:
    arrays = [moving_square(i) for i in range(3)]
    with FakeSource(arrays, fps=4, stream_id="cam") as src:
        assert isinstance(src, Source)
        assert src.info == SourceInfo("fake://cam", "file", 4.0, 0.75, 64, 48, 3)
        frames = list(src)
    assert [(f.stream_id, f.seq, f.pts) for f in frames] == [("cam", 0, 0.0), ("cam", 1, 0.25),
                                                             ("cam", 2, 0.5)]
    assert frames[1].image is arrays[1]
    assert src.gaps == [] and src.dropped == 0


def test_fake_source_passes_frames_through_and_can_be_endless() -> None:
    given = frames_at([0.0, 0.3])
    assert list(FakeSource(given)) == given
    src = FakeSource(endless(), kind="live")
    assert src.info.frame_count is None and src.info.kind == "live"
    assert [f.seq for f in itertools.islice(src, 5)] == [0, 1, 2, 3, 4]
    src.close()
    assert list(src) == []


def test_fake_source_validates_images() -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        list(FakeSource([np.zeros((4, 4), np.uint8)]))


# -- small parts


def test_backoff_doubles_caps_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([10.0, 10.1, 10.2], [0.0, 0.1, 0.2]),  # starts at zero
        ([0.0, 0.1, 0.08, 0.2], [0.0, 0.1, 0.101, 0.2]),  # jitter: nudged, no drift
        ([0.0, 0.1, 95000.0, 95000.1], [0.0, 0.1, 95000.0, 95000.1]),  # forward jump kept
        ([50.0, 50.1, 0.0, 0.1], [0.0, 0.1, 0.14, 0.24]),  # clock reset: continue one step on
        ([None, None, 3.0, 3.1], [0.0, 0.04, 0.08, 0.18]),  # no pts: stepped by the rate
    ],
)
def test_stream_clock(raw: list[float | None], expected: list[float]) -> None:
    clock = StreamClock(step=0.04)
    assert [round(clock(r), 6) for r in raw] == expected


def test_stream_clock_resume_and_origin() -> None:
    clock = StreamClock(step=0.1, origin=1.4)
    assert clock(1.4) == pytest.approx(0.0)
    assert clock(1.5) == pytest.approx(0.1)
    clock.resume(advance=5.0)
    assert clock(0.0) == pytest.approx(5.1)  # a new connection's clock restarted at 0
    assert clock(0.1) == pytest.approx(5.2)


class _F:
    def __init__(self, pts: int | None, dts: int | None) -> None:
        self.pts, self.dts, self.time_base = pts, dts, 0.001


def test_best_effort_pts_prefers_dts_when_pts_are_in_decode_order() -> None:
    guess = BestEffortPts()
    # pts in decode order (as in OpenCV's box.mp4), dts steady.
    got = [guess(_F(p, d)) for p, d in [(0, 0), (101, 33), (67, 67), (134, 101), (34, 134)]]
    assert got == pytest.approx([0.0, 0.101, 0.067, 0.101, 0.134])
    assert guess(_F(None, None)) is None


def test_display_name_hides_passwords() -> None:
    assert display_name("rtsp://admin:hunter2@cam:554/live") == "rtsp://admin:***@cam:554/live"
    assert display_name("/videos/a.mp4") == "/videos/a.mp4"


def test_public_api_is_exported() -> None:
    assert sorted(sources.__all__) == sorted(set(sources.__all__))
    for name in sources.__all__:
        assert getattr(sources, name) is not None
    public = {n for n in dir(sources) if not n.startswith("_")}
    modules = {"audio", "base", "fake", "file", "images", "live", "netpolicy", "opener", "pacing", "threaded"}
    assert public - modules - {"annotations"} == set(sources.__all__)
    assert issubclass(SourceCorrupt, SourceError)
