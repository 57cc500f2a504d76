"""What a vision-language model sees: frames and a compact event log, within a budget.

A VLM answer is only as good as the frames it is shown. The builder takes

* the frames *retrieved* for the question (keyframes of the spans
  :func:`~onlook.query.search.search` ranks highest), and
* the *most recent* frames (on streaming benchmarks a few recent frames are a
  strong baseline on their own),

removes near-duplicates with a 64-bit difference hash (a static camera sends
the same picture many times), keeps at most ``budget.images`` of them, labels
every one with its stream time, and writes the events recorded up to the
question's time as a log of one line each, within ``budget.log_chars``.

Everything but :func:`build_context` is pure and works on plain values;
:func:`build_context` only gathers the candidates from a
:class:`~onlook.query.search.MemoryView`, causally (nothing after ``at``).

Example:
    >>> budget = ContextBudget(images=4, recent=2)
    >>> ctx = build_context("what is the man carrying?", view, budget=budget)  # doctest: +SKIP
    >>> [f.label for f in ctx.frames]                                          # doctest: +SKIP
    ['00:12', '01:40', '01:58', '02:00']
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from onlook.errors import ConfigError
from onlook.types import Answer, Evidence, ObservationKind, TimelineRow, format_ts

__all__ = [
    "answer_from_context",
    "ContextBudget",
    "Candidate",
    "RecentRef",
    "ImageMemo",
    "ContextFrame",
    "Context",
    "LogLine",
    "dhash",
    "frame_digest",
    "hamming",
    "select_frames",
    "format_log",
    "fit_image",
    "keyframe_time",
    "build_context",
    "frames_fps",
    "strip_span",
    "time_label",
]


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """How much a model is shown per question.

    Attributes:
        images: Most frames sent (retrieved and recent together).
        recent: Of those, how many slots are kept for the latest frames.
        log_chars: Characters of event log at most.
        log_events: Newest events considered for the log.
        image_side: Longest side of every frame sent, in pixels.
        dedup_distance: Frames whose difference hashes differ in at most this
            many of 64 bits count as the same picture; ``-1`` keeps all.
        speech_chars: Characters of transcript (what was said in the window
            the frames cover, newest kept) at most.
    """

    images: int = 8
    recent: int = 4
    log_chars: int = 1500
    log_events: int = 40
    image_side: int = 448
    dedup_distance: int = 6
    speech_chars: int = 800

    def __post_init__(self) -> None:
        if self.images < 0 or self.recent < 0 or self.log_chars < 0 or self.log_events < 0:
            raise ConfigError(f"context budget values must be >= 0, got {self}")
        if self.image_side < 28:
            raise ConfigError(f"context image_side must be >= 28 pixels, got {self.image_side}")
        if not -1 <= self.dedup_distance <= 64:
            raise ConfigError(f"dedup_distance must be in -1..64, got {self.dedup_distance}")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A frame that could be shown, before selection.

    Attributes:
        t: Stream time of the frame.
        image: ``HxWx3`` ``uint8`` BGR pixels, or None for a frame of a live
            window known only by its ``seq`` and ``digest`` until it is chosen.
        why: ``"retrieved"`` (matches the question) or ``"recent"``.
        rank: Order within its kind: 0 is the best hit / the newest frame.
        note: What memory says about the moment (an event summary).
        keyframe: Store-relative JPEG path, when the frame is stored.
        digest: The frame's :func:`dhash`, when already known (else computed from ``image``).
        seq: The frame's sequence number (live frames).
    """

    t: float
    image: np.ndarray | None = field(repr=False, compare=False)
    why: str = "recent"
    rank: int = 0
    note: str = ""
    keyframe: str | None = None
    digest: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class RecentRef:
    """A frame of a live window by its number, time and :func:`dhash`, without its pixels.

    A live state that offers ``recent_refs()`` and ``recent_images(seqs)``
    (the answerer process's view of the watcher's window) lets
    :func:`build_context` choose frames by these alone and fetch only the
    pixels of the ones it shows.
    """

    seq: int
    t: float
    digest: int


