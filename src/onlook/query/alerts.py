"""Standing alert queries: free text compiled onto what perception sees.

:func:`compile_alert` maps a query such as "someone in a red jacket appears"
onto a :class:`Rule` over observations, or raises
:class:`~onlook.errors.UnsupportedQuery` at once when perception cannot see
what it asks about, so that no alert is accepted and then silently never
fires.

Two kinds of rule:

* *event* rules fire on discrete observations (a person entering or leaving,
  a scene cut, a word appearing), at most once per tracked person or word;
* *state* rules fire when a condition becomes true (motion in a region, a face
  visible, more than N people) and re-arm only after it has been false for
  ``release_s`` - hysteresis, so one continuing event fires once.

*Speech* rules ("someone says help", "when someone mentions the alarm") are
checked on transcript segments (:meth:`AlertBook.check_speech`), with the
hysteresis of on-screen words: the same words fire again only after going
unsaid for ``text_repeat_s``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from onlook.errors import UnsupportedQuery
from onlook.perception.motion import cell_of as _cell
from onlook.query.holding import HoldFrame, hold_frame, releases
from onlook.query.model import REGION_CELLS, Cmp, Comparison, Event, Query, Region
from onlook.query.speech import words_match
from onlook.query.understand import understand_alert
from onlook.types import Alert, Analysis, Observation, ObservationKind, SpeechSegment
from onlook.vocabulary import OBJECT_LABELS, Label, find_objects

__all__ = ["Rule", "RuleKind", "AlertBook", "compile_alert", "rule_from_query", "SUPPORTED_HINT"]

SUPPORTED_HINT = ("onlook can alert on: a person entering or leaving the view (optionally by clothing colour), "
                  "an object (car, dog, bag... 82 kinds) appearing, leaving or stopping (a car parks), "
                  "a person or object travelling left, right, up or down the picture, "
                  "more/fewer than N of them (moving or parked), "
                  "a word appearing on screen, a scene change, motion in a region of the picture, "
                  "a face or a hand (raised) appearing, a hand taking hold of a thing or letting go of it, "
                  "a face's mouth opening wide, eyes closing or turning to "
                  "the camera, someone sitting down, standing up, lying down or raising an arm, "
                  "more/fewer than N people, or words being said")


class RuleKind(StrEnum):
    """What a compiled alert :class:`Rule` watches for: the closed vocabulary of rule kinds.

    A ``StrEnum``, so a member equals its value (``RuleKind.ENTER == "enter"``) and callers comparing
    ``rule.kind`` with the plain strings keep working.

    Example:
        >>> RuleKind("count_above") is RuleKind.COUNT_ABOVE
        True
    """

    ENTER = "enter"
    """A person (optionally in given colours, in a region) comes into view: an event rule."""
    EXIT = "exit"
    """A person (optionally in given colours) leaves the view: an event rule."""
    PERSON_COLOR = "person_color"
    """A person in given clothing colours is seen: an event rule, once per tracked person."""
    TEXT = "text"
    """Given words appear on screen: an event rule, with the hysteresis of ``text_repeat_s``."""
    SCENE_CUT = "scene_cut"
    """A shot cut: an event rule."""
    MOTION = "motion"
    """Motion (optionally in a region): a state rule."""
    FACE = "face"
    """A face is visible: a state rule."""
    COUNT_ABOVE = "count_above"
    """At least ``count`` people (or objects of ``labels``) are visible: a state rule."""
    COUNT_BELOW = "count_below"
    """Fewer than ``count`` people (or objects of ``labels``) are visible: a state rule."""
    COUNT_EQUAL = "count_equal"
    """Exactly ``count`` people (or objects of ``labels``) are visible: a state rule."""
    APPEAR = "appear"
    """An object of ``labels`` (optionally in given colours, in a region) comes into view: an event rule."""
    DISAPPEAR = "disappear"
    """An object of ``labels`` leaves the view: an event rule."""
    SPEECH = "speech"
    """Given words are said: checked on transcript segments."""
    HAND = "hand"
    """A hand is visible (``raised``: a hand up, above a person's head): a state rule."""
    STATE = "state"
    """A face's state turns on or off (the mouth opens wide, the eyes close, the face turns to the camera):
    an event rule, once per change (face state's own hysteresis keeps one opening one change)."""
    STOP = "stop"
    """A tracked object of ``labels`` (or a person) that was moving comes to rest ("a car parks"): an event
    rule, once per track."""
    HOLD = "hold"
    """A hand is on a thing of ``labels`` (any thing that can be held when empty): a state rule."""
    RELEASE = "release"
    """A thing of ``labels`` that had a hand on it stays in view with none for
    :data:`~onlook.query.holding.RELEASE_S`: an event rule, once per letting go."""
    HEADING = "heading"
    """A tracked person (or object of ``labels``) travels ``heading`` across the picture ("someone walks to
    the left", "a car drives from left to right"): an event rule, once per track, when its centre has moved
    :data:`_HEADING_TRAVEL` of the picture that way since it was first seen."""


# When a track has "stopped": it travelled at least _STOP_MOVED box heights before, then stayed within
# _STOP_STILL box heights for _STOP_STILL_S seconds. Box heights, not frame shares, so a far car and a near
# one stop alike; the still radius is above the detector's jitter on a parked car (a few percent of its box).
_STOP_MOVED = 0.5
_STOP_STILL = 0.12
_STOP_STILL_S = 2.0
_STOP_HISTORY_S = 30.0  # path kept per track; tracks unseen this long are forgotten
_PathPoint = tuple[float, float, float, float]  # (t, centre x, centre y, box height) of one sighting
# A heading rule fires once a track's centre has gone this share of the picture its way since first seen (and
# more that way than across it): far enough that the detector's jitter on a standing person never makes it.
_HEADING_TRAVEL = 0.08


_STATE_RULES = (RuleKind.MOTION, RuleKind.FACE, RuleKind.COUNT_ABOVE, RuleKind.COUNT_BELOW, RuleKind.COUNT_EQUAL,
                RuleKind.HAND, RuleKind.HOLD)
# The observation an entry or exit rule fires on.
_MOVES = {RuleKind.ENTER: ObservationKind.ENTER, RuleKind.EXIT: ObservationKind.EXIT}
_OBJECT_MOVES = {RuleKind.APPEAR: ObservationKind.APPEAR, RuleKind.DISAPPEAR: ObservationKind.DISAPPEAR}


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled alert query.

    Attributes:
        query: The user's words.
        kind: A :class:`RuleKind` member; its plain string value (``"enter"``)
            is turned into the member on construction, and an unknown one is a
            ``ValueError``.
        colors: Clothing colours required (any of them).
        words: Words that must all appear in one text observation.
        region: Picture region (for motion, or where a person is).
        count: Threshold for count rules.
        labels: Object classes (:class:`onlook.vocabulary.Label` values) of object rules; a count
            rule with labels counts those objects instead of people.
        states: Of a state rule: the (:class:`onlook.vocabulary.BodyState` value, on) changes it fires on.
        raised: Of a hand rule: only a raised hand counts.
        cells: Motion-grid cells (``"lower left"``...) a person, object or motion must be in; empty: anywhere.
            A named region ("on the left") covers several (:data:`onlook.query.model.REGION_CELLS`).
        edge: Of an entry or exit rule: the picture edge crossed (``"left"``...).
        moving: Of a count: count only moving (``True``) or stationary, parked (``False``) objects, or people
            walking or standing still (the people tracker's ``moving`` and ``static``); of an
            appear rule, ``True``: fire on each track of the kind once it is seen moving ("a bicycle passes by").
        heading: Of a heading rule: the way the track travels (``"left"``, ``"right"``, ``"top"``, ``"bottom"``).
        nth: Of an event rule: fire only on this occurrence ("the second person enters": 2), counted from
            when the rule was added; ``None`` every one.
    """

    query: str
    kind: RuleKind
    colors: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    region: str | None = None
    count: int = 0
    labels: tuple[str, ...] = ()
    states: tuple[tuple[str, bool], ...] = ()
    raised: bool = False
    cells: tuple[str, ...] = ()
    edge: str | None = None
    moving: bool | None = None
    heading: str | None = None
    nth: int | None = None

    def __post_init__(self) -> None:
        if type(self.kind) is not RuleKind:
            object.__setattr__(self, "kind", RuleKind(self.kind))

    @property
    def is_state(self) -> bool:
        return self.kind in _STATE_RULES


def compile_alert(query: str, read: Callable[[str], Query] | None = None) -> Rule:
    """Compile a free-text alert query through the typed query (:func:`~onlook.query.understand.understand_alert`).

    Args:
        query: The user's words.
        read: What reads them into a typed query: the offline parser by default, or a model parser's
            :meth:`~onlook.query.model_parser.ModelQueryParser.alert`.

    Raises:
        UnsupportedQuery: perception cannot see what the query asks about; the message names the part.

    Example:
        >>> compile_alert("someone in a red jacket appears").kind
        <RuleKind.PERSON_COLOR: 'person_color'>
        >>> compile_alert("the word TAXI appears").words
        ('taxi',)
        >>> r = compile_alert("3+ people visible"); (r.kind, r.count)
        (<RuleKind.COUNT_ABOVE: 'count_above'>, 3)
    """
    if not query or not query.strip():
        raise UnsupportedQuery("an alert query cannot be empty")
    return rule_from_query(query, (read or understand_alert)(query))


def _refuse(query: str, what: str) -> UnsupportedQuery:
    return UnsupportedQuery(f"alert {query!r} asks for something perception cannot see ({what}); {SUPPORTED_HINT}")


_COUNTED_KINDS = frozenset({"enter", "exit", "person_color", "appear", "disappear", "scene_cut", "state", "stop",
                            "heading", "text"})


def rule_from_query(query: str, q: Query) -> Rule:
    """The :class:`Rule` that fires when the typed query ``q`` becomes true.

    An ordinal ("when the second person enters") makes an event rule fire on that occurrence only, counted
    from when the rule was added; "the last one" is known only afterwards, and a state has no occurrences
    to count, so those are refused.

    Raises:
        UnsupportedQuery: a part of ``q`` is not something perception records (named in the message).
    """
    words = find_objects(query)
    low = query.lower()
    joined = len(words) >= 2 and words[0][1] != words[1][1] and q.compare is None and re.search(
        rf"\b(?:(an?|the|one)\s+)?{re.escape(words[0][0])}\s+and\s+(?:(an?|the|one)\s+)?{re.escape(words[1][0])}\b",
        low)
    # "cars and trucks appear" is either kind; "a dog and a cat", "both", "together" is the two at once
    if joined and (joined.group(1) and joined.group(2) or re.search(r"\b(both|together|at the same time|at once)\b",
                                                                    low)):
        # "a dog and a cat are both visible": two things at once, which no rule checks (one rule fires on either)
        raise UnsupportedQuery(f"alert {query!r}: an alert watches for one kind of thing (or several kinds "
                               f"joined by \"or\"), not {words[0][0]} and {words[1][0]} together; add one "
                               "alert for each")
    rule = _rule_from_query(query, q)
    if q.ordinal is None:
        return rule
    if q.ordinal < 1:
        raise UnsupportedQuery(f"alert {query!r}: which one is the last is only known afterwards; ask for the "
                               "first, second... one, or for every one")
    if rule.kind.value not in _COUNTED_KINDS:
        raise UnsupportedQuery(f"alert {query!r}: an ordinal counts events (entries, exits, cuts...), and "
                               f"{rule.kind.value.replace('_', ' ')} is a state, not an event")
    return replace(rule, nth=q.ordinal)


def _rule_from_query(query: str, q: Query) -> Rule:
    s = q.subject
    if q.unknown:
        raise _refuse(query, ", ".join(q.unknown))
    if q.negated:
        raise UnsupportedQuery(f"alert {query!r}: an alert fires when something happens; say what should happen "
                               f"instead of what should not ({q.event.value}, negated)")
    cells = tuple(sorted(REGION_CELLS[s.region])) if s.region else ()
    if q.edge and Label.PERSON not in s.labels and s.region is None:
        cells = tuple(sorted(REGION_CELLS[Region(q.edge.value)]))  # objects: where they appear, not an edge
    # One cell is the rule's ``region`` (what motion and the stored rules have always matched on).
    region, cells = (cells[0], ()) if len(cells) == 1 else (None, cells)
    labels = tuple(sorted(m.value for m in s.labels))
    objects = tuple(sorted(m.value for m in s.labels if m in OBJECT_LABELS))
    people = Label.PERSON in s.labels
    colors = tuple(sorted(s.colours))
    edge = q.edge.value if q.edge else None
    states = tuple(sorted((st.value, on) for st, on in s.states))
    # Filters no rule applies are refused by name rather than dropped: the rule would fire on more than asked.
    if s.size is not None:
        raise _refuse(query, f"the size of things ({s.size.value})")
    counts_objects = (q.compare is not None or q.event is Event.ABSENT) and bool(objects) and not people
    # "A bicycle passes by", "a moving car appears": an object of the kind seen moving (the tracker says which
    # tracks travelled), once per track.
    moving_object = (bool(objects) and not people and not counts_objects
                     and (q.event is Event.MOVE or (s.moving is True and q.event in (Event.APPEAR, Event.PRESENT,
                                                                                      Event.ENTER))))
    if s.heading is not None:
        if s.labels and not s.labels <= OBJECT_LABELS | {Label.PERSON}:
            raise _refuse(query, "which way it travels (only people and objects are tracked)")
        return Rule(query, RuleKind.HEADING, labels=labels or (Label.PERSON.value,), colors=colors, region=region,
                    cells=cells, heading=s.heading.value)
    if moving_object:
        return Rule(query, RuleKind.APPEAR, colors=colors, region=region, cells=cells, labels=objects, moving=True)
    if people and not objects and s.moving is not None and q.event in (Event.PRESENT, Event.ABSENT):
        # "someone is standing still", "3+ people walking": the people tracker says who stands still and who moves.
        kind, n = _count_rule(q.compare or Comparison(Cmp.LT if q.event is Event.ABSENT else Cmp.GE, 1))
        return Rule(query, kind, count=n, colors=colors, region=region, cells=cells, moving=s.moving)
    if s.moving is not None and not counts_objects and q.event is not Event.STOP:
        raise _refuse(query, "whether it is moving or parked (an alert can count parked or moving objects, "
                             "or fire when one stops)")
    if q.event is Event.SAY:
        if not s.words:
            raise UnsupportedQuery(f"alert {query!r}: say which words to listen for (\"someone says help\")")
        return Rule(query, RuleKind.SPEECH, words=s.words)
    if Label.TEXT in s.labels or s.words:
        if not s.words:
            raise UnsupportedQuery(f"alert {query!r}: put the words to look for in quotes or CAPITALS")
        return Rule(query, RuleKind.TEXT, words=s.words)
    if q.event is Event.CUT or Label.SHOT in s.labels:
        return Rule(query, RuleKind.SCENE_CUT)
    if states:
        return Rule(query, RuleKind.STATE, states=tuple((st, on) for st, on in states))
    if q.event is Event.STOP and s.labels and s.labels <= OBJECT_LABELS | {Label.PERSON}:
        return Rule(query, RuleKind.STOP, labels=labels, colors=colors, region=region, cells=cells)
    if q.event in (Event.STAY, Event.STOP) or (q.event is Event.MOVE and s.labels):
        what = {Event.STAY: "how long someone stays", Event.STOP: "what stops (only people and objects are tracked)",
                Event.MOVE: "which thing moves (motion is seen per picture region, not per object)"}[q.event]
        raise _refuse(query, what)
    if q.event in (Event.HOLD, Event.RELEASE):
        if colors or s.labels - {Label.PERSON, Label.HAND}:
            raise _refuse(query, "who holds it (hands are not matched to people or their clothes)")
        held = tuple(sorted(m.value for m in q.holding))
        return Rule(query, RuleKind.HOLD if q.event is Event.HOLD else RuleKind.RELEASE, labels=held, region=region,
                    cells=cells)
    if s.held:
        raise _refuse(query, "a thing picked out by the hand holding it (alert on the hand taking hold of it)")
    if s.labels == {Label.HAND}:
        raised = bool(re.search(r"\b(rais\w*|up|wav\w*|lift\w*)\b", query.lower()))
        return Rule(query, RuleKind.HAND, raised=raised)
    if s.labels == {Label.FACE}:
        return Rule(query, RuleKind.FACE)
    if q.compare is not None or q.event is Event.ABSENT:
        cmp = q.compare or Comparison(Cmp.LT, 1)
        if q.event is Event.ABSENT and q.compare is None:
            cmp = Comparison(Cmp.LT, 1)
        counted = () if people or not objects else objects
        kind, n = _count_rule(cmp)
        return Rule(query, kind, count=n, labels=counted, colors=colors if people else (), region=region, cells=cells,
                    moving=s.moving if counted else None)
    if not s.labels:
        if q.event is Event.MOVE:
            return Rule(query, RuleKind.MOTION, region=region, cells=cells)
        raise _refuse(query, "it names nothing perception sees: say who or what (a person, a car, a hand...)")
    if people:
        if q.event is Event.LEAVE:
            return Rule(query, RuleKind.EXIT, colors=colors, region=region, cells=cells, edge=edge)
        if q.event is Event.ENTER or (q.event is Event.APPEAR and not colors):
            return Rule(query, RuleKind.ENTER, colors=colors, region=region, cells=cells, edge=edge)
        if q.event is Event.MOVE:
            return Rule(query, RuleKind.MOTION, region=region, cells=cells)
        if colors:
            return Rule(query, RuleKind.PERSON_COLOR, colors=colors, region=region, cells=cells)
        # "a person is present", "when the room is not empty": someone in view, with hysteresis.
        return Rule(query, RuleKind.COUNT_ABOVE, count=1, region=region, cells=cells)
    if objects:
        if q.event is Event.LEAVE:
            return Rule(query, RuleKind.DISAPPEAR, colors=colors, region=region, cells=cells, labels=objects)
        return Rule(query, RuleKind.APPEAR, colors=colors, region=region, cells=cells, labels=objects)
    raise _refuse(query, ", ".join(labels))


def _count_rule(cmp: Comparison) -> tuple[RuleKind, int]:
    """The count rule and threshold of a comparison ("more than 3" -> at least 4)."""
    return {Cmp.GT: (RuleKind.COUNT_ABOVE, cmp.n + 1), Cmp.GE: (RuleKind.COUNT_ABOVE, cmp.n),
            Cmp.LT: (RuleKind.COUNT_BELOW, cmp.n), Cmp.LE: (RuleKind.COUNT_BELOW, cmp.n + 1),
            Cmp.EQ: (RuleKind.COUNT_EQUAL, cmp.n)}[cmp.op]


def _dist(p: tuple[float, float, float, float], cx: float, cy: float) -> float:
    return float(((p[1] - cx) ** 2 + (p[2] - cy) ** 2) ** 0.5)


def _follow(st: _RuleState, obs: list[Observation], t: float) -> list[tuple[Observation, list[_PathPoint]]]:
    """This analysis's tracks of the rule's things that have not fired yet, each with its path so far (this
    sighting added); paths of tracks gone from view are forgotten, so memory stays bounded."""
    r = st.rule
    out = []
    for o in obs:
        is_thing = (o.kind == ObservationKind.OBJECT and o.label in r.labels) or (
            o.kind == ObservationKind.PERSON and Label.PERSON.value in r.labels)
        if not is_thing or o.track_id is None or o.box is None or o.track_id in st.fired_tracks:
            continue
        x0, y0, x1, y1 = o.box
        path = st.paths.setdefault(o.track_id, [])
        path.append((t, (x0 + x1) / 2, (y0 + y1) / 2, max(1e-3, y1 - y0)))
        out.append((o, path))
    for tid in [k for k, p in st.paths.items() if not p or t - p[-1][0] > _STOP_HISTORY_S]:
        del st.paths[tid]
    return out


def _stopped(st: _RuleState, obs: list[Observation], t: float) -> list[Observation]:
    """The tracks of a stop rule that, in this analysis, came to rest after moving (each fires once)."""
    hits = []
    for o, path in _follow(st, obs, t):
        while path and t - path[0][0] > _STOP_HISTORY_S:
            path.pop(0)
        still = [p for p in path if t - p[0] <= _STOP_STILL_S]
        before = [p for p in path if t - p[0] > _STOP_STILL_S]
        if not before or len(still) < 2:
            continue  # not followed long enough to tell
        h = sorted(p[3] for p in path)[len(path) // 2]
        cx, cy = path[-1][1], path[-1][2]

        moved = max(_dist(p, cx, cy) for p in before) / h
        wobble = max(_dist(p, cx, cy) for p in still) / h
        if wobble <= _STOP_STILL and moved >= _STOP_MOVED and _person_matches(o, st.rule):
            st.fired_tracks.add(o.track_id)  # type: ignore[arg-type]  # _follow keeps tracked ones only
            hits.append(o)
    return hits


def _headed(st: _RuleState, obs: list[Observation], t: float) -> list[Observation]:
    """The tracks of a heading rule that, in this analysis, have travelled its way far enough (once each)."""
    hits = []
    for o, path in _follow(st, obs, t):
        if len(path) > 2:
            del path[1:-1]  # its first sighting and now are all the rule needs
        dx, dy = path[-1][1] - path[0][1], path[-1][2] - path[0][2]
        ways = {"left": (-dx, dy), "right": (dx, dy), "top": (-dy, dx), "bottom": (dy, dx)}
        along, across = ways[st.rule.heading or "left"]
        if along >= _HEADING_TRAVEL and along > abs(across) and _person_matches(o, st.rule):  # colours, cells too
            st.fired_tracks.add(o.track_id)  # type: ignore[arg-type]
            hits.append(o)
    return hits


def _labels(values: tuple[str, ...]) -> frozenset[Label]:
    return frozenset(Label(v) for v in values)


def _released(st: _RuleState, obs: list[Observation], t: float) -> list[Observation]:
    """The thing of a release rule, when this analysis shows it let go of (:func:`~onlook.query.holding.releases`)."""
    f = hold_frame(t, obs, _labels(st.rule.labels))
    if f.held:
        st.hold_frames = [f]  # only the latest held frame matters for what follows
        return []
    if not st.hold_frames or not f.things:
        return []  # frames without the thing say nothing (releases() skips them): kept out, so the list stays short
    st.hold_frames.append(f)
    let_go = releases(st.hold_frames)
    if let_go:
        st.hold_frames = []
        return [replace(o, t=let_go[0]) for o in f.things[:1]]  # at the time it was let go of
    return []


def _person_matches(o: Observation, rule: Rule) -> bool:
    if rule.colors and not set(rule.colors) & set(o.attrs.get("colors", [])):
        return False
    if rule.edge and o.kind in (ObservationKind.ENTER, ObservationKind.EXIT) and o.attrs.get("edge") != rule.edge:
        return False
    cells = set(rule.cells) or ({rule.region} if rule.region else set())
    if cells:
        cell = _cell(o)
        return cell is None or cell in cells
    return True


@dataclass
class _RuleState:
    rule: Rule
    active: bool = False  # state rules: condition currently held (fired)
    false_since: float | None = None
    fired_tracks: set[int] = field(default_factory=set)
    fired_words: dict[str, float] = field(default_factory=dict)
    # stop and heading rules: each track's recent (t, centre x, centre y, box height)
    paths: dict[int, list[_PathPoint]] = field(default_factory=dict)
    # release rules: the hold frames since a hand was last on the thing (bounded: cleared on each release)
    hold_frames: list[HoldFrame] = field(default_factory=list)
    occurrences: int = 0  # rules with an ordinal: the events counted so far


class AlertBook:
    """The standing queries of one stream and their hysteresis state.

    Args:
        stream_id: Stream the alerts belong to.
        release_s: A state rule re-arms after its condition was false this long.
        text_repeat_s: The same words re-fire only after being unseen this long.
        hears: Whether speech is transcribed (speech alerts are refused without it).
        read: Reads an alert into its typed query (default: the offline parser).
    """

    def __init__(self, stream_id: str, *, release_s: float = 3.0, text_repeat_s: float = 30.0,
                 hears: bool = True, read: Callable[[str], Query] | None = None) -> None:
        self.stream_id = stream_id
        self.read = read
        self.hears = hears  # whether speech is transcribed: speech alerts are refused without it
        self.release_s = release_s
        self.text_repeat_s = text_repeat_s
        self._rules: dict[str, _RuleState] = {}

    def add(self, query: str, visible: list[Observation] | None = None) -> Rule:
        """Register a query (idempotent). Raises UnsupportedQuery if it cannot fire.

        Args:
            query: The user's words.
            visible: Observations of the latest frame. People already in view
                when a query like "someone in red appears" is registered are
                not news: they are marked as seen so only later ones fire.
        """
        rule = compile_alert(query, self.read)
        if rule.kind == RuleKind.SPEECH and not self.hears:
            raise UnsupportedQuery(f"alert {query!r} listens for speech, which is off here (--no-speech, or "
                                   "faster-whisper is not installed: pip install 'onlook[speech]')")
        if query not in self._rules:
            st = _RuleState(rule)
            if rule.kind == RuleKind.PERSON_COLOR:
                st.fired_tracks.update(o.track_id for o in visible or []
                                       if o.kind == ObservationKind.PERSON and o.track_id is not None
                                       and _person_matches(o, rule))
            self._rules[query] = st
        return rule

    def remove(self, query: str) -> bool:
        return self._rules.pop(query, None) is not None

    @property
    def queries(self) -> list[str]:
        return list(self._rules)

    def speech_words(self) -> tuple[str, ...]:
        """Every word the speech rules listen for (hints for the transcriber), in order of registration."""
        return tuple(dict.fromkeys(w for st in self._rules.values() if st.rule.kind == RuleKind.SPEECH
                                   for w in st.rule.words))

    def check(self, a: Analysis) -> list[Alert]:
        """Evaluate every rule on one new analysis; return the alerts that fire."""
        out: list[Alert] = []
        t, wall = a.frame.pts, a.frame.wall
        for st in self._rules.values():
            ev = self._evidence(st, a)
            if ev is None:
                continue
            if st.rule.nth is not None:  # only the nth occurrence, once
                before, st.occurrences = st.occurrences, st.occurrences + len(ev)
                if not before < st.rule.nth <= st.occurrences:
                    continue
                ev = [ev[st.rule.nth - before - 1]]
            if st.rule.kind in (RuleKind.ENTER, RuleKind.EXIT, RuleKind.PERSON_COLOR, RuleKind.APPEAR,
                                RuleKind.DISAPPEAR, RuleKind.STATE, RuleKind.STOP, RuleKind.HEADING):
                # Two people entering in the same frame are two alerts, one per person.
                out.extend(Alert(query=st.rule.query, t=t, wall=wall, stream_id=self.stream_id, evidence=(o,))
                           for o in ev)
            elif st.rule.kind in (RuleKind.SCENE_CUT, RuleKind.RELEASE):
                # A cut is confirmed a little after it happened (the shot model needs frames after it), a
                # release once the thing stayed free a while: the alert is at the event's own time; ``wall``
                # says when it was known.
                out.append(Alert(query=st.rule.query, t=min(o.t for o in ev), wall=wall, stream_id=self.stream_id,
                                 evidence=tuple(ev)))
            else:
                out.append(Alert(query=st.rule.query, t=t, wall=wall, stream_id=self.stream_id,
                                 evidence=tuple(ev)))
        return out

    def check_speech(self, seg: SpeechSegment, *, wall: float) -> list[Alert]:
        """Evaluate the speech rules on one new transcript segment; return the alerts that fire.

        An alert's time is when its first word was said (the segment's start
        without word times); ``wall`` is when the sound was decoded, so the
        alert's latency is measured from the speech, as a visual alert's is
        from its frame.
        """
        out: list[Alert] = []
        for st in self._rules.values():
            r = st.rule
            if r.kind != RuleKind.SPEECH or not words_match(r.words, seg.text):
                continue
            t = next((w.start for w in seg.words if words_match(r.words[:1], w.text)), seg.start)
            key = " ".join(r.words)
            last = st.fired_words.get(key)
            st.fired_words[key] = t
            if last is None or t - last > self.text_repeat_s or t < last:
                ev = Observation(t=t, kind=ObservationKind.SPEECH, label=seg.text, score=seg.confidence,
                                 attrs={"end": round(seg.end, 3), "words": list(r.words)})
                out.append(Alert(query=r.query, t=t, wall=wall, stream_id=self.stream_id, evidence=(ev,)))
        return out

    def _evidence(self, st: _RuleState, a: Analysis) -> list[Observation] | None:
        r = st.rule
        obs = a.observations
        t = a.frame.pts
        if r.kind == RuleKind.SPEECH:
            return None  # checked on transcript segments
        if r.kind == RuleKind.SCENE_CUT:
            hits = [o for o in obs if o.kind == ObservationKind.SCENE_CUT]
            return hits or None
        if r.kind == RuleKind.STATE:
            hits = [o for o in obs if o.kind in (ObservationKind.FACE_STATE, ObservationKind.POSE)
                    and "change" in o.attrs and (o.attrs["change"], bool(o.attrs.get("on"))) in r.states]
            return hits or None
        if r.kind == RuleKind.STOP:
            return _stopped(st, obs, t) or None
        if r.kind == RuleKind.HEADING:
            return _headed(st, obs, t) or None
        if r.kind == RuleKind.RELEASE:
            return _released(st, obs, t) or None
        object_move = _OBJECT_MOVES.get(r.kind)
        if object_move is not None and r.moving:  # the first sighting of each track that travelled
            hits = [o for o in obs if o.kind == ObservationKind.OBJECT and o.label in r.labels
                    and o.attrs.get("stationary") is False and _person_matches(o, r)
                    and o.track_id not in st.fired_tracks]
            st.fired_tracks.update(o.track_id for o in hits if o.track_id is not None)
            return hits or None
        if object_move is not None:
            hits = [o for o in obs if o.kind == object_move and o.label in r.labels and _person_matches(o, r)
                    and o.track_id not in st.fired_tracks]
            st.fired_tracks.update(o.track_id for o in hits if o.track_id is not None)
            return hits or None
        move = _MOVES.get(r.kind)
        if move is not None:
            hits = [o for o in obs if o.kind == move and _person_matches(o, r)
                    and o.track_id not in st.fired_tracks]
            if r.kind == RuleKind.EXIT and r.colors:
                hits = [o for o in hits if set(r.colors) & set(o.attrs.get("colors", []))]
            st.fired_tracks.update(o.track_id for o in hits if o.track_id is not None)
            return hits or None
        if r.kind == RuleKind.PERSON_COLOR:
            hits = [o for o in obs if o.kind == ObservationKind.PERSON and _person_matches(o, r)
                    and o.track_id not in st.fired_tracks]
            st.fired_tracks.update(o.track_id for o in hits if o.track_id is not None)
            return hits or None
        if r.kind == RuleKind.TEXT:
            hits = []
            for o in obs:
                if o.kind != ObservationKind.TEXT:
                    continue
                text_words = set(o.attrs.get("words") or re.findall(r"[a-z0-9]+", o.label.lower()))
                if set(r.words) <= text_words:
                    key = " ".join(r.words)
                    last = st.fired_words.get(key)
                    st.fired_words[key] = t
                    if last is None or t - last > self.text_repeat_s or t < last:
                        hits.append(o)
            return hits or None
        # State rules, with hysteresis.
        if r.kind == RuleKind.MOTION:
            cells = set(r.cells) or ({r.region} if r.region else set())
            hits = [o for o in obs if o.kind == ObservationKind.MOTION
                    and (not cells or cells & set(o.attrs.get("regions", [])))]
        elif r.kind == RuleKind.FACE:
            hits = [o for o in obs if o.kind == ObservationKind.FACE]
        elif r.kind == RuleKind.HAND:
            hits = [o for o in obs if o.kind == ObservationKind.HAND and (not r.raised or o.attrs.get("raised"))]
        elif r.kind == RuleKind.HOLD:
            hits = [o for o in hold_frame(t, obs, _labels(r.labels)).held if _person_matches(o, r)]
        else:  # counts: of objects of ``labels``, else of people (in given colours or cells)
            if r.labels:
                things = [o for o in obs if o.kind == ObservationKind.OBJECT and o.label in r.labels
                          and _person_matches(o, r)
                          and (r.moving is None or bool(o.attrs.get("stationary")) != r.moving)]
                n = len(things)
            else:
                things = [o for o in obs if o.kind == ObservationKind.PERSON and _person_matches(o, r)
                          and (r.moving is None or o.attrs.get("state") == ("moving" if r.moving else "static"))]
                n = len(things) if (r.colors or r.cells or r.moving is not None) else a.people
            holds = (n >= r.count if r.kind == RuleKind.COUNT_ABOVE else n < r.count if r.kind == RuleKind.COUNT_BELOW
                     else n == r.count)
            if not holds:
                hits = []
            elif r.kind == RuleKind.COUNT_ABOVE and things:
                hits = things
            else:
                hits = [Observation(t=t, kind=ObservationKind.COUNT, label=str(n), score=1.0,
                                    attrs={"labels": list(r.labels)} if r.labels else {})]
        if hits:
            # Re-arm when the condition was seen false for release_s, even if only one
            # quiet analysis fell in between (sparse sampling, image folders, outages).
            rearm = st.false_since is not None and t - st.false_since >= self.release_s
            st.false_since = None
            if not st.active or rearm:
                st.active = True
                return hits
            return None
        if st.active:
            if st.false_since is None:
                st.false_since = t
            elif t - st.false_since >= self.release_s:
                st.active = False
                st.false_since = None
        return None
