"""Extractive answers about what was said: quotes from the transcript, with their times.

Causal like every answer: a question asked at ``at`` sees only words said by
then (a segment still running at ``at`` is cut to its words up to it).

Example:
    >>> answer_speech("did anyone mention the cover?", view, at=30.0).text  # doctest: +SKIP
    'Yes: at 00:07 someone said “Please help me with the cover.”'
"""

from __future__ import annotations

from onlook.query.search import MemoryView
from onlook.query.speech import SpeechIntent, parse_speech_question, words_match
from onlook.types import Answer, Evidence, SpeechSegment, format_ts

__all__ = ["answer_speech", "choose_speech", "speech_hits", "transcript_lines", "until_at"]

_RECENT_S = 30.0  # "just now": the latest utterance within this much stream time


def until_at(seg: SpeechSegment, at: float) -> SpeechSegment | None:
    """The segment as heard by stream time ``at``: None if it began later, cut to its words up to ``at``."""
    if seg.start > at:
        return None
    if seg.end <= at:
        return seg
    if not seg.words:
        return None  # no word times: nothing of it can be placed before ``at``
    words = tuple(w for w in seg.words if w.end <= at)
    if not words:
        return None
    return SpeechSegment(seg.stream_id, seg.start, words[-1].end, " ".join(w.text for w in words), words,
                         seg.language, seg.confidence, seg.wall, seg.id)


def _end(text: str) -> str:
    """A sentence's full stop, unless the quote closing it has one."""
    return text if text.endswith((".”", "?”", "!”")) else text + "."


def _quote(seg: SpeechSegment) -> str:
    return f"{format_ts(seg.start)} “{seg.text}”"


def _word_span(seg: SpeechSegment, words: tuple[str, ...]) -> tuple[float, float]:
    hits = [w for w in seg.words if any(words_match((x,), w.text) for x in words)]
    if hits:
        return hits[0].start, hits[-1].end
    return seg.start, seg.end


def speech_hits(view: MemoryView, words: tuple[str, ...] | list[str], *, since: float | None = None,
                until: float | None = None, limit: int = 20) -> list[tuple[SpeechSegment, float]]:
    """Segments where all ``words`` were said (up to ``until``), oldest first, with their FTS score."""
    if not words:
        return []
    out: list[tuple[SpeechSegment, float]] = []
    for seg, score in view.search_speech(list(words), since=since, until=until, limit=limit * 3):
        cut = until_at(seg, until) if until is not None else seg
        if cut is not None and words_match(tuple(words), cut.text):
            out.append((cut, score))
    out.sort(key=lambda p: p[0].start)
    return out[:limit]


def transcript_lines(view: MemoryView, since: float, until: float, *, max_chars: int = 1200) -> list[str]:
    """What was said in ``[since, until]``, one ``mm:ss “text”`` line per segment, newest kept within ``max_chars``."""
    lines: list[str] = []
    used = 0
    for whole in view.speech(since, until, newest_first=True, limit=200):
        seg = until_at(whole, until)
        if seg is None:
            continue
        line = _quote(seg)
        if used + len(line) > max_chars and lines:
            break
        lines.append(line)
        used += len(line) + 1
    return list(reversed(lines))