@dataclass(frozen=True, slots=True)
class ContextFrame:
    """A frame the model will see, already resized to the budget."""

    t: float
    image: np.ndarray = field(repr=False, compare=False)
    why: str = "recent"
    note: str = ""
    keyframe: str | None = None

    @property
    def label(self) -> str:
        """The stream time as the model reads it (``mm:ss``, ``mm:ss.s`` between whole seconds)."""
        return time_label(self.t)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One event of the log: a span of stream time and what happened in it."""

    start: float
    end: float
    text: str
    retrieved: bool = False

    def render(self) -> str:
        span = format_ts(self.start)
        if self.end - self.start >= 1.0:
            span += f"-{format_ts(self.end)}"
        return f"{span} {strip_span(self.text)}"


@dataclass(frozen=True, slots=True)
class Context:
    """Everything one question is answered from.

    Attributes:
        question: The user's words.
        at: Stream time the question is asked at; nothing later is included.
        frames: Selected frames, oldest first, each labelled with its time.
        log: The event log, one line per event, oldest first.
        now: One line on the state at ``at`` (people visible...), or ``""``.
        duplicates: Candidate frames dropped as near-duplicates.
        speech: What was said in the frames' window, one ``mm:ss “text”`` line each, or ``""``.
    """

    question: str
    at: float
    frames: tuple[ContextFrame, ...] = ()
    log: str = ""
    now: str = ""
    duplicates: int = 0
    speech: str = ""

    @property
    def times(self) -> list[float]:
        return [f.t for f in self.frames]

    def text(self) -> str:
        """The context as plain text: what a model without vision is sent."""
        parts = [f"Stream time now: {format_ts(self.at)}."]
        if self.now:
            parts.append(self.now)
        if self.log:
            parts.append("Event log (stream time, oldest first):\n" + self.log)
        if self.speech:
            parts.append("Speech heard (stream time, oldest first):\n" + self.speech)
        noted = [f"{f.label} {strip_span(f.note)}" for f in self.frames if f.note]
        if noted:
            parts.append("Key moments:\n" + "\n".join(noted))
        return "\n\n".join(parts)


# --- pure helpers --------------------------------------------------------------------------------

_LEADING_SPAN = re.compile(r"^\s*(?:\d+:)?\d\d:\d\d(?:\s*-\s*(?:\d+:)?\d\d:\d\d)?\s*[;:,-]?\s*")


def strip_span(text: str) -> str:
    """An event summary without the time span it starts with (the log writes its own).

    Example:
        >>> strip_span("00:12-00:19; 1 person visible")
        '1 person visible'
    """
    return _LEADING_SPAN.sub("", text, count=1) or text


def time_label(t: float) -> str:
    """``mm:ss`` for whole seconds, ``mm:ss.s`` between them (two frames a second apart stay distinct).

    Example:
        >>> time_label(75.0), time_label(75.5)
        ('01:15', '01:15.5')
    """
    tenths = int(round((t - int(t)) * 10)) if t >= 0 else 0
    if tenths in (0, 10):
        return format_ts(round(t))
    return f"{format_ts(t)}.{tenths}"



def dhash(image: np.ndarray, size: int = 8) -> int:
    """64-bit difference hash of an image (for ``size=8``): robust to scale, noise and JPEG.

    Example:
        >>> img = np.zeros((32, 32, 3), np.uint8); img[:, 16:] = 255
        >>> hamming(dhash(img), dhash(cv2.resize(img, (64, 64)))) <= 2
        True
    """
    step = max(1, min(image.shape[:2]) // (8 * size))  # a strided view first: hashing stays ~0.1 ms at any size
    view = image[::step, ::step]
    grey = view if view.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(view), cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (size + 1, size), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


class ImageMemo:
    """Values derived from images, remembered by the image's identity while it lives.

    Question after question, a context is built from the same arrays: the
    live window's frames and the decoded keyframes (see :func:`_decode_keyframe`).
    Their hash, their resized copy and their JPEG need computing only once,
    which keeps answering light beside ingest (it shares the cores and the GIL).
    onlook never writes into a frame once captured, so an array's identity
    stands for its pixels; a weak reference checks that the array remembered
    is still the one asked about (ids are reused once an array is freed).

    Args:
        maxsize: Most values kept (least recently used go first).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[int, Hashable], tuple[weakref.ref[np.ndarray], Any]] = OrderedDict()
        self._lock = threading.Lock()  # answers for several streams may be built at once

    def get(self, image: np.ndarray, key: Hashable, make: Callable[[np.ndarray], Any]) -> Any:
        """``make(image)``, computed once per live ``image`` and ``key``."""
        k = (id(image), key)
        with self._lock:
            hit = self._items.get(k)
            if hit is not None and hit[0]() is image:
                self._items.move_to_end(k)
                return hit[1]
        value = make(image)  # outside the lock: encoders release the GIL, other threads go on
        with self._lock:
            self._items[k] = (weakref.ref(image), value)
            self._items.move_to_end(k)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


