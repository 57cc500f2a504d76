"""Fixtures for the source tests: generated clips and loopback servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from source_helpers import (
    FFMPEG,
    FfmpegServer,
    ReplayServer,
    SilentServer,
    free_port,
    write_clip,
)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """2 s, 25 fps, 64x48 H.264 in MP4."""
    return write_clip(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def clip_ts(media_dir: Path) -> Path:
    """2 s, 25 fps, 64x48 H.264 in MPEG-TS."""
    return write_clip(media_dir / "clip.ts", format="mpegts")


@pytest.fixture(scope="session")
def live_clip(media_dir: Path) -> Path:
    """12 s at 10 fps, long enough for ffmpeg to stream while the tests read."""
    return write_clip(media_dir / "live.mp4", seconds=12, fps=10)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def replay_server(clip_ts: Path) -> Iterator[Callable[..., ReplayServer]]:
    servers: list[ReplayServer] = []

    def start(**kw: object) -> ReplayServer:
        server = ReplayServer(clip_ts.read_bytes(), **kw)  # type: ignore[arg-type]  # options as the test gives them
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def ffmpeg_server(live_clip: Path) -> Iterator[FfmpegServer]:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not on PATH")
    server = FfmpegServer(live_clip, free_port())
    yield server
    server.kill()
