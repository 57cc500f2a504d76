"""Fixtures for the server tests: generated clips in a folder the servers allow files from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from media import scene_frames, write_clip

from onlook.footage import find_clip

from .helpers import LiveServer, start_server


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated clips (the test servers allow files from it)."""
    d = tmp_path_factory.mktemp("media")
    # 6 s, a hard cut at 3 s: one 'a scene change' alert.
    write_clip(d / "cut.mp4", scene_frames(6, fps=10, cut_at=3.0), fps=10)
    # 30 s of a static scene with a cut at 2 s: long enough to be running when a server stops.
    write_clip(d / "long.mp4", scene_frames(30, fps=5, w=160, h=120, cut_at=2.0, seed=3), fps=5)
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Iterator[LiveServer]:
    """A server (one per test module) allowing files from the generated clips and the real footage."""
    allow = [media_dir]
    vt = find_clip("vtest.avi")
    if vt is not None:
        allow.append(vt.parent)
    srv = start_server(tmp_path_factory.mktemp("root"), allow_files=allow)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c