# Hashes are ints (a few per frame of every stream's live window); fitted copies are up to
# 448x448x3 bytes each, so fewer are kept: the frames of a question or two.
_HASHES = ImageMemo(1024)
_FITTED = ImageMemo(32)


def frame_digest(image: np.ndarray) -> int:
    """:func:`dhash` of a frame, computed once per live array (remembered by its identity)."""
    return _HASHES.get(image, "dhash", dhash)


def hamming(a: int, b: int) -> int:
    """Number of bits in which two hashes differ."""
    return (a ^ b).bit_count()


def select_frames(candidates: Iterable[Candidate], budget: ContextBudget) -> tuple[list[Candidate], int]:
    """Choose which candidates the model sees.

    Priority: the newest ``budget.recent`` recent frames, then retrieved frames
    best first, then older recent frames, until ``budget.images`` are chosen.
    A candidate within ``budget.dedup_distance`` bits of one already chosen is
    dropped as a near-duplicate (the one chosen first is kept, so a retrieved
    keyframe that looks like the current picture becomes a recent frame, not
    two copies). Retrieved frames at the same time as a chosen frame are also
    duplicates.

    Returns:
        The chosen candidates sorted by time, and how many were dropped as
        near-duplicates.
    """
    cands = list(candidates)
    recent = sorted((c for c in cands if c.why == "recent"), key=lambda c: (c.rank, -c.t))
    retrieved = sorted((c for c in cands if c.why != "recent"), key=lambda c: (c.rank, c.t))
    order = recent[:budget.recent] + retrieved + recent[budget.recent:]
    chosen: list[Candidate] = []
    hashes: list[int] = []
    times: set[int] = set()
    dropped = 0
    for c in order:
        if len(chosen) >= budget.images:
            break
        key = round(c.t * 1000)
        if key in times:
            dropped += 1
            continue
        if budget.dedup_distance < 0:
            h = 0
        elif c.digest is not None:
            h = c.digest
        elif c.image is not None:
            h = frame_digest(c.image)
        else:
            raise ValueError("a candidate needs an image or a digest")
        if budget.dedup_distance >= 0 and any(hamming(h, o) <= budget.dedup_distance for o in hashes):
            dropped += 1
            continue
        chosen.append(c)
        hashes.append(h)
        times.add(key)
    chosen.sort(key=lambda c: c.t)
    return chosen, dropped


