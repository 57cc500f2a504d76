"""The default answerer: extractive answers from what perception recorded.

It never invents: every answer is a fact read out of memory (a count on the
timeline, the time of a recorded entry, the colours measured on a tracked
person, words OCR read), with the moments that show it as evidence. When the
question is about something the detectors do not see ("what is he
carrying?"), it abstains and says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from onlook.answer.base import Answerer, BaseAnswerer, History
from onlook.answer.holding import answer_holding, is_about_holding
from onlook.answer.prompts import split_option
from onlook.answer.speech import answer_speech, choose_speech
from onlook.perception.color import COLOR_NAMES
from onlook.perception.motion import cell_of as _cell
from onlook.query.model import (
    REGION_CELLS,
    Anchor,
    Ask,
    Cmp,
    Comparison,
    Edge,
    Event,
    FollowUp,
    Query,
    Subject,
    TimeKind,
    TimeRange,
)
from onlook.query.parse import (
    RAISED_WORDS,
    Intent,
    TimeScope,
    intent_from_query,
    parse_edge,
)
from onlook.query.search import MemoryView, search
from onlook.query.speech import parse_speech_question
from onlook.query.understand import (
    Alternatives,
    alternatives,
    definite_subject,
    described,
    modifier_words,
    people_described,
    place_phrases,
    shot_named,
    trend_asked,
    understand,
)
from onlook.types import Answer, Capability, Evidence, Observation, ObservationKind, TimelineRow, format_ts
from onlook.vocabulary import OBJECT_LABELS, STATE_NEEDS, BodyState, Label, find_objects, plural

# Answerer (the seam, onlook.answer.base) and split_option (onlook.answer.prompts) are re-exported
# for the callers that import them from here.
__all__ = ["Answerer", "ExtractiveAnswerer", "CANNOT_SEE", "choose_from_memory", "split_option"]

CANNOT_SEE = ("I can't tell from what I perceive: my detectors see people (count, movement, entries and exits, "
              "clothing colours), objects of 82 common kinds (vehicles, animals, bags, cups, boxes, shoes, "
              "furniture...), faces, hands and what they are on, on-screen text, motion and scene changes, and hear "
              "what is said")

_MOVES = (ObservationKind.ENTER, ObservationKind.EXIT)  # a person coming into or leaving the view


def _fits(o: Observation, s: Subject, worn: frozenset[str] | set[str] | None = None) -> bool:
    """Whether a sighting fits the subject's colours (or ``worn``: every colour read on its track) and region."""
    worn = set(o.attrs.get("colors", [])) if worn is None else worn
    if s.colours and not s.colours & worn:
        return False
    return s.region is None or _cell(o) in REGION_CELLS[s.region]


def _matches(o: Observation, colors: tuple[str, ...] | list[str], edge: str | None) -> bool:
    """Whether an enter/exit sighting fits the colours and edge a question names."""
    if colors and not set(colors) & set(o.attrs.get("colors", [])):
        return False
    return not (edge and o.attrs.get("edge") != edge)


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _object_name(question: str, labels: tuple[str, ...]) -> str:
    """How to name the objects asked about in an answer: the question's own word when it has one."""
    found = find_objects(question)
    if found:
        word = found[0][0]
        return word if word.endswith("s") or len(labels) > 1 else word + "s"
    return "/".join(labels)


def _count_text(objs: list[Observation], name: str) -> str:
    """``"2 cars"``, ``"1 car and 1 truck"``: objects counted per class."""
    if not objs:
        return f"0 {name}"
    per: dict[str, int] = {}
    for o in objs:
        per[o.label] = per.get(o.label, 0) + 1
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    return " and ".join(f"{n} {lab if n == 1 else plural(lab)}" for lab, n in ranked)


_STATE_PHRASES = {
    ("mouth_open", True): "opened their mouth wide", ("mouth_open", False): "closed their mouth",
    ("eyes_closed", True): "closed their eyes", ("eyes_closed", False): "opened their eyes",
    ("facing_camera", True): "looked at the camera", ("facing_camera", False): "looked away from the camera",
    ("standing", True): "stood", ("sitting", True): "sat", ("lying", True): "lay down",
    ("arm_raised", True): "raised an arm", ("arm_raised", False): "lowered their arm",
}

_STATE_NOW = {
    ("mouth_open", True): "the mouth is open wide", ("mouth_open", False): "the mouth is not open wide",
    ("eyes_closed", True): "the eyes are closed", ("eyes_closed", False): "the eyes are open",
    ("facing_camera", True): "the face is turned to the camera", ("facing_camera", False): "the face is turned away",
    ("standing", True): "standing", ("standing", False): "not standing", ("sitting", True): "sitting",
    ("sitting", False): "not sitting", ("lying", True): "lying down", ("lying", False): "not lying down",
    ("arm_raised", True): "an arm is raised", ("arm_raised", False): "no arm is raised",
}


_HEADING_S = 3.0  # how far back "which way is he walking now?" looks at a track's boxes
_HEADING_MIN = 0.03  # least travel, as a share of the picture, that has a direction
_HEADING_ROWS = 2400  # timeline rows a heading question reads at most (20 minutes at 2 rows a second)
_HEADING_WORDS = {Edge.LEFT: "to the left", Edge.RIGHT: "to the right", Edge.TOP: "towards the top of the picture",
                  Edge.BOTTOM: "towards the bottom of the picture"}


def _track_heading(obs: list[Observation]) -> Edge | None:
    """The way a track travelled from its first box to its last, or None when it hardly moved."""
    if len(obs) < 2 or obs[-1].t - obs[0].t < 0.5:
        return None
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = obs[0].box, obs[-1].box  # type: ignore[misc]
    dx, dy = (bx0 + bx1 - ax0 - ax1) / 2, (by0 + by1 - ay0 - ay1) / 2
    if max(abs(dx), abs(dy)) < _HEADING_MIN:
        return None
    if abs(dx) >= abs(dy):
        return Edge.RIGHT if dx > 0 else Edge.LEFT
    return Edge.BOTTOM if dy > 0 else Edge.TOP


_ABOUT_MAX = 3  # people described one by one in "tell me about the person in red"
_LOITER_S = 30.0  # in view this long without leaving is loitering, lingering, hanging around
_STAY_SCAN_S = 600.0  # how far back "how long has he been here?" follows a person still in view
_STAY_GAP_S = 3.0  # a person unseen no longer than this (a missed frame, a short occlusion) has not left


def _present_since(view: MemoryView, at: float) -> dict[int, tuple[Observation, float, frozenset[str]]]:
    """The people in view at ``at``, each with when it came into view (followed back through the timeline,
    up to :data:`_STAY_SCAN_S`; gaps up to :data:`_STAY_GAP_S` do not break a stay) and every colour read on
    it meanwhile (one frame's reading may miss the red of a jacket another frame saw)."""
    latest = view.state_at(at)
    now = {o.track_id: o for o in (latest["obs"] if latest else []) if o.kind == ObservationKind.PERSON
           and o.track_id is not None}
    if not now:
        return {}
    first = {k: float(latest["t"]) for k in now}  # type: ignore[index]
    last_seen = dict(first)
    worn: dict[int, set[str]] = {k: set(o.attrs.get("colors", [])) for k, o in now.items()}
    rows = view.frames(max(0.0, at - _STAY_SCAN_S), at, limit=int(_STAY_SCAN_S * 4), newest_first=True)
    open_ids = set(now)
    for row in rows:
        if not open_ids:
            break
        t = float(row["t"])
        here = {o.track_id: o for o in row["obs"] if o.kind == ObservationKind.PERSON}
        for k in list(open_ids):
            if k in here:
                first[k] = min(first[k], t)
                last_seen[k] = t
                worn[k].update(here[k].attrs.get("colors", []))
            elif last_seen[k] - t > _STAY_GAP_S:
                open_ids.discard(k)  # not seen for a while before: this is when it came
    return {k: (o, first[k], frozenset(worn[k])) for k, o in now.items()}


def _region_phrase(region: str) -> str:
    """"on the left", "in the top left": a picture region as a phrase."""
    prep = "on" if region in ("left", "right") else "at" if region in ("top", "bottom") else "in"
    return f"{prep} the {region.replace('_', ' ')}"


def _where(scope_kind: str, since: float, until: float) -> str:
    if scope_kind in ("window", "range"):
        return f" between {format_ts(since)} and {format_ts(until)}"
    if scope_kind == "start":
        return f" in the first {format_ts(until)}"
    return f" up to {format_ts(until)}" if scope_kind == "all" else ""