def answer_speech(question: str, view: MemoryView, at: float | None = None,
                  intent: SpeechIntent | None = None) -> Answer | None:
    """Answer a question about speech from the transcript, or None if it is not about speech.

    Args:
        question: The user's words.
        view: The stream's memory.
        at: Stream time the question is asked at (default: now).
        intent: The parsed question, if already parsed.
    """
    it = intent or parse_speech_question(question)
    if it is None:
        return None
    at = view.now() if at is None else float(at)
    since, until = it.scope.bounds(at)
    if it.scope.kind in ("now", "all") and it.kind == "said" and it.recent:
        since = max(0.0, at - _RECENT_S)
    heard_any = bool(view.speech(None, at, limit=1))
    where = "" if it.scope.kind == "all" else f" between {format_ts(since)} and {format_ts(until)}"
    if it.kind == "said":
        segs = [s for s in (until_at(x, until) for x in view.speech(since, until, newest_first=True,
                                                                           limit=50)) if s is not None]
        segs.reverse()
        if it.recent and segs:
            segs = segs[-1:]
        if not segs:
            span = f" in the last {int(_RECENT_S)} s" if it.recent else where
            text = (f"Nothing was said{span} (up to {format_ts(at)})." if heard_any
                    else f"I have heard no speech up to {format_ts(at)}.")
            return Answer(question, text, at, 0.5, value=None)
        shown = segs[-8:]
        text = " ".join(_quote(s) for s in shown)
        if len(segs) > len(shown):
            text = f"({len(segs) - len(shown)} earlier not shown) " + text
        return Answer(question, text, at, min(0.9, sum(s.confidence for s in shown) / len(shown)),
                      value=" ".join(s.text for s in shown), span=(shown[0].start, shown[-1].end),
                      evidence=tuple(Evidence(s.start, f"said: “{s.text}”", None, s.end) for s in shown))
    if not it.words:
        return Answer(question, "Which words should I look for? Put them in quotes.", at, 0.0, abstained=True)
    hits = speech_hits(view, it.words, since=since if it.scope.kind != "all" else None, until=until)
    quoted = " ".join(it.words)
    if not hits:
        if not heard_any:
            return Answer(question, f"I have heard no speech up to {format_ts(at)}, so nobody said “{quoted}”.",
                          at, 0.4, value=False if it.kind == "mention" else None)
        return Answer(question, f"No: nobody said “{quoted}”{where} (up to {format_ts(at)}).", at, 0.6,
                      value=False if it.kind == "mention" else None)
    first_seg = hits[-1][0] if it.scope.kind == "now" else hits[0][0]
    t0, t1 = _word_span(first_seg, it.words)
    others = [s for s, _ in hits if s is not first_seg]
    more = (f" ({len(hits)} times in all: " + ", ".join(format_ts(_word_span(s, it.words)[0]) for s, _ in hits[:6])
            + (", ..." if len(hits) > 6 else "") + ")") if others else ""
    evidence = tuple(Evidence(_word_span(s, it.words)[0], f"said: “{s.text}”", None, s.end) for s, _ in hits[:6])
    if it.kind == "mention":
        return Answer(question, _end(f"Yes: at {format_ts(t0)} someone said “{first_seg.text}”{more}"), at,
                      min(0.9, first_seg.confidence), value=True, span=(round(t0, 2), round(t1, 2)),
                      evidence=evidence)
    return Answer(question, _end(f"At {format_ts(t0)}: “{first_seg.text}”{more}"), at, min(0.9, first_seg.confidence),
                  value=round(t0, 2), span=(round(t0, 2), round(t1, 2)), evidence=evidence)


def choose_speech(base: Answer, options: list[tuple[str, str]]) -> Answer | None:
    """Pick the multiple-choice option a speech answer supports, or None when it supports none.

    A yes/no answer (``value`` True or False) picks the option that says yes
    or no; an answer quoting what was said picks the option most of whose
    words were said (at least half), when exactly one is best.

    Args:
        base: The answer to the question without options (:func:`answer_speech`).
        options: ``(letter, text)`` pairs.
    """
    import re

    def tokens(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) > 2}

    if base.abstained:
        return None
    if isinstance(base.value, bool):
        want = "yes" if base.value else "no"
        picks = [(ltr, t) for ltr, t in options if re.match(rf"\W*{want}\b", t.lower())]
        if len(picks) == 1:
            return Answer(base.question, f"{picks[0][0]}. {picks[0][1]} ({base.text})", base.at, base.confidence,
                          value=picks[0][0], evidence=base.evidence, span=base.span)
        return None
    said = tokens(base.value) if isinstance(base.value, str) else set()
    if not said:
        silent = [(ltr, t) for ltr, t in options if re.search(r"\b(nothing|no one|nobody|silence)\b", t.lower())]
        if base.value is None and len(silent) == 1:
            return Answer(base.question, f"{silent[0][0]}. {silent[0][1]} ({base.text})", base.at, 0.5,
                          value=silent[0][0])
        return None
    scored = sorted(((len(tokens(t) & said) / max(1, len(tokens(t))), ltr, t) for ltr, t in options), reverse=True)
    if scored and scored[0][0] >= 0.5 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        _, ltr, t = scored[0]
        return Answer(base.question, f"{ltr}. {t} ({base.text})", base.at, base.confidence, value=ltr,
                      evidence=base.evidence, span=base.span)
    return None