def fit_image(image: np.ndarray, side: int) -> np.ndarray:
    """Shrink ``image`` so that its longest side is at most ``side`` (never enlarges)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return image
    # Area averaging only where bilinear would alias (shrinking more than 2x): at the usual
    # 640 -> 448 px it costs ~1.8 ms a frame against ~0.3 ms, CPU taken from ingest on every answer.
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interpolation)


def _fit_memo(image: np.ndarray, side: int) -> np.ndarray:
    """:func:`fit_image`, remembered per frame; the same array back when it already fits."""
    if max(image.shape[:2]) <= side:
        return image  # nothing to compute, and remembering it would keep the frame alive
    def fit(im: np.ndarray) -> np.ndarray:
        out = fit_image(im, side)
        out.setflags(write=False)  # shared by every context that shows this frame
        return out

    return _FITTED.get(image, side, fit)


def format_log(lines: Iterable[LogLine], max_chars: int) -> str:
    """Render event lines oldest first within ``max_chars``.

    When they do not fit, lines are dropped in this order: the oldest of the
    lines not retrieved for the question first, then the oldest retrieved ones,
    so the log keeps what the question is about and what just happened. A
    line that alone exceeds the budget is cut with an ellipsis.

    Example:
        >>> format_log([LogLine(0, 5, "quiet"), LogLine(6, 9, "a person entered")], 100)
        '00:00-00:05 quiet\\n00:06-00:09 a person entered'
    """
    uniq: dict[tuple[float, float, str], LogLine] = {}
    for ln in lines:
        key = (round(ln.start, 2), round(ln.end, 2), ln.text)
        if key not in uniq or ln.retrieved:
            uniq[key] = ln
    items = sorted(uniq.values(), key=lambda ln: (ln.start, ln.end))
    rendered = [ln.render() for ln in items]
    keep = [True] * len(items)

    def size() -> int:
        kept = [len(r) for r, k in zip(rendered, keep) if k]
        return sum(kept) + max(0, len(kept) - 1)

    drop_order = sorted(range(len(items)), key=lambda i: items[i].retrieved)  # stable: oldest first in each group
    for i in drop_order:
        if size() <= max_chars:
            break
        keep[i] = False
    out = [r for r, k in zip(rendered, keep) if k]
    if not out and rendered and max_chars > 0:
        last = rendered[-1]
        out = [last if len(last) <= max_chars else last[:max(0, max_chars - 1)] + "…"]
    return "\n".join(out)


_KEYFRAME_MS = re.compile(r"(\d+)\.jpg$")


def keyframe_time(rel: str | None) -> float | None:
    """Stream time encoded in a store keyframe name (``keyframes/0000012500.jpg`` -> ``12.5``)."""
    m = _KEYFRAME_MS.search(rel or "")
    return int(m.group(1)) / 1000.0 if m else None


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _now_line(row: TimelineRow | None) -> str:
    if not row:
        return ""
    obs = row.get("obs") or []
    colours = sorted({c for o in obs if getattr(o, "kind", "") == ObservationKind.PERSON
                      for c in o.attrs.get("colors", [])})
    faces = sum(1 for o in obs if getattr(o, "kind", "") == ObservationKind.FACE)
    bits = [f"{_people(int(row.get('people') or 0))} visible"]
    if colours:
        bits.append("clothing colours " + ", ".join(colours[:6]))
    if faces:
        bits.append(f"{faces} face{'s' if faces != 1 else ''}")
    return f"State at {format_ts(float(row['t']))} per the detectors: " + "; ".join(bits) + "."


# --- gathering from memory -----------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _decode_keyframe(path: str, mtime_ns: int) -> np.ndarray | None:
    # Keyframes are written once under a name made of their time: repeated questions about the
    # same moments decode each JPEG once (32 thumbnails of 320 px: about 7 MB).
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None or img.ndim != 3:
        return None
    img.setflags(write=False)
    return img


def _read_keyframe(view: Any, rel: str | None) -> np.ndarray | None:
    path = view.keyframe_path(rel) if rel else None
    if path is None:
        return None
    try:
        return _decode_keyframe(str(path), path.stat().st_mtime_ns)
    except OSError:  # evicted between the look-up and the read
        return None


def build_context(question: str, view: Any, at: float | None = None, *,
                  budget: ContextBudget | None = None, query: str | None = None,
                  after: float | None = None) -> Context:
    """Gather the frames and event log a model answers ``question`` from.

    Args:
        question: The user's words (kept on the context).
        view: The stream's :class:`~onlook.query.search.MemoryView`.
        at: Stream time of the question (default: now); nothing later is used.
        budget: Images and text allowed (default :class:`ContextBudget`).
        query: Text to retrieve frames with, when not the question itself
            (a follow-up such as "and after that?" retrieves with the turn
            before it; see :func:`onlook.answer.dialogue.followup_query`).
        after: Only retrieve moments from this stream time on.

    Returns:
        A :class:`Context`; its frames are oldest first and all at or before ``at``.
    """
    from onlook.query.search import search

    budget = budget or ContextBudget()
    at = view.now() if at is None else float(at)
    cands: list[Candidate] = []
    log: list[LogLine] = []
    # 1. Retrieved: keyframes of the best matching spans.
    try:
        hits = search(view, query or question, until=at, k=max(budget.images, 4)) if budget.images else []
    except ValueError:  # a malformed search text: answer from recent frames only
        hits = []
    for rank, h in enumerate(hits):
        if after is not None and h.end < after:
            continue
        log.append(LogLine(h.start, min(h.end, at), h.description, retrieved=True))
        t = keyframe_time(h.keyframe)
        if t is None or t > at:
            continue
        img = _read_keyframe(view, h.keyframe)
        if img is not None:
            cands.append(Candidate(t, img, "retrieved", rank, h.description, h.keyframe))
    # 2. Recent: the live window's small copies; for a closed store, the latest keyframes.
    live = view.live
    refs_fn = getattr(live, "recent_refs", None) if live is not None else None
    if refs_fn is not None:  # pixels fetched below, for the chosen frames only
        refs = [r for r in refs_fn() if r.t <= at]
        for rank, r in enumerate(reversed(refs)):
            cands.append(Candidate(r.t, None, "recent", rank, digest=r.digest, seq=r.seq))
        recent_times = [r.t for r in refs]
    else:
        recent_fn = getattr(live, "recent_frames", None) if live is not None else None
        recent = [a for a in (recent_fn() if recent_fn else []) if a.frame.pts <= at]
        for rank, a in enumerate(reversed(recent)):
            cands.append(Candidate(a.frame.pts, a.frame.image, "recent", rank, seq=a.frame.seq))
        recent_times = [a.frame.pts for a in recent]
    events = view.events(None, at, order="-start", limit=max(budget.log_events, budget.recent, 1))
    if len(recent_times) < budget.recent:
        rank = len(recent_times)
        for e in events:
            if rank >= budget.recent:
                break
            t = e.keyframe_t if e.keyframe_t is not None else keyframe_time(e.keyframe)
            if t is None or t > at or (recent_times and t >= recent_times[0]):
                continue
            img = _read_keyframe(view, e.keyframe)
            if img is not None:
                cands.append(Candidate(t, img, "recent", rank, e.summary, e.keyframe))
                rank += 1
    # 3. The event log: the newest events plus the retrieved spans.
    for e in events[:budget.log_events]:
        log.append(LogLine(e.start, min(e.end, at), e.summary))
    chosen, dropped = select_frames(cands, budget)
    missing = [c.seq for c in chosen if c.image is None]
    if missing:
        images = live.recent_images(missing)
        # A frame the window no longer has (cannot happen while it is held for the question): shown without it.
        chosen = [c if c.image is not None else replace(c, image=images[c.seq]) for c in chosen
                  if c.image is not None or c.seq in images]
    frames = tuple(ContextFrame(c.t, _fit_memo(c.image, budget.image_side), c.why, c.note, c.keyframe)
                   for c in chosen if c.image is not None)
    speech = ""
    if budget.speech_chars > 0:
        from onlook.answer.speech import transcript_lines

        since = min([f.t for f in frames] + [max(0.0, at - 60.0)])
        speech = "\n".join(transcript_lines(view, since, at, max_chars=budget.speech_chars))
    return Context(question=question, at=at, frames=frames, log=format_log(log, budget.log_chars),
                   now=_now_line(view.state_at(at)), duplicates=dropped, speech=speech)


def frames_fps(times: Sequence[float]) -> float | None:
    """Mean sampling rate of frames at ``times`` (None for fewer than two distinct times)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def answer_from_context(question: str, text: str, ctx: Context | None) -> Answer:
    """A model's reply as an :class:`~onlook.types.Answer`: the frames it was shown are the evidence;
    an empty reply is an abstention."""
    at = ctx.at if ctx else 0.0
    evidence = tuple(Evidence(f.t, f.note or f"frame shown to the model ({f.why})", f.keyframe)
                     for f in (ctx.frames if ctx else ()))
    if not text:
        return Answer(question, "the model returned no answer", at, 0.0, abstained=True, evidence=evidence)
    return Answer(question, text, at, 0.5, evidence=evidence)
