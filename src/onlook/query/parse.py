"""Pure parsing of questions, searches and alert queries into intents.

Nothing here touches memory or images: each function maps words to a small
frozen dataclass, so the whole vocabulary is table-tested on strings
(see ``tests/query/test_parse.py``). What perception can see is listed once,
in :data:`SUBJECTS`; words for things outside it are reported as
``unknown`` so that callers can abstain or refuse instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onlook.perception.color import COLOR_NAMES
from onlook.query.model import Query, TimeRange
from onlook.query.text import has_any, normalize
from onlook.vocabulary import STATE_WORDS, find_objects, find_states

__all__ = ["TimeScope", "Intent", "parse_time_scope", "parse_question", "parse_colors",
           "parse_region", "parse_edge", "quoted_words", "UNSEEN_WORDS", "intent_from_query"]

_COLOR_SYNONYMS = {
    "grey": "gray", "navy": "blue", "maroon": "red", "crimson": "red", "scarlet": "red",
    "beige": "brown", "tan": "brown", "violet": "purple", "magenta": "pink", "cyan": "blue",
    "turquoise": "blue", "khaki": "brown", "silver": "gray", "golden": "yellow", "gold": "yellow",
}

PERSON_WORDS = {"person", "people", "someone", "somebody", "anyone", "anybody", "man", "men", "woman",
                "women", "pedestrian", "pedestrians", "guy", "girl", "boy", "lady", "child", "children",
                "kid", "kids", "persons", "individual", "individuals", "walker", "walkers", "he", "she",
                "they", "who", "nobody", "everyone", "human", "humans", "figure", "figures"}
FACE_WORDS = {"face", "faces"}
HAND_WORDS = {"hand", "hands", "palm", "palms"}
RAISED_WORDS = {"raise", "raises", "raised", "raising", "up", "wave", "waves", "waved", "waving", "lift", "lifts",
                "lifted", "lifting"}
TEXT_WORDS = {"text", "word", "words", "sign", "writing", "written", "caption", "label", "read",
              "says", "say", "letters", "number", "plate", "title", "subtitle", "subtitles"}
CUT_PHRASES = ("scene change", "scene changes", "scene cut", "cut to", "cuts", "new scene",
               "shot change", "camera cut", "change of scene", "scene changed", "the scene change",
               "a cut", "transition", "each cut", "every cut", "any cut", "next cut", "the cut")
ENTER_WORDS = {"enter", "enters", "entered", "entering", "appear", "appears", "appeared", "appearing",
               "arrive", "arrives", "arrived", "arriving", "come", "comes", "came", "coming",
               "walk in", "walks in", "walked in", "walked into", "walks into", "walk into", "came into",
               "comes into", "come into", "came in", "stepped into", "show up", "shows up", "showed up", "emerge",
               "emerges", "emerged", "step", "steps", "stepped"}
EXIT_WORDS = {"leave", "leaves", "left the", "leaving", "exit", "exits", "exited", "exiting",
              "disappear", "disappears", "disappeared", "gone", "go out", "goes out", "went out",
              "walk out", "walks out", "walked out", "out of view", "out of sight", "departs", "departed"}

# Nouns perception cannot see: their presence in a question means "abstain", not "guess". The object
# classes (onlook.vocabulary.OBJECT_WORDS) are seen, so they are not among them.
UNSEEN_WORDS = {
    "box", "pen", "bark", "barks", "barking", "honk", "honks", "honking", "meow", "meows",
    "paper", "papers", "hat", "cap", "helmet", "hood", "glasses", "tree",
    "door", "window", "boot", "tailgate", "trunk", "mouth", "smile", "smiling", "laugh", "talk",
    "talking", "carrying", "holding", "eating", "drinking", "running", "sitting", "grass", "lawn",
    "staircase", "stairs", "hand", "hands", "weather", "raining", "emotion", "angry",
    "happy", "sad", "wearing", "shirt", "hair", "shoes", "gender", "age", "old", "young",
    # patterns: colours are read, not what they make
    "striped", "stripes", "stripy", "checked", "checkered", "chequered", "plaid", "tartan", "spotted",
    "dotted", "polka", "floral", "patterned",
}

SUBJECTS = ("person", "face", "text", "scene_cut", "motion", "color", "object", "state")

_WEAR_WORDS = {"wear", "wears", "wearing", "wore", "worn", "has", "have", "having", "carrying", "carry",
               "carries", "holding", "hold", "holds"}

# Words that name people without saying much: an object named beside them is the subject
# ("did anyone leave a bag?" is about the bag).
_WEAK_PERSON = {"who", "he", "she", "they", "anyone", "anybody", "someone", "somebody", "nobody", "everyone"}


@dataclass(frozen=True, slots=True)
class TimeScope:
    """Which stretch of the stream a question is about.

    Attributes:
        kind: ``"now"``, ``"all"`` (so far), ``"window"`` (last N s),
            ``"start"`` (the beginning), ``"point"`` (around a given time), ``"range"`` (``seconds`` to
            ``until``, resolved from a typed query's time range).
        seconds: Window length for ``"window"``; the time for ``"point"``; the start for ``"range"``.
        until: The end for ``"range"``.
    """

    kind: str = "all"
    seconds: float | None = None
    until: float | None = None

    def bounds(self, at: float, start_s: float = 10.0) -> tuple[float, float]:
        """``(since, until)`` in stream seconds for a question asked at ``at``."""
        if self.kind == "range":  # explicit bounds: seconds..until (from a typed query's time range)
            since = min(at, self.seconds or 0.0)
            return (since, max(since, min(at, self.until if self.until is not None else at)))
        if self.kind == "now":
            return (max(0.0, at - 1.0), at)
        if self.kind == "window":
            return (max(0.0, at - (self.seconds or 0.0)), at)
        if self.kind == "start":
            return (0.0, min(at, self.seconds or start_s))
        if self.kind == "point":
            p = min(at, self.seconds or 0.0)
            return (max(0.0, p - 1.0), p)
        return (0.0, at)


@dataclass(frozen=True, slots=True)
class Intent:
    """What a question asks, in terms of what perception can see.

    Attributes:
        kind: ``count``, ``when``, ``color``, ``read``, ``presence``,
            ``describe``, or ``unknown``.
        subject: One of :data:`SUBJECTS` or ``None``.
        action: ``"enter"``, ``"exit"`` or ``None``.
        colors: Colour names mentioned (canonical).
        region: Picture region mentioned (``"lower left"``...).
        words: Quoted or capitalised words to find in on-screen text.
        scope: The time scope.
        order: ``"first"``, ``"last"`` or ``None``.
        edge: Frame edge of an entry/exit (``"left"``...), if named.
        unknown: Words naming things perception cannot see.
        labels: The object classes (:class:`onlook.vocabulary.Label` values) a question about
            objects names (``subject == "object"``); a group word ("vehicle") names all its members.
        states: The body states a question is about (``subject == "state"``), each
            (:class:`onlook.vocabulary.BodyState` value, on): ``("mouth_open", True)`` for "opens his
            mouth", ``("mouth_open", False)`` for "closes his mouth".
        cells: The motion-grid cells the subject must be in (a region "on the left" is three).
        nth: Which occurrence, counted from the first (``order == "first"``) or the last.
        absent: The question is about nobody/nothing being there ("is the room empty?").
        compare: A count comparison (``("gt", 3)``) a yes/no question asks about.
        negated: The event is asked about as not happening ("did nobody leave?").
        moving: Of objects: only moving (``True``) or only stationary, parked (``False``) ones.
        event: The typed query's event (``"cut"``, ``"present"``...): counting shots (``present``) is not
            counting the cuts between them.
    """

    kind: str
    subject: str | None = None
    action: str | None = None
    colors: tuple[str, ...] = ()
    region: str | None = None
    words: tuple[str, ...] = ()
    scope: TimeScope = field(default_factory=TimeScope)
    order: str | None = None
    unknown: tuple[str, ...] = ()
    edge: str | None = None
    labels: tuple[str, ...] = ()
    states: tuple[tuple[str, bool], ...] = ()
    cells: tuple[str, ...] = ()
    nth: int | None = None
    absent: bool = False
    compare: tuple[str, int] | None = None
    negated: bool = False
    moving: bool | None = None
    event: str | None = None


_NUM_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
              "seven": 7, "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30,
              "few": 3, "couple": 2}
_UNIT_S = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
           "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600}


def parse_time_scope(text: str) -> TimeScope:
    """Find the temporal cue of a question.

    Example:
        >>> parse_time_scope("how many people in the last 2 minutes?")
        TimeScope(kind='window', seconds=120.0)
        >>> parse_time_scope("what happened at the start?").kind
        'start'
    """
    q = normalize(text)
    # The unit must follow the cue directly or after a number ("last minute", "last 2 min",
    # "past two hours"), so "last words" or "past lots of shops" are not windows.
    m = re.search(r"\b(?:last|past|previous)\s+(?:(\d+(?:\.\d+)?)\s*|(" + "|".join(_NUM_WORDS) +
                  r")\s+(?:of\s+)?)?(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b", q)
    if m:
        n = m.group(1)
        val = float(n) if n else float(_NUM_WORDS.get(m.group(2) or "a", 1))
        return TimeScope("window", val * _UNIT_S[m.group(3)])
    m = re.search(r"\b(?:first|opening)\s+(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?)\b", q)
    if m:
        return TimeScope("start", float(m.group(1)) * _UNIT_S[m.group(2)])
    if re.search(r"\bsince (the (stream|video|clip|recording) (started|began)|the (start|beginning))\b", q):
        return TimeScope("all")
    if re.search(r"\b(at|in|near) the (start|beginning|very beginning)\b|\bat first\b|\binitially\b"
                 r"|\bwhen (it|the (video|stream|clip)) (started|began)\b", q):
        return TimeScope("start")
    m = re.search(r"\bat (\d{1,2}):(\d{2})\b", q)
    if m:
        return TimeScope("point", int(m.group(1)) * 60 + int(m.group(2)))
    m = re.search(r"\bat (\d+(?:\.\d+)?)\s*(s|secs?|seconds?)\b", q)
    if m:
        return TimeScope("point", float(m.group(1)))
    if re.search(r"\b(right now|now|currently|at the moment|at this moment|at present|"
                 r"in view|visible|can you see|do you see|is there|are there|is anyone|"
                 r"in the (scene|picture|frame|shot))\b", q) and not re.search(
                     r"\b(so far|until now|up to now|in total|ever|have you seen|did you see|"
                     r"earlier|before|previously|has there|have there)\b", q):
        return TimeScope("now")
    return TimeScope("all")


def parse_colors(text: str) -> tuple[str, ...]:
    """Canonical colour names mentioned in ``text``, in order of mention."""
    out: list[str] = []
    for w in re.findall(r"[a-z]+", text.lower()):
        c = _COLOR_SYNONYMS.get(w, w)
        if c in COLOR_NAMES and c not in out:
            out.append(c)
    return tuple(out)


def parse_region(text: str) -> str | None:
    """The picture region named in ``text`` (``"lower left"``...), if any."""
    q = normalize(text)
    q = (q.replace("bottom", "lower").replace("top", "upper").replace("center", "centre")
         .replace("middle", "centre"))
    v = re.search(r"\b(upper|lower)\b", q)
    h = re.search(r"\b(left|right)\b(?! the)", q)
    if v and h:
        return f"{v.group(1)} {h.group(1)}"
    if v:
        return f"{v.group(1)} centre"
    if h and re.search(r"\b(on|in|at|from|to) the (far )?(left|right)\b", q):
        return f"middle {h.group(1)}"
    if re.search(r"\b(in|at) the centre\b", q):
        return "centre"
    return None


def parse_edge(text: str) -> str | None:
    """The frame edge a question names for an entry or exit ("through the right edge")."""
    q = normalize(text)
    m = re.search(r"\b(left|right|top|bottom)\s+(edge|side|border)\b", q) or re.search(
        r"\b(?:from|through|via|out|off|towards?|at) the (left|right|top|bottom)\b(?! (upper|lower|corner))", q)
    return m.group(1) if m else None


def quoted_words(text: str) -> tuple[str, ...]:
    """Words to look for in on-screen text: quoted, or ALL-CAPS in the question.

    Example:
        >>> quoted_words('when does the word TAXI appear?')
        ('taxi',)
    """
    # Double quotes anywhere; single quotes only as quote marks, not apostrophes ("man's").
    found = re.findall(r"[\"“]([^\"”]+)[\"”]", text)
    found += re.findall(r"(?:^|(?<=[\s(]))['‘]([^'’]+)['’](?=[\s.,;:!?)]|$)", text)
    found += re.findall(r"\b([A-Z][A-Z0-9]{1,})\b", text)
    words: list[str] = []
    for f in found:
        for w in re.findall(r"[a-z0-9]+", f.lower()):
            if w not in words:
                words.append(w)
    return tuple(words)


_LEFT_AS_EXIT = re.compile(r"(?<!the )(?<!lower )(?<!upper )(?<!top )(?<!bottom )(?<!far )\bleft\b"
                           r"(?! (side|edge|corner|half|of|hand|part|bank))")


def _action(q: str) -> str | None:
    if has_any(q, EXIT_WORDS) or (_LEFT_AS_EXIT.search(q) and re.search(r"\b(who|people|persons?|someone|"
                                                                          r"anyone|many|did|has|have)\b", q)):
        return "exit"
    if has_any(q, ENTER_WORDS):
        return "enter"
    return None


def parse_question(text: str) -> Intent:
    """Map a question to an :class:`Intent`.

    Example:
        >>> i = parse_question("When did someone in red first enter?")
        >>> (i.kind, i.subject, i.action, i.colors, i.order)
        ('when', 'person', 'enter', ('red',), 'first')
    """
    q = normalize(text)
    scope = parse_time_scope(q)
    colors = parse_colors(q)
    region = parse_region(q)
    words = quoted_words(text)
    order = "first" if re.search(r"\bfirst\b", q) else ("last" if re.search(r"\b(last|latest|most recent)\b", q)
                                                          and scope.kind != "window" else None)
    tokens = set(re.findall(r"[a-z]+", q))
    states = tuple((st.value, on) for st, on in find_states(q))
    # A state phrase's words ("mouth", "eyes") are read by face state, not things perception cannot see.
    unknown = tuple(sorted(tokens & UNSEEN_WORDS - (STATE_WORDS if states else set())))
    if tokens & HAND_WORDS:  # hands are seen (the hand detector); "hand raised" too
        unknown = tuple(w for w in unknown if w not in HAND_WORDS)
    found = find_objects(q)
    labels = tuple(dict.fromkeys(lab.value for _, labs in found for lab in sorted(labs, key=lambda m: m.value)))
    # "Is he wearing a tie?", "someone wearing a backpack": the worn thing is an object class perception
    # sees, so the question is about it (clothing in general stays unseen, but for its colours).
    wear = re.search(r"\b(" + "|".join(sorted(_WEAR_WORDS)) + r")\b", q)
    worn_found = [(p, labs) for p, labs in found if wear and q.find(p) > wear.start()]
    worn = bool(worn_found)
    if worn:  # the object is what is worn ("the man in the car wearing a tie" asks about the tie)
        unknown = tuple(w for w in unknown if w not in _WEAR_WORDS)
        found = worn_found
        labels = tuple(dict.fromkeys(lab.value for _, labs in found for lab in sorted(labs, key=lambda m: m.value)))
    # An object phrase's words ("stop sign", "cell phone") are not text or person words.
    object_tokens = {w for phrase, _ in found for w in phrase.split()}
    person_tokens = tokens & PERSON_WORDS
    first_person = min((m.start() for m in re.finditer(r"[a-z]+", q) if m.group() in person_tokens - _WEAK_PERSON),
                       default=len(q))
    first_object = min((q.find(p) for p, _ in found), default=len(q))

    # "When did the current shot begin?": the start of this shot is the latest cut.
    shot_start = re.search(r"\b(current|this|present) (shot|scene)\b", q) and re.search(
        r"\b(start|starts|started|begin|begins|began|begun)\b", q)
    if shot_start:
        order = "last"
    if any(p in q for p in CUT_PHRASES) or shot_start:
        subject = "scene_cut"
    elif states:
        subject = "state"
    elif tokens & HAND_WORDS and not (labels and first_object < len(q) and worn):
        subject = "hand"
    elif labels and (first_object < first_person or worn) and not set(words) & object_tokens:
        subject = "object"
    elif words or (tokens - object_tokens) & TEXT_WORDS and not tokens & (PERSON_WORDS - {"who"}):
        subject = "text"
    elif tokens & FACE_WORDS:
        subject = "face"
    elif tokens & PERSON_WORDS:
        subject = "person"
    elif re.search(r"\b(motion|moving|movement|moves|moved)\b", q):
        subject = "motion"
    elif colors:
        subject = "color"
    else:
        subject = None

    if re.search(r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow much\b", q):
        kind = "count"
    elif re.search(r"\bwhen\b|\bwhat time\b|\bat what point\b|\bhow long ago\b|\btell me when\b", q):
        kind = "when"
    elif re.search(r"\bwhat colou?rs?\b|\bwhich colou?r\b", q):
        kind = "color"
    elif subject == "text" and re.search(r"\bwhat\b|\bread\b|\bwhich\b|\bsay\b|\bsays\b", q):
        kind = "read"
    elif re.search(r"^(is|are|was|were|did|does|do|has|have|can|could)\b|\bany(one|body)?\b", q):
        kind = "presence"
    elif subject == "object" and re.search(r"\b(which|what)\b", q):  # "which vehicles can you see?": list them
        kind = "presence"
    elif re.search(r"\bwhat (is )?happen|\bdescribe\b|\bsummar|\bwhat('s| is) going on\b|"
                   r"\bwhat did you see\b|\bwhat do you see\b|\bwhat can you see\b", q):
        kind = "describe"
    else:
        kind = "unknown"
    edge = parse_edge(q)
    if edge and region and region.endswith(edge) and re.search(rf"\b{edge}\s+(edge|side)\b", q):
        region = None  # "the right edge" names where they crossed, not a picture region
    return Intent(kind=kind, subject=subject, action=_action(q), colors=colors, region=region,
                  words=words, scope=scope, order=order, unknown=unknown, edge=edge,
                  labels=labels if subject == "object" else (), states=states if subject == "state" else ())


# ---- the typed query, in the answerer's terms ------------------------------------------------------

_ASK_KIND = {"count": "count", "peak": "peak", "average": "average", "frequency": "count", "duration": "duration",
             "when": "when",
             "identify": "when", "alert": "when", "exists": "presence", "list": "presence", "colour": "color",
             "read": "read", "where": "where", "describe": "describe", "unknown": "unknown"}


def intent_from_query(query: Query, scope: TimeScope | None = None) -> Intent:
    """The :class:`Intent` the extractive answerer acts on, for a typed query.

    Args:
        query: The typed query (:func:`onlook.query.understand.understand`).
        scope: Its time range resolved against memory (anchors such as "after the first cut" need
            memory); ``None`` maps the range's own kinds.
    """
    s = query.subject
    labels = {m.value for m in s.labels}
    event = query.event.value
    if event == "cut" or labels == {"shot"}:
        subject: str | None = "scene_cut"
    elif s.states:
        subject = "state"
    elif labels == {"hand"}:
        subject = "hand"
    elif labels == {"text"} or (s.words and event != "say"):
        subject = "text"
    elif labels == {"face"}:
        subject = "face"
    elif "person" in labels:
        subject = "person"
    elif labels:
        subject = "object"
    elif event == "move":
        subject = "motion"
    elif s.colours:
        subject = "color"
    else:
        subject = None
    action = {"enter": "enter", "appear": "enter", "leave": "exit"}.get(event)
    if event == "appear" and subject == "person" and query.ask.value == "count":
        # "How many people appeared?" counts everyone seen, also those in view when the stream or a shot
        # began (they appeared without entering through an edge).
        action = None
    order = None if query.ordinal is None else ("last" if query.ordinal < 0 else "first")
    nth = None if query.ordinal is None else abs(query.ordinal)
    if query.ask.value == "identify" and order is None:
        order = "first"
    region = None
    cells: tuple[str, ...] = ()
    if s.region is not None:
        from onlook.query.model import REGION_CELLS
        cells = tuple(sorted(REGION_CELLS[s.region]))
        region = cells[0] if len(cells) == 1 else None
    # Filters the answerer cannot apply join the unknown words, so the answer names them instead of
    # silently counting everything: no size is measured, and only objects carry "stationary".
    unknown = query.unknown
    if s.size is not None:
        unknown += (s.size.value,)
    # People: the tracker says who moves and who stands still in the current picture only.
    person_now = subject == "person" and query.time.kind.value in ("now", "point")
    if s.moving is not None and subject != "object" and not person_now:
        unknown += ("moving" if s.moving else "still",)
    return Intent(kind=_ASK_KIND[query.ask.value], subject=subject, action=action, colors=tuple(sorted(s.colours)),
                  region=region, words=s.words, scope=scope or _scope(query.time), order=order,
                  unknown=unknown, edge=query.edge.value if query.edge else None,
                  moving=(_object_moving(s.moving, event) if subject == "object"
                          else _person_moving(s.moving, event, query.ask.value) if person_now else None),
                  labels=tuple(sorted(m.value for m in s.labels)) if subject == "object" else (),
                  states=tuple(sorted((st.value, on) for st, on in s.states)), cells=cells, nth=nth,
                  absent=event == "absent",
                  compare=(query.compare.op.value, query.compare.n) if query.compare else None,
                  negated=query.negated, event=event)


def _object_moving(moving: bool | None, event: str) -> bool | None:
    """Whether the asked objects must be moving: "did a car drive through?" asks for one that moved,
    "did the van stay parked?" for one that stood still, unless the subject says so itself."""
    if moving is not None:
        return moving
    return {"move": True, "stay": False}.get(event)


def _person_moving(moving: bool | None, event: str, ask: str) -> bool | None:
    """Of people in the current picture: "how many are walking?" counts those moving, "is anyone standing
    still?" those still; "did anyone move?" stays an event (motion), not a filter."""
    if moving is not None:
        return moving
    return True if event == "move" and ask in ("count", "exists") else None


def _scope(t: TimeRange) -> TimeScope:
    k = t.kind.value
    if k == "now":
        return TimeScope("now")
    if k == "last":
        return TimeScope("window", t.seconds)
    if k == "start":
        return TimeScope("start", t.seconds)
    if k == "at":
        return TimeScope("point", t.start_s)
    if k == "between":
        return TimeScope("range", t.start_s or 0.0, t.end_s)
    if k == "before" and t.end_s is not None:
        return TimeScope("range", 0.0, t.end_s)
    if k == "after" and t.start_s is not None:
        return TimeScope("range", t.start_s, None)
    return TimeScope("all")
