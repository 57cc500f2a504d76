"""Live sources over loopback: failures to connect, stalls, reconnects and gaps."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from source_helpers import FfmpegServer, ReplayServer, SilentServer, wait_for

from onlook.errors import SourceExhausted, SourceTimeout, SourceUnreachable
from onlook.sources import Backoff, LiveSource, ThreadedSource, open_source
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
    assert len(gaps) == 3
    # Each outage was reported open as soon as it began, then closed (the closed one replacing it).
    assert [(g.start, g.end) for g in seen] == [
        (gaps[0].start, None), (gaps[0].start, gaps[0].end), (gaps[1].start, None), (gaps[1].start, gaps[1].end),
        (gaps[2].start, None)]
    assert [g for g in seen if g.end is not None] == gaps[:2] and seen[-1] == gaps[2]
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


def test_backoff_is_capped_and_jittered() -> None:
    b = Backoff(0.5, 2.0, jitter=0.25, rng=random.Random(1))
    delays = [b.next() for _ in range(6)]
    for got, nominal in zip(delays, [0.5, 1.0, 2.0, 2.0, 2.0, 2.0], strict=True):
        assert 0.75 * nominal <= got <= nominal
    assert len(set(delays[2:])) > 1  # streams that fail together do not retry in step


# -- long outages: reconnect for as long as the source is read


@pytest.mark.timeout(60)
def test_an_outage_longer_than_a_few_attempts_is_ridden_out_with_an_open_gap(clip_ts: Path) -> None:
    # The sender vanishes (connections refused) for 3 s: some 15 reconnects at <= 0.2 s apart, three
    # times what the old default (5 attempts) allowed. By default a live source never gives up.
    server = ReplayServer(clip_ts.read_bytes(), stall=True)
    port = server.port
    seen: list[Gap] = []
    src = open_source(f"tcp://127.0.0.1:{port}", queue_size=500, on_gap=seen.append, **FAST)
    try:
        it = iter(src)
        # The demuxer and decoder hold the clip's last frames back until the stream goes on or ends: end it.
        first = [next(it) for _ in range(40)]
        server.close()  # the stalled connection ends, and nothing listens any more
        first += [next(it) for _ in range(10)]
        assert wait_for(lambda: bool(src.gaps), 5)
        [opened] = src.gaps
        assert opened.end is None and opened.wall_end is None and opened.start == first[-1].pts
        time.sleep(3.0)
        assert src.gaps == [opened] and seen == [opened]  # still open, still reconnecting
        server = ReplayServer(clip_ts.read_bytes(), stall=True, port=port)
        back = next(it)
    finally:
        src.close()
        server.close()
    [gap] = src.gaps
    assert seen == [opened, gap]
    assert (gap.start, gap.wall_start, gap.reason) == (opened.start, opened.wall_start, "stream ended")
    assert gap.end == back.pts and gap.wall_end == back.wall
    assert gap.wall_end - gap.wall_start >= 3.0
    assert gap.end - gap.start == pytest.approx(gap.wall_end - gap.wall_start, abs=0.05)


@pytest.mark.timeout(60)
def test_max_outage_gives_up_and_leaves_the_gap_open(replay_server: Callable[..., ReplayServer]) -> None:
    server = replay_server(max_conns=1)  # one replay of the clip, then refused
    frames: list[Frame] = []
    src = LiveSource(f"tcp://127.0.0.1:{server.port}", max_outage_s=0.8, **FAST)
    with pytest.raises(SourceExhausted, match=r"gave up after \d+s down, \d+ reconnect attempt"), src:
        for frame in src:
            frames.append(frame)
            assert len(frames) < 1000
    [gap] = src.gaps
    assert len(frames) == 50 and gap.start == frames[-1].pts and gap.end is None


# -- stopping while connecting


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ["refused", "silent", "listen"])
def test_stop_event_ends_the_first_connection_at_once(
    target: str, closed_port: int, silent_server: SilentServer,
) -> None:
    # Each would hold the caller for minutes: 3 retries 10 s apart, or attempts that wait 30 s each.
    uri = {"refused": f"tcp://127.0.0.1:{closed_port}", "silent": f"tcp://127.0.0.1:{silent_server.port}",
           "listen": f"tcp://127.0.0.1:{closed_port}?listen=1"}[target]
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        src = open_source(uri, open_timeout_s=30, read_timeout_s=30, connect_attempts=3,
                          reconnect_backoff_s=10, stop=stop)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    with src:
        assert list(src) == []
    if target == "listen":  # and it stopped listening: the port is free again at once, not after 30 s
        assert wait_for(lambda: _port_is_free(closed_port), 3)


@pytest.mark.timeout(90)
def test_close_does_not_wait_for_a_reconnect_attempt_in_flight(
    replay_server: Callable[..., ReplayServer],
) -> None:
    server = replay_server(silent_after=1)  # the first connection gets the clip, later ones hang
    src = ThreadedSource(LiveSource(f"tcp://127.0.0.1:{server.port}", open_timeout_s=30, read_timeout_s=30,
                                    reconnect_backoff_s=0.05), join_timeout_s=60)
    it = iter(src)
    next(it)
    # The clip ended; the reconnect is now stuck in an open that would wait 30 s.
    assert wait_for(lambda: server.connections >= 2, 10)
    time.sleep(0.2)
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