class ExtractiveAnswerer(BaseAnswerer):
    """Answer from recorded observations only (offline, CPU, deterministic).

    Each question is answered alone (``history`` is not read: callers with a
    follow-up ask it together with the question before); its answer comes in
    one piece; :meth:`choose` is the inherited check of each option against
    memory (:func:`choose_from_memory`), which is this answerer's own.

    Args:
        parser: Reads a question into its typed query: the offline parser by default, or a
            :class:`~onlook.query.model_parser.ModelQueryParser` (which falls back to it). Options of
            multiple-choice questions are always read offline (one model call per option is too slow).
    """

    name = "extractive"
    chooses: ClassVar[bool] = True

    def __init__(self, parser: Callable[[str], Query] | None = None) -> None:
        self.parser: Callable[[str], Query] = parser or understand

    def answer(self, question: str, view: MemoryView, at: float | None = None, *,
               history: History = ()) -> Answer:
        """Answer ``question`` using only memory up to ``at`` (default: now).

        Returns:
            An :class:`~onlook.types.Answer`; ``abstained`` is True when the
            perception cannot answer the question.
        """
        at = view.now() if at is None else float(at)
        spoken = parse_speech_question(question)
        if spoken is not None:  # about what was said: quotes from the transcript
            said = answer_speech(question, view, at, spoken)
            if said is not None:  # always, given a parsed speech question
                return said
        trend = trend_asked(question)
        if trend is not None:
            return self._trend(question, trend[0], trend[1], view, at)
        alt = alternatives(question)
        if alt is not None:
            compared = self._compare(question, alt, view, at)
            if compared is not None:
                return compared
        query = self.parser(question)
        if query.follow is not None:
            query = resolve_followup(query, history)
        ans = self.answer_query(question, query, view, at)
        if (query.ask is Ask.WHEN and not ans.abstained and isinstance(ans.value, (int, float))
                and not isinstance(ans.value, bool) and re.search(r"\bhow (long|many \w+) ago\b", question.lower())):
            # "how long ago was the last cut?": the time, and how long before now it was
            ans = replace(ans, text=f"{ans.text.rstrip('.')} ({at - float(ans.value):.1f} s ago).")
        return ans

    def _trend(self, question: str, busier: bool | None, seconds: float, view: MemoryView, at: float) -> Answer:
        """"Has the number of people gone up or down in the last 10 s?", "is it getting busier?": the people in
        view at the start of the stretch against those in view now."""
        start = max(0.0, at - seconds)
        then = self.answer_query(question, Query(ask=Ask.COUNT, subject=Subject(labels=frozenset({Label.PERSON})),
                                                 time=TimeRange(TimeKind.AT, start_s=start)), view, at)
        now = self.answer_query(question, Query(ask=Ask.COUNT, subject=Subject(labels=frozenset({Label.PERSON})),
                                                time=TimeRange(TimeKind.NOW)), view, at)
        for side in (then, now):
            if side.abstained or not isinstance(side.value, int):
                return side
        a, b = int(then.value), int(now.value)
        way = "up" if b > a else "down" if b < a else "unchanged"
        said = f"{a} in view at {format_ts(start)}, {b} at {format_ts(at)}"
        ev = then.evidence + now.evidence
        if busier is None:
            return Answer(question, f"{way.capitalize()}: {said}.", at, 0.5, value=way, evidence=ev)
        yes = b > a if busier else b < a
        return Answer(question, f"{'Yes' if yes else 'No'}: {said}.", at, 0.5, value=yes, evidence=ev)

    def _compare(self, question: str, alt: Alternatives, view: MemoryView, at: float) -> Answer | None:
        """"Were there more people at 0:20 or at 0:50?": each alternative counted, and the counts compared.

        Each side is read as a question of its own and counted as the typed query says (people in view at
        a time, entries through an edge, cars or people now). ``None`` when a side does not read as a
        count of something perceived (the question is then answered as a whole, as before); a side that
        cannot be counted makes the answer abstain with that side's reason.
        """
        sides = []
        for text in (alt.first, alt.second):
            q = understand(text)
            if not (q.subject.labels or q.subject.colours) or q.ask in (Ask.UNKNOWN, Ask.READ):
                return None
            if q.unknown:  # an unchecked place makes a count an upper bound: two bounds compare nothing
                return self._abstain(question, at, f"{CANNOT_SEE}, not {', '.join(q.unknown)}, so I cannot "
                                                   "compare the two.")
            q = q.with_(ask=Ask.COUNT, negated=False, compare=None,
                        event=Event.PRESENT if q.event is Event.ABSENT else q.event)
            if q.time.kind is TimeKind.START and q.time.seconds is None and q.event is Event.PRESENT:
                q = q.with_(time=TimeRange(TimeKind.AT, start_s=0.0))  # "at the start": the first moment
            sides.append(self.answer_query(text, q, view, at))
        a, b = sides
        for side in sides:
            if side.abstained:
                return replace(side, question=question)
            if not isinstance(side.value, int) or isinstance(side.value, bool):
                return None
        na, nb = int(a.value), int(b.value)
        both = f"{a.text.rstrip('.')}; {b.text.rstrip('.')}"
        ev = a.evidence + b.evidence
        if alt.than:  # "more now than at the start?": whether the first beats the second
            yes = na > nb if alt.more else na < nb
            return Answer(question, f"{'Yes' if yes else 'No'} ({both}).", at,
                          round(min(a.confidence, b.confidence), 3), value=yes, evidence=ev)
        if na == nb:
            return Answer(question, f"Neither: the same for {alt.names[0]} and {alt.names[1]} ({both}).", at,
                          round(min(a.confidence, b.confidence), 3), value="neither", evidence=ev)
        first_wins = (na > nb) == alt.more
        name = alt.names[0] if first_wins else alt.names[1]
        word = "More" if alt.more else "Fewer"
        return Answer(question, f"{word}: {name} ({both}).", at, round(min(a.confidence, b.confidence), 3),
                      value=name, evidence=ev)

    def answer_query(self, question: str, query: Query, view: MemoryView, at: float) -> Answer:
        """Answer an already typed ``query`` (``question`` is its text, quoted in the answer).

        This is what :meth:`answer` does after parsing, and what each multiple-choice option is checked
        with (:func:`choose_from_memory`).
        """
        if (query.time.kind is TimeKind.AGO and query.time.seconds is not None and query.event is Event.PRESENT
                and query.ask in (Ask.COUNT, Ask.EXISTS, Ask.IDENTIFY, Ask.LIST, Ask.COLOUR)):
            # "how many were there a minute ago?" asks about that moment, as "at 0:10" does; an event "a
            # minute ago" ("did someone come in?") keeps the window around it
            query = query.with_(time=TimeRange(TimeKind.AT, start_s=max(0.0, at - query.time.seconds)))
        scope = resolve_time(query.time, view, at)
        if isinstance(scope, str):  # the time range is relative to an event that has not happened
            return Answer(question, scope, at, 0.4, value=0 if query.ask.value in ("count", "frequency") else None)
        if _described_beyond_colour(query, question):
            # "the man in the dark navy striped jacket": the person is picked out by the colours seen; the
            # rest of the description ("striped") is said to be unchecked rather than answered as "can't tell".
            return self._without_unknown(question, query, view, at, "matched by colour")
        if is_about_holding(query):
            if query.unknown:
                return self._abstain(question, at, f"{CANNOT_SEE}, not {', '.join(query.unknown)}.")
            return answer_holding(question, query, view, at, scope)
        single = self._only_one_described(question, query, view, at)
        if single is not None:
            return single
        placed = self._placed_unchecked(question, query, view, at)
        if placed is not None:
            return placed
        staying = self._staying(question, query, view, at)
        if staying is not None:
            return staying
        if query.ask is Ask.DURATION and not query.subject.labels - {Label.SHOT} and shot_named(question) is not None:
            return self._shot_length(question, shot_named(question) or 0, view, at)
        if query.subject.heading is not None or (query.ask is Ask.WHERE and query.event is Event.MOVE
                                                  and query.time.kind is TimeKind.NOW):
            headed = self._headings(question, query, view, at, scope)
            if headed is not None:
                return headed
        if (query.ask is Ask.DESCRIBE and query.subject.labels == {Label.PERSON} and query.subject.colours
                and not query.unknown and not query.subject.states):
            return self._about_people(question, query, view, at)
        if (query.ask is Ask.IDENTIFY and query.subject.labels == {Label.PERSON} and query.event is Event.PRESENT
                and query.time.kind in (TimeKind.NOW, TimeKind.AT, TimeKind.AGO) and query.ordinal is None
                and not query.unknown
                and not query.subject.states and query.subject.moving is None):
            return self._who_now(question, query, view, at)
        intent = intent_from_query(query, scope)
        if (query.ask is Ask.LIST and intent.subject is None and not query.unknown and not query.subject.colours
                and not query.subject.words):
            return self._inventory(question, view, at, intent)
        if intent.unknown and intent.kind not in ("count",) or (intent.unknown and intent.subject is None):
            return self._abstain(question, at, f"{CANNOT_SEE}, not {', '.join(intent.unknown)}.")
        if intent.subject == "object" and intent.kind in ("count", "when", "presence", "color"):
            return self._objects(question, view, at, intent)
        if intent.subject == "state":
            return self._states(question, view, at, intent)
        if intent.subject == "hand" and intent.kind in ("count", "when", "presence"):
            return self._hands(question, view, at, intent)
        handler = {
            "count": self._count, "when": self._when, "color": self._color, "read": self._read,
            "presence": self._presence, "describe": self._describe, "peak": self._peak, "where": self._locate,
            "average": self._average,
            "duration": self._duration,
        }.get(intent.kind)
        if handler is None:
            return self._fallback(question, view, at, intent)
        return handler(question, view, at, intent)

    def _only_one_described(self, question: str, query: Query, view: MemoryView, at: float) -> Answer | None:
        """Answer about "the man in the car" when he is the only person in view, saying what was not checked.

        A definite noun described by words no rule checks (a relation, a relative clause: "the box the hand
        is holding") names one thing; when exactly one thing of its kind is in view now, the description
        cannot change which, so the question is answered without it and the answer says so; with none of
        its kind in view there is nothing to pick out, so likewise. Otherwise (several, or not about now) the
        caller abstains as before.
        """
        if not query.unknown or query.time.kind is not TimeKind.NOW:
            return None
        d = described(question)
        if d is None or not set(query.unknown) <= d.words:
            return None
        if query.ask is Ask.EXISTS and d.labels == query.subject.labels and definite_subject(question):
            return None  # "is the box on the table?": the description is what is asked, not which box
        howmany = self.answer_query(question, Query(ask=Ask.COUNT, subject=Subject(labels=d.labels),
                                                    time=TimeRange(TimeKind.NOW)), view, at)
        if howmany.abstained or howmany.value not in (0, 1):
            return None
        kind = sorted(m.value for m in d.labels)[0]
        # With none of its kind in view the description cannot matter either: there is nothing to pick out.
        return self._without_unknown(question, query, view, at,
                                     f"the only {kind} in view" if howmany.value == 1 else f"no {kind} in view")

    def _headings(self, question: str, query: Query, view: MemoryView, at: float, scope: TimeScope) -> Answer | None:
        """The way people or things travel across the picture: "which way is the man in red walking?",
        "how many people are walking to the left?", "did anyone walk from left to right?".

        Each track's heading is how its box's centre moved between its first and last sighting in the
        timeline rows of the range (the last :data:`_HEADING_S` seconds for "now"): left or right when it
        moved mostly sideways, towards the top or the bottom of the picture otherwise, and none when it
        moved less than :data:`_HEADING_MIN` of the picture. ``None`` when the subject is not tracked
        (the caller answers as before).
        """
        s = query.subject
        labels = {m.value for m in s.labels}
        if s.labels == {Label.PERSON}:
            kind = ObservationKind.PERSON
        elif s.labels and s.labels <= OBJECT_LABELS:
            kind = ObservationKind.OBJECT
        else:
            return None
        now = query.time.kind is TimeKind.NOW
        since, until = (max(0.0, at - _HEADING_S), at) if now else scope.bounds(at)
        rows = view.frames(since, until, limit=_HEADING_ROWS, newest_first=True)[::-1]
        latest = view.state_at(until)
        if latest is not None and (not rows or latest["t"] > rows[-1]["t"]):
            rows.append(latest)
        tracks: dict[int, list[Observation]] = {}
        for row in rows:
            for o in row["obs"]:
                if o.kind == kind and o.track_id is not None and o.box is not None and (
                        kind == ObservationKind.PERSON or o.label in labels):
                    tracks.setdefault(o.track_id, []).append(o)
        if now:  # what is in view now, not everyone seen in the last seconds
            in_view = {o.track_id for o in (latest["obs"] if latest else []) if o.kind == kind}
            tracks = {k: v for k, v in tracks.items() if k in in_view}
        fits = {k: v for k, v in tracks.items() if _fits(v[-1], s)}
        heads = {k: _track_heading(v) for k, v in fits.items()}
        name = "person" if kind == ObservationKind.PERSON else (next(iter(labels)) if len(labels) == 1 else "thing")
        many = "people" if kind == ObservationKind.PERSON else plural(name)

        def way(h: Edge | None) -> str:
            return _HEADING_WORDS[h] if h is not None else "not moving across"

        when = f"at {format_ts(until)}" if now else _where(scope.kind, since, until).strip() or "so far"
        tally = ", ".join(f"{n} {way(h)}" for h, n in Counter(heads.values()).most_common())
        ev = tuple(Evidence(v[-1].t, f"{name} {way(heads[k])}") for k, v in list(fits.items())[:6])
        if s.heading is None:  # which way
            if not fits:
                return Answer(question, f"I see no {name if now else many} {when} to tell the way of.", at, 0.4,
                              value=None)
            if len(fits) == 1:
                h = next(iter(heads.values()))
                said = f"Moving {way(h)}" if h is not None else "Not moving across the picture"
                text = (f"{said} {when} (from how it moved over the last {_HEADING_S:g} s)." if now
                        else f"{said} {when}.")
                return Answer(question, text, at, 0.5, value=h.value if h else None, evidence=ev)
            ways = {h for h in heads.values()}
            # Several of them: a way is the answer only when they all go it (which one was meant is not known)
            one = next(iter(ways)) if len(ways) == 1 else None
            return Answer(question, f"{len(fits)} {many} {when}: {tally}.", at, 0.4,
                          value=one.value if one is not None else None, evidence=ev)
        n = sum(1 for h in heads.values() if h is s.heading)
        wanted = way(s.heading)
        if query.ask is Ask.COUNT:
            return Answer(question, f"{n} {name if n == 1 else many} moving {wanted} {when}"
                          + (f" ({tally})" if fits else "") + ".", at, 0.5, value=n, evidence=ev)
        if query.ask is Ask.EXISTS:
            yes = n > 0 if not query.negated else n == 0
            word = "Yes" if yes else "No"
            return Answer(question, f"{word}: {n} {name if n == 1 else many} moving {wanted} {when}"
                          + (f" ({tally})" if fits else "") + ".", at, 0.5, value=yes, evidence=ev)
        return None

    def _shot_length(self, question: str, shot: int, view: MemoryView, at: float) -> Answer:
        """"How long was the second shot?": the time between the cuts that bound it (the current one so far)."""
        if shot == 0:
            cuts = view.sightings([ObservationKind.SCENE_CUT], 0.0, at, newest=True, limit=1)
            start = cuts[0][0].t if cuts else 0.0
            n = at - start
            return Answer(question, f"The current shot has lasted {n:.1f} s so far (since {format_ts(start)}).", at,
                          0.6, value=round(n, 2), span=(round(start, 2), round(at, 2)),
                          evidence=(Evidence(start, "the current shot began"),))
        cut_times = [o.t for o, _ in view.sightings([ObservationKind.SCENE_CUT], 0.0, at)]
        bounds = [0.0, *cut_times, at]  # shot k (from 1) runs from bounds[k - 1] to bounds[k]
        k = shot if shot > 0 else len(bounds) - 1 + shot  # -1: the one before the current (last) shot
        if not 1 <= k < len(bounds) or (shot < 0 and k < 1):
            n = len(bounds) - 1
            return Answer(question, f"There have been only {n} shot{'s' if n != 1 else ''} so far (up to "
                                    f"{format_ts(at)}).", at, 0.4, value=None)
        a, b = bounds[k - 1], bounds[k]
        which = f"The {_ordinal_word(shot)} shot" if shot > 0 else "The previous shot"
        still = " and is still on" if b >= at - 1e-6 else ""
        return Answer(question, f"{which} lasted {b - a:.1f} s{still} ({format_ts(a)}-{format_ts(b)}).", at, 0.6,
                      value=round(b - a, 2), span=(round(a, 2), round(b, 2)),
                      evidence=(Evidence(a, f"{which.lower()} began", None, b),))

    def _staying(self, question: str, query: Query, view: MemoryView, at: float) -> Answer | None:
        """How long the people in view now have been there: "is anyone loitering?", "who has been here the
        longest?", "how long has the person in red been here?".

        Loitering is staying: someone in view for :data:`_LOITER_S` or more without leaving it. ``None`` when
        the question is none of these (the caller answers as before).
        """
        s = query.subject
        if s.labels != {Label.PERSON} or s.states or s.heading is not None or query.unknown:
            return None
        low = question.lower()
        # Loitering, lingering, hanging around take time; waiting or staying is being there ("is someone waiting?")
        loiter = query.event is Event.STAY and query.ask in (Ask.EXISTS, Ask.COUNT, Ask.IDENTIFY) and \
            query.time.kind in (TimeKind.NOW, TimeKind.ALL) and re.search(
                r"\b(loiter\w*|linger\w*|hang\w* (around|about)|hover\w*|idl\w*|dwell\w*)\b", low) is not None
        longest = query.ask is Ask.IDENTIFY and re.search(r"\b(longest|the most time)\b", low) is not None
        so_far = query.ask is Ask.DURATION and re.search(r"\b(has|have)\b(\s+\w+){0,4}\s+been\b", low) is not None
        if not (loiter or longest or so_far):
            return None
        staying = _present_since(view, at)
        fits = [(o, t0) for o, t0, worn in staying.values() if _fits(o, s, worn)]
        fits.sort(key=lambda x: x[1])
        def who(o: Observation) -> str:
            if s.colours:  # the person asked about, by the colours asked for
                return "someone in " + "/".join(sorted(s.colours))
            return "someone in " + "/".join(o.attrs["colors"][:2]) if o.attrs.get("colors") else "someone"
        if so_far or longest:
            if not fits:
                if so_far:
                    return None  # nobody of that description in view now: how long they stayed, as before
                return Answer(question, f"Nobody is in view at {format_ts(at)}.", at, 0.5, value=None)
            o, t0 = fits[0]
            more = f" ({len(fits) - 1} more in view for less)" if longest and len(fits) > 1 else ""
            return Answer(question, f"{who(o).capitalize()}: in view since {format_ts(t0)}, {at - t0:.0f} s so far"
                          f"{more}.", at, 0.5, value=round(at - t0, 1), span=(round(t0, 2), round(at, 2)),
                          evidence=(Evidence(t0, f"{who(o)} came into view", None, at),))
        long_ = [(o, t0) for o, t0 in fits if at - t0 >= _LOITER_S]
        n = len(long_)
        since = ", ".join(f"{who(o)} since {format_ts(t0)}" for o, t0 in long_[:5])
        text = (f"{n} {'person has' if n == 1 else 'people have'} been in view for {_LOITER_S:g} s or more without "
                f"leaving ({since})" if n else f"Nobody in view at {format_ts(at)} has been there for {_LOITER_S:g} s "
                f"({len(fits)} in view, each for less)")
        if query.ask is Ask.COUNT:
            return Answer(question, text + ".", at, 0.5, value=n)
        if query.ask is Ask.IDENTIFY:
            return Answer(question, text + ".", at, 0.5, value=[who(o) for o, _ in long_])
        return Answer(question, f"{'Yes' if n else 'No'}: {text[0].lower()}{text[1:]}.", at, 0.5, value=n > 0,
                      evidence=tuple(Evidence(t0, who(o), None, at) for o, t0 in long_[:5]))

    def _about_people(self, question: str, query: Query, view: MemoryView, at: float) -> Answer:
        """"Tell me about the person in red": each person in those colours, when and through which edge they
        came and went (or that they are still in view), and how long they stayed."""
        colours = tuple(sorted(query.subject.colours))
        scope = resolve_time(query.time, view, at)
        if isinstance(scope, str):
            return Answer(question, scope, at, 0.4, value=[])
        since, until = scope.bounds(at)
        ppl = self._people_obs(view, since, until, colors=colours, limit=_ABOUT_MAX * 4)
        if not ppl:
            return Answer(question, f"I saw nobody in {' or '.join(colours)}{_where(scope.kind, since, until)}.", at,
                          0.4, value=[])
        # Each person's own entry (around its first sighting) and exit (within _STAY_SCAN_S of it): bounded
        # reads, not every entry and exit of a day-long store.
        moves: dict[tuple[str, int | None], Observation] = {}
        for p in ppl[:_ABOUT_MAX]:
            near = view.sightings([ObservationKind.ENTER], max(since, p.t - 2.0), min(until, p.t + 2.0), limit=20)
            gone = view.sightings([ObservationKind.EXIT], p.t, min(until, p.t + _STAY_SCAN_S), limit=200)
            for o, _ in near + gone:
                if o.track_id == p.track_id:
                    moves.setdefault((o.kind, o.track_id), o)
        now_ids = set(_present_since(view, at)) if until >= at else set()
        parts = []
        for o in ppl[:_ABOUT_MAX]:
            came = moves.get((ObservationKind.ENTER, o.track_id))
            went = moves.get((ObservationKind.EXIT, o.track_id))
            bits = [f"in {'/'.join(o.attrs.get('colors', [])[:3]) or ' or '.join(colours)}"]
            bits.append(f"came in through the {came.attrs['edge']} edge at {format_ts(came.t)}"
                        if came is not None and came.attrs.get("edge") else f"first seen at {format_ts(o.t)}")
            if went is not None:
                edge = went.attrs.get("edge")
                bits.append(f"left {'through the ' + edge + ' edge' if edge and edge != 'inside' else 'the view'} "
                            f"at {format_ts(went.t)} ({went.t - (came.t if came else o.t):.0f} s in view)")
            elif o.track_id in now_ids:
                bits.append(f"still in view at {format_ts(at)}")
            parts.append(", ".join(bits))
        more = f" (and {len(ppl) - _ABOUT_MAX} more)" if len(ppl) > _ABOUT_MAX else ""
        n = len(ppl)
        return Answer(question, f"{n} {'person' if n == 1 else 'people'} in {' or '.join(colours)}"
                      f"{_where(scope.kind, since, until)}: " + "; ".join(parts) + more + ".", at, 0.5,
                      value=parts, evidence=tuple(Evidence(o.t, f"person in {'/'.join(o.attrs.get('colors', []))}")
                                                  for o in ppl[:_ABOUT_MAX]))

    def _who_now(self, question: str, query: Query, view: MemoryView, at: float) -> Answer:
        """"Who is in view right now?": the people in the picture then, each by the colours they wear.

        The question's colours and region narrow the people listed; nobody in view is an answer too.
        """
        tr = query.time
        t = (tr.start_s if tr.kind is TimeKind.AT and tr.start_s is not None
             else max(0.0, at - tr.seconds) if tr.kind is TimeKind.AGO and tr.seconds is not None else at)
        t = min(t, at)
        row = view.state_at(t)
        if row is None:
            return self._abstain(question, at, "I have not seen anything yet.")
        ppl = [o for o in row["obs"] if o.kind == ObservationKind.PERSON and _fits(o, query.subject)]
        ppl.sort(key=lambda o: o.box[0] if o.box else 0.0)  # left to right, as one reads the picture
        when = format_ts(float(row["t"]))
        narrowed = " ".join(x for x in (
            " or ".join(sorted(query.subject.colours)) and f"in {' or '.join(sorted(query.subject.colours))}",
            _region_phrase(query.subject.region.value) if query.subject.region is not None else "") if x)
        if not ppl:
            return Answer(question, f"Nobody{' ' + narrowed if narrowed else ''} in view at {when}.", at, 0.5,
                          value=[], evidence=(Evidence(float(row["t"]), "nobody"),))
        worn = ["in " + "/".join(o.attrs["colors"][:2]) if o.attrs.get("colors") else "colours not measured"
                for o in ppl]
        n = len(ppl)
        text = (f"{n} {'person' if n == 1 else 'people'}{' ' + narrowed if narrowed else ''} in view at {when}, "
                f"left to right: " + "; ".join(worn) + ".")
        return Answer(question, text, at, 0.5, value=worn,
                      evidence=(Evidence(float(row["t"]), f"{n} {'person' if n == 1 else 'people'}"),))

    def _placed_unchecked(self, question: str, query: Query, view: MemoryView, at: float) -> Answer | None:
        """Answer "is anybody sitting on the grass?" as "is anybody sitting?", saying the place was not checked.

        Perception places things by picture region and edge, not against landmarks, so when every unknown
        word of the query lies in a phrase placing the subject (:func:`~onlook.query.understand.
        place_phrases`), the rest is answered and the answer names the phrase. What that proves depends on
        the answer: nothing of the kind at all (no one sitting anywhere) settles it; something of the kind
        (two people sitting) is only an upper bound, so it is worded as one and its confidence halved.
        ``None`` when the unknown words are not all in such phrases (the caller abstains as before).
        """
        # Only where the place narrows a quantity ("anybody ... on the grass", "how many ... by the door"):
        # in "what colour is the car near the bench?" it picks out which car, and then it could matter.
        if not query.unknown or query.ask not in _PLACED_ASKS or is_about_holding(query):
            return None
        if query.ask is Ask.EXISTS and definite_subject(question):
            return None  # "is he in a car?" asks only where he is, which is what cannot be checked
        if not _only_placed(question, query.unknown):
            return None
        phrases = [p for p in place_phrases(question) if p.words & set(query.unknown)]
        ans = self.answer_query(question, query.with_(unknown=()), view, at)
        if ans.abstained:
            return ans
        where = " / ".join(p.phrase for p in phrases)
        v = ans.value
        # Settled only when there is nothing of the kind at all, whatever the question's polarity ("are there
        # no cars by the fence?" with no car anywhere): counted without the place, negation and comparison.
        counted = ans if query.ask is Ask.COUNT and not query.negated else self.answer_query(
            question, query.with_(unknown=(), ask=Ask.COUNT, negated=False, compare=None,
                                  event=Event.PRESENT if query.event is Event.ABSENT else query.event), view, at)
        none_at_all = (not counted.abstained and isinstance(counted.value, int)
                       and not isinstance(counted.value, bool) and counted.value == 0)
        text = ans.text.rstrip(".")
        if none_at_all:
            return replace(ans, text=f"{text}: none anywhere in view, so none {where} either.")
        if query.ask is Ask.COUNT and isinstance(v, int) and not isinstance(v, bool):
            text = f"At most {v}: {text[0].lower()}{text[1:]}"
        return replace(ans, text=f"{text} (whether {where} I cannot check: I place things only by picture "
                                 f"region and edge).", confidence=round(ans.confidence * 0.5, 3))

    def _without_unknown(self, question: str, query: Query, view: MemoryView, at: float, why: str) -> Answer:
        """The answer with the query's unknown words left out, saying why and what was not checked."""
        ans = self.answer_query(question, query.with_(unknown=()), view, at)
        if ans.abstained:
            return ans
        return replace(ans, text=f"{ans.text.rstrip('.')} ({why}; not checked: {', '.join(query.unknown)}).",
                       confidence=round(ans.confidence * 0.6, 3))

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _abstain(question: str, at: float, why: str) -> Answer:
        return Answer(question=question, text=why, at=at, confidence=0.0, abstained=True)

    @staticmethod
    def _people_obs(view: MemoryView, since: float, until: float, colors: tuple[str, ...] = (),
                    order: str = "start", limit: int | None = None) -> list[Observation]:
        """One person observation per track (with its colours) in a range, oldest first.

        With ``colors``, only people wearing one of them, found through the
        store's label index rather than by reading every event.
        """
        seen: dict[int, Observation] = {}
        wanted = set(colors)
        events: list = []
        for c in colors or (None,):
            events += view.events(since, until, labels=[f"person:{c}"] if c else ["person"], order=order,
                                  limit=limit)
        for e in events:
            for o in e.observations:
                if o.kind not in (ObservationKind.PERSON, ObservationKind.ENTER) or not since <= o.t <= until:
                    continue
                if wanted and not wanted & set(o.attrs.get("colors", [])):
                    continue
                key = o.track_id if o.track_id is not None else -len(seen) - 1
                prev = seen.get(key)
                if prev is None or (not prev.attrs.get("colors") and o.attrs.get("colors")) or o.t < prev.t:
                    seen[key] = o
        for o in _tracked_in_frames(view, since, until, ObservationKind.PERSON):
            if o.track_id not in seen and (not wanted or wanted & set(o.attrs.get("colors", []))):
                seen[o.track_id] = o  # type: ignore[index]  # tracked, so it has an id
        return sorted(seen.values(), key=lambda o: o.t)[:limit] if limit else sorted(seen.values(), key=lambda o: o.t)

    @staticmethod
    def _objects_in(view: MemoryView, since: float, until: float, labels: tuple[str, ...],
                    colors: tuple[str, ...] = (), moving: bool | None = None,
                    cells: tuple[str, ...] = ()) -> list[Observation]:
        """Different objects of the classes ``labels`` seen in a range: one observation per track, oldest first.

        With ``cells``, only sightings inside those picture cells count (a car seen on the left).
        """
        seen: dict[int, Observation] = {}
        # A class or two: the store's label index finds their events; many (everything in view): one scan.
        batches = ([view.events(since, until, labels=[lab]) for lab in labels] if len(labels) <= _INDEXED_LABELS
                   else [view.events(since, until)])
        for lab_events in batches:
            for e in lab_events:
                for o in e.observations:
                    if (o.kind not in (ObservationKind.OBJECT, ObservationKind.APPEAR) or o.label not in labels
                            or not since <= o.t <= until or o.track_id is None):
                        continue
                    if colors and not set(colors) & set(o.attrs.get("colors", [])):
                        continue
                    if not _moving_fits(o, moving) or (cells and _cell(o) not in cells):
                        continue
                    prev = seen.get(o.track_id)
                    if prev is None or o.t < prev.t:
                        seen[o.track_id] = o
        for o in _tracked_in_frames(view, since, until, ObservationKind.OBJECT):
            if o.track_id not in seen and o.label in labels and _moving_fits(o, moving) and (
                    not colors or set(colors) & set(o.attrs.get("colors", []))) and (not cells or _cell(o) in cells):
                seen[o.track_id] = o  # type: ignore[index]  # tracked, so it has an id
        return sorted(seen.values(), key=lambda o: o.t)

    def _states(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """Questions about a face's state: when it changed, how often, whether it holds now.

        A state's span runs from halfway between the reading before it turned on and the one that saw it
        on, to halfway between the last reading that saw it and the one that saw it off: the face is read on
        analysed frames only, so the change happened somewhere in between.
        """
        since, until = it.scope.bounds(at)
        state, on = it.states[0]
        phrase = _STATE_PHRASES.get((state, on), state.replace("_", " "))
        body = STATE_NEEDS.get(BodyState(state)) == Capability.POSE
        kind = ObservationKind.POSE if body else ObservationKind.FACE_STATE
        changes = [(o, k) for o, k in view.sightings([kind], 0.0, until) if o.attrs.get("change") == state]
        # Spans during which the asked state held (an "off" question asks for the opposite state).
        spans: list[tuple[float, float, str | None]] = []
        start: tuple[float, str | None] | None = None
        for o, k in changes:
            turned = bool(o.attrs.get("on")) == on
            mid = (float(o.attrs.get("since", o.t)) + o.t) / 2
            if turned and start is None:
                start = (mid, k)
            elif not turned and start is not None:
                spans.append((start[0], mid, start[1]))
                start = None
        row = view.state_at(until)
        readings = [o for o in (row["obs"] if row else []) if o.kind == kind and state in o.attrs]
        if start is not None:
            spans.append((start[0], until, start[1]))
        in_range = [sp for sp in spans if sp[1] >= since and sp[0] <= until]
        if body and not changes and not readings and not any(
                o.kind == kind and state in o.attrs for r in view.frames(max(0.0, until - 60.0), until)
                for o in r.get("obs") or []):
            return self._abstain(question, at, f"I have read no one's posture well enough up to {format_ts(until)} "
                                               "(nobody tall enough in the picture, legs hidden, or pose is off), so "
                                               f"I cannot tell whether anyone {phrase}.")
        if not body and not changes and not readings and not view.sightings([ObservationKind.FACE], 0.0, until,
                                                                              limit=1):
            return self._abstain(question, at, f"I have read no face up to {format_ts(until)} (none seen, too "
                                               "small to show its state, or face state is off), so I cannot tell "
                                               f"whether anyone {phrase}.")
        ev = tuple(Evidence(a, f"{phrase} ({format_ts(a)}-{format_ts(b)})", k, b) for a, b, k in in_range[:10])
        if it.kind == "count" and it.scope.kind in ("now", "point") and readings:
            # "how many people are standing?": the people read in that state now, not how often it began
            n = sum(1 for o in readings if bool(o.attrs.get(state)) == on)
            who = "person" if n == 1 else "people"
            return Answer(question, f"{n} {who} {_STATE_NOW.get((state, on), phrase)} at {format_ts(until)} (of "
                          f"{len(readings)} whose {'posture' if body else 'face'} I read then).", at, 0.55, value=n,
                          evidence=(Evidence(float(row["t"]) if row else until, f"{n} {who}"),))
        if it.kind == "count":
            n = len(in_range)
            return Answer(question, f"{n} time{'s' if n != 1 else ''}{_where(it.scope.kind, since, until)}"
                          + (": at " + ", ".join(format_ts(a) for a, _, _ in in_range[:10]) if in_range else "") + ".",
                          at, 0.6, value=n, evidence=ev)
        if it.kind == "when" or it.order:
            if not in_range:
                return Answer(question, f"Not seen{_where(it.scope.kind, since, until)}: nobody {phrase}.", at, 0.4)
            a, b, _ = in_range[-1] if it.order == "last" else in_range[0]
            more = (f" ({len(in_range)} times in all: " + ", ".join(format_ts(x) for x, _, _ in in_range[:6]) + ")"
                    if len(in_range) > 1 else "")
            return Answer(question, f"At {format_ts(a)}-{format_ts(b)}: {phrase}{more}.", at, 0.6,
                          value=round(a, 2), span=(round(a, 2), round(b, 2)), evidence=ev)
        # presence: does it hold now (or did it, over a range)? "Is he looking at the camera?" is about now.
        present = it.scope.kind == "all" and re.match(r"\s*(is|are|does|do|am)\b", question.lower())
        if it.scope.kind in ("now", "point") or present:
            if readings:
                holds = any(bool(o.attrs.get(state)) == on for o in readings)
            else:
                holds = bool(spans) and spans[-1][1] >= until
            now = _STATE_NOW.get((state, on if holds else not on), state)
            if it.kind == "describe":  # "what's his mouth doing?": the state read, not a yes or no
                return Answer(question, f"{now[0].upper()}{now[1:]} at {format_ts(until)}.", at, 0.6,
                              value=holds, evidence=ev[-1:] if holds else ())
            return Answer(question, f"{'Yes' if holds else 'No'}: {now} at {format_ts(until)}.", at, 0.6,
                          value=holds, evidence=ev[-1:] if holds else ())
        if in_range:
            a, b, _ = in_range[0]
            return Answer(question, f"Yes: at {format_ts(a)}-{format_ts(b)} ({len(in_range)} time(s)"
                          f"{_where(it.scope.kind, since, until)}).", at, 0.6, value=True,
                          span=(round(a, 2), round(b, 2)), evidence=ev)
        return Answer(question, f"No{_where(it.scope.kind, since, until)}: nobody {phrase}.", at, 0.5, value=False)

    def _hands(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """Questions about hands: how many now, whether one is seen (raised), when one was first or last seen."""
        since, until = it.scope.bounds(at)
        raised = bool(set(re.findall(r"[a-z]+", question.lower())) & RAISED_WORDS)
        what = "a raised hand" if raised else "a hand"

        def fits(o: Observation) -> bool:
            return not raised or bool(o.attrs.get("raised"))

        present = it.scope.kind in ("now", "point") or (
            it.scope.kind == "all" and it.kind in ("count", "presence") and not it.order
            and re.match(r"\s*(is|are|how many|can|do|does)\b", question.lower()))
        if present:
            row = view.state_at(until)
            if row is None:
                return self._abstain(question, at, "I have not seen anything yet.")
            hands = [o for o in row["obs"] if o.kind == ObservationKind.HAND and fits(o)]
            n = len(hands)
            noun = ("raised hand" if raised else "hand") + ("s" if n != 1 else "")
            if it.kind == "count":
                return Answer(question, f"{n} {noun} visible at {format_ts(row['t'])}.", at, 0.5, value=n)
            return Answer(question, f"{'Yes' if n else 'No'}: {n} {noun} visible at {format_ts(row['t'])}.", at, 0.5,
                          value=bool(n))
        seen = [(o, k) for o, k in view.sightings([ObservationKind.HAND], since, until) if fits(o)]
        # Hands are kept as sightings now and then (every face_repeat_s); a raised one is looked for in the
        # timeline too, over its latest half hour at most.
        frames = view.frames(since, until, limit=3600, newest_first=True) if raised else []
        times = sorted({o.t for o, _ in seen} | {r["t"] for r in frames
                                                   if any(o.kind == ObservationKind.HAND and fits(o)
                                                          for o in r.get("obs") or [])})
        if not times:
            return Answer(question, f"No{_where(it.scope.kind, since, until)}: I saw no {what[2:]}.", at, 0.4,
                          value=False if it.kind == "presence" else None)
        t = times[-1] if it.order == "last" else times[0]
        kf = next((k for o, k in seen if o.t == t), None)
        ev = (Evidence(t, what, kf),)
        if it.kind == "presence":
            return Answer(question, f"Yes: {what} at {format_ts(t)}.", at, 0.5, value=True, evidence=ev,
                          span=(round(t, 2), round(t, 2)))
        return Answer(question, f"At {format_ts(t)}: {what} {'was last' if it.order == 'last' else 'first'} seen.",
                      at, 0.5, value=round(t, 2), span=(round(t, 2), round(t, 2)), evidence=ev)

    def _inventory(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """Everything perceived in view ("what's in the picture now?"), or seen over a range ("what was in
        the previous shot?"): people, objects per class, hands, and text read."""
        since, until = it.scope.bounds(at)
        if it.scope.kind in ("now", "point"):
            t = it.scope.seconds if it.scope.kind == "point" and it.scope.seconds is not None else at
            row = view.state_at(min(t, at))
            if row is None:
                return self._abstain(question, at, "I have not seen anything yet.")
            obs = row["obs"]
            n = max(int(row["people"]), sum(1 for o in obs if o.kind == ObservationKind.PERSON))
            things = [o for o in obs if o.kind == ObservationKind.OBJECT]
            hands = sum(1 for o in obs if o.kind == ObservationKind.HAND)
            texts = [o for o, _ in view.sightings([ObservationKind.TEXT], max(0.0, row["t"] - 5.0), row["t"])]
            when = f"at {format_ts(row['t'])}"
            t_ev = float(row["t"])
        else:
            n, most_t = _most_people(view, since, until)
            things = self._objects_in(view, since, until, tuple(sorted(m.value for m in OBJECT_LABELS)))
            hands = max((sum(1 for o in r.get("obs") or [] if o.kind == ObservationKind.HAND)
                         for r in view.frames(since, until, limit=_PEAK_ROWS)), default=0)
            texts = [o for o, _ in view.sightings([ObservationKind.TEXT], since, until)]
            when = _where(it.scope.kind, since, until).strip() or f"up to {format_ts(until)}"
            t_ev = most_t
        parts = []
        if n:
            parts.append(_people(n) + (" (the most at once)" if it.scope.kind not in ("now", "point") else ""))
        if things:
            parts.append(_count_text(things, "objects"))
        if hands:
            parts.append(f"{hands} hand{'s' if hands != 1 else ''}")
        words = list(dict.fromkeys(o.label for o in texts))
        if words:
            parts.append("the text " + ", ".join(repr(w) for w in words[:3]))
        if not parts:
            return Answer(question, f"Nothing I recognise {when}: no people, none of the objects I know, no text.",
                          at, 0.4, value=[], evidence=(Evidence(t_ev, "nothing recognised", None),))
        return Answer(question, f"{when[0].upper() + when[1:]}: " + "; ".join(parts) + ".", at, 0.5,
                      value=sorted([o.label for o in things] + (["person"] * n)),
                      evidence=(Evidence(t_ev, "; ".join(parts), None),))

    def _objects(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """Questions about objects: how many, when, whether, what colour."""
        since, until = it.scope.bounds(at)
        labels = it.labels
        name = _object_name(question, labels)
        if it.unknown:  # counting every car when "cars with a roof rack" were asked would drop a constraint
            return self._abstain(question, at, f"{CANNOT_SEE}, so I cannot count {name} that are "
                                               f"{', '.join(it.unknown)}.")
        moves = {"enter": ObservationKind.APPEAR, "exit": ObservationKind.DISAPPEAR}
        ranged = bool(re.search(r"\b(so far|in total|altogether|ever|until now|up to now|did you see|have you seen|"
                                r"were seen|have been|has been|different|in all|was there|were there|pass(ed|es)?|"
                                r"went by|drove (by|past)|go(es)? by)\b",
                                question.lower()))
        # The typed query says "now" for the present tense ("is there a car?"); "all" is the past ("was
        # there a dog?", "did a red car drive through?"), read over the whole range.
        now_like = it.scope.kind in ("now", "point") or (it.scope.kind == "all" and not it.order and not ranged
                                                         and it.kind == "color")
        # "When did a bicycle first appear?" asks when one was first seen (one already there when the
        # stream or shot began appeared then too); "how many cars arrived?" counts the appearances.
        place = _place(it)
        # "Did a car come in from the left?" asks about appearances through that edge, not first sightings.
        if it.action == "exit" or (it.action == "enter" and (it.kind == "count" or it.edge)):
            kind = moves[it.action]
            if it.moving is not None:  # appearances and exits do not say whether the thing was parked
                return self._abstain(question, at, f"{CANNOT_SEE}, not whether {name} that came or went "
                                                   "were parked or moving.")
            items = [(o, k) for o, k in view.sightings([kind], since, until) if o.label in labels
                     and (not it.colors or set(it.colors) & set(o.attrs.get("colors", [])))
                     and (not it.edge or o.attrs.get("edge") == it.edge)
                     and (not it.cells or _cell(o) in it.cells)]
            verb = "appeared" if kind == ObservationKind.APPEAR else "left the view"
            if it.edge:
                verb += f" through the {it.edge} edge"
            verb += place
            ev = tuple(Evidence(o.t, f"{o.label} {verb}", k) for o, k in items[:10])
            if it.kind == "count":
                return Answer(question, f"{_count_text([o for o, _ in items], name)} {verb}"
                              f"{_where(it.scope.kind, since, until)}"
                              + (": at " + ", ".join(format_ts(o.t) for o, _ in items[:10]) if items else "") + ".",
                              at, 0.6, value=len(items), evidence=ev)
            if not items:
                no = f"No {name} {verb}{_where(it.scope.kind, since, until)}."
                return Answer(question, no, at, 0.4, value=False if it.kind == "presence" else None)
            o, kf = items[-1] if it.order == "last" else items[0]
            edge = o.attrs.get("edge")
            via = f" at the {edge} edge" if edge and edge != "inside" else ""
            more = (f" ({len(items)} times in all: " + ", ".join(format_ts(c.t) for c, _ in items[:6]) + ")"
                    if len(items) > 1 else "")
            text = f"At {format_ts(o.t)}: a {o.label} {verb}{via}{more}."
            if it.kind == "presence":
                return Answer(question, "Yes. " + text, at, 0.6, value=True, evidence=ev,
                              span=(round(o.t, 2), round(o.t + 0.5, 2)))
            return Answer(question, text, at, 0.6, value=round(o.t, 2), evidence=ev,
                          span=(round(o.t, 2), round(o.t + 0.5, 2)))
        if now_like and it.kind != "when" and it.action is None:
            t = it.scope.seconds if it.scope.kind == "point" and it.scope.seconds is not None else at
            row = view.state_at(min(t, at))
            if row is None:
                return self._abstain(question, at, "I have not seen anything yet.")
            objs = [o for o in row["obs"] if o.kind == ObservationKind.OBJECT and o.label in labels
                    and (not it.colors or set(it.colors) & set(o.attrs.get("colors", [])))
                    and _moving_fits(o, it.moving) and (not it.cells or _cell(o) in it.cells)]
            when = format_ts(row["t"])
            ev = (Evidence(row["t"], ", ".join(f"{o.label}" for o in objs) or f"no {name}", None),)
            if it.kind == "color":
                objs = [o for o in objs if o.attrs.get("colors")]
                if not objs:
                    # None in view now: the last one seen, said as such ("the last bicycle seen, at 00:07, ...").
                    seen = [o for o in self._objects_in(view, 0.0, at, labels, it.colors, it.moving, it.cells)
                            if o.attrs.get("colors")]
                    if not seen:
                        return self._abstain(question, at, f"I see no {name} whose colour I could measure now.")
                    o = seen[-1]
                    cols = o.attrs["colors"]
                    return Answer(question, f"{' and '.join(cols[:2])} (none in view at {when}; a {o.label} seen "
                                  f"from {format_ts(o.t)}).", at, 0.4, value=cols[0],
                                  evidence=(Evidence(o.t, o.label, None),))
                o = max(objs, key=lambda b: (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) if b.box else 0)
                cols = o.attrs["colors"]
                return Answer(question, f"{' and '.join(cols[:2])} ({o.label} seen at {when}).", at, 0.4,
                              value=cols[0], evidence=ev)
            text = f"{_count_text(objs, name)}{place} visible at {when}."
            if it.cells and not objs:  # say where the others are: "none on the left" is not "none"
                elsewhere = [o for o in row["obs"] if o.kind == ObservationKind.OBJECT and o.label in labels]
                if elsewhere:
                    text = f"0 {name}{place} at {when} ({_count_text(elsewhere, name)} elsewhere in the picture)."
            if it.moving is not None and not objs:
                # "Is the car moving?" with a parked car in view: say it is there and standing still.
                other = [o for o in row["obs"] if o.kind == ObservationKind.OBJECT and o.label in labels
                         and (not it.colors or set(it.colors) & set(o.attrs.get("colors", [])))
                         and (not it.cells or _cell(o) in it.cells)]
                still = "standing still" if it.moving else "moving"
                text = (f"{_count_text(other, name)}{place} visible at {when}, {still}." if other
                        else f"0 {name}{place} visible at {when}.")
            if it.kind == "presence":
                # "Which vehicles can you see?" lists them; "is there a car?" is answered yes or no.
                listing = bool(re.match(r"\s*(which|what)\b", question.lower()))
                if listing:
                    text = (f"{_count_text(objs, name)}{place} at {when}." if objs
                            else f"None: no {name}{place} visible at {when}.")
                    return Answer(question, text, at, 0.5, value=bool(objs), evidence=ev)
                # "Are there no cars on the right?" is yes when there are none; "3+ cars?" compares the count.
                yes = (_compare(len(objs), it.compare) if it.compare is not None
                       else not objs if it.absent else bool(objs))
                return Answer(question, ("Yes: " if yes else "No: ") + text, at, 0.5, value=yes, evidence=ev)
            return Answer(question, text, at, 0.5, value=len(objs), evidence=ev)
        objs = self._objects_in(view, since, until, labels, it.colors, it.moving, it.cells)
        ev = tuple(Evidence(o.t, o.label, None) for o in objs[:10])
        how = ("" if it.moving is None else " moving" if it.moving else " standing still") + place
        if it.kind == "count":
            return Answer(question, f"{_count_text(objs, name)} seen{how}{_where(it.scope.kind, since, until)}.",
                          at, 0.4, value=len(objs), evidence=ev)
        if it.kind == "color":
            coloured = [o for o in objs if o.attrs.get("colors")]
            if not coloured:
                return self._abstain(question, at, f"I have no colours recorded for a {name}.")
            o = coloured[0] if it.order == "first" else coloured[-1]
            cols = o.attrs["colors"]
            return Answer(question, f"{' and '.join(cols[:2])} ({o.label} seen at {format_ts(o.t)}).", at, 0.4,
                          value=cols[0], evidence=(Evidence(o.t, o.label, None),))
        if not objs:
            return Answer(question, f"No {name} seen{how}{_where(it.scope.kind, since, until)}.", at, 0.4,
                          value=False if it.kind == "presence" else None)
        if it.kind == "presence" and re.match(r"\s*(which|what)\b", question.lower()):
            # "What vehicles did you see so far?" lists them, as for the current frame.
            return Answer(question, f"{_count_text(objs, name)} seen{how}{_where(it.scope.kind, since, until)}.",
                          at, 0.5, value=True, evidence=ev)
        o = objs[-1] if it.order == "last" else objs[0]
        first = f"a {o.label} was {'last' if it.order == 'last' else 'first'} seen"
        text = f"At {format_ts(o.t)}: {first} ({_count_text(objs, name)} in all)."
        if it.kind == "presence":
            return Answer(question, "Yes. " + text, at, 0.5, value=True, evidence=ev,
                          span=(round(o.t, 2), round(o.t + 0.5, 2)))
        return Answer(question, text, at, 0.5, value=round(o.t, 2), evidence=ev,
                      span=(round(o.t, 2), round(o.t + 0.5, 2)))

    # --- intents -----------------------------------------------------------------------------

    def _count(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        if it.unknown:
            return self._abstain(question, at, f"{CANNOT_SEE}, so I cannot count {', '.join(it.unknown)}.")
        since, until = it.scope.bounds(at)
        if it.subject == "scene_cut" and it.event == "present":
            # "How many shots?": the shot running when the range began, and one more after each cut.
            cuts = view.sightings([ObservationKind.SCENE_CUT], since, until)
            n = len(cuts) + 1
            return Answer(question, f"{n} shot{'s' if n != 1 else ''}{_where(it.scope.kind, since, until)} ("
                          + (f"{len(cuts)} cut{'s' if len(cuts) != 1 else ''}: at "
                             + ", ".join(format_ts(o.t) for o, _ in cuts[:8]) if cuts else "no cut") + ").",
                          at, 0.8, value=n, evidence=tuple(Evidence(o.t, "scene change", k) for o, k in cuts[:8]))
        if it.subject == "scene_cut":
            cuts = view.sightings([ObservationKind.SCENE_CUT], since, until)
            return Answer(question, f"{len(cuts)} scene change{'s' if len(cuts) != 1 else ''}"
                          f"{_where(it.scope.kind, since, until)}"
                          + (": at " + ", ".join(format_ts(o.t) for o, _ in cuts[:8]) if cuts else "."),
                          at, 0.8, value=len(cuts),
                          evidence=tuple(Evidence(o.t, "scene change", k) for o, k in cuts[:8]))
        if it.subject == "face":
            row = view.state_at(at)
            obs = row["obs"] if row else []
            # Faces are detected every few seconds and followed by the face mesh in between: a followed face
            # (its state read on this frame) is in view too.
            n = max(sum(1 for o in obs if o.kind == ObservationKind.FACE),
                    len({o.attrs.get("face") for o in obs if o.kind == ObservationKind.FACE_STATE}))
            return Answer(question, f"{n} face{'s' if n != 1 else ''} in view at "
                          f"{format_ts(row['t'] if row else at)}.", at, 0.5, value=n)
        if it.subject in (None, "person", "color") or it.subject == "person":
            if it.action in ("enter", "exit"):
                if it.colors or it.edge:
                    items = [(o, k) for o, k in view.sightings([ObservationKind(it.action)], since, until)
                             if _matches(o, it.colors, it.edge)]
                    n = len(items)
                else:
                    n = view.count_sightings([ObservationKind(it.action)], since, until)
                    items = view.sightings([ObservationKind(it.action)], since, until, limit=10)
                verb = "entered" if it.action == "enter" else "left"
                via = f" through the {it.edge} edge" if it.edge else ""
                return Answer(question, f"{_people(n)} {verb} the view{via}{_where(it.scope.kind, since, until)}"
                              + (" (at " + ", ".join(format_ts(o.t) for o, _ in items[:10])
                                 + (", ..." if n > 10 else "") + ")." if items else "."),
                              at, 0.7, value=n,
                              evidence=tuple(Evidence(o.t, f"person {verb}", k) for o, k in items[:10]))
            # With no time cue, "how many people?" means now; "so far", "did you see", "in total" mean a range.
            ranged = it.event == "appear" or bool(re.search(  # appearing is over a range
                r"\b(so far|in total|altogether|ever|until now|up to now|did you see|have you seen|"
                r"were seen|have been|has been|different|in all)\b", question.lower()))
            if it.scope.kind in ("now", "point") or (it.scope.kind == "all" and not it.order and not ranged):
                t = it.scope.seconds if it.scope.kind == "point" and it.scope.seconds is not None else at
                row = view.state_at(min(t, at))
                if row is None:
                    return self._abstain(question, at, "I have not seen anything yet.")
                if it.colors or it.cells or it.moving is not None:
                    ppl = [o for o in row["obs"] if o.kind == ObservationKind.PERSON
                           and (not it.colors or set(it.colors) & set(o.attrs.get("colors", [])))
                           and (not it.cells or _cell(o) in it.cells)
                           and (it.moving is None or _person_moving_fits(o, it.moving))]
                    n = len(ppl)
                    text = (f"{_people(n)}{' in ' + '/'.join(it.colors) if it.colors else ''}"
                            f"{_motion(it)}{_place(it)} visible at {format_ts(row['t'])}.")
                else:
                    n = int(row["people"])
                    # A close-up defeats the people tracker but not the face detector: count faces
                    # seen in the last second and a half too, and take the larger number.
                    n_faces = max((sum(1 for o in r["obs"] if o.kind == ObservationKind.FACE)
                                   for r in view.frames(row["t"] - 1.5, row["t"])), default=0)
                    if row.get("obs") is not None:
                        n_faces = max(n_faces, sum(1 for o in row["obs"] if o.kind == ObservationKind.FACE))
                    n = max(n, n_faces)
                    text = f"{_people(n)} visible at {format_ts(row['t'])}."
                return Answer(question, text, at, 0.6, value=n,
                              evidence=(Evidence(row["t"], f"{_people(row['people'])} tracked", None),))
            # A range: different people seen = those in view at its start + those who entered.
            if it.colors:
                ppl = self._people_obs(view, since, until, it.colors)
                return Answer(question, f"{_people(len(ppl))} in {'/'.join(it.colors)} seen"
                              f"{_where(it.scope.kind, since, until)}.", at, 0.4, value=len(ppl),
                              evidence=tuple(Evidence(o.t, "person", None) for o in ppl[:10]))
            first = view.state_at(since) if since > 0 else None
            first = first or next(iter(view.frames(since, until, limit=1)), None)
            at_start = int(first["people"]) if first else 0
            n_entered = view.count_sightings([ObservationKind.ENTER], since, until)
            entered = view.sightings([ObservationKind.ENTER], since, until, limit=10)
            n = at_start + n_entered
            # After a cut people are in view without entering through an edge: the most seen at once in the
            # range is a floor (never more than were there), which a moving camera's shots need.
            most, most_t = _most_people(view, since, until)
            if most > n:
                return Answer(question, f"at least {_people(most)} seen{_where(it.scope.kind, since, until)} "
                              f"({most} in view at once at {format_ts(most_t)}).", at, 0.4, value=most,
                              evidence=(Evidence(most_t, f"{_people(most)} tracked", None),))
            return Answer(question, f"{_people(n)} seen{_where(it.scope.kind, since, until)}: {at_start} in view "
                          f"at {format_ts(since)} and {n_entered} who entered later.", at, 0.5, value=n,
                          evidence=tuple(Evidence(o.t, "person entered", k) for o, k in entered[:10]))
        return self._abstain(question, at, f"{CANNOT_SEE}; I cannot count that.")

    def _when(self, question: str, view: MemoryView, at: float, it: Intent, *, where: bool = False) -> Answer:
        """When the subject did what it asks (the nth, or last); with ``where``, through which edge instead."""
        if it.absent and it.subject in ("person", None) and it.action is None and not it.colors and not where:
            return self._empty_spans(question, view, at, it)
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":
            since, until = 0.0, at
        cands: list[tuple[Observation, str | None]] = []
        what = ""
        last = it.order == "last"
        not_seen = ""
        # Unfiltered kinds need only the first (or last) few rows; filtered ones are scanned.
        few: dict[str, Any] = dict(newest=last, limit=max(6, it.nth or 1))
        if it.subject == "scene_cut":
            cands, what = view.sightings([ObservationKind.SCENE_CUT], since, until, **few), "a scene change"
            not_seen = "no scene change"
        elif it.subject == "text":
            cands = [(o, k) for o, k in view.sightings([ObservationKind.TEXT], since, until)
                     if not it.words or set(it.words) <= set(o.attrs.get("words", []))]
            what = f"the text {' '.join(it.words)!r}" if it.words else "text on screen"
            not_seen = f"{what} was never read"
        elif it.subject in ("person", None, "color"):
            if it.action == "exit":
                cands = view.sightings([ObservationKind.EXIT], since, until, **({} if it.colors or it.edge else few))
                cands = [(o, k) for o, k in cands if _matches(o, it.colors, it.edge)]
                what = "someone left the view"
                # Say the filters: "nobody left" is false when only nobody in red did.
                not_seen = "nobody" + (f" in {'/'.join(it.colors)}" if it.colors else "") + " left the view" + \
                    (f" through the {it.edge} edge" if it.edge else "")
            elif it.colors:
                cands = [(o, None) for o in self._people_obs(view, since, until, it.colors,
                                                             order="-start" if it.order == "last" else "start",
                                                             limit=5)]
                what = f"a person in {'/'.join(it.colors)} was {'last' if it.order == 'last' else 'first'} seen"
                not_seen = f"nobody in {'/'.join(it.colors)}"
            else:
                cands = view.sightings([ObservationKind.ENTER], since, until, **({} if it.region or it.edge else few))
                cands = [(o, k) for o, k in cands if _matches(o, (), it.edge)]
                what = "someone entered the view"
                not_seen = "nobody entered the view" + (f" through the {it.edge} edge" if it.edge else "") + \
                    (f" in the {it.region}" if it.region else "")
                if it.region:
                    cands = [(o, k) for o, k in cands if o.attrs.get("region") == it.region]
        elif it.subject == "face":
            cands = [(o, k) for o, k in view.sightings([ObservationKind.FACE], since, until)]
            what = "a face was seen"
            not_seen = "no face"
        else:
            return self._abstain(question, at, f"{CANNOT_SEE}; I cannot tell when that happened.")
        if not cands:
            return Answer(question, f"Not seen{_where(it.scope.kind, since, until)}: {not_seen or 'that'}.",
                          at, 0.4, value=None)
        nth = it.nth or 1
        if nth > len(cands):
            return Answer(question, f"Only {len(cands)} so far{_where(it.scope.kind, since, until)}: there was no "
                          f"{_ordinal_word(nth)} ({what}).", at, 0.4, value=None)
        o, kf = cands[-nth] if last else cands[nth - 1]
        if where:  # "which side did the last person leave through?": the edge is the answer
            edge = o.attrs.get("edge") if o.kind in _MOVES else None
            went = "came in" if o.kind == ObservationKind.ENTER else "left"
            if not edge:
                return Answer(question, f"At {format_ts(o.t)}: {what}, but I did not record through which edge.",
                              at, 0.4, value=None, evidence=(Evidence(o.t, o.kind, kf),))
            side = ("inside the picture, not through an edge (lost from view there)" if edge == "inside"
                    else f"through the {edge} edge")
            return Answer(question, f"{'They' if o.kind in _MOVES else 'It'} {went} {side}, at {format_ts(o.t)}.",
                          at, 0.6, value=edge, span=(round(o.t, 2), round(o.t + 0.5, 2)),
                          evidence=(Evidence(o.t, o.kind, kf),))
        total = len(cands)
        if len(cands) == 6 and it.subject in ("scene_cut", "person", None) and not (it.colors or it.region):
            kind = (ObservationKind.SCENE_CUT if it.subject == "scene_cut"
                    else ObservationKind.EXIT if it.action == "exit" else ObservationKind.ENTER)
            total = view.count_sightings([kind], since, until)
        more = f" ({total} times in all: " + ", ".join(format_ts(c.t) for c, _ in cands[:6]) + \
            (", ..." if total > 6 else "") + ")" if total > 1 else ""
        desc = what if what else str(o.kind)
        if o.kind in _MOVES and o.attrs.get("edge") and o.attrs["edge"] != "inside":
            desc += f" through the {o.attrs['edge']} edge"
        elif o.kind == ObservationKind.EXIT and o.attrs.get("edge") == "inside":
            desc += " (lost from view inside the picture, not through an edge)"
        if o.kind in _MOVES and o.attrs.get("colors"):
            desc += f" (wearing {'/'.join(o.attrs['colors'][:2])})"
        # A cut is an instant (found frame by frame); an entry or exit spans the half second around it.
        end = o.t if o.kind == ObservationKind.SCENE_CUT else o.t + 0.5
        return Answer(question, f"At {format_ts(o.t)}: {desc}{more}.", at, 0.7, value=round(o.t, 2),
                      span=(round(o.t, 2), round(end, 2)),
                      evidence=tuple(Evidence(c.t, c.kind + (f" {c.label}" if c.kind == ObservationKind.TEXT
                                                             else ''), k)
                                     for c, k in cands[:6]))

    def _color(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        since, until = it.scope.bounds(at)
        if it.subject in ("person", None):
            if it.action == "enter" or it.order == "last" or it.scope.kind != "now":
                items = (view.sightings([ObservationKind.ENTER], since, until, newest=it.order != "first", limit=20)
                         if it.action == "enter" else [])
                ppl = [o for o, _ in items] or self._people_obs(
                    view, since, until, order="start" if it.order == "first" else "-start", limit=5)
                ppl = [o for o in ppl if o.attrs.get("colors")]
                if not ppl:
                    return self._abstain(question, at, "I have no clothing colours recorded for that.")
                o = ppl[0] if it.order == "first" else ppl[-1]
            else:
                row = view.state_at(at)
                ppl = [o for o in (row["obs"] if row else [])
                       if o.kind == ObservationKind.PERSON and o.attrs.get("colors")
                       and (not it.cells or _cell(o) in it.cells)]
                named = next((r.value for r, c in REGION_CELLS.items() if c == set(it.cells)), None)
                where = f" {_region_phrase(named)}" if named else ""
                if not ppl:
                    return self._abstain(question, at, f"I see nobody{where} whose clothing colour I could measure "
                                                       "now.")
                low = question.lower()
                if re.search(r"far left|left ?most", low):  # "the person on the far left"
                    o = min(ppl, key=lambda p: p.box[0] if p.box else 1.0)
                elif re.search(r"far right|right ?most", low):
                    o = max(ppl, key=lambda p: p.box[2] if p.box else 0.0)
                else:  # the one nearest the camera, whose colours are measured best
                    o = max(ppl, key=lambda p: (p.box[3] - p.box[1]) if p.box else 0)
                cols = o.attrs["colors"]
                return Answer(question, f"{' and '.join(cols[:2])} (person{where} seen at {format_ts(o.t)}).", at,
                              0.5, value=cols[0], evidence=(Evidence(o.t, "person " + "/".join(cols), None),))
            cols = o.attrs["colors"]
            return Answer(question, f"{' and '.join(cols[:2])} (person seen at {format_ts(o.t)}).", at, 0.5,
                          value=cols[0], evidence=(Evidence(o.t, "person " + "/".join(cols), None),))
        evs = view.events(since, until, order="-start", limit=3)
        cols = [c for e in evs for o in e.observations if o.kind == ObservationKind.COLOR
                for c in o.attrs.get("colors", {})]
        if not cols:
            return self._abstain(question, at, "I have no colours recorded for that.")
        return Answer(question, f"Mostly {', '.join(dict.fromkeys(cols))} in the scene.", at, 0.4, value=cols[0])

    def _read(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":  # what is on screen now, with what was read before it as context
            since, until = 0.0, at
        texts = view.sightings([ObservationKind.TEXT], since, until)
        if not texts:
            return Answer(question, f"I have not read any text on screen{_where(it.scope.kind, since, until)}.",
                          at, 0.4, value=None)
        labels = list(dict.fromkeys(o.label for o, _ in texts))
        o, kf = texts[-1]
        return Answer(question, f"It reads {labels[-1]!r} (at {format_ts(o.t)})"
                      + (f"; earlier: {', '.join(repr(x) for x in labels[-4:-1])}." if len(labels) > 1 else "."),
                      at, 0.7, value=labels[-1], evidence=tuple(Evidence(t.t, t.label, k) for t, k in texts[-5:]))

    def _presence(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        since, until = it.scope.bounds(at)
        if it.subject == "text":
            return self._read(question, view, at, it)
        if it.subject == "scene_cut":
            cuts = view.sightings([ObservationKind.SCENE_CUT], since, until)
            return Answer(question, ("Yes, at " + ", ".join(format_ts(o.t) for o, _ in cuts[:6]) + ".") if cuts
                          else f"No scene change{_where(it.scope.kind, since, until)}.", at, 0.7,
                          value=bool(cuts))
        if it.subject in ("person", "color", None) and it.action is None and it.scope.kind == "now":
            row = view.state_at(at)
            if row is None:
                return self._abstain(question, at, "I have not seen anything yet.")
            ppl = [o for o in row["obs"] if o.kind == ObservationKind.PERSON]
            if it.colors:
                ppl = [o for o in ppl if set(it.colors) & set(o.attrs.get("colors", []))]
            if it.cells:
                ppl = [o for o in ppl if _cell(o) in it.cells]
            if it.moving is not None:
                ppl = [o for o in ppl if _person_moving_fits(o, it.moving)]
            n = len(ppl) if (it.colors or it.cells or it.subject == "person") else int(row["people"])
            if not (it.colors or it.cells or it.moving is not None):
                n = max(n, int(row["people"]))
            if it.compare is not None:
                yes = _compare(n, it.compare)
            else:
                yes = (n == 0) if it.absent else n > 0
            return Answer(question, ("Yes: " if yes else "No: ") + f"{_people(n)}"
                          f"{' in ' + '/'.join(it.colors) if it.colors else ''}{_motion(it)}{_place(it)} visible at "
                          f"{format_ts(row['t'])}.", at, 0.6, value=yes,
                          evidence=(Evidence(row["t"], f"{_people(n)} tracked", None),))
        if it.subject in ("person", None) and it.action is None and not it.colors and not it.absent:
            # "were there any people in the previous shot?": anyone in view at any time of the range, not
            # only someone entering through an edge (after a cut nobody enters).
            most, most_t = _most_people(view, since, until)
            if most:
                return Answer(question, f"Yes: {_people(most)} in view at {format_ts(most_t)} (looking"
                              f"{_where(it.scope.kind, since, until)}).", at, 0.6, value=True,
                              evidence=(Evidence(most_t, f"{_people(most)} tracked", None),))
        if it.subject in ("person", "color", None):
            ans = self._when(question, view, at, it)
            if ans.abstained:
                return ans
            yes = ans.value is not None
            return Answer(question, ("Yes. " if yes else "No. ") + ans.text, at, ans.confidence, value=yes,
                          evidence=ans.evidence, span=ans.span)
        return self._fallback(question, view, at, it)

    def _rows_counted(self, view: MemoryView, at: float, it: Intent) -> tuple[float, float, list[Any],
                                                                               Callable[[Any], int]]:
        """The timeline rows of a peak or average question's range, and what one row counts."""
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":
            since, until = 0.0, at
        rows = view.frames(since, until, limit=_PEAK_ROWS)
        latest = view.state_at(until)
        if latest is not None and since <= latest["t"] <= until:
            rows = [*rows, latest]

        def count(row: Any) -> int:
            if it.subject == "object":
                return sum(1 for o in row.get("obs") or [] if o.kind == ObservationKind.OBJECT
                           and o.label in it.labels)
            if it.colors or it.cells:
                return sum(1 for o in row.get("obs") or [] if o.kind == ObservationKind.PERSON
                           and (not it.colors or set(it.colors) & set(o.attrs.get("colors", [])))
                           and (not it.cells or _cell(o) in it.cells))
            return int(row["people"])

        return since, until, rows, count

    def _average(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """How many people (or objects of the named classes) were in view at once on average over a range,
        each timeline row weighted by how long it stood (rows are analysed frames, not evenly spaced)."""
        if it.subject not in ("person", "object", None, "color"):
            return self._abstain(question, at, f"{CANNOT_SEE}; I count people and objects at once, not that.")
        since, until, rows, count = self._rows_counted(view, at, it)
        if len(rows) < 2:
            return self._abstain(question, at, "I have not seen enough yet.")
        total = weight = 0.0
        for a, b in zip(rows, rows[1:]):
            dt = max(0.0, float(b["t"]) - float(a["t"]))
            total += count(a) * dt
            weight += dt
        mean = total / weight if weight > 0 else float(count(rows[-1]))
        name = "/".join(plural(x) for x in it.labels) if it.subject == "object" else "people"
        return Answer(question, f"{mean:.1f} {name}{_place(it)} in view on average"
                      f"{_where(it.scope.kind, since, until) or f' up to {format_ts(until)}'} (from {len(rows)} "
                      f"analysed frames over {format_ts(weight)}).", at, 0.55, value=round(mean, 1),
                      span=(round(float(rows[0]["t"]), 2), round(float(rows[-1]["t"]), 2)))

    def _peak(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """The most people (or objects of the named classes) in view at once in a range."""
        since, until, rows, count = self._rows_counted(view, at, it)
        if not rows:
            return self._abstain(question, at, "I have not seen anything yet.")
        if it.subject not in ("person", "object", None, "color"):
            return self._abstain(question, at, f"{CANNOT_SEE}; I count people and objects at once, not that.")
        best = max(rows, key=lambda r: (count(r), -r["t"]))
        n = count(best)
        name = _count_text([], "/".join(it.labels)) if False else (
            ("/".join(plural(x) for x in it.labels)) if it.subject == "object" else "people")
        return Answer(question, f"At most {n} {name if n != 1 or it.subject == 'object' else 'person'}"
                      f"{_place(it)} at once{_where(it.scope.kind, since, until)}, first at {format_ts(best['t'])}.",
                      at, 0.6, value=n, span=(round(best["t"], 2), round(best["t"] + 0.5, 2)),
                      evidence=(Evidence(best["t"], f"{n} at once", None),))

    def _locate(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """Where in the picture the subject is now (or was last seen); for an entry or exit, through which edge."""
        if it.action in ("enter", "exit") and it.subject in ("person", None, "color"):
            return self._when(question, view, at, it, where=True)
        row = view.state_at(at)
        if row is None:
            return self._abstain(question, at, "I have not seen anything yet.")
        if it.subject == "object":
            things = [o for o in row["obs"] if o.kind == ObservationKind.OBJECT and o.label in it.labels]
        elif it.subject in ("person", None, "color", "state"):
            things = [o for o in row["obs"] if o.kind == ObservationKind.PERSON]
        elif it.subject == "face":
            things = [o for o in row["obs"] if o.kind == ObservationKind.FACE]
        elif it.subject == "hand":
            # hands are read on some frames only: the latest reading of the last few seconds
            things = [o for o in row["obs"] if o.kind == ObservationKind.HAND] or [
                o for o, _ in view.sightings([ObservationKind.HAND], max(0.0, at - 5.0), at, newest=True, limit=2)]
        else:
            return self._abstain(question, at, f"{CANNOT_SEE}; I cannot say where that is.")
        if it.colors:
            things = [o for o in things if set(it.colors) & set(o.attrs.get("colors", []))]
        cells = [c for c in (_cell(o) for o in things) if c]
        if not cells:
            return Answer(question, f"I do not see {'that' if it.subject else 'anyone'} at {format_ts(row['t'])}.",
                          at, 0.5, value=None)
        where = ", ".join(dict.fromkeys(cells))
        return Answer(question, f"In the {where} of the picture at {format_ts(row['t'])}.", at, 0.6, value=cells[0],
                      evidence=(Evidence(row["t"], where, None),))

    def _duration(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """How long people were in view (or nobody was, for an empty room) in a range, from the timeline."""
        if it.subject not in ("person", None):
            return self._abstain(question, at, f"{CANNOT_SEE}; I can time how long people were in view or the "
                                 "view was empty, not that.")
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":
            since, until = 0.0, at
        rows = view.frames(since, until, limit=_PEAK_ROWS)
        if len(rows) < 2:
            return self._abstain(question, at, "I have not seen enough yet.")
        if it.colors and not it.absent:
            return self._dwell(question, rows, at, it)
        total = 0.0
        for a, b in zip(rows, rows[1:]):
            held = (int(a["people"]) == 0) if it.absent else int(a["people"]) > 0
            if held:
                total += max(0.0, b["t"] - a["t"])
        what = "nobody was in view" if it.absent else "someone was in view"
        return Answer(question, f"{format_ts(total)} in all{_where(it.scope.kind, since, until)} ({what}).", at,
                      0.5, value=round(total, 1))

    def _dwell(self, question: str, rows: list[TimelineRow], at: float, it: Intent) -> Answer:
        """How long the person described by colours stayed: from first to last seen, per track.

        The tracks seen most often in those colours come first; the answer leads with the best match and names
        the others (two people in red are two stays, not one).
        """
        span: dict[int, list[float]] = {}
        matched: dict[int, int] = {}
        for row in rows:
            for o in row.get("obs") or []:
                if o.kind != ObservationKind.PERSON or o.track_id is None:
                    continue
                sp = span.setdefault(o.track_id, [o.t, o.t])
                sp[1] = o.t
                if set(it.colors) & set(o.attrs.get("colors", [])):
                    matched[o.track_id] = matched.get(o.track_id, 0) + 1
        who = f"someone in {'/'.join(it.colors)}"
        if not matched:
            return Answer(question, f"I saw nobody in {'/'.join(it.colors)}{_where(it.scope.kind, rows[0]['t'], at)}.",
                          at, 0.4, value=None)
        ranked = sorted(matched, key=lambda k: (-matched[k], span[k][0]))
        stays = [(span[k][0], span[k][1]) for k in ranked[:3]]
        a, b = stays[0]
        more = ("; others in those colours: " + ", ".join(f"{format_ts(y - x)} ({format_ts(x)}-{format_ts(y)})"
                                                          for x, y in stays[1:]) if len(stays) > 1 else "")
        return Answer(question, f"{format_ts(b - a)}: {who} was in view from {format_ts(a)} to {format_ts(b)}{more}.",
                      at, 0.5, value=round(b - a, 1), span=(round(a, 2), round(b, 2)),
                      evidence=tuple(Evidence(x, f"{who} in view", None, y) for x, y in stays))

    def _empty_spans(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        """When nobody was in view ("when was the room empty?"): the first (or last) empty span of the range."""
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":
            since, until = 0.0, at
        rows = view.frames(since, until, limit=_PEAK_ROWS)
        if not rows:
            return self._abstain(question, at, "I have not seen anything yet.")
        spans: list[tuple[float, float]] = []
        start: float | None = None
        for row in rows:
            empty = int(row["people"]) == 0
            if empty and start is None:
                start = float(row["t"])
            elif not empty and start is not None:
                spans.append((start, float(row["t"])))
                start = None
        if start is not None:
            spans.append((start, float(rows[-1]["t"])))
        # A frame or two with nobody counted is the tracker losing someone (or not yet sure at the start), not
        # an empty room.
        spans = [(a, b) for a, b in spans if b - a >= _EMPTY_MIN_S]
        where = _where(it.scope.kind, since, until)
        if not spans:
            return Answer(question, f"The view was never empty{where}.",
                          at, 0.5, value=None)
        k = (it.nth or 1) - 1
        a, b = spans[-1] if it.order == "last" else spans[k] if k < len(spans) else spans[0]
        more = (f" ({len(spans)} times in all: " + ", ".join(f"{format_ts(x)}-{format_ts(y)}" for x, y in spans[:6])
                + (", ..." if len(spans) > 6 else "") + ")") if len(spans) > 1 else ""
        return Answer(question, f"Empty from {format_ts(a)} to {format_ts(b)}{more}.", at, 0.6, value=round(a, 2),
                      span=(round(a, 2), round(b, 2)),
                      evidence=tuple(Evidence(x, "nobody in view", None, y) for x, y in spans[:6]))

    def _describe(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        since, until = it.scope.bounds(at)
        if it.scope.kind == "now":
            since = max(0.0, at - 10.0)
        if it.scope.kind in ("all", "window"):
            evs = view.events(since, until, order="-salience", limit=4)  # the notable moments
        else:
            evs = view.events(since, until, order="-start", limit=3)
        if not evs:
            return self._abstain(question, at, "I have not seen anything yet.")
        evs.sort(key=lambda e: e.start)
        return Answer(question, " | ".join(e.summary for e in evs), at, 0.5,
                      evidence=tuple(Evidence(e.start, e.summary, e.keyframe, e.end) for e in evs))

    def _fallback(self, question: str, view: MemoryView, at: float, it: Intent) -> Answer:
        hits = search(view, question, until=at, k=3)
        if not hits or it.unknown:
            return self._abstain(question, at, f"{CANNOT_SEE}; I cannot answer that from what I saw.")
        h = hits[0]
        return Answer(question, f"Most relevant: {h.description}", at, min(0.5, h.score / 2),
                      span=(h.start, h.end),
                      evidence=tuple(Evidence(x.start, x.description, x.keyframe, x.end) for x in hits))


_INDEXED_LABELS = 8  # up to this many classes are looked up one by one in the label index, more in one scan
_EMPTY_MIN_S = 1.5  # shortest stretch with nobody counted that answers "when was it empty?"
_PEAK_ROWS = 200_000  # timeline rows a peak or duration reads at most (about a day at 2 rows a second)




_REGION_WORDS = {frozenset({"upper left", "middle left", "lower left"}): "on the left",
                 frozenset({"upper right", "middle right", "lower right"}): "on the right",
                 frozenset({"upper left", "upper centre", "upper right"}): "at the top",
                 frozenset({"lower left", "lower centre", "lower right"}): "at the bottom"}


def _person_moving_fits(o: Observation, moving: bool) -> bool:
    """Whether a tracked person walks (``moving``) or stands still, as the people tracker says now."""
    state = o.attrs.get("state")
    return state == "moving" if moving else state == "static"


def _motion(it: Intent) -> str:
    """The moving / standing-still filter an answer about people applied, in words."""
    if it.moving is None or it.subject != "person":
        return ""
    return " moving" if it.moving else " standing still"


def _place(it: Intent) -> str:
    """The region constraint an answer applied, in words (" on the left")."""
    if not it.cells:
        return ""
    return " " + _REGION_WORDS.get(frozenset(it.cells), "in the " + "/".join(it.cells))


def _compare(n: int, cmp: tuple[str, int]) -> bool:
    op, k = cmp
    return {"eq": n == k, "gt": n > k, "ge": n >= k, "lt": n < k, "le": n <= k}[op]


def _ordinal_word(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


_ANCHOR_KINDS = {Event.CUT: ObservationKind.SCENE_CUT, Event.ENTER: ObservationKind.ENTER,
                 Event.APPEAR: ObservationKind.ENTER, Event.LEAVE: ObservationKind.EXIT}


def resolve_time(t: TimeRange, view: MemoryView, at: float) -> TimeScope | str:
    """The answerer's time scope for a typed time range, resolving anchors ("after the first cut") in memory.

    Returns:
        The scope, or a sentence saying the anchor event has not happened (the range is then empty).
    """
    from onlook.query.parse import _scope
    if t.kind is TimeKind.AGO:
        p = max(0.0, at - (t.seconds or 0.0))
        half = max(2.0, (t.seconds or 0.0) / 4)
        return TimeScope("range", max(0.0, p - half), min(at, p + half))
    if t.kind is TimeKind.SHOT:
        if t.shot == 0:  # a model-filled query may say "shot 0" for the current one: after the latest cut
            return resolve_time(TimeRange(TimeKind.AFTER, anchor=Anchor(Event.CUT, frozenset({Label.SHOT}), -1)),
                                view, at)
        return _shot_scope(-1 if t.shot is None else t.shot, view, at)
    if t.anchor is None or t.kind not in (TimeKind.BEFORE, TimeKind.AFTER):
        return _scope(t)
    a: Anchor = t.anchor
    kind = _ANCHOR_KINDS.get(a.event)
    if kind is None:
        return _scope(t)
    seen = view.sightings([kind], 0.0, at, newest=a.ordinal < 0, limit=max(1, abs(a.ordinal)))
    idx = abs(a.ordinal) - 1
    what = {Event.CUT: "scene change", Event.ENTER: "entry", Event.APPEAR: "entry", Event.LEAVE: "exit"}[a.event]
    if len(seen) <= idx:
        if t.kind is TimeKind.BEFORE:
            return TimeScope("all")
        return f"There has been no {_ordinal_word(abs(a.ordinal)) if a.ordinal > 0 else 'last'} {what} yet " \
               f"(up to {format_ts(at)}), so nothing after it."
    o = seen[idx][0] if a.ordinal > 0 else seen[-1 - idx][0] if len(seen) > idx else seen[0][0]
    if t.kind is TimeKind.AFTER:
        return TimeScope("range", o.t + 0.01, None)
    return TimeScope("range", 0.0, max(0.0, o.t - 0.01))


_FRAME_SCAN_S = 120.0  # ranges up to this long are also read frame by frame (events keep only samples of them)


def _most_people(view: MemoryView, since: float, until: float) -> tuple[int, float]:
    """The most people in view at once in a range's timeline rows, and when (0 and ``since`` if none)."""
    n, t = view.most_people(since, until)
    return n, since if t is None else t


def _tracked_in_frames(view: MemoryView, since: float, until: float, kind: str) -> list[Observation]:
    """One observation per track of ``kind`` in the timeline rows of a short range (its first sighting).

    Events keep samples of what they saw, so a thing seen only between two samples (a person in view for
    one short shot) would be missed by them; the timeline holds every analysed frame. Long ranges are left
    to the events, which bound the work.
    """
    if until - since > _FRAME_SCAN_S:
        return []
    first: dict[int, Observation] = {}
    for row in view.frames(since, until, limit=int(_FRAME_SCAN_S * 4)):
        for o in row["obs"]:
            if o.kind == kind and o.track_id is not None and o.track_id not in first:
                first[o.track_id] = o
    return list(first.values())


def _shot_scope(shot: int, view: MemoryView, at: float) -> TimeScope | str:
    """The span of one shot: the ``shot``-th from the start (1 = the first), or the ``-shot``-th before the
    current one (-1 = the previous shot), bounded by the scene cuts memory holds up to ``at``."""
    if shot > 0:
        cuts = [o.t for o, _ in view.sightings([ObservationKind.SCENE_CUT], 0.0, at, limit=shot)]
        if len(cuts) < shot - 1:
            return (f"There have been only {len(cuts) + 1} shot{'s' if cuts else ''} so far (up to {format_ts(at)}), "
                    f"so no {_ordinal_word(shot)} one.")
        start = 0.0 if shot == 1 else cuts[shot - 2]
        end = cuts[shot - 1] if len(cuts) >= shot else at
        return TimeScope("range", start, max(start, end - 0.01))
    back = -shot
    cuts = [o.t for o, _ in view.sightings([ObservationKind.SCENE_CUT], 0.0, at, newest=True, limit=back + 1)]
    cuts.sort(reverse=True)  # the latest cut first: it starts the current shot
    if len(cuts) < back:
        return (f"There has been no shot before the current one yet (up to {format_ts(at)}: "
                f"{len(cuts)} scene change{'s' if len(cuts) != 1 else ''}).")
    end = cuts[back - 1]
    start = cuts[back] if len(cuts) > back else 0.0
    return TimeScope("range", start, max(start, end - 0.01))


def _moving_fits(o: Observation, moving: bool | None) -> bool:
    """Whether object ``o`` is moving (``True``) or stationary (``False``) as asked (``None``: either)."""
    return moving is None or bool(o.attrs.get("stationary")) != moving


# Asks whose answer a place phrase only narrows (a count, a yes/no, a list), where leaving the place out gives
# an upper bound: not those where it picks out the one thing asked about (its colour, its time).
_PLACED_ASKS = frozenset({Ask.EXISTS, Ask.COUNT, Ask.IDENTIFY, Ask.LIST, Ask.READ})


def _only_placed(question: str, unknown: tuple[str, ...]) -> bool:
    """Whether every unknown word lies in a phrase placing the subject ("on the grass", "by the door")."""
    phrases = [p for p in place_phrases(question) if p.words & set(unknown)]
    return bool(phrases) and set(unknown) <= set().union(*(p.words for p in phrases))


def _described_beyond_colour(query: Query, question: str) -> bool:
    """Whether a person is picked out by clothing colour plus modifiers perception cannot check.

    Then the colours are applied and the modifiers reported as unchecked, instead of abstaining: the
    person meant is the one in those colours, whatever the pattern ("striped") or hair ("blonde"). Only
    modifiers qualify (:func:`~onlook.query.understand.modifier_words`): a thing ("a red hat") is a
    constraint of its own, and the colour may be its.
    """
    s = query.subject
    if not (query.unknown and s.colours and s.labels == {Label.PERSON} and query.ask in (
            Ask.WHEN, Ask.EXISTS, Ask.COUNT, Ask.IDENTIFY, Ask.WHERE, Ask.FREQUENCY)):
        return False
    return set(query.unknown) <= modifier_words(question)


def resolve_followup(query: Query, history: Any) -> Query:
    """A follow-up ("and after that?", "what about the left side?") made whole with the turn before it."""
    if not history:
        return query
    prev = history[-1]
    question = prev.get("question", "") if isinstance(prev, dict) else getattr(prev, "question", "")
    span = prev.get("span") if isinstance(prev, dict) else getattr(prev, "span", None)
    evidence = (prev.get("evidence") if isinstance(prev, dict) else getattr(prev, "evidence", ())) or ()
    base = understand(str(question))
    if base.follow is not None or base.ask.value == "unknown":
        return query
    times = [float(getattr(e, "t", e)) for e in evidence]  # stream times, or Evidence records
    about = tuple(span) if span else ((min(times), max(times)) if times else None)
    if query.follow is FollowUp.AFTER_PREVIOUS:
        start = about[1] if about else None
        if start is None:
            return base
        return base.with_(time=TimeRange(TimeKind.AFTER, start_s=float(start) + 0.01),
                          ordinal=1 if base.ordinal is not None or base.ask.value == "when" else base.ordinal)
    if query.follow is FollowUp.BEFORE_PREVIOUS:
        end = about[0] if about else None
        if end is None:
            return base
        return base.with_(time=TimeRange(TimeKind.BEFORE, end_s=max(0.0, float(end) - 0.01)),
                          ordinal=-1 if base.ordinal is not None or base.ask.value == "when" else base.ordinal)
    # AMEND: the previous query with what this turn names.
    s, b = query.subject, base.subject
    from dataclasses import replace as _replace
    subject = _replace(b, labels=s.labels or b.labels, colours=s.colours or b.colours, region=s.region or b.region,
                       states=s.states or b.states, words=s.words or b.words, size=s.size or b.size,
                       moving=b.moving if s.moving is None else s.moving, heading=s.heading or b.heading)
    return base.with_(subject=subject, ask=base.ask if query.ask.value == "unknown" else query.ask,
                      time=query.time if query.time != TimeRange() else base.time,
                      event=query.event if query.event is not Event.PRESENT else base.event,
                      edge=query.edge or base.edge, compare=query.compare or base.compare,
                      ordinal=query.ordinal if query.ordinal is not None else base.ordinal,
                      unknown=query.unknown or base.unknown, follow=None)


_NEGATION = re.compile(r"\b(no|nobody|none|nothing|not|never|no one|neither)\b")


def choose_from_memory(answerer: BaseAnswerer, question: str, options: list[str], view: MemoryView,
                       at: float | None = None) -> Answer:
    """Pick the multiple-choice option that memory supports, or abstain.

    An option is checked only on what perception can verify: a number
    (against the count the question asks for), people present or absent,
    clothing colours, words read on screen, scene changes. An option that
    rests on anything else (a hood, a van, a door) cannot be verified, and
    when no option is supported by memory alone the answer abstains rather
    than guessing.

    The counted value comes from ``answerer.answer`` (what
    :meth:`BaseAnswerer.choose` does by default for every answerer).

    Returns:
        An :class:`Answer` whose ``value`` is the chosen letter (or None).
    """
    at = view.now() if at is None else float(at)
    parsed = [split_option(o) for o in options]
    base = answerer.answer(question, view, at=at)
    if parse_speech_question(question) is not None:
        picked = choose_speech(base, parsed)
        return picked or Answer(question, f"I can't tell which option fits: {base.text}", at, 0.0, abstained=True)
    # 1. Numeric questions: the option holding the counted number.
    if isinstance(base.value, (int, float)) and not isinstance(base.value, bool) and not base.abstained:
        for letter, text in parsed:
            nums = re.findall(r"\d+(?:\.\d+)?", text)
            number_words = {w: n for w, n in (("zero", 0), ("one", 1), ("two", 2), ("three", 3), ("four", 4),
                                       ("five", 5), ("six", 6), ("seven", 7), ("eight", 8), ("nine", 9),
                                       ("ten", 10))}
            nums += [str(v) for w, v in number_words.items() if re.search(rf"\b{w}\b", text.lower())]
            if any(abs(float(n) - float(base.value)) < 1e-6 for n in nums):
                return Answer(question, f"{letter}. {text} ({base.text})", at, base.confidence, value=letter,
                              evidence=base.evidence)
    # 2. Yes/no questions: the option that says what the answer says ("Yes, ..." or "No, ..."), when only
    #    one does; with several, the checks below choose among them.
    if isinstance(base.value, bool) and not base.abstained:
        word = "yes" if base.value else "no"
        said = [(letter, text) for letter, text in parsed if re.match(rf"\s*{word}\b", text.lower())]
        if len(said) == 1:
            letter, text = said[0]
            return Answer(question, f"{letter}. {text} ({base.text})", at, base.confidence, value=letter,
                          evidence=base.evidence)
        if said:
            parsed = said
    # 3a. Two alternatives compared ("more people on the left or the right?"): the option naming the one
    # memory counts more of (or saying they are the same), and not the other.
    alt = alternatives(question)
    if alt is not None and not alt.than and isinstance(base.value, str) and not base.abstained:
        filler = {"the", "at", "on", "in", "from", "side", "of", "a", "an", "through", "by"}
        keys = [set(re.findall(r"[a-z0-9:]+", n.lower())) - filler for n in alt.names]
        if base.value == "neither":
            fits = [(lt, tx) for lt, tx in parsed if re.search(r"\b(same|neither|equal|as many|both|no difference)\b",
                                                                tx.lower())]
        else:
            won = alt.names.index(base.value) if base.value in alt.names else -1
            words = {lt: set(re.findall(r"[a-z0-9:]+", tx.lower())) for lt, tx in parsed}
            fits = [(lt, tx) for lt, tx in parsed
                    if won >= 0 and keys[won] <= words[lt] and not keys[1 - won] <= words[lt]]
        if len(fits) == 1:
            letter, text = fits[0]
            return Answer(question, f"{letter}. {text} ({base.text.rstrip('.')}).", at, base.confidence,
                          value=letter, evidence=base.evidence)
    question_q = understand(question)
    if _described_beyond_colour(question_q, question):  # the colours pick the person out; the rest is unchecked
        question_q = question_q.with_(unknown=())
    d = described(question) if question_q.unknown and not base.abstained else None
    if d is not None and set(question_q.unknown) <= d.words:
        # "Is the man in the car wearing a tie?" with one man in view: the question itself was answered
        # without its description (the answer says so), and so are its options.
        question_q = question_q.with_(unknown=())
    if question_q.unknown and question_q.ask in _PLACED_ASKS and _only_placed(question, question_q.unknown):
        # "Is anybody sitting on the grass?": the options are checked on what can be (sitting), the place not
        question_q = question_q.with_(unknown=())
    if question_q.unknown:
        return Answer(question, f"{CANNOT_SEE}, not {', '.join(question_q.unknown)}; I cannot choose an option.",
                      at, 0.0, abstained=True)
    if question_q.ask is Ask.READ:
        return _choose_read(question, parsed, view, at)
    groups = people_described(question) if question_q.event in (Event.ENTER, Event.LEAVE) else ()
    if groups:
        each = _each_person_chooses(question, question_q, groups, parsed, view, at)
        if each is not None:
            return each
    if is_about_holding(question_q) and base.abstained:
        # "What is the man holding?" with no hand seen: no option can be refuted either, so none is chosen
        return Answer(question, f"{base.text.rstrip('.')}; I cannot choose an option.", at, 0.0, abstained=True)
    # 3. Colour questions: the question picks the thing ("the first person who came in"), memory gives its
    # colours, and the option naming those colours (and nothing unseeable) is the answer.
    if question_q.ask is Ask.COLOUR and isinstance(base.value, str) and not base.abstained:
        seen = set(re.findall(r"[a-z]+", base.value.lower())) & set(COLOR_NAMES)
        fits = []
        for letter, text in parsed:
            oq = understand(text)
            if oq.subject.colours and not oq.unknown and oq.subject.colours <= seen:
                fits.append((letter, text))
        if len(fits) == 1:
            letter, text = fits[0]
            return Answer(question, f"{letter}. {text} ({base.text})", at, base.confidence, value=letter,
                          evidence=base.evidence)
    # 3b. Side questions ("which way did he leave?", "which way is she walking?"): the option naming the side
    # memory answers, and no other side.
    if question_q.ask is Ask.WHERE and base.value in {e.value for e in Edge} and not base.abstained:
        sides = {"upper": "top", "lower": "bottom"}
        fits = [(letter, text) for letter, text in parsed
                if {sides.get(w, w) for w in re.findall(r"\b(left|right|top|bottom|upper|lower)\b", text.lower())}
                == {base.value}]
        if len(fits) == 1:
            letter, text = fits[0]
            return Answer(question, f"{letter}. {text} ({base.text.rstrip('.')}).", at, base.confidence,
                          value=letter, evidence=base.evidence)
    # 4. Time questions: the option naming the time memory answers (within 2 s or a tenth).
    if question_q.ask is Ask.WHEN and isinstance(base.value, (int, float)) and not base.abstained:
        timed = [(letter, text, _option_time(text)) for letter, text in parsed]
        near = [(abs(t - float(base.value)), letter, text) for letter, text, t in timed if t is not None
                and abs(t - float(base.value)) <= max(2.0, 0.1 * float(base.value))]
        if near:
            _, letter, text = min(near)
            return Answer(question, f"{letter}. {text} ({base.text})", at, base.confidence, value=letter,
                          evidence=base.evidence)
    # 5. Every other option is a predicate of the query language, checked against memory.
    checker = ExtractiveAnswerer()
    unmeasured = question_q.ask is Ask.COLOUR and base.abstained
    supported: list[tuple[int, str, str, Answer]] = []
    refuted, unknown = [], []
    for letter, text in parsed:
        verdict = check_option(checker, question_q, text, view, at)
        if verdict is None:
            unknown.append(letter)
            continue
        yes, weight, ans = verdict
        if yes:
            supported.append((weight, letter, text, ans))
        elif unmeasured and (option_query(question_q, text) or question_q).subject.colours:
            # "What is he wearing?" when no colour of his was measured: "a red hoodie" is not refuted by
            # "nobody in red", it was never checked.
            unknown.append(letter)
        else:
            refuted.append(letter)
    supported.sort(key=lambda x: -x[0])
    if not supported and len(unknown) == 1 and refuted:
        # Every option perception can check is false: the one it cannot check is what remains.
        letter = unknown[0]
        text = dict(parsed)[letter]
        return Answer(question, f"{letter}. {text} (by elimination: what I perceive contradicts options "
                                f"{', '.join(refuted)}; this one rests on what I cannot see).", at, 0.25,
                      value=letter)
    if len(supported) == 1 or (len(supported) > 1 and supported[0][0] > supported[1][0]):
        _, letter, text, ans = supported[0]
        note = f"; options {', '.join(unknown)} rest on what I cannot see" if unknown else ""
        return Answer(question, f"{letter}. {text} ({ans.text.rstrip('.')}{note}).", at,
                      0.5 if not unknown else 0.35, value=letter, evidence=ans.evidence)
    why = ("more than one option fits what I perceive" if supported
           else "no option can be checked against what I perceive" if not refuted
           else "what I perceive contradicts every option I can check")
    return Answer(question, f"I can't tell: {why}.", at, 0.0, abstained=True)


_READ_MATCH = 0.6  # share of an option's words that must be among the words read for it to be what was read


def _choose_read(question: str, parsed: list[tuple[str, str]], view: MemoryView, at: float) -> Answer:
    """"What does the sign say?" with options: the option whose words were read on screen.

    Each option is text, not a description to check: it is compared word by word (close spellings count,
    OCR drops and swaps letters) with every line read up to ``at``; the option with most of its words read
    wins when no other matches as well. Nothing read, or nothing matching, abstains and says what was read.
    """
    import difflib

    from onlook.perception.text import text_words

    texts = view.sightings([ObservationKind.TEXT], 0.0, at)
    read = {w for o, _ in texts for w in (o.attrs.get("words") or text_words(o.label))}
    if not read:
        return Answer(question, f"I have not read any text on screen up to {format_ts(at)}, so I cannot choose "
                                "an option.", at, 0.0, abstained=True)

    def share(option: str) -> float:
        words = [w for w in text_words(option) if len(w) > 1 or w.isdigit()]
        if not words:
            return 0.0
        hit = sum(1 for w in words if w in read or difflib.get_close_matches(w, read, n=1, cutoff=0.8))
        return hit / len(words)

    scored = sorted(((share(text), letter, text) for letter, text in parsed), reverse=True)
    best = scored[0]
    lines = list(dict.fromkeys(o.label for o, _ in texts))
    if best[0] < _READ_MATCH or (len(scored) > 1 and scored[1][0] >= best[0]):
        return Answer(question, f"I can't tell: what I read ({'; '.join(lines[-5:])}) matches no one option.",
                      at, 0.0, abstained=True)
    wanted = set(text_words(best[2]))
    o, kf = next(((o, k) for o, k in reversed(texts) if set(o.attrs.get("words") or text_words(o.label)) & wanted),
                 texts[-1])  # the latest line holding one of its words exactly, else the latest line
    return Answer(question, f"{best[1]}. {best[2]} (read on screen at {format_ts(o.t)}: \"{o.label}\").", at,
                  round(0.4 + 0.4 * best[0], 3), value=best[1], evidence=(Evidence(o.t, f"text: {o.label}", kf),))


def _each_person_chooses(question: str, question_q: Query, groups: tuple[frozenset[str], ...],
                         parsed: list[tuple[str, str]], view: MemoryView, at: float) -> Answer | None:
    """The option that holds for each of several described people ("a man in red-and-navy and a woman in
    black ... how did they leave?"), each one a person wearing all of their colours; ``None`` when not
    exactly one option holds (the caller goes on as for one subject)."""
    held: list[tuple[str, str, list[Observation]]] = []
    for letter, text in parsed:
        oq = option_query(question_q, text)
        if oq is None or oq.unknown:
            continue
        event = oq.event if oq.event in (Event.ENTER, Event.LEAVE) else question_q.event
        kind = ObservationKind.EXIT if event is Event.LEAVE else ObservationKind.ENTER
        scope = intent_from_query(oq).scope
        since, until = (0.0, at) if scope.kind == "now" else scope.bounds(at)
        seen = [o for o, _ in view.sightings([kind], since, until)]
        firsts: list[Observation | None] = []
        for g in groups:
            # Someone wearing all of this person's colours who did it (through the edge): the first one for the
            # first person, then the one nearest in time to them ("walked through together").
            used = {o.track_id for o in firsts if o is not None}  # each described person is someone else
            fits = [o for o in seen if g <= set(o.attrs.get("colors", [])) and o.track_id not in used
                    and (oq.edge is None or o.attrs.get("edge") == oq.edge.value)]
            t0 = firsts[0].t if firsts and firsts[0] is not None else None
            firsts.append(min(fits, key=lambda o: abs(o.t - t0)) if fits and t0 is not None
                          else (fits[0] if fits else None))
        if oq.negated or oq.event is Event.ABSENT:
            if not any(o is not None for o in firsts):
                held.append((letter, text, []))
        elif all(o is not None for o in firsts):
            held.append((letter, text, [o for o in firsts if o is not None]))
    if len(held) != 1:
        return None
    letter, text, found = held[0]
    said = "; ".join(f"someone in {'/'.join(sorted(g))} at {format_ts(o.t)}"
                     + (f" through the {o.attrs['edge']} edge" if o.attrs.get("edge") else "")
                     for g, o in zip(groups, found, strict=False)) or "neither of them did"
    return Answer(question, f"{letter}. {text} (each described person, by all of their colours: {said}).", at,
                  0.4, value=letter, evidence=tuple(Evidence(o.t, o.kind, None) for o in found))


_COUNT_WORDS = {"no": 0, "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _option_count(text: str) -> int | None:
    """The number an option states before its noun ("Two cars" -> 2, "3 people" -> 3), if any."""
    m = re.match(r"\s*(?:yes,?\s*|no,?\s*)?(?:there (?:are|is|were|was)\s+)?(?:exactly\s+)?"
                 r"(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten)\b", text.lower())
    if not m:
        return None
    return int(m.group(1)) if m.group(1).isdigit() else _COUNT_WORDS[m.group(1)]


def _option_time(text: str) -> float | None:
    """A time an option names ("00:12", "1:05:30", "at 42 seconds"), in seconds."""
    m = re.search(r"\b(?:(\d+):)?(\d{1,2}):(\d{2})\b", text)
    if m:
        return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    m = re.search(r"\b(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)\b", text.lower())
    return float(m.group(1)) if m else None


# How a bare option ("Closed", "Into the camera") reads when the question asks about a state of this part.
_STATE_CONTEXT = {BodyState.MOUTH_OPEN: "his mouth is", BodyState.EYES_CLOSED: "his eyes are",
                  BodyState.FACING_CAMERA: "he is looking"}


def _says_anything(o: Query, option: str) -> bool:
    """Whether an option, read alone, names anything memory could check."""
    s = o.subject
    return bool(s.labels or s.colours or s.region or s.states or s.words or o.edge
                or o.event is not Event.PRESENT or _option_count(option) is not None)


def option_query(question: Query, option: str) -> Query | None:
    """The yes/no query an option asks: the option's own query, completed by the question's.

    The option fills what the question leaves open ("Which animal is there?" / "A dog" -> is a dog there
    now?); what the option does not say comes from the question (its time range, its subject's colour).
    Returns ``None`` when the option names nothing that could be checked.
    """
    o = understand(option)
    if not _says_anything(o, option) and question.subject.states:
        # "What's his mouth doing?" / "Wide open": a bare option describes the part the question asks about.
        state = next(iter(question.subject.states))[0]
        # "It is wide open" / "They are closed": the pronoun is the part itself
        bare = re.sub(r"^(it|they|she|he)\s*(is|are|'s|'re)\s+", "", option.strip().rstrip("."), flags=re.I)
        o = understand(f"{_STATE_CONTEXT.get(state, 'he is')} {bare}")
    low = option.lower()
    side = parse_edge(low)
    edge = o.edge or (Edge(side) if side else None)
    qs, os_ = question.subject, o.subject
    if (edge is None and question.event in (Event.ENTER, Event.LEAVE) and os_.region is not None
            and os_.region.value in {e.value for e in Edge}):
        # "Which way did he leave?" / "To the left": the side is the edge crossed, not where he stood
        edge, os_ = Edge(os_.region.value), replace(os_, region=None)
    said = _says_anything(o, option) or edge is not None or os_.heading is not None
    if not said:
        return None
    labels = os_.labels or qs.labels
    if os_.labels == frozenset({Label.PERSON}) and qs.labels and Label.PERSON in qs.labels:
        labels = qs.labels
    # What the option names replaces the question's own alternatives ("sitting or standing?" / "Sitting").
    subject = Subject(labels=labels, colours=os_.colours or qs.colours, region=os_.region or qs.region,
                      size=os_.size or qs.size, moving=qs.moving if os_.moving is None else os_.moving,
                      states=os_.states or qs.states, words=os_.words or qs.words, held=os_.held or qs.held,
                      heading=os_.heading or qs.heading)
    event = o.event if o.event is not Event.PRESENT else question.event
    if o.event is Event.ABSENT and question.event not in (Event.PRESENT, Event.ABSENT):
        # "Which way did he leave?" / "He did not leave": the question's event, negated
        event, negated = question.event, True
    else:
        negated = o.negated
    n = _option_count(option)
    compare = o.compare or (Comparison(Cmp.EQ, n) if n is not None and n > 0 else question.compare)
    if n == 0:
        event = Event.ABSENT
    time = o.time if o.time != TimeRange() else question.time
    return Query(ask=Ask.EXISTS, subject=subject, event=event, negated=negated, time=time,
                 edge=edge or question.edge, compare=compare, unknown=o.unknown,
                 ordinal=o.ordinal if o.ordinal is not None else question.ordinal,
                 holding=o.holding or question.holding)


def check_option(checker: ExtractiveAnswerer, question: Query, option: str, view: MemoryView,
                 at: float, query: Query | None = None) -> tuple[bool, int, Answer] | None:
    """Whether memory supports ``option`` as the answer to ``question``.

    Args:
        query: The option's query when the caller already has it (default: read from ``option``).

    Returns:
        ``(holds, weight, answer)`` where ``weight`` is how many constraints the option adds (a more
        specific supported option beats a vaguer one), or ``None`` when the option rests on something
        perception cannot see or names nothing checkable (unknown, not fatal for the others).
    """
    q = query or option_query(question, option)
    if q is None:
        return None
    if q.unknown:
        # An option is all of its parts: when what can be checked of it is false, so is the option ("a bus
        # driving along the road" with no bus in view). When it holds, the unseen rest leaves it open.
        # Not for negations: "he did not leave through the door" is not refuted by his leaving.
        rest = q.with_(unknown=())
        if (q.negated or q.event is Event.ABSENT or not (rest.subject.labels or rest.subject.colours)
                or _option_count(option) == 0):
            return None
        verdict = check_option(checker, question, option, view, at, query=rest)
        return verdict if verdict is not None and not verdict[0] else None
    s = q.subject
    weight = (bool(s.labels) + len(s.colours) + bool(s.region) + len(s.states) + len(s.words) + bool(q.edge)
              + bool(s.heading)
              + (q.compare is not None) + (q.event is not Event.PRESENT))
    # An option naming several things with "and" ("a white van and a red car") holds when each one does;
    # each phrase is read alone, so its colour stays its own. When the phrases do not each name a thing
    # ("red and white car"), the classes named are checked one by one.
    parts = [q]
    if len(s.labels) > 1 and re.search(r"\band\b", option.lower()) and q.event is not Event.ABSENT:
        phrases = [p for p in re.split(r"\s*,?\s+and\s+", option.strip()) if p.strip()]
        each = [option_query(question, p) for p in phrases] if len(phrases) > 1 else []
        if each and all(x is not None and x.subject.labels for x in each):
            if any(x.unknown for x in each if x is not None):
                return None
            parts = [x for x in each if x is not None]
        else:
            parts = [q.with_(subject=replace(s, labels=frozenset({lab}))) for lab in sorted(s.labels, key=str)]
    answers = []
    for part in parts:
        # "not left" and "nobody" are checked as "left" and "somebody", and the verdict inverted: every
        # handler answers the positive form.
        negated = (part.negated and part.event not in (Event.PRESENT, Event.ABSENT)) or part.event is Event.ABSENT
        positive = part.with_(negated=False, event=Event.PRESENT if part.event is Event.ABSENT else part.event)
        a = checker.answer_query(option, positive if negated else part, view, at)
        if a.abstained or not isinstance(a.value, bool):
            if a.abstained:
                return None
            held = a.value is not None and a.value is not False
        else:
            held = a.value
        if not held and not negated and part.subject.labels and part.subject.labels <= _WORN and (
                not part.subject.colours or not checker.answer_query(
                    option, part.with_(subject=replace(part.subject, colours=frozenset())), view, at).value):
            # "A dark suit with a striped tie" with no tie detected: the detector misses small things worn
            # on a person far more often than they are absent, so not seeing one refutes nothing (one seen
            # in another colour still does).
            return None
        answers.append((held != negated, a))
    return all(h for h, _ in answers), weight, answers[-1][1]


# Small things worn on a person: not detecting one is no evidence that it is not there.
_WORN = frozenset({Label.TIE, Label.BACKPACK, Label.HANDBAG, Label.SHOE})


