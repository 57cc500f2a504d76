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
from dataclasses import dataclass, field
from enum import StrEnum

from onlook.errors import UnsupportedQuery
from onlook.query.parse import (
    CUT_PHRASES,
    ENTER_WORDS,
    EXIT_WORDS,
    FACE_WORDS,
    HAND_WORDS,
    PERSON_WORDS,
    RAISED_WORDS,
    UNSEEN_WORDS,
    parse_colors,
    parse_region,
    quoted_words,
)
from onlook.query.speech import speech_alert_words, words_match
from onlook.query.text import has_any, normalize
from onlook.types import Alert, Analysis, Observation, ObservationKind, SpeechSegment
from onlook.vocabulary import STATE_WORDS, find_objects, find_states

__all__ = ["Rule", "RuleKind", "AlertBook", "compile_alert", "SUPPORTED_HINT"]

SUPPORTED_HINT = ("onlook can alert on: a person entering or leaving the view (optionally by clothing colour), "
                  "an object (car, dog, bag... 80 kinds) appearing or leaving, more/fewer than N of them, "
                  "a word appearing on screen, a scene change, motion in a region of the picture, "
                  "a face or a hand (raised) appearing, a face's mouth opening wide, eyes closing or turning to "
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


_STATE_RULES = (RuleKind.MOTION, RuleKind.FACE, RuleKind.COUNT_ABOVE, RuleKind.COUNT_BELOW, RuleKind.HAND)
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

    def __post_init__(self) -> None:
        if type(self.kind) is not RuleKind:
            object.__setattr__(self, "kind", RuleKind(self.kind))

    @property
    def is_state(self) -> bool:
        return self.kind in _STATE_RULES


_NUMS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10}


def _count(q: str) -> tuple[RuleKind, int] | None:
    m = re.search(r"\b(more than|over|at least|fewer than|less than|under|(\w+) or more)\s*"
                  r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten)?\s*(people|persons|pedestrians)", q)
    if m:
        raw = m.group(3) or m.group(2)
        n = int(raw) if raw and raw.isdigit() else _NUMS.get(raw or "", None)
        if n is None:
            return None
        op = m.group(1)
        if op.startswith(("more", "over")):
            return (RuleKind.COUNT_ABOVE, n + 1)
        if op.startswith("at least") or op.endswith("or more"):
            return (RuleKind.COUNT_ABOVE, n)
        return (RuleKind.COUNT_BELOW, n)
    if re.search(r"\b(crowd|crowded|group of people)\b", q):
        return (RuleKind.COUNT_ABOVE, 5)
    if re.search(r"\b(nobody|no one|no people|empty)\b", q):
        return (RuleKind.COUNT_BELOW, 1)
    return None


_OBJECT_GONE = re.compile(r"(?<!lower )(?<!upper )(?<!the )(?<!far )\bleft\b(?! (side|edge|corner|half))"
                          r"|\b(removed?|taken|takes?|took|picks? up|picked up|stolen|drives? off|drove off)\b")


def _object_count(q: str, phrases: list[str]) -> tuple[RuleKind, int] | None:
    nums = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten)"
    for p in phrases:
        m = re.search(rf"\b(more than|over|at least|fewer than|less than|under)\s+{nums}\s+(?:\w+\s+)?"
                      rf"{re.escape(p)}\b", q)
        m2 = re.search(rf"\b{nums} or more\s+(?:\w+\s+)?{re.escape(p)}\b", q)
        if not m and not m2:
            continue
        raw = (m.group(2) if m else m2.group(1)) if (m or m2) else ""  # type: ignore[union-attr]
        n = int(raw) if raw.isdigit() else _NUMS[raw]
        op = m.group(1) if m else "or more"
        if op.startswith(("more", "over")):
            return (RuleKind.COUNT_ABOVE, n + 1)
        if op in ("at least", "or more"):
            return (RuleKind.COUNT_ABOVE, n)
        return (RuleKind.COUNT_BELOW, n)
    return None


def _object_rule(query: str, q: str, tokens: set[str], colors: tuple[str, ...], region: str | None) -> Rule | None:
    """A rule about objects, when the query names an object class before any person."""
    found = find_objects(q)
    if not found:
        return None
    strong_person = tokens & PERSON_WORDS - {"who", "he", "she", "they", "anyone", "anybody", "someone",
                                               "somebody", "nobody", "everyone"}
    first_person = min((q.find(w) for w in strong_person), default=len(q))
    if q.find(found[0][0]) > first_person:
        return None
    labels = tuple(dict.fromkeys(lab.value for _, labs in found for lab in sorted(labs, key=lambda m: m.value)))
    count = _object_count(q, [p for p, _ in found])
    if count:
        return Rule(query, count[0], count=count[1], labels=labels)
    if has_any(q, EXIT_WORDS) or _OBJECT_GONE.search(q):
        return Rule(query, RuleKind.DISAPPEAR, colors=colors, region=region, labels=labels)
    return Rule(query, RuleKind.APPEAR, colors=colors, region=region, labels=labels)


