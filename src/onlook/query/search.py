"""Retrieval over memory: the view of a stream a question may use, and search.

:class:`MemoryView` is what every query reads: the on-disk store plus, for a
running stream, the event still open and the latest state. Every read takes
``until`` so that a question asked at ``t`` only ever sees memory up to ``t``
(causal answering), even when the store already holds later footage.

:func:`search` is temporal grounding: free text to ranked time spans. Words
are matched against event labels (people, clothing colours, entries and
exits, words read on screen, motion regions, scene cuts); with an image
encoder present, the text embedding's similarity to event embeddings is
blended in, which is what lets "person near the van" find something the
fixed detectors have no word for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from onlook.memory.segments import event_labels, summarize
from onlook.memory.store import Store
from onlook.query.parse import PERSON_WORDS, parse_colors, parse_region, parse_time_scope, quoted_words
from onlook.types import Event, Observation, SearchHit, SpeechSegment, TimelineRow
from onlook.vocabulary import OBJECT_GROUP_WORDS, find_objects

__all__ = ["MemoryView", "LiveState", "search", "query_labels"]


class LiveState(Protocol):
    """What a running stream adds to its store: the open event and latest state."""

    def open_event(self) -> Event | None: ...

    def latest(self) -> TimelineRow | None: ...


@dataclass
class MemoryView:
    """A stream's memory as queries see it.

    Attributes:
        store: The stream's store.
        live: The running stream's live state, or None for a closed store.
        encoder: Text encoder for embedding search, or None.
        stream_id: Name used on returned hits.
    """

    store: Store
    live: LiveState | None = None
    encoder: Any = None
    stream_id: str | None = None

    def now(self) -> float:
        """Latest stream time in memory."""
        latest = self.live.latest() if self.live else None
        if latest is not None:
            return float(latest["t"])
        return float(self.store.last_time() or 0.0)

    def events(self, since: float | None = None, until: float | None = None, *,
               labels: list[str] | None = None, order: str = "start", limit: int | None = None) -> list[Event]:
        """Stored events plus the open one, overlapping ``[since, until]``.

        ``labels``, ``order`` and ``limit`` are applied by the store's index
        (see :meth:`Store.events`); the open event is added when it matches.
        """
        evs = self.store.events(since, until, labels=labels, order=order, limit=limit)
        cur = self.live.open_event() if self.live else None
        if (cur is not None and (until is None or cur.start <= until) and (since is None or cur.end >= since)
                and set(labels or []) <= set(cur.labels)):
            if order == "start":
                evs.append(cur)
            else:
                evs.insert(0, cur)
        if until is not None:
            evs = [self.trim(e, until) for e in evs]
        return evs

    def trim(self, e: Event, until: float) -> Event:
        """An event cut at ``until``: what was seen after it is removed from its
        observations, labels, summary and people count (causal answering)."""
        if e.end <= until:
            return e
        obs = [o for o in e.observations if o.t <= until]
        rows = self.store.frames(e.start, until)
        people = [int(r["people"]) for r in rows]
        people_max = max(people, default=0)
        return Event(stream_id=e.stream_id, start=e.start, end=max(e.start, until),
                     summary=summarize(e.start, max(e.start, until), obs, people_max, people[-1] if people else 0),
                     people_max=people_max, labels=event_labels(obs, people_max), salience=e.salience,
                     keyframe=e.keyframe if (e.keyframe_t or e.start) <= until else None,
                     keyframe_t=e.keyframe_t if (e.keyframe_t or e.start) <= until else None,
                     observations=obs, embedding=e.embedding if e.end - until < 1.0 else None, id=e.id)

    def state_at(self, t: float) -> TimelineRow | None:
        """The last timeline row at or before ``t``."""
        latest = self.live.latest() if self.live else None
        if latest is not None and latest["t"] <= t:
            row = self.store.frame_at(t)
            if row is None or row["t"] < latest["t"]:
                return latest
            return row
        return self.store.frame_at(t)

    def sightings(self, kinds: list[str], since: float, until: float, *, newest: bool = False,
                  limit: int | None = None) -> list[tuple[Observation, str | None]]:
        """Stored sightings plus those of the open event, in ``[since, until]``, oldest first.

        Each comes with its keyframe (None for one still in the open event).
        With ``limit``, only the first few, or with ``newest`` the last few.
        """
        out = self.store.sightings(kinds, since, until, newest_first=newest, limit=limit)
        cur = self.live.open_event() if self.live else None
        seen = {(o.t, o.kind, o.track_id) for o, _ in out}
        if cur is not None:
            for o in cur.observations:
                if o.kind in kinds and since <= o.t <= until and (o.t, o.kind, o.track_id) not in seen:
                    out.append((o, None))
        out.sort(key=lambda p: p[0].t)
        if limit:
            out = out[-limit:] if newest else out[:limit]
        return out

    # The rest of the read model. Answerers read memory through the view, never the store's tables:
    # the store owns its database, and the view is where the live state is added where it exists.

    @property
    def store_path(self) -> Path:
        """The store's folder (a process of its own opens it read-only there)."""
        return self.store.path

    def frames(self, since: float | None = None, until: float | None = None, *, limit: int | None = None,
               newest_first: bool = False) -> list[TimelineRow]:
        """Stored timeline rows in ``[since, until]`` (the live latest row is :meth:`state_at`'s)."""
        return self.store.frames(since, until, limit=limit, newest_first=newest_first)

    def speech(self, since: float | None = None, until: float | None = None, *, newest_first: bool = False,
               limit: int | None = None) -> list[SpeechSegment]:
        """Transcript segments overlapping ``[since, until]`` (speech is stored as it is heard)."""
        return self.store.speech(since, until, newest_first=newest_first, limit=limit)

    def search_speech(self, words: list[str], *, since: float | None = None, until: float | None = None,
                      limit: int = 50) -> list[tuple[SpeechSegment, float]]:
        """Segments where ``words`` were said, with their full-text score."""
        return self.store.search_speech(words, since=since, until=until, limit=limit)

    def similar_speech(self, q: np.ndarray, *, since: float | None = None, until: float | None = None,
                       k: int = 10) -> list[tuple[SpeechSegment, float]]:
        """Segments nearest to the text embedding ``q``."""
        return self.store.similar_speech(q, since=since, until=until, k=k)

    def keyframe_path(self, rel: str | None) -> Path | None:
        """The file of a stored keyframe (as events and sightings name it), or None."""
        return self.store.keyframe_path(rel)

    def most_people(self, since: float, until: float) -> tuple[int, float | None]:
        """The most people in view at once in ``[since, until]`` (stored rows and the live latest), and when."""
        n, t = self.store.most_people(since, until)
        latest = self.live.latest() if self.live else None
        if latest is not None and since <= latest["t"] <= until and int(latest["people"]) > n:
            n, t = int(latest["people"]), float(latest["t"])
        return n, t

    def count_sightings(self, kinds: list[str], since: float, until: float) -> int:
        """How many sightings of ``kinds`` lie in ``[since, until]``, the open event's included."""
        n = self.store.count_sightings(kinds, since, until)
        cur = self.live.open_event() if self.live else None
        if cur is not None:
            stored = {(o.t, o.kind) for o, _ in self.store.sightings(kinds, cur.start, until)}
            n += sum(1 for o in cur.observations
                     if o.kind in kinds and since <= o.t <= until and (o.t, o.kind) not in stored)
        return n


