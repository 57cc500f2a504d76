"""Live sources over loopback: failures to connect, stalls, reconnects and gaps."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise

import pytest
from source_helpers import FfmpegServer, ReplayServer, SilentServer, wait_for

from onlook.errors import SourceExhausted, SourceTimeout, SourceUnreachable
from onlook.sources import LiveSource, ThreadedSource, open_source
from onlook.types import Frame, Gap

FAST = dict(open_timeout_s=2.0, read_timeout_s=2.0, reconnect_backoff_s=0.05,
            reconnect_backoff_max_s=0.2)


def assert_monotonic(frames: list[Frame]) -> None:
    seqs, pts = [f.seq for f in frames], [f.pts for f in frames]
    assert all(b > a for a, b in pairwise(seqs)), seqs
    assert all(b > a for a, b in pairwise(pts)), pts


@pytest.mark.timeout(60)
def test_unreachable_port_raises_after_the_attempts(closed_port: int) -> None:
    uri = f"tcp://127.0.0.1:{closed_port}"
    started = time.monotonic()
    with pytest.raises(SourceUnreachable) as info:
        open_source(uri, **{**FAST, "reconnect_attempts": 2})
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith(f"cannot open '{uri}': connection refused")
    assert "gave up after 3 attempts" in message and "\n" not in message
    assert isinstance(info.value, ConnectionError)


@pytest.mark.timeout(60)
def test_unknown_host_is_unreachable() -> None:
    with pytest.raises(SourceUnreachable, match=r"nonexistent\.invalid"):
        open_source("tcp://nonexistent.invalid:9", **{**FAST, "reconnect_attempts": 0})


@pytest.mark.timeout(60)
def test_silent_server_times_out_in_bounded_time(silent_server: SilentServer) -> None:
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match=r"timed out after 0\.5s") as info:
        open_source(f"tcp://127.0.0.1:{silent_server.port}", open_timeout_s=0.5,
                    read_timeout_s=0.5, reconnect_attempts=1, reconnect_backoff_s=0.05)
    assert time.monotonic() - started < 10
    assert isinstance(info.value, TimeoutError)


@pytest.mark.timeout(60)
def test_reconnects_after_stream_ends_then_gives_up(
    replay_server: Callable[..., ReplayServer],
) -> None:
    # Each connection replays the 2 s clip and hangs up; after three the
    # server stops listening, so the fourth reconnect is refused.
    server = replay_server(max_conns=3)
    seen: list[Gap] = []
    frames: list[Frame] = []
    src = LiveSource(f"tcp://127.0.0.1:{server.port}", stream_id="cam", reconnect_attempts=2,
                     on_gap=seen.append, **FAST)
    assert src.info.kind == "live" and src.info.duration_s is None
    with pytest.raises(SourceExhausted) as info, src:
        for frame in src:
            frames.append(frame)
            assert len(frames) < 1000
    assert "gave up after 2 reconnect attempt(s) (last: connection refused)" in str(info.value)
    assert len(frames) == 3 * 50
    assert [f.seq for f in frames] == list(range(150))  # one run of seq over every connection
    assert_monotonic(frames)
    # Two outages healed, then one left open when the attempts ran out.
    gaps = src.gaps
    assert seen == gaps and len(gaps) == 3
    for gap, first_after in zip(gaps[:2], (frames[50], frames[100]), strict=True):
        assert gap.reason == "stream ended"
        assert gap.start == frames[frames.index(first_after) - 1].pts
        assert gap.end == first_after.pts and gap.end > gap.start
        assert gap.wall_end is not None and gap.wall_end >= gap.wall_start
    assert gaps[2].end is None and gaps[2].wall_end is None and gaps[2].start == frames[-1].pts


@pytest.mark.timeout(60)
def test_stalled_stream_is_reopened_with_a_gap(replay_server: Callable[..., ReplayServer]) -> None:
    # Sends the clip, then keeps the socket open in silence: a stall.
    server = replay_server(stall=True, max_conns=2)
    with LiveSource(f"tcp://127.0.0.1:{server.port}", reconnect_attempts=1,
                    **{**FAST, "read_timeout_s": 0.5}) as src:
        frames: list[Frame] = []
        with pytest.raises(SourceExhausted):
            for frame in src:
                frames.append(frame)
                assert len(frames) < 1000
    assert len(frames) == 100
    assert_monotonic(frames)
    gap = src.gaps[0]
    assert gap.reason == "timed out after 0.5s"
    # Stream time kept up with the wall clock through the outage.
    assert gap.end is not None and gap.wall_end is not None
    assert gap.end - gap.start == pytest.approx(gap.wall_end - gap.wall_start, abs=0.05)


@pytest.mark.timeout(60)
def test_close_interrupts_reconnect_backoff(replay_server: Callable[..., ReplayServer]) -> None:
    server = replay_server(max_conns=1)
    src = open_source(f"tcp://127.0.0.1:{server.port}", reconnect_attempts=100,
                      reconnect_backoff_s=5.0, reconnect_backoff_max_s=5.0)
    assert isinstance(src, ThreadedSource) and src.drop_oldest
    it = iter(src)
    next(it)
    time.sleep(0.3)  # the rest of the clip is read; the supervisor is now waiting 5 s
    started = time.monotonic()
    src.close()
    assert time.monotonic() - started < 3


# -- real ffmpeg over TCP


@pytest.mark.live
@pytest.mark.timeout(60)
def test_ffmpeg_live_stream_frames(ffmpeg_server: FfmpegServer) -> None:
    ffmpeg_server.start()
    # No readiness probe: ffmpeg serves a single client, and the source's own
    # retries ride out the moment before it listens.
    with open_source(ffmpeg_server.uri, stream_id="live", reconnect_attempts=20,
                     **{**FAST, "open_timeout_s": 5.0, "read_timeout_s": 5.0}) as src:
        assert src.info.kind == "live"
        assert (src.info.width, src.info.height) == (64, 48)
        frames: list[Frame] = []
        deadline = time.monotonic() + 20
        for frame in src:
            frames.append(frame)
            if len(frames) >= 15 or time.monotonic() > deadline:
                break
    assert len(frames) == 15
    assert {f.stream_id for f in frames} == {"live"}
    assert_monotonic(frames)
    assert frames[0].pts == 0.0


@pytest.mark.live
@pytest.mark.timeout(60)
def test_ffmpeg_killed_and_restarted_leaves_a_gap(ffmpeg_server: FfmpegServer) -> None:
    ffmpeg_server.start()
    frames: list[Frame] = []
    with open_source(ffmpeg_server.uri, reconnect_attempts=30,
                     **{**FAST, "open_timeout_s": 5.0, "read_timeout_s": 5.0}) as src:
        deadline = time.monotonic() + 40
        it = iter(src)
        for frame in it:
            frames.append(frame)
            if len(frames) == 10:
                ffmpeg_server.kill()
                time.sleep(0.3)
                ffmpeg_server.start()
            if (src.gaps and frames[-1].pts > (src.gaps[0].end or 1e9) + 0.5) \
                    or time.monotonic() > deadline:
                break
        assert wait_for(lambda: bool(src.gaps))
        gap = src.gaps[0]
    assert gap.end is not None and gap.end > gap.start
    assert gap.wall_end is not None and gap.wall_end > gap.wall_start
    after = [f for f in frames if f.pts >= gap.end]
    assert len(after) >= 3, "the source did not continue after the restart"
    assert_monotonic(frames)
