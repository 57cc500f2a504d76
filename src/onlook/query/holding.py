"""Which things a hand is on: the "hold" relation, read from one frame's hand and object boxes.

Perception gives boxes, not grips. A hand counts as on a thing when most of the hand's box lies inside
the thing's box (a hand gripping a box, a cup, a phone), which a hand merely passing in front of a thing
also does for a moment; letting go is therefore only believed when the thing stays in view without a
hand on it for a while (:data:`RELEASE_S`), and answers say that hands on things are what was checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from onlook.types import Observation, ObservationKind
from onlook.vocabulary import Label

__all__ = ["ON_SHARE", "RELEASE_S", "UNHOLDABLE", "HoldFrame", "hand_on", "hold_frame", "hold_runs", "releases"]

ON_SHARE = 0.3
"""Share of a hand's box inside a thing's box from which the hand is on it."""

RELEASE_S = 1.5
"""How long a thing that had a hand on it must stay in view with none before it counts as let go of: the
hand detector misses a hand now and then, and a hand pausing beside a thing is not a release."""


UNHOLDABLE = frozenset({
    Label.CAR, Label.BUS, Label.TRAIN, Label.TRUCK, Label.BOAT, Label.AIRPLANE, Label.MOTORCYCLE,
    Label.TRAFFIC_LIGHT, Label.FIRE_HYDRANT, Label.STOP_SIGN, Label.PARKING_METER, Label.BENCH, Label.COUCH,
    Label.BED, Label.DINING_TABLE, Label.TOILET, Label.OVEN, Label.SINK, Label.REFRIGERATOR,
    Label.ELEPHANT, Label.GIRAFFE, Label.ZEBRA, Label.HORSE, Label.COW, Label.BEAR,
})
"""Things a hand is on without holding them (a hand on a table, a car door): never counted as held."""


def hand_on(hand: Sequence[float], thing: Sequence[float]) -> bool:
    """Whether a hand's box (x0, y0, x1, y1) lies mostly inside a thing's box.

    Example:
        >>> hand_on((0.4, 0.0, 0.6, 0.3), (0.2, 0.1, 0.8, 0.6))
        True
        >>> hand_on((0.0, 0.0, 0.1, 0.1), (0.5, 0.5, 0.9, 0.9))
        False
    """
    ix = min(hand[2], thing[2]) - max(hand[0], thing[0])
    iy = min(hand[3], thing[3]) - max(hand[1], thing[1])
    area = (hand[2] - hand[0]) * (hand[3] - hand[1])
    return ix > 0 and iy > 0 and area > 0 and ix * iy / area >= ON_SHARE


@dataclass(frozen=True, slots=True)
class HoldFrame:
    """One analysed frame, as far as holding goes.

    Attributes:
        t: Stream time.
        hands: How many hands were seen.
        things: The objects of the kinds asked about that were seen.
        held: Those of ``things`` with a hand on them.
    """

    t: float
    hands: int
    things: tuple[Observation, ...]
    held: tuple[Observation, ...]


def hold_frame(t: float, observations: Iterable[Observation], labels: frozenset[Label] = frozenset()) -> HoldFrame:
    """The hands, the things of ``labels`` (any that can be held when empty) and which of them a hand is on."""
    obs = list(observations)
    hands = [o.box for o in obs if o.kind == ObservationKind.HAND and o.box is not None]
    names = {m.value for m in labels} if labels else {m.value for m in Label} - {m.value for m in UNHOLDABLE}
    things = tuple(o for o in obs if o.kind == ObservationKind.OBJECT and o.box is not None and o.label in names)
    held = tuple(o for o in things if any(hand_on(h, o.box) for h in hands))  # type: ignore[arg-type]
    return HoldFrame(t=t, hands=len(hands), things=things, held=held)


def hold_runs(frames: Sequence[HoldFrame], gap_s: float = RELEASE_S) -> list[tuple[float, float]]:
    """Spans during which a hand was on a thing, bridging gaps between held frames of up to ``gap_s``."""
    runs: list[tuple[float, float]] = []
    for f in frames:
        if not f.held:
            continue
        if runs and f.t - runs[-1][1] <= gap_s:
            runs[-1] = (runs[-1][0], f.t)
        else:
            runs.append((f.t, f.t))
    return runs


def releases(frames: Sequence[HoldFrame], hold_s: float = RELEASE_S) -> list[float]:
    """Times a thing that had a hand on it was let go of: it stayed in view, with no hand on it, for ``hold_s``.

    Frames where the thing was not seen say nothing (it may be hidden by the hand itself), so only frames
    that show the thing count towards the ``hold_s`` without a hand.
    """
    out: list[float] = []
    held_before = False
    free_since: float | None = None
    for f in frames:
        if f.held:
            held_before, free_since = True, None
            continue
        if not held_before or not f.things:
            continue
        if free_since is None:
            free_since = f.t
        if f.t - free_since >= hold_s:
            out.append(free_since)
            held_before, free_since = False, None
    return out