_STOP = {"the", "a", "an", "of", "in", "on", "at", "to", "and", "or", "with", "near", "by", "is", "are",
         "was", "were", "when", "where", "who", "what", "some", "any", "for", "from", "into", "onto",
         "it", "its", "this", "that", "there", "show", "me", "find", "did", "does", "do", "video",
         "stream", "camera", "seen", "see", "saw", "moment", "moments", "time", "times", "wearing",
         "jacket", "coat", "shirt", "dressed", "clothes", "top"}


def query_labels(text: str) -> tuple[list[str], list[str]]:
    """Labels a search text maps onto, and the words it could not map.

    Example:
        >>> query_labels("person in red entering")
        (['person', 'person:red', 'enter', 'enter:red'], [])
    """
    q = text.lower()
    labels: list[str] = []
    tokens = re.findall(r"[a-z0-9]+", q)
    used: set[str] = set()
    # Object classes first: a group word ("vehicle") is a label of its own (events carry their groups).
    quoted = set(quoted_words(text))  # words to read on screen ("the word TAXI") are not objects
    found = [(p, c) for p, c in find_objects(q) if not set(p.split()) & quoted]
    for phrase, classes in found:
        group = OBJECT_GROUP_WORDS.get(phrase)
        for lab in [group.value] if group is not None else sorted(c.value for c in classes):
            if lab not in labels:
                labels.append(lab)
        used |= set(phrase.split())
    if found and re.search(r"\b(appear|arriv|show|enter|come|came)", q):
        labels.append("appear")
        used |= {t for t in tokens if t.startswith(("appear", "arriv", "show", "enter", "come", "came"))}
    if found and re.search(r"\b(leav|left|gone|disappear|exit)", q):
        labels.append("disappear")
        used |= {t for t in tokens if t.startswith(("leav", "left", "gone", "disappear", "exit"))}
    if set(tokens) & PERSON_WORDS:
        labels.append("person")
        used |= set(tokens) & PERSON_WORDS
    for c in parse_colors(q):
        labels.append(f"person:{c}" if "person" in labels else c)
    used |= {w for w in tokens if parse_colors(w)}
    for w, lab in (("enter", "enter"), ("appear", "enter"), ("arriv", "enter"), ("leav", "exit"),
                   ("exit", "exit"), ("cut", "scene_cut"), ("scene", "scene_cut"), ("face", "face"),
                   ("text", "text"), ("sign", "text"), ("motion", "motion"), ("moving", "motion")):
        hit = [t for t in tokens if t.startswith(w) and t not in used]
        if hit:
            if lab not in labels:
                labels.append(lab)
            used |= set(hit)
    region = parse_region(q)
    if region:
        labels.append(f"region:{region}")
        used |= {"upper", "lower", "top", "bottom", "left", "right", "centre", "center", "middle"}
    for w in quoted_words(text):
        labels.append(f"word:{w}")
        used.add(w)
    # "person in red entering": the entry of someone in red, not any entry while someone in red stands by.
    for action in ("enter", "exit"):
        if action in labels:
            labels += [f"{action}:{c}" for c in parse_colors(q)]
    rest = [t for t in tokens if t not in used and t not in _STOP and not t.isdigit()]
    return labels, rest


