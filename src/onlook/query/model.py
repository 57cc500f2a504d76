"""The typed query language: one frozen record for questions, alerts and multiple-choice options.

A :class:`Query` says, in terms of what perception records, what a question asks (:class:`Ask`), about
which things (:class:`Subject`: labels with colour, region, size, motion and state filters), which event
(:class:`Event`), with which count comparison, ordinal and time range (:class:`TimeRange`), and whether
it continues the previous turn (:class:`FollowUp`). The parser (:mod:`onlook.query.understand`) fills it;
the answerer, the alert compiler and the multiple-choice checker read it; nothing downstream re-reads the
words. Words naming constraints perception cannot apply land in :attr:`Query.unknown`, so an answer can
say which constraint it did not apply instead of silently dropping it.

Every record round-trips through plain JSON (:meth:`Query.to_dict` / :meth:`Query.from_dict`), the form
the phrasing corpus in ``tests/query/corpus/`` and the model-filled parser use; ``docs/query-language.md``
describes that form for people.

Example:
    >>> q = Query.from_dict({"ask": "count", "labels": ["person"], "region": "left", "time": {"kind": "now"}})
    >>> q.subject.labels == frozenset({Label.PERSON}), q.subject.region, q.time.kind
    (True, <Region.LEFT: 'left'>, <TimeKind.NOW: 'now'>)
    >>> Query.from_dict(q.to_dict()) == q
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from onlook.errors import QueryError
from onlook.perception.color import COLOR_NAMES
from onlook.vocabulary import GROUP_MEMBERS, BodyState, Label, LabelGroup

__all__ = ["Ask", "Event", "Cmp", "Region", "Edge", "Size", "TimeKind", "FollowUp", "Comparison", "Anchor",
           "TimeRange", "Subject", "Query", "REGION_CELLS"]


class Ask(StrEnum):
    """What the answer must give."""

    COUNT = "count"
    """How many distinct things match (now, when the time is ``now``; so far otherwise)."""
    PEAK = "peak"
    """The most that matched at once."""
    AVERAGE = "average"
    """How many matched at once on average over the range ("on average, how many people are in view?")."""
    FREQUENCY = "frequency"
    """How many times the event happened ("how often", "how many times")."""
    DURATION = "duration"
    """How long the event or state lasted ("how long was the room empty?")."""
    WHEN = "when"
    """A time or span (mm:ss)."""
    EXISTS = "exists"
    """Yes or no, with evidence."""
    COLOUR = "colour"
    """The colours of the subject (of the picture when the subject has no labels)."""
    READ = "read"
    """The words: on-screen text, or what was said (``event == say``)."""
    LIST = "list"
    """Which kinds of thing are there ("what vehicles can you see?")."""
    IDENTIFY = "identify"
    """Which one: a description of the matching thing ("who came in first?")."""
    WHERE = "where"
    """Where in the picture the subject is."""
    DESCRIBE = "describe"
    """What is happening, in general."""
    ALERT = "alert"
    """A standing rule: notify each time the predicate becomes true."""
    UNKNOWN = "unknown"
    """Not understood (or a follow-up that keeps the previous turn's ask)."""


class Event(StrEnum):
    """What the subject does, or the state of the picture the query is about."""

    PRESENT = "present"
    """The subject is in view (the default)."""
    ABSENT = "absent"
    """No subject in view ("is the room empty?", "are there no people?")."""
    APPEAR = "appear"
    """The subject becomes visible (anywhere, e.g. after a cut)."""
    ENTER = "enter"
    """The subject comes into view through an edge ("walks in", "arrives", "comes from the left")."""
    LEAVE = "leave"
    """The subject goes out of view ("exits", "walks out", "disappears")."""
    STAY = "stay"
    """The subject remains in view a while ("stays", "lingers", "loiters")."""
    MOVE = "move"
    """The subject moves (with no labels: anything moves, i.e. motion)."""
    STOP = "stop"
    """The subject stops moving ("a car parks", "stops")."""
    CUT = "cut"
    """A shot change (subject labels ``{shot}``)."""
    CHANGE = "change"
    """A body state turns on or off (the subject's ``states`` say which): "sits down", "opens his mouth"."""
    SAY = "say"
    """Speech: something is said (the subject's ``words`` are what)."""
    HOLD = "hold"
    """A hand is on a thing (:attr:`Query.holding` says which kinds; empty: any): "holding a cup", "picks up"."""
    RELEASE = "release"
    """A hand that was on a thing is no longer on it while the thing stays: "drops", "lets go of", "puts down"."""


class Cmp(StrEnum):
    """A count comparison."""

    EQ = "eq"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"

    def holds(self, value: int, n: int) -> bool:
        """Whether ``value <op> n``."""
        return {Cmp.EQ: value == n, Cmp.GT: value > n, Cmp.GE: value >= n, Cmp.LT: value < n,
                Cmp.LE: value <= n}[self]


class Region(StrEnum):
    """A part of the picture (a third, a corner or the centre of a 3x3 grid)."""

    LEFT = "left"
    RIGHT = "right"
    TOP = "top"
    BOTTOM = "bottom"
    CENTRE = "centre"
    TOP_LEFT = "top left"
    TOP_RIGHT = "top right"
    BOTTOM_LEFT = "bottom left"
    BOTTOM_RIGHT = "bottom right"


REGION_CELLS: dict[Region, frozenset[str]] = {
    Region.LEFT: frozenset({"upper left", "middle left", "lower left"}),
    Region.RIGHT: frozenset({"upper right", "middle right", "lower right"}),
    Region.TOP: frozenset({"upper left", "upper centre", "upper right"}),
    Region.BOTTOM: frozenset({"lower left", "lower centre", "lower right"}),
    Region.CENTRE: frozenset({"centre"}),
    Region.TOP_LEFT: frozenset({"upper left"}),
    Region.TOP_RIGHT: frozenset({"upper right"}),
    Region.BOTTOM_LEFT: frozenset({"lower left"}),
    Region.BOTTOM_RIGHT: frozenset({"lower right"}),
}
"""The cells of the motion detector's 3x3 grid (:data:`onlook.perception.motion`) each region covers."""


class Edge(StrEnum):
    """An edge of the picture a subject crosses on entering or leaving."""

    LEFT = "left"
    RIGHT = "right"
    TOP = "top"
    BOTTOM = "bottom"


class Size(StrEnum):
    """A size filter on the subject's box."""

    LARGE = "large"
    SMALL = "small"


class TimeKind(StrEnum):
    """Which stretch of the stream a query is about."""

    ALL = "all"
    """Everything so far (the default)."""
    NOW = "now"
    """The current moment."""
    LAST = "last"
    """The last ``seconds`` ("in the last 2 minutes")."""
    START = "start"
    """The start: the first ``seconds``, or the opening moments when ``seconds`` is ``None``."""
    AT = "at"
    """Around the time ``start_s`` ("at 0:30")."""
    AGO = "ago"
    """Around ``seconds`` before now ("a minute ago")."""
    BETWEEN = "between"
    """From ``start_s`` to ``end_s``."""
    BEFORE = "before"
    """Before ``end_s`` or before the ``anchor`` event."""
    AFTER = "after"
    """After ``start_s`` or after the ``anchor`` event."""
    SHOT = "shot"
    """One shot other than the current one (``shot``: 1 the first, 2 the second...; -1 the one before the
    current, -2 the one before that). The current shot is ``after`` the latest cut."""


class FollowUp(StrEnum):
    """How a turn continues the previous one."""

    AFTER_PREVIOUS = "after_previous"
    """"And after that?", "what next?": the same query, after the previous answer's time."""
    BEFORE_PREVIOUS = "before_previous"
    """"And before that?": the same query, before the previous answer's time."""
    AMEND = "amend"
    """"What about the left side?", "and cars?": the previous query with the fields this one names."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """A count comparison: ``count <op> n`` ("more than 3", "3+", "drops below 3")."""

    op: Cmp
    n: int

    def holds(self, value: int) -> bool:
        """Whether ``value`` satisfies the comparison."""
        return self.op.holds(value, self.n)


@dataclass(frozen=True, slots=True)
class Anchor:
    """An event a time range is relative to ("after the first cut", "before the second person left").

    Attributes:
        event: What happened.
        labels: To what (``{shot}`` for a cut).
        ordinal: Which occurrence: 1 first, 2 second..., -1 last.
    """

    event: Event
    labels: frozenset[Label] = frozenset()
    ordinal: int = 1


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A stretch of stream time; see :class:`TimeKind` for what each field means per kind.

    Attributes:
        kind: The kind of range.
        seconds: Length for ``last``/``start``, distance for ``ago``.
        start_s: Stream seconds: the time for ``at``, the start for ``between``/``after``.
        end_s: Stream seconds: the end for ``between``/``before``.
        anchor: The event for ``before``/``after`` when no time is given.
        shot: Which shot for ``shot`` (resolved against the cuts in memory).
    """

    kind: TimeKind = TimeKind.ALL
    seconds: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    anchor: Anchor | None = None
    shot: int | None = None

    def bounds(self, at: float, start_window_s: float = 10.0, now_window_s: float = 1.0,
               anchor_s: float | None = None) -> tuple[float, float]:
        """``(since, until)`` in stream seconds for a query asked at stream time ``at``.

        Args:
            at: When the query is asked.
            start_window_s: How long "the start" is when no length is given.
            now_window_s: How far back "now" looks (perception samples, it does not see every frame).
            anchor_s: The time of the anchor event, resolved by the caller; ``None`` when it has not
                happened (then ``after`` is empty and ``before`` is everything).
        """
        if self.kind is TimeKind.NOW:
            return (max(0.0, at - now_window_s), at)
        if self.kind is TimeKind.LAST:
            return (max(0.0, at - (self.seconds or 0.0)), at)
        if self.kind is TimeKind.START:
            return (0.0, min(at, self.seconds or start_window_s))
        if self.kind is TimeKind.AT:
            p = min(at, self.start_s or 0.0)
            return (max(0.0, p - now_window_s), p)
        if self.kind is TimeKind.AGO:
            p = max(0.0, at - (self.seconds or 0.0))
            return (max(0.0, p - now_window_s), p)
        if self.kind is TimeKind.BETWEEN:
            return (min(at, self.start_s or 0.0), min(at, self.end_s if self.end_s is not None else at))
        if self.kind is TimeKind.BEFORE:
            end = self.end_s if self.end_s is not None else anchor_s
            return (0.0, at if end is None else min(at, end))
        if self.kind is TimeKind.AFTER:
            start = self.start_s if self.start_s is not None else anchor_s
            return (at, at) if start is None else (min(at, start), at)
        return (0.0, at)


@dataclass(frozen=True, slots=True)
class Subject:
    """The things a query is about, as perception labels with filters.

    Attributes:
        labels: Perception labels; empty means anything (or the whole picture, for colours and motion).
        colours: Clothing or object colours (canonical :data:`~onlook.perception.color.COLOR_NAMES`).
        region: Where in the picture.
        size: A size filter.
        moving: ``True`` moving, ``False`` stationary ("the parked car"), ``None`` either.
        states: Body states, each with whether it is on (``(SITTING, True)``).
        words: Words to find: on-screen text for ``text``, spoken words for ``event == say``.
        held: ``True`` only things a hand is on ("the box the hand is holding"), ``None`` either.
        heading: The way it travels across the picture ("walking to the left", "from left to right"): the
            edge it heads for; ``None`` any.
    """

    labels: frozenset[Label] = frozenset()
    colours: frozenset[str] = frozenset()
    region: Region | None = None
    size: Size | None = None
    moving: bool | None = None
    states: frozenset[tuple[BodyState, bool]] = frozenset()
    words: tuple[str, ...] = ()
    held: bool | None = None
    heading: Edge | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """One question, alert or multiple-choice option, in terms of what perception records.

    Attributes:
        ask: What the answer gives.
        subject: What it is about.
        event: What happens (``present`` by default).
        negated: The event did not happen ("did nobody leave?"); presence and absence are not negated
            but swapped (``absent``), so "not empty" is ``present``.
        compare: A count comparison ("more than 3 people").
        ordinal: Which occurrence: 1 first, 2 second..., -1 last/latest.
        edge: The edge crossed on entering or leaving.
        time: The time range.
        follow: How it continues the previous turn, if it does.
        unknown: Words of restrictive constraints perception cannot apply ("hood", "pen"), lemmas in order.
        holding: For ``hold`` and ``release``: the kinds of thing held ("a cup"); empty means any.
    """

    ask: Ask
    subject: Subject = field(default_factory=Subject)
    event: Event = Event.PRESENT
    negated: bool = False
    compare: Comparison | None = None
    ordinal: int | None = None
    edge: Edge | None = None
    time: TimeRange = field(default_factory=TimeRange)
    follow: FollowUp | None = None
    unknown: tuple[str, ...] = ()
    holding: frozenset[Label] = frozenset()

    def with_(self, **changes: Any) -> Query:
        """A copy with ``changes`` applied (fields of :class:`Query`)."""
        return replace(self, **changes)

    # ---- JSON form ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON form: only fields that differ from their defaults (see ``docs/query-language.md``)."""
        d: dict[str, Any] = {"ask": self.ask.value}
        s = self.subject
        if s.labels:
            d["labels"] = sorted(m.value for m in s.labels)
        if s.colours:
            d["colours"] = sorted(s.colours)
        if s.region:
            d["region"] = s.region.value
        if s.size:
            d["size"] = s.size.value
        if s.moving is not None:
            d["moving"] = s.moving
        if s.states:
            d["states"] = {st.value: on for st, on in sorted(s.states, key=lambda x: x[0].value)}
        if s.words:
            d["words"] = list(s.words)
        if s.held is not None:
            d["held"] = s.held
        if s.heading is not None:
            d["heading"] = s.heading.value
        if self.holding:
            d["holding"] = sorted(m.value for m in self.holding)
        if self.event is not Event.PRESENT:
            d["event"] = self.event.value
        if self.negated:
            d["negated"] = True
        if self.compare:
            d["compare"] = [self.compare.op.value, self.compare.n]
        if self.ordinal is not None:
            d["ordinal"] = self.ordinal
        if self.edge:
            d["edge"] = self.edge.value
        t = self.time
        if t != TimeRange():
            td: dict[str, Any] = {"kind": t.kind.value}
            for k in ("seconds", "start_s", "end_s"):
                if getattr(t, k) is not None:
                    td[k] = getattr(t, k)
            if t.anchor:
                td["anchor"] = {"event": t.anchor.event.value, "labels": sorted(m.value for m in t.anchor.labels),
                                "ordinal": t.anchor.ordinal}
            if t.shot is not None:
                td["shot"] = t.shot
            d["time"] = td
        if self.follow:
            d["follow"] = self.follow.value
        if self.unknown:
            d["unknown"] = list(self.unknown)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Query:
        """Read the JSON form (:meth:`to_dict`); group names ("vehicle") in ``labels`` expand to members.

        Raises:
            QueryError: a field is unknown or a value is not in its vocabulary.
        """
        allowed = {"ask", "labels", "colours", "region", "size", "moving", "states", "words", "event", "negated",
                   "compare", "ordinal", "edge", "time", "follow", "unknown", "held", "holding", "heading"}
        if not isinstance(d, dict):
            raise QueryError(f"a query must be a JSON object, not {type(d).__name__}")
        extra = set(d) - allowed
        if extra:
            raise QueryError(f"unknown query fields: {', '.join(sorted(extra))}")
        try:
            colours = frozenset(str(c) for c in d.get("colours", ()))
            bad = colours - set(COLOR_NAMES)
            if bad:
                raise ValueError(f"unknown colours {sorted(bad)}")
            subject = Subject(labels=_labels(d.get("labels", ())), colours=colours,
                              region=Region(d["region"]) if d.get("region") else None,
                              size=Size(d["size"]) if d.get("size") else None,
                              moving=None if d.get("moving") is None else bool(d["moving"]),
                              states=frozenset((BodyState(k), bool(v)) for k, v in dict(d.get("states", {})).items()),
                              words=tuple(str(w).lower() for w in d.get("words", ())),
                              held=None if d.get("held") is None else bool(d["held"]),
                              heading=Edge(d["heading"]) if d.get("heading") else None)
            cmp = d.get("compare")
            time = d.get("time")
            anchor = (time or {}).get("anchor")
            return cls(
                ask=Ask(d.get("ask", "unknown")), subject=subject, event=Event(d.get("event", "present")),
                negated=bool(d.get("negated", False)),
                compare=Comparison(Cmp(cmp[0]), int(cmp[1])) if cmp else None,
                ordinal=None if d.get("ordinal") is None else int(d["ordinal"]),
                edge=Edge(d["edge"]) if d.get("edge") else None,
                time=TimeRange() if not time else TimeRange(
                    kind=TimeKind(time.get("kind", "all")),
                    seconds=_float(time.get("seconds")), start_s=_float(time.get("start_s")),
                    end_s=_float(time.get("end_s")),
                    anchor=Anchor(Event(anchor["event"]), _labels(anchor.get("labels", ())),
                                  int(anchor.get("ordinal", 1))) if anchor else None,
                    shot=None if time.get("shot") is None else int(time["shot"])),
                follow=FollowUp(d["follow"]) if d.get("follow") else None,
                unknown=tuple(str(w) for w in d.get("unknown", ())),
                holding=_labels(d.get("holding", ())))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            raise QueryError(f"not a valid query: {e}") from None


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _labels(names: Any) -> frozenset[Label]:
    out: set[Label] = set()
    for name in names:
        try:
            out.update(GROUP_MEMBERS[LabelGroup(str(name))])
        except ValueError:
            out.add(Label.parse(str(name)))
    return frozenset(out)
