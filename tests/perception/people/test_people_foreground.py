"""Foreground blobs: kept when they stand out, dropped when they are noise."""

from __future__ import annotations

import numpy as np

from onlook.perception.people.foreground import Foreground


def _fg_with_background(level: int = 120) -> Foreground:
    fg = Foreground(16.0)
    fg.restart(np.full((240, 320, 3), level, np.uint8))
    return fg


def test_a_dark_person_sized_blob_is_found_with_its_box():
    model = _fg_with_background()
    small = np.full((240, 320, 3), 120, np.uint8)
    small[100:130, 50:60] = 30
    mask = np.zeros((240, 320), np.uint8)
    mask[100:130, 50:60] = 1
    blobs = model.blobs(mask, small, min_height=0.035, min_contrast=30.0)
    assert len(blobs) == 1
    # The 2 x 2 opening is anchored at its pixel (1, 1): erosion then dilation shift the
    # mask one pixel right and down (and the tracker has always seen it so).
    assert blobs[0].box.tolist() == [51.0, 101.0, 61.0, 131.0] and blobs[0].area == 300


def test_faint_and_tiny_blobs_are_dropped():
    model = _fg_with_background()
    small = np.full((240, 320, 3), 120, np.uint8)
    small[100:130, 50:60] = 100  # 20 grey levels from the background: compression noise
    mask = np.zeros((240, 320), np.uint8)
    mask[100:130, 50:60] = 1
    mask[10:12, 200:202] = 1  # a 2 x 2 speck: 4 px, under min_area (0.15 * 8.4 ** 2 = 10.6)
    small[10:12, 200:202] = 0
    assert model.blobs(mask, small, min_height=0.035, min_contrast=30.0) == []


def test_moving_person_shows_as_foreground_after_the_model_starts():
    model = _fg_with_background()
    frame = np.full((240, 320, 3), 120, np.uint8)
    frame[100:130, 50:60] = 30
    small, fg = model.apply(frame, 0.01)
    assert fg[100:130, 50:60].all() and fg.sum() == 300