def search(view: MemoryView, text: str, *, until: float | None = None, k: int = 10) -> list[SearchHit]:
    """Rank stored time spans by how well they match ``text``.

    Args:
        view: The memory to search.
        text: Free text ("person in red entering", "the word TAXI").
        until: Only memory up to this stream time (default: all).
        k: Most hits to return.

    Returns:
        Hits, best first; empty when nothing matches. Adjacent matching
        events are merged into one span.
    """
    labels, rest = query_labels(text)
    scope = parse_time_scope(text)
    at = view.now() if until is None else until
    since, until_ = scope.bounds(at) if scope.kind in ("window", "start", "point") else (None, until)
    pool = max(30, 3 * k)
    # Candidates: events sharing labels (label index), events near the text embedding, the open event.
    cands: dict[int, Event] = {}
    matched: dict[int, int] = {}
    ids = view.store.match_labels(labels, since, until_, limit=pool) if labels else []
    for eid, m in ids:
        ev = view.store.event(eid)
        if ev is None:
            continue
        if until_ is not None and ev.end > until_:
            ev = view.trim(ev, until_)
            m = sum(1 for lab in labels if lab in set(ev.labels))
            if m == 0:
                continue
        cands[eid] = ev
        matched[eid] = m
    emb_scores: dict[int, float] = {}
    if view.encoder is not None and (rest or not labels):
        q = view.encoder.encode_texts([text])[0]
        for ev, sim in view.store.vector_search(q, pool, until=until_):
            if ev.id is not None and (since is None or ev.end >= since):
                cands.setdefault(ev.id, ev)
                emb_scores[ev.id] = sim
    cur = view.live.open_event() if view.live else None
    if cur is not None and (until_ is None or cur.start <= until_):
        cur = view.trim(cur, until_) if until_ is not None else cur
        cur.id = -1
        cands[-1] = cur
        matched[-1] = sum(1 for lab in labels if lab in set(cur.labels))
        if view.encoder is not None and cur.embedding is not None and (rest or not labels):
            emb_scores[-1] = float(np.dot(view.encoder.encode_texts([text])[0], cur.embedding))
    scored: list[tuple[float, Event]] = []
    for eid, e in cands.items():
        m = matched.get(eid, 0)
        if labels and m == 0 and eid not in emb_scores:
            continue
        score = m / len(labels) if labels else 0.0
        if eid in emb_scores:
            score = 0.6 * score + 0.4 * max(0.0, emb_scores[eid]) if labels else emb_scores[eid]
        if score <= 0:
            continue
        # Among equal matches prefer salient events (entries, text...) over quiet ones.
        scored.append((score + 0.05 * e.salience, e))
    scored.sort(key=lambda p: (-p[0], p[1].start))
    hits: list[SearchHit] = []
    # Discrete moments (a cut, an entry, a word) are separate answers; quiet states merge into spans.
    discrete = any(lab in ("enter", "exit", "scene_cut") or lab.startswith("word:") for lab in labels)
    for score, e in scored:
        joined = False
        for i, h in enumerate(hits if not discrete else []):
            if abs(h.score - score) < 1e-6 and (e.start <= h.end + 1.0 and e.end >= h.start - 1.0):
                hits[i] = SearchHit(min(h.start, e.start), max(h.end, e.end), h.score, h.description,
                                    h.keyframe, h.stream_id)
                joined = True
                break
        if not joined:
            end = e.end if until_ is None else min(e.end, until_)
            hits.append(SearchHit(e.start, end, round(score, 4), e.summary, e.keyframe, view.stream_id))
        if len(hits) >= k:
            break
    spoken = _speech_hits(view, text, since, until_, k)
    if not spoken:
        return hits
    # Each list is in its own best-first order: interleave them by score without reordering either.
    merged: list[SearchHit] = []
    while (hits or spoken) and len(merged) < k:
        if spoken and (not hits or spoken[0].score > hits[0].score):
            merged.append(spoken.pop(0))
        else:
            merged.append(hits.pop(0))
    return merged


