"""Sound beside the frames: decoded in the source's worker, 16 kHz mono, on the video clock, bounded."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from media import wait_listening
from source_helpers import FFMPEG, free_port

from onlook.eval.speech_clip import make_speech_clip
from onlook.sources import open_source
from onlook.sources.audio import AudioFeed
from onlook.types import AudioChunk

PHRASES = [(1.0, "one"), (3.0, "two")]


def drain(feed: AudioFeed | None) -> list[AudioChunk]:
    out = []
    while feed is not None:
        c = feed.get(0)
        if c is None:
            break
        out.append(c)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("audio")
    out = {}
    for kind in ("tones", "silent", "none", "corrupt"):
        out[kind] = d / f"{kind}.mp4"
        make_speech_clip(out[kind], PHRASES, seconds=5, audio=kind)
    return out


def test_sound_of_a_file_is_16k_mono_on_the_video_clock(clips: dict[str, Path]) -> None:
    with open_source(str(clips["tones"]), audio=True) as src:
        frames = list(src)
        chunks = drain(src.audio)
    assert len(frames) == 50
    assert chunks and all(c.sample_rate == 16000 and c.samples.dtype == np.float32 for c in chunks)
    assert abs(chunks[0].pts) < 0.1
    assert abs(sum(c.duration for c in chunks) - 5.0) < 0.15
    # Chunks follow each other without holes or overlaps.
    for a, b in zip(chunks, chunks[1:]):
        assert abs(b.pts - a.end) < 0.01
    # The tones are where the clip put them (1 s at 1.0 and at 3.0), on the frames' clock.
    audio = np.concatenate([c.samples for c in chunks])
    loud = np.sqrt(np.mean(audio[: len(audio) // 1600 * 1600].reshape(-1, 1600) ** 2, axis=1)) > 0.05
    on = np.flatnonzero(np.diff(loud.astype(int)) == 1) + 1
    assert [round(chunks[0].pts + i * 0.1, 1) for i in on] == pytest.approx([1.0, 3.0], abs=0.15)


def test_a_source_without_sound_has_no_feed(clips: dict[str, Path]) -> None:
    with open_source(str(clips["none"]), audio=True) as src:
        assert src.audio is None
        assert len(list(src)) == 50


def test_audio_is_not_decoded_unless_asked_for(clips: dict[str, Path]) -> None:
    with open_source(str(clips["tones"])) as src:
        assert src.audio is None
        assert len(list(src)) == 50


def test_silent_track_gives_silence(clips: dict[str, Path]) -> None:
    with open_source(str(clips["silent"]), audio=True) as src:
        list(src)
        chunks = drain(src.audio)
    assert chunks and max(float(np.abs(c.samples).max()) for c in chunks) < 1e-3


def test_a_corrupt_audio_track_never_stops_the_video(clips: dict[str, Path]) -> None:
    with open_source(str(clips["corrupt"]), audio=True, queue_size=0) as src:
        frames = list(src)  # no SourceError: the video is intact
        assert len(frames) == 50
        assert src.audio_tap is not None and src.audio_tap.broken  # type: ignore[attr-defined]  # the real tap has it, the declared one not
        assert drain(src.audio) == []
        assert src.audio.exhausted


def test_paced_files_drop_oldest_and_full_speed_files_wait() -> None:
    feed = AudioFeed(max_s=0.5, drop_oldest=True)
    for i in range(10):
        feed.put(AudioChunk("s", i * 0.1, np.zeros(1600, np.float32)))
    assert feed.dropped_s == pytest.approx(0.5) and feed.pending == 5
    blocking = AudioFeed(max_s=0.2, drop_oldest=False)
    blocking.put(AudioChunk("s", 0.0, np.zeros(3200, np.float32)))
    import threading

    t = threading.Thread(target=blocking.put, args=(AudioChunk("s", 0.2, np.zeros(1600, np.float32)),))
    t.start()
    t.join(0.3)
    assert t.is_alive()  # waits for room rather than losing sound
    assert blocking.get(1).pts == 0.0
    t.join(2)
    assert not t.is_alive() and blocking.get(1).pts == 0.2 and blocking.dropped_s == 0.0


def test_realtime_file_keeps_its_feed_through_pacing(clips: dict[str, Path]) -> None:
    with open_source(str(clips["tones"]), audio=True, realtime=True, speed=20.0) as src:
        assert src.audio is not None and src.audio.drop_oldest
        assert len(list(src)) == 50
        assert drain(src.audio)


@pytest.mark.live
@pytest.mark.timeout(60)
def test_live_stream_carries_its_sound(clips: dict[str, Path]) -> None:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not on PATH")
    port = free_port()
    proc = subprocess.Popen([FFMPEG, "-nostdin", "-loglevel", "error", "-re", "-i", str(clips["tones"]),
                             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10",
                             "-c:a", "mp2", "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        with open_source(f"tcp://127.0.0.1:{port}", audio=True, reconnect_attempts=0, open_timeout_s=10,
                         read_timeout_s=5) as src:
            assert src.audio is not None
            frames = []
            deadline = time.monotonic() + 30
            for f in src:
                frames.append(f)
                if f.pts > 4.0 or time.monotonic() > deadline:
                    break
            chunks = drain(src.audio)
    finally:
        proc.kill()
        proc.wait(10)
    assert frames and chunks
    heard = sum(c.duration for c in chunks)
    assert heard > 2.0
    # Sound and picture share a clock: the sound runs alongside the frames, not seconds apart.
    assert abs(chunks[-1].end - frames[-1].pts) < 1.5
