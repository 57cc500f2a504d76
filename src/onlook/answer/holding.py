"""Answers about holding: "is anyone holding the box?", "what is the hand holding?", "did she put it down?".

They are read from the stored timeline's hand and object boxes (:mod:`onlook.query.holding`): a hand on a
thing is what perception can check, so the answers say "a hand on the box", not "gripping it".
"""

from __future__ import annotations

from dataclasses import replace

from onlook.perception.motion import cell_of
from onlook.query.holding import RELEASE_S, HoldFrame, hold_frame, hold_runs, releases
from onlook.query.model import Ask, Event, Query
from onlook.query.parse import TimeScope
from onlook.query.search import MemoryView
from onlook.types import Answer, Evidence, format_ts
from onlook.vocabulary import Label, find_objects, plural

__all__ = ["answer_holding", "is_about_holding"]

_ROWS = 1200  # timeline rows one answer reads at most: the latest 10 minutes at 2 rows a second (a row's
# observations are decoded to find hands and things, about 60 us each, so a day's range would take seconds)


def is_about_holding(query: Query) -> bool:
    """Whether ``query`` asks about a hand on a thing (its event, or a subject described as held)."""
    return query.event in (Event.HOLD, Event.RELEASE) or bool(query.subject.held)


def _many(word: str, n: int) -> str:
    return word if n == 1 else plural(word)


def _kinds(labels: frozenset[Label]) -> str:
    return " or ".join(sorted(m.value for m in labels)) if labels else "thing"


def answer_holding(question: str, query: Query, view: MemoryView, at: float, scope: TimeScope) -> Answer:
    """Answer a hold, release or held-subject query from the timeline rows in its time range."""
    held_subject = bool(query.subject.held)
    labels = query.subject.labels if held_subject else query.holding
    what = _kinds(labels)
    truncated = False
    if scope.kind == "now" or query.time.kind.value == "now":
        row = view.state_at(at)
        frames = [] if row is None else [hold_frame(row["t"], row["obs"], labels)]
    else:
        since, until = scope.bounds(at)
        rows = view.frames(since, until, limit=_ROWS, newest_first=True)[::-1]
        frames = [hold_frame(r["t"], r["obs"], labels) for r in rows]
        truncated = len(rows) == _ROWS and rows[0]["t"] > since
    ans = _answer(question, query, at, frames, held_subject, what)
    if truncated:  # say how far back it looked rather than answer for a range it did not read
        ans = replace(ans, text=f"{ans.text.rstrip('.')} (I looked from {format_ts(frames[0].t)} on).",
                      confidence=round(ans.confidence * 0.8, 3))
    return ans


def _answer(question: str, query: Query, at: float, frames: list[HoldFrame], held_subject: bool,
            what: str) -> Answer:
    if not frames:
        return Answer(question, "I have not seen anything yet.", at, 0.0, abstained=True)
    if held_subject:
        return _held_subject(question, query, at, frames, what)
    if not any(f.hands for f in frames):
        if Label.PERSON in query.subject.labels and not held_subject:
            # Hands are looked for only on people near the camera: a far person's hands were never seen.
            return Answer(question, f"I saw no hands{_span(frames)}, so I cannot tell whether anyone held a "
                          f"{what}.", at, 0.0, abstained=True)
        return _no(question, query, at, f"no hand in view{_span(frames)}", frames[-1])
    if query.event is Event.RELEASE:
        return _release(question, query, at, frames, what)
    return _hold(question, query, at, frames, what)


def _span(frames: list[HoldFrame]) -> str:
    if len(frames) == 1:
        return f" at {format_ts(frames[0].t)}"
    return f" between {format_ts(frames[0].t)} and {format_ts(frames[-1].t)}"


def _no(question: str, query: Query, at: float, why: str, f: HoldFrame) -> Answer:
    """A negative finding, as the ask wants it (a yes/no, a zero count, nothing to list)."""
    value: object = None
    if query.ask is Ask.EXISTS:
        value = bool(query.negated)
        text = f"{'Yes' if value else 'No'}: {why}."
    elif query.ask is Ask.COUNT:
        value, text = 0, f"0: {why}."
    else:
        text = f"Nothing: {why}."
    return Answer(question, text, at, 0.5, value=value, evidence=(Evidence(f.t, "hands", None),))


