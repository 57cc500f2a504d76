"""Tests for onlook.query.holding: a hand on a thing, its runs and its releases, from boxes."""

from __future__ import annotations

import pytest

from onlook.query.holding import RELEASE_S, hand_on, hold_frame, hold_runs, releases
from onlook.types import Observation
from onlook.vocabulary import Label

BOX = (0.2, 0.1, 0.8, 0.6)
ON = (0.4, 0.0, 0.6, 0.3)  # the top of the box: two thirds of the hand inside it
OFF = (0.85, 0.7, 0.95, 0.9)  # beside it


def _frame(t: float, hands=(ON,), things=(("box", BOX),)):
    obs = [Observation(t, "hand", "hand", 0.9, h) for h in hands]
    obs += [Observation(t, "object", label, 0.8, box, i) for i, (label, box) in enumerate(things)]
    obs.append(Observation(t, "person", "person", 0.9, (0.0, 0.0, 0.3, 1.0), 7))  # a person is no thing held
    return hold_frame(t, obs)


@pytest.mark.parametrize(("hand", "on"), [(ON, True), (OFF, False), ((0.7, 0.5, 0.9, 0.7), False),
                                          ((0.75, 0.5, 0.85, 0.62), True), ((0.2, 0.1, 0.2, 0.3), False)])
def test_a_hand_is_on_a_thing_when_most_of_it_lies_inside(hand, on):
    assert hand_on(hand, BOX) is on


def test_frame_keeps_the_kinds_asked_for_and_never_holds_a_table():
    obs = [Observation(1.0, "hand", "hand", 0.9, ON), Observation(1.0, "object", "box", 0.8, BOX, 1),
           Observation(1.0, "object", "dining table", 0.8, (0.0, 0.0, 1.0, 1.0), 2),
           Observation(1.0, "object", "cup", 0.8, (0.9, 0.9, 1.0, 1.0), 3)]
    f = hold_frame(1.0, obs)
    assert f.hands == 1 and [o.label for o in f.held] == ["box"] and {o.label for o in f.things} == {"box", "cup"}
    only_cups = hold_frame(1.0, obs, frozenset({Label.CUP}))
    assert [o.label for o in only_cups.things] == ["cup"] and only_cups.held == ()
    # asked for by name, a table a hand rests on is on: only "anything held" leaves fixtures out
    assert [o.label for o in hold_frame(1.0, obs, frozenset({Label.DINING_TABLE})).held] == ["dining table"]


def test_runs_bridge_short_misses_of_the_hand_detector():
    frames = [_frame(t / 2, hands=(ON,) if t not in (3, 4, 12, 13, 14, 15) else ()) for t in range(20)]
    # missed at 1.5-2.0 s (1 s: bridged), and 6.0-7.5 s (2 s: a new run)
    assert hold_runs(frames) == [(0.0, 5.5), (8.0, 9.5)]


def test_a_release_needs_the_thing_in_view_without_a_hand_for_a_while():
    held = [_frame(t / 2) for t in range(4)]
    brief = [_frame(2.0 + t / 2, hands=(OFF,)) for t in range(2)]  # 0.5 s beside it, then back
    assert releases(held + brief + [_frame(3.0)]) == []
    free = [_frame(2.0 + t / 2, hands=(OFF,)) for t in range(int(RELEASE_S * 2) + 1)]
    assert releases(held + free) == [2.0]
    # the hand leaving the picture with the thing left behind is a release too
    gone = [_frame(2.0 + t / 2, hands=()) for t in range(int(RELEASE_S * 2) + 1)]
    assert releases(held + gone) == [2.0]
    # frames where the thing is not seen (hidden, or carried out) are no evidence of letting go
    unseen = [_frame(2.0 + t / 2, hands=(), things=()) for t in range(10)]
    assert releases(held + unseen) == []
    # never held: nothing to let go of
    assert releases(free) == []
