"""The tuning constants: frozen, and each one documented where it is defined."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from onlook.perception.people import thresholds
from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds


def test_thresholds_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        THRESHOLDS.person_width = 0.5  # type: ignore[misc]


def test_a_variant_is_made_with_replace_and_leaves_the_default_alone():
    wide = dataclasses.replace(THRESHOLDS, person_width=0.5)
    assert wide.person_width == 0.5 and THRESHOLDS.person_width == 0.38
    assert wide != THRESHOLDS and PeopleThresholds() == THRESHOLDS


def test_every_field_has_a_comment_saying_what_it_means():
    lines = inspect.getsource(thresholds.PeopleThresholds).splitlines()
    for f in dataclasses.fields(PeopleThresholds):
        line = next(li for li in lines if li.strip().startswith(f"{f.name}:"))
        comment = line.partition("#")[2].strip()
        assert len(comment) > 10, f.name


def test_counts_stay_integers():
    # Counts, pixel sizes handed to OpenCV and integer divisors must not turn into floats.
    for name in ("mog_history", "mog_foreground", "open_kernel", "close_y_min", "height_min_samples",
                 "height_refit_div", "share_samples", "hog_max_tries", "hog_min_h", "ms_stride", "valley_smooth"):
        assert type(getattr(THRESHOLDS, name)) is int, name
