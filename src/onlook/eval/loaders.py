"""Load streaming-evaluation questions from onlook's own format and from published benchmarks.

Every loader turns one JSON file into a flat list of :class:`EvalQuestion`, each asked at a stream time,
so that one harness can replay any of them causally. Loading is pure: nothing here opens a video.

Formats (``format=`` of :func:`load_questions`; ``"auto"`` tells them apart by their JSON shape):

``onlook``
    ``../shared/eval/questions.json``: a list of ``{"id", "video", "time_s", "question", "type", ...}``,
    read field for field; ``needs`` (a list of :class:`~onlook.types.Capability` labels) becomes
    :attr:`EvalQuestion.needs`, ``evidence`` goes to ``extra``. The whole format is in
    ``docs/eval-format.md``.

``streamingbench``
    THUNLP-MT/StreamingBench ``src/data/questions_{real,sqa,proactive}.json``: a list of video entries
    ``{"video_path", "questions": [...], "time", "video_categories"}``; the SQA file nests the entries in
    one list per video. Each question becomes one :class:`EvalQuestion`; ``video`` is the basename of
    ``video_path``. Times are read as StreamingBench does (``sum(int(x) * 60**i)`` over the reversed
    ``:`` fields), so the one malformed stamp in ``questions_real.json`` (``"00:12450"``) becomes
    12450 s, as in the official evaluation, and is flagged in ``extra["time_stamp_note"]``.
    ``type`` comes from :data:`STREAMINGBENCH_TYPES` by ``task_type``. Proactive questions
    (``ground_truth_time_stamp``) are ``forward``: ``answer`` is the ground-truth time in seconds and
    ``gt_span`` is ``answer ± 2 s``, the window StreamingBench's scorer accepts
    (``-2 <= t_answer - t_gt <= 2``); the text to output is ``extra["ground_truth_output"]`` and
    StreamingBench stops polling at ``extra["poll_until_s"]`` (= ground truth + 4 s).

``ovobench``
    JoeLeelyf/OVO-Bench ``data/ovo_bench_new.json``: a list of ``{"id", "task", "video", ...}``.
    Multiple-choice tasks are asked at ``realtime`` with ``answer = chr(65 + gt)`` (their ``type`` from
    :data:`OVOBENCH_TYPES`). Forward tasks become one ``forward`` question per ``test_info`` probe, asked
    at the probe's ``realtime`` and expected to be answered at once (OVO-Bench polls; it does not wait):

    * ``REC``: "How many times did they <activity>?"; ``answer`` is the probe's ``count`` (int).
    * ``SSR``: is the person doing ``step`` now; ``answer`` "Yes" if the probe ``type`` is 1 else "No";
      ``gt_span`` is that step's ``[start_time, end_time]``.
    * ``CRR``: is there enough in the video so far to answer ``question``; ``answer`` "Yes"/"No" from
      the probe ``type`` (1 once ``realtime >= clue_time``); ``clue_time`` and the answer text are in
      ``extra``.

The benchmarks carry no ``needs``: their questions come back with ``needs=None`` (unknown), unless a
question object has a ``needs`` list added by hand, which is read as in onlook's format.

Options are normalised by :func:`normalize_options` to ``"A. ..."`` form. Questions come back in file
order (OVO-Bench's SSR probes are not sorted by time); a harness sorts them by ``(video, time_s)``.
Malformed input raises :class:`~onlook.errors.QueryError` with a one-line message naming the file and
the entry.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from onlook.errors import QueryError
from onlook.types import Capability

__all__ = [
    "EvalQuestion",
    "FORMATS",
    "OVOBENCH_TYPES",
    "QUESTION_TYPES",
    "STREAMINGBENCH_TYPES",
    "load_questions",
    "normalize_options",
    "parse_hms",
    "parse_needs",
]

QUESTION_TYPES = frozenset({"realtime", "backward", "count", "grounding", "forward"})
"""The ``type`` values of onlook's format (``../shared/eval/README.md``)."""