def _hold(question: str, query: Query, at: float, frames: list[HoldFrame], what: str) -> Answer:
    held = [f for f in frames if f.held]
    if not held:
        seen = any(f.things for f in frames)
        why = (f"a hand was in view{_span(frames)} but on no {what}" if seen or what != "thing"
               else f"a hand was in view{_span(frames)} but on nothing I can name")
        return _no(question, query, at, why, frames[-1])
    last = held[-1]
    things = sorted({o.label for o in last.held})
    asked = {m.value for m in query.holding}

    word = next((w for w, labs in find_objects(question) if {m.value for m in labs} == asked), what)

    def said(labels: set[str]) -> str:
        # The thing by the asker's word when the detector's classes are all ones that word maps to: a box is
        # "box" or "book" to the detectors, and "a hand on the book" answers "did he grab the box?" badly.
        return word if asked and labels <= asked else ", ".join(sorted(labels))

    names = said(set(things))
    ev = tuple(Evidence(f.t, "hand on " + ", ".join(sorted({o.label for o in f.held})), None) for f in held[:6])
    runs = hold_runs(frames)
    if query.ask is Ask.WHEN:
        start, end = runs[-1] if query.ordinal == -1 else runs[min(len(runs), max(1, query.ordinal or 1)) - 1]
        f = next(x for x in held if x.t >= start)
        return Answer(question, f"At {format_ts(start)}: a hand on the {said({o.label for o in f.held})}"
                      f" (until {format_ts(end)}; {len(runs)} time{'s' if len(runs) != 1 else ''} in all).", at, 0.5,
                      value=round(start, 2), span=(round(start, 2), round(end, 2)), evidence=ev)
    if query.ask is Ask.COUNT:
        n = len(last.held)
        return Answer(question, f"{n} {_many(what, n)} with a hand on "
                      f"{'it' if n == 1 else 'them'} at {format_ts(last.t)}.", at, 0.5, value=n, evidence=ev)
    if query.ask in (Ask.LIST, Ask.IDENTIFY, Ask.DESCRIBE, Ask.UNKNOWN):
        return Answer(question, f"A hand is on: {names} (at {format_ts(last.t)}).", at, 0.5, value=things,
                      evidence=ev)
    if query.ask is not Ask.EXISTS:
        return Answer(question, "I can tell whether a hand is on a thing, and when; not that.", at, 0.0,
                      abstained=True)
    span = "" if len(frames) == 1 else f" (first at {format_ts(held[0].t)}; {len(runs)} time" \
        f"{'s' if len(runs) != 1 else ''} in all)"
    value = not query.negated
    when = last.t if len(frames) == 1 else held[0].t
    return Answer(question, f"{'Yes' if value else 'No'}: a hand on the {names} at {format_ts(when)}{span}.", at,
                  0.5, value=value, evidence=ev)


def _release(question: str, query: Query, at: float, frames: list[HoldFrame], what: str) -> Answer:
    held = [f for f in frames if f.held]
    if not held:
        return _no(question, query, at, f"no hand was on a {what}{_span(frames)}, so none was let go of", frames[-1])
    let_go = releases(frames)
    if not let_go:
        runs = hold_runs(frames)
        why = (f"a hand stayed on the {what} from {format_ts(held[0].t)} to {format_ts(held[-1].t)} whenever both "
               f"were seen" if len(runs) == 1 else f"a hand was on the {what} {len(runs)} times and never left it "
               f"in view for {RELEASE_S:g} s")
        return _no(question, query, at, why, held[-1])
    t = let_go[-1] if query.ordinal == -1 else let_go[0]
    ev = tuple(Evidence(x, f"{what} in view, no hand on it", None) for x in let_go[:6])
    if query.ask is Ask.WHEN:
        return Answer(question, f"At {format_ts(t)}: the {what} stayed in view with no hand on it "
                      f"({len(let_go)} time{'s' if len(let_go) != 1 else ''} in all).", at, 0.5, value=round(t, 2),
                      span=(round(t, 2), round(t + RELEASE_S, 2)), evidence=ev)
    if query.ask is Ask.COUNT:
        return Answer(question, f"{len(let_go)} time{'s' if len(let_go) != 1 else ''}.", at, 0.5, value=len(let_go),
                      evidence=ev)
    value = not query.negated
    return Answer(question, f"{'Yes' if value else 'No'}: at {format_ts(t)} the {what} stayed in view with no hand on "
                  "it.", at, 0.5, value=value, evidence=ev)


def _held_subject(question: str, query: Query, at: float, frames: list[HoldFrame], what: str) -> Answer:
    """A thing picked out by a hand being on it ("the box the hand is holding"), asked about now."""
    f = frames[-1]
    if not f.held:
        seen = f" ({len(f.things)} {_many(what, len(f.things))} in view)" if f.things else ""
        return Answer(question, f"I see no {what} with a hand on it at {format_ts(f.t)}{seen}.", at, 0.4,
                      value=False if query.ask is Ask.EXISTS else None)
    o = f.held[0]
    if query.ask is Ask.COLOUR:
        colours = list(o.attrs.get("colors", []))
        if not colours:
            return Answer(question, f"I did not measure the colour of the {o.label} with a hand on it.", at, 0.0,
                          abstained=True)
        return Answer(question, f"{' and '.join(colours[:2])} (the {o.label} with a hand on it, at "
                      f"{format_ts(f.t)}).", at, 0.5, value=colours[0], evidence=(Evidence(f.t, o.label, None),))
    if query.ask is Ask.WHERE:
        return Answer(question, f"In the {cell_of(o)} of the picture at {format_ts(f.t)} (a hand on it).", at, 0.5,
                      value=cell_of(o), evidence=(Evidence(f.t, o.label, None),))
    if query.ask is Ask.EXISTS:
        return Answer(question, f"Yes: a hand on the {o.label} at {format_ts(f.t)}.", at, 0.5, value=True,
                      evidence=(Evidence(f.t, o.label, None),))
    return Answer(question, f"The {o.label} with a hand on it is in view at {format_ts(f.t)}; I can tell its colour "
                  "and where it is, not that.", at, 0.0, abstained=True)
