"""Plain data that flows between onlook's stages.

Every stage takes and returns these; no stage passes bare arrays. Boxes are
normalised ``(x0, y0, x1, y1)`` in ``0..1`` of the frame so that they survive
resizing between stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

import numpy as np

__all__ = [
    "ShotMethod",
    "Box",
    "Frame",
    "Gap",
    "Observation",
    "TimelineRow",
    "Analysis",
    "Event",
    "Alert",
    "Evidence",
    "Answer",
    "SearchHit",
    "AudioChunk",
    "Word",
    "SpeechSegment",
    "format_ts",
    "Capability",
    "ObservationKind",
    "StreamState",
    "IngestState",
    "MessageType",
]

Box = tuple[float, float, float, float]
"""Normalised ``(x0, y0, x1, y1)``, each in ``0..1`` of the frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame and where it sits in its stream.

    Attributes:
        stream_id: Name of the stream the frame came from.
        seq: Index of the frame in the decoded stream (0, 1, 2...), counting
            frames dropped later by sampling or queues too, so gaps in ``seq``
            show what was not looked at.
        pts: Presentation time in seconds from the start of the stream.
        wall: Wall-clock time (``time.time()``) when the frame was decoded.
        image: ``HxWx3`` ``uint8`` BGR pixels.
        thumbnail: The source delivered only a thumbnail (a frame between analysed ones that is only
            glanced at, decoded straight to the shot detector's size): never analyse it.

    Example:
        >>> import numpy as np
        >>> Frame("cam", 0, 0.0, 0.0, np.zeros((2, 2, 3), np.uint8))
        Frame(stream_id='cam', seq=0, pts=0.000, shape=(2, 2, 3))
    """

    stream_id: str
    seq: int
    pts: float
    wall: float
    image: np.ndarray = field(repr=False, compare=False)
    thumbnail: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"Frame.image must be HxWx3, got {getattr(img, 'shape', type(img))}")
        if img.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8, got {img.dtype}")
        if self.seq < 0:
            raise ValueError(f"Frame.seq must be >= 0, got {self.seq}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def __repr__(self) -> str:
        return (
            f"Frame(stream_id={self.stream_id!r}, seq={self.seq}, pts={self.pts:.3f}, "
            f"shape={tuple(self.image.shape)})"
        )


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of a live stream that was not seen (outage or reconnect).

    Attributes:
        start: Stream time of the last frame before the gap.
        end: Stream time of the first frame after it (``None`` while open).
        wall_start: Wall-clock time the outage began.
        wall_end: Wall-clock time it ended (``None`` while open).
        reason: Why, in a few words (``"read timeout"``, ``"connection refused"``).
    """

    start: float
    end: float | None
    wall_start: float
    wall_end: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One thing perception saw in one frame.

    Attributes:
        t: Stream time (seconds) of the frame.
        kind: What it is: an :class:`ObservationKind` member. A known string
            (``"enter"``) is turned into its member on construction; an unknown
            one (a kind written by a newer version into a stored row) is kept
            as the plain string, so such rows still load.
        label: Short human label (``"person"``, ``"red"``, the OCR text...).
        score: Confidence or magnitude in ``0..1``.
        box: Where, normalised; ``None`` for whole-frame observations.
        track_id: Identity across frames for tracked objects.
        attrs: Extra detector-specific values (JSON-serialisable).
    """

    t: float
    kind: ObservationKind | str
    label: str
    score: float = 1.0
    box: Box | None = None
    track_id: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        kind = self.kind
        if isinstance(kind, str) and type(kind) is not ObservationKind:
            member = _OBSERVATION_KINDS.get(kind)
            if member is not None:
                object.__setattr__(self, "kind", member)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"t": round(self.t, 3), "kind": self.kind, "label": self.label,
                             "score": round(float(self.score), 4)}
        if self.box is not None:
            d["box"] = [round(float(v), 4) for v in self.box]
        if self.track_id is not None:
            d["track_id"] = self.track_id
        if self.attrs:
            d["attrs"] = self.attrs
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Observation:
        box = d.get("box")
        return cls(
            t=float(d["t"]), kind=str(d["kind"]), label=str(d["label"]),
            score=float(d.get("score", 1.0)),
            box=tuple(box) if box is not None else None,
            track_id=d.get("track_id"), attrs=dict(d.get("attrs") or {}),
        )


class TimelineRow(TypedDict):
    """One row of a stream's timeline: the state of one analysed frame.

    What :meth:`onlook.memory.Store.frames` reads back, what
    :meth:`onlook.memory.Memory.latest` holds for the newest frame and what
    :meth:`onlook.query.search.MemoryView.state_at` returns.

    Attributes:
        t: Stream time (seconds) of the frame.
        seq: The frame's index in the decoded stream (:attr:`Frame.seq`).
        wall: Wall-clock time the frame was decoded.
        people: Number of people believed visible (:attr:`Analysis.people`).
        motion: Largest motion score in the frame (``0`` without motion).
        analysed: Share of the picture the detectors ran on (:attr:`Analysis.analysed_fraction`).
        obs: The state-like observations of the frame (person, face, motion, color).
    """

    t: float
    seq: int
    wall: float
    people: int
    motion: float
    analysed: float
    obs: list[Observation]


@dataclass(slots=True)
class Analysis:
    """What perception made of one kept frame.

    Attributes:
        frame: The frame analysed.
        observations: Everything seen in it.
        analysed_fraction: Share of the image area the detectors actually ran
            on (the rest was unchanged and reused); ``0`` when skipped whole.
        people: Number of people believed visible (tracked, incl. reused).
        embedding: Optional image embedding (L2-normalised ``float32``).
    """

    frame: Frame
    observations: list[Observation]
    analysed_fraction: float = 1.0
    people: int = 0
    embedding: np.ndarray | None = None


@dataclass(slots=True)
class Event:
    """A segment of stream time summarised as one memory entry.

    Attributes:
        id: Store row id (``None`` until stored).
        stream_id: Stream it belongs to.
        start: First stream time covered (seconds).
        end: Last stream time covered (seconds).
        summary: One-line description built from observations.
        people_max: Most people visible at once in the segment.
        labels: Searchable labels (``"person"``, colour names, OCR words...).
        salience: How notable it is, ``0..1``; low-salience events go first
            when the store is over budget.
        keyframe: Path of the JPEG thumbnail, relative to the store.
        keyframe_t: Stream time of that thumbnail.
        observations: The observations merged into it (possibly thinned).
        embedding: Mean image embedding, when an encoder ran.
    """

    stream_id: str
    start: float
    end: float
    summary: str
    people_max: int = 0
    labels: list[str] = field(default_factory=list)
    salience: float = 0.0
    keyframe: str | None = None
    keyframe_t: float | None = None
    observations: list[Observation] = field(default_factory=list)
    embedding: np.ndarray | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A standing query that fired.

    Attributes:
        query: The user's words.
        t: Stream time at which it fired.
        wall: Wall-clock time at which it fired.
        stream_id: Stream it fired on.
        evidence: Observations that made it fire.
        keyframe: Store-relative JPEG path of the frame, when stored.
    """

    query: str
    t: float
    wall: float
    stream_id: str
    evidence: tuple[Observation, ...] = ()
    keyframe: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": MessageType.ALERT, "t": round(self.t, 3), "query": self.query,
                "stream": self.stream_id, "wall": self.wall, "keyframe": self.keyframe,
                "evidence": [o.to_dict() for o in self.evidence]}