def compile_alert(query: str) -> Rule:
    """Compile a free-text alert query.

    Raises:
        UnsupportedQuery: perception cannot see what the query asks about.

    Example:
        >>> compile_alert("someone in a red jacket appears").kind
        <RuleKind.PERSON_COLOR: 'person_color'>
        >>> compile_alert("the word TAXI appears").words
        ('taxi',)
    """
    if not query or not query.strip():
        raise UnsupportedQuery("an alert query cannot be empty")
    q = normalize(query)
    tokens = set(re.findall(r"[a-z]+", q))
    colors = parse_colors(q)
    region = parse_region(q)
    states = find_states(q)
    # "the man opens his mouth wide (shout/surprise)": a state named with a sound as its gloss is the state;
    # words to listen for are said ("says", quotes) or follow a speech verb with no state named.
    spoken = speech_alert_words(query) if not states or re.search(r"\b(say|says|said|saying)\b|[\"“]", q) else ()
    if spoken:
        return Rule(query, RuleKind.SPEECH, words=spoken)
    words = quoted_words(query)
    if words or re.search(r"\b(the word|the text|text|word|sign says|writing)\b", q):
        if not words:
            raise UnsupportedQuery(f"alert {query!r}: put the words to look for in quotes or CAPITALS")
        return Rule(query, RuleKind.TEXT, words=words)
    if any(p in q for p in CUT_PHRASES):
        return Rule(query, RuleKind.SCENE_CUT)
    if states:
        unseen = sorted(tokens & UNSEEN_WORDS - STATE_WORDS - {"wearing", "shirt"})
        if unseen:
            raise UnsupportedQuery(f"alert {query!r} asks for something perception cannot see ({', '.join(unseen)})"
                                   f"; {SUPPORTED_HINT}")
        return Rule(query, RuleKind.STATE, states=tuple((st.value, on) for st, on in states))
    unseen = sorted(tokens & UNSEEN_WORDS - {"wearing", "shirt"})
    if tokens & HAND_WORDS:
        unseen = [w for w in unseen if w not in HAND_WORDS]
        if not unseen and not find_objects(q):
            return Rule(query, RuleKind.HAND, raised=bool(tokens & RAISED_WORDS))
    objects = _object_rule(query, q, tokens, colors, region) if not unseen else None
    if objects is not None:
        return objects
    count = _count(q)
    if count and not unseen:
        return Rule(query, count[0], count=count[1])
    is_person = bool(tokens & PERSON_WORDS)
    if tokens & FACE_WORDS and not unseen:
        return Rule(query, RuleKind.FACE)
    if is_person and not unseen:
        if has_any(q, EXIT_WORDS):
            return Rule(query, RuleKind.EXIT, colors=colors, region=region)
        if colors:
            return Rule(query, RuleKind.PERSON_COLOR, colors=colors, region=region)
        if has_any(q, ENTER_WORDS) or re.search(r"\b(in view|visible|into view)\b", q):
            return Rule(query, RuleKind.ENTER, region=region)
    if re.search(r"\b(motion|movement|moving|moves|activity)\b", q) and not unseen:
        return Rule(query, RuleKind.MOTION, region=region)
    what = f" ({', '.join(unseen)})" if unseen else ""
    raise UnsupportedQuery(f"alert {query!r} asks for something perception cannot see{what}; {SUPPORTED_HINT}")


def _person_matches(o: Observation, rule: Rule) -> bool:
    if rule.colors and not set(rule.colors) & set(o.attrs.get("colors", [])):
        return False
    return not (rule.region and o.attrs.get("region") not in (None, rule.region))


@dataclass
class _RuleState:
    rule: Rule
    active: bool = False  # state rules: condition currently held (fired)
    false_since: float | None = None
    fired_tracks: set[int] = field(default_factory=set)
    fired_words: dict[str, float] = field(default_factory=dict)


class AlertBook:
    """The standing queries of one stream and their hysteresis state.

    Args:
        stream_id: Stream the alerts belong to.
        release_s: A state rule re-arms after its condition was false this long.
        text_repeat_s: The same words re-fire only after being unseen this long.
    """

    def __init__(self, stream_id: str, *, release_s: float = 3.0, text_repeat_s: float = 30.0,
                 hears: bool = True) -> None:
        self.stream_id = stream_id
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
        rule = compile_alert(query)
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
            if st.rule.kind in (RuleKind.ENTER, RuleKind.EXIT, RuleKind.PERSON_COLOR, RuleKind.APPEAR,
                                RuleKind.DISAPPEAR, RuleKind.STATE):
                # Two people entering in the same frame are two alerts, one per person.
                out.extend(Alert(query=st.rule.query, t=t, wall=wall, stream_id=self.stream_id, evidence=(o,))
                           for o in ev)
            elif st.rule.kind == RuleKind.SCENE_CUT:
                # A cut is confirmed a little after it happened (the shot model needs frames after it):
                # the alert is at the cut's own time; ``wall`` says when it was known.
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
        object_move = _OBJECT_MOVES.get(r.kind)
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
            hits = [o for o in obs if o.kind == ObservationKind.MOTION
                    and (r.region is None or r.region in o.attrs.get("regions", []))]
        elif r.kind == RuleKind.FACE:
            hits = [o for o in obs if o.kind == ObservationKind.FACE]
        elif r.kind == RuleKind.HAND:
            hits = [o for o in obs if o.kind == ObservationKind.HAND and (not r.raised or o.attrs.get("raised"))]
        elif r.labels:  # objects counted
            objs = [o for o in obs if o.kind == ObservationKind.OBJECT and o.label in r.labels]
            if r.kind == RuleKind.COUNT_ABOVE:
                hits = objs if len(objs) >= r.count else []
            else:
                hits = ([Observation(t=t, kind=ObservationKind.COUNT, label=str(len(objs)), score=1.0,
                                     attrs={"labels": list(r.labels)})] if len(objs) < r.count else [])
        elif r.kind == RuleKind.COUNT_ABOVE:
            hits = [o for o in obs if o.kind == ObservationKind.PERSON] if a.people >= r.count else []
        else:  # count_below
            hits = ([Observation(t=t, kind=ObservationKind.COUNT, label=str(a.people), score=1.0)]
                    if a.people < r.count else [])
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
