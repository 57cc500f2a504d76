"""A small synthetic stream memory for the VLM answerer tests (no footage, no detectors).

Scenario, 0..40 s at 2 fps: a red-clothed person enters from the right at 12 s and leaves at 25 s;
a scene cut at 20 s switches the background. Every frame differs visibly from the one a few seconds
before (a moving box, a drifting stripe), so near-duplicate removal has something real to decide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from onlook.memory import Memory, Store
from onlook.query.search import MemoryView
from onlook.types import Analysis, Frame, Observation

END = 40.0
ENTER, EXIT, CUT = 12.0, 25.0, 20.0


def frame_image(t: float, w: int = 128, h: int = 96) -> np.ndarray:
    """Background by scene; a bright stripe drifting with time; a red box while the person is in view."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (60, 120, 90) if t < CUT else (150, 60, 40)
    x = int((t * 9) % w)
    img[:, max(0, x - 6):x + 6] = (235, 235, 235)
    yy = int((t * 5) % h)
    img[max(0, yy - 4):yy + 4, :] = (20, 20, 20)
    if ENTER <= t < EXIT:
        px = int(w - (t - ENTER) * w / 13)
        img[30:80, max(0, px - 10):max(1, px + 10)] = (30, 30, 200)
    return img


def analyses(step: float = 0.5, end: float = END) -> list[Analysis]:
    out = []
    for i in range(int(end / step) + 1):
        t = round(i * step, 3)
        people = 1 if ENTER <= t < EXIT else 0
        obs = []
        if people:
            obs.append(Observation(t, "person", "person", 0.9, (0.6, 0.3, 0.8, 0.9), 1, {"colors": ["red"]}))
            obs.append(Observation(t, "motion", "centre", 0.2, None, None, {"regions": ["centre"]}))
        if t == ENTER:
            obs.append(Observation(t, "enter", "person", 0.9, (0.8, 0.3, 1.0, 0.9), 1,
                                   {"edge": "right", "colors": ["red"]}))
        if t == EXIT:
            obs.append(Observation(t, "exit", "person", 0.9, (0.0, 0.3, 0.2, 0.9), 1,
                                   {"edge": "left", "colors": ["red"]}))
        if t == CUT:
            obs.append(Observation(t, "scene_cut", "scene change", 0.9))
        out.append(Analysis(Frame("cam", i, t, 1000.0 + t, frame_image(t)), obs, 1.0, people))
    return out


@pytest.fixture
def make_view(tmp_path: Path) -> Callable[..., MemoryView]:
    """Factory: ``make_view(end=40.0, live=True)`` -> a MemoryView over the scenario up to ``end``.

    ``live=False`` closes the open event and returns a view of the store alone (like ``onlook ask``).
    """
    opened: list[Store] = []

    def make(end: float = END, live: bool = True, name: str = "store") -> MemoryView:
        store = Store(tmp_path / name)
        opened.append(store)
        mem = Memory(store, "cam", recent_window=16)
        for a in analyses(end=end):
            mem.add(a)
        if not live:
            mem.flush()
        return MemoryView(store, live=mem if live else None, stream_id="cam")

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def remember(tmp_path: Path) -> Callable[..., MemoryView]:
    """Factory: ``remember(frames)`` -> a live MemoryView of analyses at 0, 0.5, 1.0 s...

    ``frames`` holds, per analysed frame, a function of its time giving ``(observations, people)``: a scenario
    written as what each frame saw, for the tests that need a few frames of their own.
    """
    opened: list[Store] = []

    def make(frames: list[Callable[[float], tuple[list[Observation], int]]], step: float = 0.5) -> MemoryView:
        store = Store(tmp_path / f"store{len(opened)}")
        opened.append(store)
        mem = Memory(store, "cam")
        img = np.full((48, 64, 3), 80, np.uint8)
        for i, seen in enumerate(frames):
            t = round(i * step, 3)
            obs, people = seen(t)
            mem.add(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, people))
        return MemoryView(store, live=mem, stream_id="cam")

    yield make
    for s in opened:
        s.close()
