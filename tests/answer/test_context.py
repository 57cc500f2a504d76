"""Context builder: pure selection, hashing and log formatting, then gathering from a synthetic memory."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from onlook.answer.context import (
    Candidate,
    Context,
    ContextBudget,
    ImageMemo,
    LogLine,
    build_context,
    dhash,
    fit_image,
    format_log,
    frames_fps,
    hamming,
    keyframe_time,
    select_frames,
    strip_span,
    time_label,
)
from onlook.errors import ConfigError

from .conftest import CUT, ENTER, frame_image


def _img(seed: int, w: int = 64, h: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)


# --- hashing -------------------------------------------------------------------------------------


def test_dhash_survives_resize_and_jpeg_but_separates_different_pictures():
    a = frame_image(5.0)
    ok, buf = cv2.imencode(".jpg", cv2.resize(a, (256, 192)), [cv2.IMWRITE_JPEG_QUALITY, 40])
    again = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert hamming(dhash(a), dhash(again)) <= 4
    assert hamming(dhash(_img(1)), dhash(_img(2))) > 12


# --- selection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("images,recent,n_recent,n_retrieved,expect_recent,expect_retrieved", [
    (8, 4, 10, 3, 5, 3),   # 4 recent slots + 3 retrieved, the 8th slot goes to the next-newest recent frame
    (4, 2, 10, 5, 2, 2),   # tight budget: 2 newest recent, 2 best retrieved
    (3, 3, 10, 5, 3, 0),   # all slots recent
    (5, 0, 2, 2, 2, 2),    # no reserved recent slots, retrieved first, then recent fills
    (0, 0, 3, 3, 0, 0),    # no images at all
])
def test_select_frames_respects_budget_and_priorities(images, recent, n_recent, n_retrieved,
                                                       expect_recent, expect_retrieved):
    cands = [Candidate(100.0 + i, _img(i), "recent", rank=n_recent - 1 - i) for i in range(n_recent)]
    cands += [Candidate(10.0 * (r + 1), _img(1000 + r), "retrieved", rank=r) for r in range(n_retrieved)]
    chosen, dropped = select_frames(cands, ContextBudget(images=images, recent=recent))
    assert dropped == 0
    assert len(chosen) == expect_recent + expect_retrieved <= images
    assert sum(c.why == "recent" for c in chosen) == expect_recent
    assert [c.t for c in chosen] == sorted(c.t for c in chosen)  # oldest first
    if expect_recent:
        assert max(c.t for c in chosen) == 100.0 + n_recent - 1  # the newest frame is always in
    got_retrieved = sorted(c.rank for c in chosen if c.why == "retrieved")
    assert got_retrieved == list(range(expect_retrieved))  # best hits first


def test_near_duplicates_are_removed_first_chosen_kept():
    same = _img(7)
    noisy = np.clip(same.astype(int) + np.random.default_rng(0).integers(-3, 3, same.shape), 0, 255).astype(np.uint8)
    cands = [Candidate(50.0, same, "recent", 0), Candidate(49.5, noisy, "recent", 1),
             Candidate(20.0, same, "retrieved", 0), Candidate(10.0, _img(8), "retrieved", 1)]
    chosen, dropped = select_frames(cands, ContextBudget(images=8, recent=2))
    assert [(c.t, c.why) for c in chosen] == [(10.0, "retrieved"), (50.0, "recent")]
    assert dropped == 2
    kept_all, dropped_none = select_frames(cands, ContextBudget(images=8, recent=2, dedup_distance=-1))
    assert len(kept_all) == 4 and dropped_none == 0


def test_same_time_retrieved_and_recent_is_one_frame():
    cands = [Candidate(12.0, _img(1), "recent", 0), Candidate(12.0, _img(2), "retrieved", 0)]
    chosen, dropped = select_frames(cands, ContextBudget())
    assert len(chosen) == 1 and chosen[0].why == "recent" and dropped == 1


@pytest.mark.parametrize("kw", [dict(images=-1), dict(recent=-2), dict(log_chars=-1), dict(image_side=10),
                                dict(dedup_distance=65)])
def test_budget_rejects_bad_values(kw):
    with pytest.raises(ConfigError):
        ContextBudget(**kw)


# --- small pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize("rel,t", [("keyframes/0000012500.jpg", 12.5), ("keyframes/0000000000.jpg", 0.0),
                                   (None, None), ("x.png", None)])
def test_keyframe_time(rel, t):
    assert keyframe_time(rel) == t


@pytest.mark.parametrize("t,label", [(0.0, "00:00"), (75.0, "01:15"), (75.5, "01:15.5"), (59.96, "01:00"),
                                     (3725.2, "1:02:05.2")])
def test_time_labels(t, label):
    assert time_label(t) == label


def test_fit_image_shrinks_longest_side_only():
    assert fit_image(np.zeros((480, 640, 3), np.uint8), 320).shape == (240, 320, 3)
    small = np.zeros((40, 60, 3), np.uint8)
    assert fit_image(small, 320) is small


def test_fit_image_averages_when_shrinking_a_lot():
    # One bright column in four, shrunk 4x, must come out as its average grey (bilinear
    # sampling would land between the bright columns and return black: aliasing).
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = 255
    small = fit_image(stripes, 16)
    assert small.shape == (16, 16, 3) and np.abs(small.astype(int) - 64).max() <= 1


def test_frames_fps():
    assert frames_fps([0.0, 0.5, 1.0, 1.5]) == pytest.approx(2.0)
    assert frames_fps([3.0]) is None


def test_strip_span():
    assert strip_span("00:12-00:19; 1 person visible") == "1 person visible"
    assert strip_span("1:02:03-1:02:09; a scene change") == "a scene change"
    assert strip_span("no span here") == "no span here"


# --- the event log -------------------------------------------------------------------------------


def test_format_log_keeps_retrieved_and_newest_within_budget():
    lines = [LogLine(float(i * 10), float(i * 10 + 9), f"event number {i} with some words") for i in range(20)]
    lines.append(LogLine(30.0, 39.0, "event number 3 with some words", retrieved=True))  # same span, marked
    text = format_log(lines, 200)
    assert len(text) <= 200
    kept = text.splitlines()
    assert any("event number 3 " in ln for ln in kept)  # retrieved survives though old
    assert any("event number 19 " in ln for ln in kept)  # newest survives
    assert not any("event number 0 " in ln for ln in kept)  # oldest unretrieved goes first
    assert kept == sorted(kept)  # oldest first (mm:ss sorts as text)


def test_format_log_cuts_a_single_long_line_and_handles_empty():
    text = format_log([LogLine(0.0, 5.0, "x" * 500)], 50)
    assert len(text) == 50 and text.endswith("…")
    assert format_log([], 100) == ""
    assert format_log([LogLine(1.0, 1.2, "a cut")], 100) == "00:01 a cut"


# --- per-frame memo -------------------------------------------------------------------------------


def test_image_memo_computes_once_per_live_array_and_key():
    memo = ImageMemo(8)
    calls: list[int] = []

    def make(im: np.ndarray) -> int:
        calls.append(id(im))
        return int(im.sum())

    a, twin = np.ones((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)
    assert memo.get(a, "sum", make) == 48 and memo.get(a, "sum", make) == 48
    assert len(calls) == 1
    assert memo.get(twin, "sum", make) == 48 and len(calls) == 2  # same pixels, another array: its own entry
    assert memo.get(a, "other", make) == 48 and len(calls) == 3  # another key: computed again


def test_image_memo_is_bounded_and_forgets_the_least_recently_used():
    memo = ImageMemo(3)
    arrays = [np.full((2, 2), i, np.uint8) for i in range(4)]
    for im in arrays[:3]:
        memo.get(im, "k", lambda im: int(im[0, 0]))
    memo.get(arrays[0], "k", lambda im: pytest.fail("arrays[0] is remembered"))  # now the most recent
    memo.get(arrays[3], "k", lambda im: int(im[0, 0]))
    assert len(memo) == 3
    assert memo.get(arrays[1], "k", lambda im: -1) == -1  # the least recently used went first
    assert memo.get(arrays[0], "k", lambda im: -1) == 0


def test_image_memo_never_answers_for_a_freed_array():
    # Freed arrays' ids are reused by new ones (CPython reuses the memory): a memo keyed by id
    # alone would hand a new frame the old frame's value. Every answer must match its own pixels.
    memo = ImageMemo(64)
    for i in range(200):
        im = np.full((8, 8), i % 251, np.uint8)
        assert memo.get(im, "v", lambda x: int(x[0, 0])) == i % 251
        del im


def test_build_context_fits_each_frame_once_and_shares_the_copy_read_only(make_view):
    view = make_view()
    budget = ContextBudget(images=4, recent=2, image_side=64)  # the scenario's frames are 128 px wide
    first = build_context("when did the person in red enter?", view, budget=budget)
    again = build_context("when did the person in red enter?", view, budget=budget)
    assert [f.t for f in first.frames] == [f.t for f in again.frames] and first.frames
    for f, g in zip(first.frames, again.frames, strict=True):
        assert g.image is f.image  # not resized again
        assert max(f.image.shape[:2]) == 64 and not f.image.flags.writeable
    recent = {a.frame.pts: a.frame.image for a in view.live.recent_frames()}
    latest = first.frames[-1]
    assert np.array_equal(latest.image, fit_image(recent[latest.t], 64))


# --- gathering from memory -----------------------------------------------------------------------


def test_build_context_live_is_causal_labelled_and_within_budget(make_view):
    view = make_view()
    budget = ContextBudget(images=6, recent=3, log_chars=400)
    ctx = build_context("when did the person in red enter?", view, budget=budget)
    assert isinstance(ctx, Context) and ctx.at == pytest.approx(40.0)
    assert 0 < len(ctx.frames) <= 6
    assert all(f.t <= ctx.at for f in ctx.frames)
    assert [f.t for f in ctx.frames] == sorted(f.t for f in ctx.frames)
    assert ctx.frames[-1].t == pytest.approx(40.0)  # the latest frame is shown
    assert any(f.why == "retrieved" and f.t == pytest.approx(ENTER) for f in ctx.frames)  # the entry keyframe
    assert len(ctx.log) <= 400 and "entered" in ctx.log
    assert "0 people visible" in ctx.now
    assert all(max(f.image.shape[:2]) <= budget.image_side for f in ctx.frames)


def test_build_context_at_an_earlier_time_sees_nothing_later(make_view):
    view = make_view()
    ctx = build_context("what happened?", view, at=CUT - 1.0)
    assert ctx.frames and all(f.t <= CUT - 1.0 for f in ctx.frames)
    assert "scene change" not in ctx.log and "left" not in ctx.log


def test_build_context_closed_store_uses_event_keyframes_as_recent(make_view):
    view = make_view(live=False)
    ctx = build_context("what is the man carrying?", view, budget=ContextBudget(images=4, recent=4))
    assert ctx.frames and all(f.keyframe and f.keyframe.startswith("keyframes/") for f in ctx.frames)
    assert all(f.why == "recent" for f in ctx.frames)
    text = ctx.text()
    assert "Event log" in text and "Stream time now: 00:40" in text


def test_build_context_is_fast_on_a_small_store(make_view):
    view = make_view()
    build_context("warm up", view)
    t0 = time.perf_counter()
    for _ in range(5):
        build_context("when did the person in red enter?", view)
    assert (time.perf_counter() - t0) / 5 < 0.5  # loose: the bench reports the real figure


@pytest.mark.parametrize("module", ["context", "openai_vlm", "dialogue", "confirm", "transformers_vlm"])
def test_exported_names_exist(module):
    import importlib

    mod = importlib.import_module(f"onlook.answer.{module}")
    assert sorted(set(mod.__all__)) == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"