FORMATS = ("onlook", "streamingbench", "ovobench")
"""Formats :func:`load_questions` reads (besides ``"auto"``)."""

STREAMINGBENCH_TYPES: Mapping[str, str] = MappingProxyType({
    # About what is on screen at the asked time ("right now"); mostly "working memory" in the files.
    "Object Recognition": "realtime",
    "Attribute Recognition": "realtime",
    "Text-Rich Understanding": "realtime",
    "Spatial Understanding": "realtime",
    "Action Recognition": "realtime",
    # Predicts what comes next, but is answered at once from the recent past, so not "forward".
    "Prospective Reasoning": "realtime",
    # SQA questions ask about "now", with the earlier questions of the video as context.
    "Sequential Question Answering": "realtime",
    # Need the past: "summarize the actions just now", "what happened after ...", "why did ...",
    # "how many times so far" (still multiple choice, so not onlook's numeric "count").
    "Clips Summarize": "backward",
    "Event Understanding": "backward",
    "Causal Reasoning": "backward",
    "Counting": "backward",
    "Proactive Output": "forward",
})
"""StreamingBench ``task_type`` -> onlook ``type``. An unlisted task falls back on the question's
``required_ability``: ``"episodic memory"`` -> ``backward``, anything else -> ``realtime``."""

OVOBENCH_TYPES: Mapping[str, str] = MappingProxyType({
    "EPM": "backward", "ASI": "backward", "HLD": "backward",
    "STU": "realtime", "OJR": "realtime", "ATR": "realtime", "ACR": "realtime", "OCR": "realtime",
    "FPD": "realtime",
    "REC": "forward", "SSR": "forward", "CRR": "forward",
})
"""OVO-Bench ``task`` -> onlook ``type`` (backward tracing / real-time perception / forward responding)."""