@dataclass(frozen=True, slots=True)
class Evidence:
    """A moment that supports an answer."""

    t: float
    description: str
    keyframe: str | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"t": round(self.t, 3), "time": format_ts(self.t),
                             "description": self.description, "keyframe": self.keyframe}
        if self.end is not None:
            d["end"] = round(self.end, 3)
        return d


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to a question, with what it rests on.

    Attributes:
        question: The user's words.
        text: The answer in words (times as ``mm:ss``).
        at: Stream time the question was asked at (only memory up to here used).
        confidence: ``0..1``.
        abstained: True when perception cannot answer this; ``text`` says why.
        evidence: Supporting moments with keyframes.
        value: Machine-readable answer when there is one (a count, a time,
            a span ``[start, end]``, an option letter).
        span: The time span the answer is about, if any.
    """

    question: str
    text: str
    at: float
    confidence: float
    abstained: bool = False
    evidence: tuple[Evidence, ...] = ()
    value: Any = None
    span: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "answer", "t": round(self.at, 3), "question": self.question,
                "text": self.text, "confidence": round(self.confidence, 3),
                "abstained": self.abstained, "value": self.value,
                "span": list(self.span) if self.span else None,
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked time span returned by search."""

    start: float
    end: float
    score: float
    description: str
    keyframe: str | None = None
    stream_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3),
                "span": f"{format_ts(self.start)}-{format_ts(self.end)}",
                "score": round(self.score, 4), "description": self.description,
                "keyframe": self.keyframe, "stream": self.stream_id}


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A run of decoded sound, on the same clock as the frames of its stream.

    Attributes:
        stream_id: Name of the stream the sound came from.
        pts: Stream time (seconds) of the first sample: the clock the frames'
            ``pts`` use, so a word said at ``t`` sits beside the frame at ``t``.
        samples: Mono ``float32`` samples in ``-1..1``.
        sample_rate: Samples per second (16 kHz: what speech models take).
        wall: Wall-clock time (``time.time()``) when it was decoded.

    Example:
        >>> import numpy as np
        >>> AudioChunk("cam", 1.5, np.zeros(8000, np.float32), wall=0.0)
        AudioChunk(stream_id='cam', pts=1.500, duration=0.500)
    """

    stream_id: str
    pts: float
    samples: np.ndarray = field(repr=False, compare=False)
    sample_rate: int = 16000
    wall: float = 0.0

    def __post_init__(self) -> None:
        s = self.samples
        if not isinstance(s, np.ndarray) or s.ndim != 1 or s.dtype != np.float32:
            raise ValueError(f"AudioChunk.samples must be 1-D float32, got "
                             f"{getattr(s, 'dtype', type(s))} {getattr(s, 'shape', '')}")
        if self.sample_rate <= 0:
            raise ValueError(f"AudioChunk.sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        """Stream time just after the last sample."""
        return self.pts + self.duration

    def __repr__(self) -> str:
        return f"AudioChunk(stream_id={self.stream_id!r}, pts={self.pts:.3f}, duration={self.duration:.3f})"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word and when it was said (stream seconds)."""

    text: str
    start: float
    end: float
    probability: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
                "p": round(float(self.probability), 3)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(str(d["text"]), float(d["start"]), float(d["end"]), float(d.get("p", 1.0)))


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """A stretch of speech and its transcript.

    Attributes:
        stream_id: Stream it was heard on.
        start: Stream time the speech began (seconds).
        end: Stream time it ended.
        text: What was said.
        words: The words with their own times (empty when the model gave none).
        language: Language code (``"en"``), detected or set.
        confidence: ``0..1``, from the model's token probabilities.
        wall: Wall-clock time the audio of its end was decoded; the delay
            to searchable text is measured from here.
        id: Store row id (``None`` until stored).
    """

    stream_id: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    confidence: float = 1.0
    wall: float = 0.0
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` / SSE message: ``{"type": "speech", "t", "end", "text", ...}``."""
        return {"type": "speech", "t": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                "time": format_ts(self.start), "language": self.language,
                "confidence": round(float(self.confidence), 3), "stream": self.stream_id,
                "words": [w.to_dict() for w in self.words]}


def format_ts(seconds: float) -> str:
    """Format stream seconds as ``mm:ss`` (``h:mm:ss`` past an hour).

    Example:
        >>> format_ts(75.9)
        '01:15'
        >>> format_ts(3725)
        '1:02:05'
    """
    s = max(0, int(seconds))  # floor: 00:01 means 'during the second second'
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class Capability(StrEnum):
    """What an engine can perceive: the closed vocabulary of declared capabilities and of ``needs``.

    An engine declares the members its configuration actually has
    (:attr:`onlook.engine.StreamEngine.capabilities`); evaluation data labels each question and alert
    with the members answering it requires (its ``needs``), so that the subset an engine can answer
    is decided by comparing the two, not by how well the engine understood the words. The values
    are the labels of the evaluation files (``docs/eval-format.md``).

    Example:
        >>> Capability("person_colour") is Capability.PERSON_COLOUR
        True
        >>> sorted(c.value for c in {Capability.PEOPLE, Capability.OCR})
        ['ocr', 'people']
    """

    PEOPLE = "people"
    """People: count, movement, entries and exits through the picture's edges."""
    PERSON_COLOUR = "person_colour"
    """Colours of people's clothing."""
    FACES = "faces"
    """Faces present (not who they are)."""
    FACE_STATE = "face_state"
    """A face's state: mouth open, eyes closed, smiling."""
    HANDS = "hands"
    """Hands present or raised."""
    POSE = "pose"
    """Body pose: standing, sitting, lying, arm raised."""
    OBJECTS = "objects"
    """Common object classes (car, bicycle, bus, cup, bottle, chair, tie, dog...)."""
    SHOTS = "shots"
    """Shot cuts (scene changes)."""
    OCR = "ocr"
    """On-screen text."""
    SPEECH = "speech"
    """What is said on the sound track."""
    SCENE_COLOUR = "scene_colour"
    """Dominant colours of the whole picture."""
    MOTION = "motion"
    """Where in the picture something moves."""
    BEYOND = "beyond"
    """Anything else (actions, relations, fine attributes such as a hood or a pen): a label for data,
    never declared by an engine."""


class ObservationKind(StrEnum):
    """What kind of thing an :class:`Observation` records: the closed vocabulary of perception's output.

    A ``StrEnum``, so a member equals its value (``ObservationKind.ENTER == "enter"``) and the stored
    rows, JSON messages and old callers that use the plain strings keep working. The perception issue's
    new detectors add members here; nothing else defines observation kinds.

    Example:
        >>> ObservationKind("enter") is ObservationKind.ENTER
        True
    """

    MOTION = "motion"
    """Where in the picture something moved (label: the region)."""
    SCENE_CUT = "scene_cut"
    """A shot cut: the picture changed as a whole."""
    COLOR = "color"
    """A dominant colour of the whole picture."""
    PERSON = "person"
    """A tracked person in this frame."""
    FACE = "face"
    """A face in this frame."""
    TEXT = "text"
    """On-screen text read by OCR (label: the text)."""
    ENTER = "enter"
    """A tracked person came into view (attrs: the edge, colours)."""
    EXIT = "exit"
    """A tracked person left the view (attrs: the edge, colours)."""
    SPEECH = "speech"
    """A transcribed stretch of speech (label: the words)."""
    COUNT = "count"
    """A head count that an alert rule compared (label: the count)."""
    OBJECT = "object"
    """A detected (and, where tracked, identified) object other than a person (label: its
    :class:`onlook.vocabulary.Label` value, ``"car"``; attrs: colours, ``stationary``)."""
    APPEAR = "appear"
    """A tracked object came into view (label: its class; attrs: the edge it crossed or ``"inside"``)."""
    DISAPPEAR = "disappear"
    """A tracked object left the view (label: its class; attrs: the edge, dwell seconds)."""
    HAND = "hand"
    """A hand seen on a person (attrs: ``side`` left/right, ``raised``)."""
    FACE_STATE = "face_state"
    """A face's state from its landmarks (attrs: ``mouth_open``, ``eyes_closed``, ``facing``)."""
    POSE = "pose"
    """A person's body pose (label: standing / sitting / lying; attrs: ``arm_raised``)."""


_OBSERVATION_KINDS: dict[str, ObservationKind] = {k.value: k for k in ObservationKind}
"""Value to member, for :meth:`Observation.__post_init__` (a dict lookup: observations are made per frame)."""


class ShotMethod(StrEnum):
    """How shot cuts are found (``perception.shots``)."""

    MODEL = "model"
    """TransNetV2 on thumbnails at the glance rate, run only where the picture jumps (the default)."""
    HISTOGRAM = "histogram"
    """A colour-histogram jump between analysed frames: no model, more misses and false cuts."""
    OFF = "off"
    """No cuts reported (the histogram test still resets tracking internally)."""


class StreamState(StrEnum):
    """Where a served stream is in its life (``GET /streams``' ``state``)."""

    STARTING = "starting"
    """Opening its source and loading models."""
    RUNNING = "running"
    """Watching."""
    ENDED = "ended"
    """Its source ended (a file played to its end)."""
    FAILED = "failed"
    """It stopped on an error (the stream's ``error`` says which)."""
    STOPPED = "stopped"
    """Stopped on request or by shutdown; restartable."""


class IngestState(StrEnum):
    """The ``"state"`` an engine's ``status`` messages report about its ingest.

    The server turns these into a served stream's :class:`StreamState` (``started`` makes a
    ``starting`` stream ``running``; ``ended`` and ``failed`` end it, unless it was stopped).
    """

    STARTED = "started"
    """The source is open; frames are coming."""
    ENDED = "ended"
    """The source ended (a file played to its end, or ingest was stopped)."""
    FAILED = "failed"
    """Ingest stopped on an error (an ``error`` message says which)."""
    SPEECH_OFF = "speech off"
    """A notice: the sound track cannot be transcribed (video goes on)."""


class MessageType(StrEnum):
    """The ``"type"`` of a message on a stream's feed, ``onlook watch --json`` and websockets."""

    EVENT = "event"
    """Memory recorded an event (enter, exit, text, scene cut...)."""
    ALERT = "alert"
    """An alert rule fired."""
    ANSWER = "answer"
    """An answer to a question asked while watching."""
    STATUS = "status"
    """Periodic progress: stream time, fps, lag, state."""
    ERROR = "error"
    """Something went wrong (one line in ``"error"``)."""
    SPEECH = "speech"
    """A transcribed stretch of speech (``"t"``, ``"end"``, ``"text"``, ``"words"``)."""
