"""Pure parsing of questions and alerts about what is said.

"what did he say just now?", "did anyone mention the cover?", "when was
'help' said?", "what was said in the last minute?" and alerts such as
"someone says help" or "when someone mentions the alarm" are recognised
here, from their words alone, and turned into a small frozen record; the
memory side lives in :mod:`onlook.answer.speech` and the alert book.

Example:
    >>> parse_speech_question("did anyone mention the cover?")
    SpeechIntent(kind='mention', words=('cover',), scope=TimeScope(kind='all', seconds=None), recent=False)
    >>> speech_alert_words("someone says help")
    ('help',)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onlook.query.parse import TimeScope, parse_time_scope, quoted_words
from onlook.query.text import normalize

__all__ = ["SpeechIntent", "parse_speech_question", "speech_alert_words", "speech_words", "words_match",
           "SPEECH_STOP"]

_VERB = (r"say|says|said|saying|tell|tells|told|shout|shouts|shouted|shouting|yell|yells|yelled|yelling|"
         r"scream|screams|screamed|screaming|mention|mentions|mentioned|mentioning|speak|speaks|spoke|speaking|"
         r"talk|talks|talked|talking|utter|utters|uttered|ask|asks|asked|call|calls|called|cry|cries|cried|"
         r"hear|heard|spoken|announce|announces|announced")
_VERB_RE = re.compile(rf"\b({_VERB})\b")

SPEECH_STOP = {
    "the", "a", "an", "of", "to", "and", "or", "is", "was", "were", "are", "be", "been", "it", "its", "that",
    "this", "there", "anything", "something", "someone", "somebody", "anyone", "anybody", "he", "she", "they",
    "him", "her", "them", "we", "you", "i", "me", "my", "word", "words", "phrase", "about", "out", "loud",
    "loudly", "aloud", "when", "what", "who", "did", "does", "do", "has", "have", "had", "ever", "again",
    "for", "at", "on", "in", "by", "with", "any", "some", "person", "people", "man", "woman", "speaker",
    "just", "now", "last", "minute", "minutes", "seconds", "second", "so", "far", "yet", "time", "first",
    "times", "please", "tell", "us", "whether", "if", "ago", "recently", "earlier", "before", "where",
    "stream", "video", "clip", "over", "all", "here", "lately", "moment", "during", "since", "hour", "hours",
    "past", "previous", "up", "until", "can", "could", "would", "will",
} | set(_VERB.split("|"))


@dataclass(frozen=True, slots=True)
class SpeechIntent:
    """What a question about speech asks.

    Attributes:
        kind: ``"said"`` (what was said), ``"mention"`` (was something said:
            yes or no, and when) or ``"when"`` (when were these words said).
        words: The words asked about (for ``mention`` and ``when``).
        scope: The time scope of the question.
        recent: "just now", "a moment ago": the latest utterance.
    """

    kind: str
    words: tuple[str, ...] = ()
    scope: TimeScope = field(default_factory=TimeScope)
    recent: bool = False


def speech_words(text: str) -> tuple[str, ...]:
    """The content words of ``text`` (quoted or CAPITALS first, else all but stop words).

    Example:
        >>> speech_words("did anyone mention the cover?")
        ('cover',)
    """
    quoted = quoted_words(text)
    if quoted:
        return quoted
    out: list[str] = []
    for w in re.findall(r"[a-z0-9']+", normalize(text)):
        w = w.strip("'")
        if w and w not in SPEECH_STOP and not w.isdigit() and w not in out:
            out.append(w)
    return tuple(out)


_SAID_RE = re.compile(
    r"\bwhat (did|does|do|has|have|was|were|is|are)\b.*\b(say|said|saying|talk|talking|talked|speak|speaking|"
    r"spoken|tell|told|announce|announced|hear|heard|mention|mentioned)\b"
    r"|\bwhat('s| is| was) (being )?(said|spoken|announced)\b|\btranscri(pt|be|ption)\b"
    r"|\bwhat (were|are) (they|people|you) (talking|speaking) about\b|\bwho (said|spoke|was speaking)\b"
    r"|\b(last|latest) (thing|words?) (said|spoken|heard)\b|\bwhat (was|is) (the )?(conversation|discussion)\b")
_MENTION_RE = re.compile(
    r"^(did|does|do|has|have|was|were|is|are)\b.*\b(say|said|saying|mention|mentions|mentioned|mentioning|"
    r"talk|talked|talking|speak|spoke|spoken|shout|shouted|yell|yelled|ask|asked|call|called|hear|heard|"
    r"announce|announced|tell|told|utter|uttered|scream|screamed)\b|\bany (mention|talk) of\b")
_WHEN_RE = re.compile(
    rf"\b(when|what time|at what point|how long ago)\b.*\b({_VERB})\b")


def parse_speech_question(text: str) -> SpeechIntent | None:
    """A question about what is said, or None when it is about something else.

    Example:
        >>> parse_speech_question("when was 'help' said?").words
        ('help',)
        >>> parse_speech_question("how many people are visible now?") is None
        True
        >>> parse_speech_question("when did he open his mouth, as if shouting?") is None  # a manner, not words
        True
    """
    # "as if shouting", "as though he was calling out": a simile says how something looked, not what was said.
    q = re.sub(r"\b(as if|as though|like (he|she|they|someone) (was|were|is|are))\b.*$", "", normalize(text))
    if not _VERB_RE.search(q) and not re.search(r"\btranscri|\bconversation\b|\bdiscussion\b", q):
        return None
    # "what does the sign say" is on-screen text, not speech.
    if re.search(r"\b(sign|screen|text|caption|label|banner|board|plate|subtitle|subtitles|title|shirt|poster)\b",
                 q) and not re.search(r"\b(someone|anyone|he|she|they|person|people|speaker|you hear|aloud|"
                                      r"out loud|spoken|shout)\b", q):
        return None
    scope = parse_time_scope(q)
    recent = bool(re.search(r"\b(just now|right now|a (moment|second|minute) ago|just said|just say|"
                            r"latest|last thing|last words?|most recent(ly)?|now)\b", q))
    if _WHEN_RE.search(q):
        return SpeechIntent("when", speech_words(text), scope, recent=False)
    if _SAID_RE.search(q):
        return SpeechIntent("said", (), scope, recent=recent)
    if _MENTION_RE.search(q):
        words = speech_words(text)
        if words:
            return SpeechIntent("mention", words, scope, recent=False)
        return SpeechIntent("said", (), scope, recent=recent)
    return None


_ALERT_VERB = re.compile(
    r"\b(says?|said|saying|shouts?|shouted|shouting|yells?|yelled|yelling|screams?|screamed|screaming|"
    r"mentions?|mentioned|mentioning|talks? about|talking about|talked about|speaks? (of|about)|"
    r"asks? for|calls? (out )?for|cries?( out)?( for)?|utters?|announces?|is heard saying)\b")


def speech_alert_words(query: str) -> tuple[str, ...] | None:
    """Words a spoken-phrase alert listens for, or None when the query is not about speech.

    Example:
        >>> speech_alert_words("when someone mentions the alarm")
        ('alarm',)
        >>> speech_alert_words("the word TAXI appears") is None
        True
    """
    q = normalize(query)
    m = _ALERT_VERB.search(q)
    passive = re.search(r"\b(is|are|gets?|was|being) (said|spoken|mentioned|heard|shouted|called out)\b", q)
    if m is None and passive is None:
        return None
    if re.search(r"\b(appears?|shown|displayed|written|on screen|on the screen|sign|caption)\b", q):
        return None  # "a sign saying EXIT appears" is on-screen text
    quoted = quoted_words(query)
    if quoted:
        return quoted
    words = speech_words(q[: passive.start()]) if passive is not None else ()
    if not words and m is not None:
        words = speech_words(q[m.end():])
    return words or None


def words_match(wanted: tuple[str, ...] | list[str], heard: str) -> bool:
    """Whether every wanted word was said in ``heard`` (longer forms count: ``alarm`` in ``alarms``).

    Example:
        >>> words_match(("help",), "Please, help me!")
        True
        >>> words_match(("cover",), "We discovered it")
        False
    """
    said = re.findall(r"[a-z0-9']+", heard.lower())
    return all(any(s == w or (len(w) >= 4 and s.startswith(w)) for s in said) for w in wanted)