def _speech_hits(view: MemoryView, text: str, since: float | None, until: float | None, k: int) -> list[SearchHit]:
    """Where the words of ``text`` were said: the span of the words themselves, the segment quoted.

    All the content words said in one segment score highest (0.75..1), some of them lower (0.5..0.75),
    so a spoken match ranks beside a visual one that matches every label.
    """
    from onlook.answer.speech import until_at
    from onlook.query.speech import speech_words, words_match

    words = speech_words(text)
    if not words:
        return []
    out: list[SearchHit] = []
    seen: set[int | None] = set()
    for seg, fts in view.search_speech(list(words), since=since, until=until, limit=max(30, 3 * k)):
        seen.add(seg.id)
        cut = until_at(seg, until) if until is not None else seg
        if cut is None:
            continue
        seg = cut
        said = [w for w in words if words_match((w,), seg.text)]
        if not said:
            continue
        share = len(said) / len(words)
        score = (0.75 if share == 1.0 else 0.5) + 0.25 * share * min(1.0, 0.5 + fts)
        times = [w for w in seg.words if any(words_match((x,), w.text) for x in said)]
        start, end = (times[0].start, times[-1].end) if times else (seg.start, seg.end)
        out.append(SearchHit(start, end, round(score, 4), f"said: “{seg.text}”", None, view.stream_id))
    if view.encoder is not None and hasattr(view.encoder, "encode_texts"):
        # Said in other words: nearest by the encoder's text embedding, below any word match.
        q = view.encoder.encode_texts([text])[0]
        for seg, sim in view.similar_speech(q, since=since, until=until, k=k):
            if seg.id in seen:
                continue
            cut = until_at(seg, until) if until is not None else seg
            if cut is not None and sim > 0.25:
                out.append(SearchHit(cut.start, cut.end, round(0.5 * sim, 4), f"said: “{cut.text}”", None,
                                     view.stream_id))
    out.sort(key=lambda h: (-h.score, h.start))
    return out[:k]