# StreamingBench's scorer counts a proactive answer on time within this many seconds of the truth,
# and its runner polls until ground truth + _SB_POLL_AFTER_S.
_SB_WINDOW_S = 2.0
_SB_POLL_AFTER_S = 4.0


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One question of an evaluation, asked when its stream reaches ``time_s``.

    Attributes:
        id: Unique within its file, e.g. ``"vtest-003"``, ``"sb-real-348-0"``, ``"ovo-1468-p2"``.
        video: File name or relative path of the video under the user's footage folder.
        time_s: Stream time at which the question is asked (for ``forward`` ones: registered).
        question: The words asked.
        type: One of :data:`QUESTION_TYPES`.
        options: Multiple-choice options as ``("A. ...", "B. ...", ...)``; empty otherwise.
        answer: The letter for multiple choice; a number for counts; for ``forward``/``grounding`` the
            ground-truth time or text (see the module docstring per format).
        gt_span: ``(start_s, end_s)`` of the event the question is about, where known.
        task: The benchmark's task name (``"Clips Summarize"``, ``"EPM"``, ``"REC"``...).
        source: ``"onlook"``, ``"streamingbench"`` or ``"ovobench"``.
        needs: The perception capabilities answering it requires, as labelled by whoever wrote the
            ground truth; ``None`` when the file does not say (unlabelled). Given as any iterable of
            :class:`~onlook.types.Capability` members or their values.
        extra: Anything else the file says (probe fields, clue times, evidence); not compared.

    Raises:
        QueryError: If ``type`` is unknown, ``time_s`` is not a finite number >= 0, ``gt_span`` is not
            an ordered pair, a letter ``answer`` names no option, or a ``needs`` label is unknown.

    Example:
        >>> q = EvalQuestion("q1", "a.mp4", 3.0, "What colour?", "realtime", ("A. red", "B. blue"), "B")
        >>> (q.time_s, q.options[q.answer_index])
        (3.0, 'B. blue')
    """

    id: str
    video: str
    time_s: float
    question: str
    type: str
    options: tuple[str, ...] = ()
    answer: Any = None
    gt_span: tuple[float, float] | None = None
    task: str | None = None
    source: str = "onlook"
    needs: frozenset[Capability] | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.type not in QUESTION_TYPES:
            raise QueryError(f"unknown question type {self.type!r} (expected one of {sorted(QUESTION_TYPES)})")
        if not _is_number(self.time_s) or not math.isfinite(self.time_s) or self.time_s < 0:
            raise QueryError(f"time_s must be a finite number >= 0, not {self.time_s!r}")
        object.__setattr__(self, "time_s", float(self.time_s))
        if not isinstance(self.options, tuple):
            raise QueryError(f"options must be a tuple, not {type(self.options).__name__}")
        if self.gt_span is not None:
            span = self.gt_span
            if (not isinstance(span, tuple) or len(span) != 2 or not all(_is_number(v) for v in span)
                    or not span[0] <= span[1]):
                raise QueryError(f"gt_span must be an ordered (start_s, end_s) pair, not {span!r}")
            object.__setattr__(self, "gt_span", (float(span[0]), float(span[1])))
        if self.options and isinstance(self.answer, str) and self.answer_index is None:
            raise QueryError(f"answer {self.answer!r} is not the letter of one of {len(self.options)} options")
        if self.needs is not None:
            object.__setattr__(self, "needs", parse_needs(self.needs))

    @property
    def answer_index(self) -> int | None:
        """Index into ``options`` of a letter ``answer``, or ``None`` when it is not one."""
        a = self.answer
        if isinstance(a, str) and len(a) == 1 and "A" <= a <= "Z" and ord(a) - 65 < len(self.options):
            return ord(a) - 65
        return None


def parse_needs(raw: Any) -> frozenset[Capability] | None:
    """The capabilities a ``needs`` field names, or ``None`` when there is no field.

    Args:
        raw: ``None`` (unlabelled), or a list (any iterable but a string) of
            :class:`~onlook.types.Capability` values such as ``["people", "person_colour"]``. An empty
            list says that nothing perceived is needed.

    Returns:
        The capabilities, or ``None``.

    Raises:
        QueryError: If ``raw`` is not a list or names a label outside :class:`~onlook.types.Capability`
            (a typo must not silently move a question out of the perceivable subset).

    Example:
        >>> sorted(c.value for c in parse_needs(["people", "person_colour"]))
        ['people', 'person_colour']
        >>> parse_needs(None) is None
        True
    """
    if raw is None:
        return None
    if isinstance(raw, (str, bytes, Mapping)) or not hasattr(raw, "__iter__"):
        raise QueryError(f"needs must be a list of labels, not {type(raw).__name__}")
    out = set()
    for label in raw:
        try:
            out.add(label if isinstance(label, Capability) else Capability(label))
        except ValueError:
            raise QueryError(f"unknown needs label {label!r} (expected some of "
                             f"{', '.join(c.value for c in Capability)})") from None
    return frozenset(out)


def parse_hms(text: str) -> float:
    """Seconds in an ``[[H:]M:]S`` time stamp.

    Args:
        text: ``"00:01:05"``, ``"1:05"``, ``"65"`` or ``"0:00:10.5"``. Minutes and seconds after the first
            field must be below 60; only the last field may have a fraction.

    Returns:
        The time in seconds.

    Raises:
        QueryError: If ``text`` is not such a time stamp.

    Example:
        >>> parse_hms("00:01:05"), parse_hms("1:05"), parse_hms("65"), parse_hms("0:00:10.5")
        (65.0, 65.0, 65.0, 10.5)
    """
    if not isinstance(text, str):
        raise QueryError(f"time stamp must be a string, not {type(text).__name__}")
    m = _HMS.fullmatch(text.strip())
    if m is None:
        raise QueryError(f"bad time stamp {text!r} (expected H:MM:SS, M:SS or seconds)")
    *head, last = text.strip().split(":")
    fields = [int(f) for f in head] + [float(last)]
    if any(f >= 60 for f in fields[1:]):
        raise QueryError(f"bad time stamp {text!r}: minutes and seconds must be below 60")
    seconds = 0.0
    for f in fields:
        seconds = seconds * 60 + f
    return float(seconds)


_HMS = re.compile(r"\d+(?::\d{1,2}){0,2}(?:\.\d+)?")


def normalize_options(options: Sequence[str]) -> tuple[str, ...]:
    """Options in ``"A. ..."`` form, keeping labels that are already there and in order.

    Options count as labelled only if *every* one starts with its own positional letter and ``.`` or
    ``)`` and a space, so that ``"A.Lebrun."`` (a name) or ``["A. Wade", "B. Tyler", "D. Carter",
    "C. Jensen"]`` (initials) get a label in front instead of losing their first letter, as in
    StreamingBench's and OVO-Bench's own prompts.

    Args:
        options: The option texts, labelled or not.

    Returns:
        ``("A. first", "B. second", ...)``.

    Raises:
        QueryError: If an option is not a string or there are more than 26.

    Example:
        >>> normalize_options(["red", "blue"]), normalize_options(["A) red", "B) blue"])
        (('A. red', 'B. blue'), ('A. red', 'B. blue'))
    """
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise QueryError(f"options must be a list of strings, not {type(options).__name__}")
    if len(options) > 26:
        raise QueryError(f"{len(options)} options is more than A-Z can label")
    for o in options:
        if not isinstance(o, str):
            raise QueryError(f"option {o!r} is not a string")
    out = []
    labelled = bool(options) and all(re.match(rf"{chr(65 + i)}[.)]\s", o.strip() + " ")
                                      for i, o in enumerate(options))
    for i, o in enumerate(options):
        text = o.strip()
        if labelled:
            text = text[2:].strip()
        out.append(f"{chr(65 + i)}. {text}")
    return tuple(out)


def load_questions(path: str | Path, format: str = "auto") -> list[EvalQuestion]:
    """Read an evaluation file into questions asked at stream times.

    Args:
        path: A JSON file in one of :data:`FORMATS`.
        format: ``"onlook"``, ``"streamingbench"``, ``"ovobench"`` or ``"auto"`` to tell from the JSON
            shape (a list of ``time_s`` questions, of ``video_path`` entries, or of ``task`` items).

    Returns:
        The questions in file order (forward probes in probe order), ids unique.

    Raises:
        QueryError: If the file cannot be read, is not JSON, its format is unknown, or an entry lacks a
            field or has a bad value; the one-line message names the file and the entry index.

    Example:
        >>> qs = load_questions("../shared/eval/questions.json")  # doctest: +SKIP
        >>> qs[0].id, qs[0].type, qs[0].answer  # doctest: +SKIP
        ('vtest-001', 'count', 6)
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise QueryError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise QueryError(f"{p}: not JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
    fmt = format.strip().lower() if isinstance(format, str) else format
    if fmt == "auto":
        fmt = _sniff(data, p)
    loader = _LOADERS.get(fmt)
    if loader is None:
        raise QueryError(f"{p}: unknown format {format!r} (expected auto, {', '.join(FORMATS)})")
    if not isinstance(data, list):
        raise QueryError(f"{p}: expected a JSON list of entries for format {fmt!r}, "
                         f"not a {type(data).__name__}")
    questions = loader(data, p)
    seen: dict[str, int] = {}
    for i, q in enumerate(questions):
        if q.id in seen:
            raise QueryError(f"{p}: question {i}: duplicate id {q.id!r} (also question {seen[q.id]})")
        seen[q.id] = i
    return questions


# ---------------------------------------------------------------- helpers


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sniff(data: Any, p: Path) -> str:
    if isinstance(data, list) and not data:
        return "onlook"
    first = data[0] if isinstance(data, list) else None
    while isinstance(first, list) and first:  # StreamingBench SQA: one list of entries per video
        first = first[0]
    if isinstance(first, dict):
        if "video_path" in first and "questions" in first:
            return "streamingbench"
        if "task" in first and ("realtime" in first or "test_info" in first):
            return "ovobench"
        if "time_s" in first and "question" in first:
            return "onlook"
    raise QueryError(f"{p}: unknown format: entry 0 looks like no onlook, StreamingBench or OVO-Bench "
                     f"question; pass format= explicitly")


def _get(d: Any, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(d, dict):
        raise QueryError(f"{where}: expected an object, not {type(d).__name__}")
    if key not in d or d[key] is None:
        raise QueryError(f"{where}: missing field {key!r}")
    v = d[key]
    if kind is float:
        if not _is_number(v):
            raise QueryError(f"{where}: field {key!r} must be a number, not {v!r}")
        return float(v)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds and object not in kinds):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise QueryError(f"{where}: field {key!r} must be {names}, not {type(v).__name__}")
    return v


def _make(where: str, **kw: Any) -> EvalQuestion:
    try:
        return EvalQuestion(**kw)
    except QueryError as e:
        raise QueryError(f"{where}: {e}") from None


def _options(raw: list, where: str) -> tuple[str, ...]:
    try:
        return normalize_options(raw)
    except QueryError as e:
        raise QueryError(f"{where}: {e}") from None


def _letter(answer: Any, n: int, where: str) -> str:
    a = answer.strip().rstrip(".)").strip().upper() if isinstance(answer, str) else answer
    if not (isinstance(a, str) and len(a) == 1 and "A" <= a <= "Z" and ord(a) - 65 < n):
        raise QueryError(f"{where}: answer {answer!r} is not the letter of one of {n} options")
    return a


# ---------------------------------------------------------------- onlook


def _load_onlook(data: list, p: Path) -> list[EvalQuestion]:
    out = []
    for i, e in enumerate(data):
        where = f"{p}: entry {i}"
        t = _get(e, "time_s", where, (int, float, str))
        try:
            time_s = parse_hms(t) if isinstance(t, str) else t
        except QueryError as err:
            raise QueryError(f"{where}: {err}") from None
        options = _options(_get(e, "options", where, list), where) if e.get("options") is not None else ()
        answer = e.get("answer")
        if options and isinstance(answer, str):
            answer = _letter(answer, len(options), where)
        span = e.get("gt_span")
        if span is not None:
            if not (isinstance(span, list) and len(span) == 2 and all(_is_number(v) for v in span)):
                raise QueryError(f"{where}: gt_span must be [start_s, end_s], not {span!r}")
            span = (float(span[0]), float(span[1]))
        known = {"id", "video", "time_s", "question", "type", "options", "answer", "gt_span", "task", "needs"}
        out.append(_make(
            where, id=_get(e, "id", where, str), video=_get(e, "video", where, str), time_s=time_s,
            question=_get(e, "question", where, str), type=_get(e, "type", where, str), options=options,
            answer=answer, gt_span=span, task=e.get("task"), source="onlook", needs=e.get("needs"),
            extra={k: v for k, v in e.items() if k not in known},
        ))
    return out


# ---------------------------------------------------------------- StreamingBench


def _sb_time(stamp: Any, where: str, key: str) -> tuple[float, str | None]:
    """Seconds of a StreamingBench stamp, and a note when it is only readable the benchmark's way."""
    if not isinstance(stamp, str):
        raise QueryError(f"{where}: field {key!r} must be a time stamp string, not {stamp!r}")
    try:
        return parse_hms(stamp), None
    except QueryError:
        pass
    parts = stamp.strip().split(":")
    if 1 <= len(parts) <= 3 and all(f.isascii() and f.isdigit() for f in parts):
        # StreamingBench's own reading: sum(int(x) * 60**i for i, x in enumerate(reversed(parts))).
        secs = float(sum(int(x) * 60**i for i, x in enumerate(reversed(parts))))
        return secs, f"{key} {stamp!r} is not H:MM:SS; read as StreamingBench does ({secs:g} s)"
    raise QueryError(f"{where}: bad {key} {stamp!r} (expected H:MM:SS)")


def _sb_type(task: str, q: dict) -> str:
    t = STREAMINGBENCH_TYPES.get(task)
    if t is not None:
        return t
    if "ground_truth_time_stamp" in q:
        return "forward"
    return "backward" if q.get("required_ability") == "episodic memory" else "realtime"


def _sb_entries(data: list, p: Path) -> list[tuple[str, dict, int | None]]:
    """``(where, entry, sqa_group)`` for flat files and for SQA's one-list-per-video nesting."""
    flat: list[tuple[str, dict, int | None]] = []
    for i, e in enumerate(data):
        if isinstance(e, list):
            for j, sub in enumerate(e):
                flat.append((f"{p}: entry {i}/{j}", sub, i))
        else:
            flat.append((f"{p}: entry {i}", e, None))
    return flat


def _load_streamingbench(data: list, p: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    per_video: dict[str, int] = {}
    group_ids: dict[int, list[str]] = {}
    for where_e, e, group in _sb_entries(data, p):
        video_path = _get(e, "video_path", where_e, str)
        questions = _get(e, "questions", where_e, list)
        name = PurePosixPath(video_path.replace("\\", "/")).name
        if not name:
            raise QueryError(f"{where_e}: video_path {video_path!r} names no file")
        # Ids follow the published names: ./videos/sample_348_real.mp4 -> sb-real-348-<k>, k counting
        # the video's questions through the file (several entries share one video).
        m = re.match(r"sample_(\d+)_([A-Za-z]+)", name)
        for j, q in enumerate(questions):
            where = f"{where_e}, question {j}"
            task = _get(q, "task_type", where, str)
            text = _get(q, "question", where, str)
            time_s, note = _sb_time(_get(q, "time_stamp", where), where, "time_stamp")
            qtype = _sb_type(task, q)
            if m:
                key = f"{m.group(2).lower()}-{m.group(1)}"
            else:
                kind = "proactive" if qtype == "forward" else "sqa" if group is not None else "real"
                key = f"{kind}-{PurePosixPath(name).stem}"
            k = per_video.get(key, 0)
            per_video[key] = k + 1
            qid = f"sb-{key}-{k}"
            extra: dict[str, Any] = {"video_path": video_path, "entry": where_e.split(": ", 1)[1]}
            for src, dst in (("video_categories", "video_categories"), ("time", "time_window")):
                if e.get(src) is not None:
                    extra[dst] = e[src]
            for src in ("required_ability", "cause", "effect"):
                if q.get(src) is not None:
                    extra[src] = q[src]
            if note:
                extra["time_stamp_note"] = note
            options: tuple[str, ...] = ()
            answer: Any
            span = None
            if qtype == "forward":
                gt, gt_note = _sb_time(_get(q, "ground_truth_time_stamp", where), where,
                                       "ground_truth_time_stamp")
                if gt_note:
                    extra["ground_truth_time_stamp_note"] = gt_note
                extra["ground_truth_output"] = _get(q, "ground_truth_output", where, (str, int, float))
                extra["poll_until_s"] = gt + _SB_POLL_AFTER_S
                answer = gt
                span = (max(0.0, gt - _SB_WINDOW_S), gt + _SB_WINDOW_S)
            else:
                options = _options(_get(q, "options", where, list), where)
                answer = _letter(_get(q, "answer", where), len(options), where)
            if group is not None:
                # SQA: StreamingBench gives each question the earlier ones of its video, with answers.
                ids = group_ids.setdefault(group, [])
                extra["sqa_group"] = group
                extra["context_ids"] = list(ids)
                ids.append(qid)
            out.append(_make(where, id=qid, video=name, time_s=time_s, question=text, type=qtype,
                             options=options, answer=answer, gt_span=span, task=task,
                             source="streamingbench", needs=q.get("needs"), extra=extra))
    return out


# ---------------------------------------------------------------- OVO-Bench


def _ovo_probe(item: dict, task: str, k: int, probe: Any, where: str) -> tuple[str, Any, Any, dict]:
    """``(question, answer, gt_span, extra)`` of one forward probe."""
    extra: dict[str, Any] = {"probe_index": k}
    span = None
    if task == "REC":
        activity = _get(item, "activity", where, str)
        count = _get(probe, "count", where, int)
        extra.update(activity=activity, start_times=item.get("start_times"), end_times=item.get("end_times"))
        return f"How many times did they {activity}?", count, None, extra
    yes = _get(probe, "type", where, int)
    if yes not in (0, 1):
        raise QueryError(f"{where}: probe type must be 0 or 1, not {yes!r}")
    extra["probe_type"] = yes
    answer = "Yes" if yes else "No"
    if task == "SSR":
        step = _get(probe, "step", where, str)
        steps = _get(item, "all_steps", where, list)
        starts, ends = item.get("start_time"), item.get("end_time")
        if step in steps and isinstance(starts, list) and isinstance(ends, list):
            i = steps.index(step)
            if i < min(len(starts), len(ends)) and _is_number(starts[i]) and _is_number(ends[i]):
                span = (float(starts[i]), float(ends[i])) if starts[i] <= ends[i] else None
        extra.update(step=step, tutorial=item.get("tutorial"), all_steps=steps)
        return f"Is the person performing this step right now: {step}?", answer, span, extra
    question = _get(item, "question", where, str)  # CRR
    extra.update(original_question=question, answer_text=item.get("answer"),
                 ask_time=item.get("ask_time"), clue_time=item.get("clue_time"))
    return (f"{question} Is there enough in the video so far to answer this question?", answer, span, extra)


def _load_ovobench(data: list, p: Path) -> list[EvalQuestion]:
    out: list[EvalQuestion] = []
    for i, item in enumerate(data):
        where = f"{p}: entry {i}"
        raw_id = _get(item, "id", where, (int, str))
        task = _get(item, "task", where, str)
        video = _get(item, "video", where, str)
        qtype = OVOBENCH_TYPES.get(task)
        if qtype is None:
            qtype = "forward" if "test_info" in item else "realtime"
        if qtype != "forward":
            options = _options(_get(item, "options", where, list), where)
            gt = _get(item, "gt", where, int)
            if not 0 <= gt < len(options):
                raise QueryError(f"{where}: gt {gt} is not an index of its {len(options)} options")
            out.append(_make(
                where, id=f"ovo-{raw_id}", video=video, time_s=_get(item, "realtime", where, float),
                question=_get(item, "question", where, str), type=qtype, options=options,
                answer=chr(65 + gt), task=task, source="ovobench", needs=item.get("needs"),
                extra={"answer_text": item.get("answer"), "gt": gt},
            ))
            continue
        probes = _get(item, "test_info", where, list)
        for k, probe in enumerate(probes):
            pw = f"{where}, probe {k}"
            question, answer, span, extra = _ovo_probe(item, task, k, probe, pw)
            out.append(_make(pw, id=f"ovo-{raw_id}-p{k}", video=video, time_s=_get(probe, "realtime", pw, float),
                             question=question, type="forward", answer=answer, gt_span=span, task=task,
                             source="ovobench", needs=item.get("needs"), extra=extra))
    return out


_LOADERS: dict[str, Callable[[list, Path], list[EvalQuestion]]] = {
    "onlook": _load_onlook,
    "streamingbench": _load_streamingbench,
    "ovobench": _load_ovobench,
}
