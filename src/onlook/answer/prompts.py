"""What the VLM answerers say to a model and read back from it: prompt text and pure parsers.

Shared by every VLM backend (:mod:`onlook.answer.openai_vlm`,
:mod:`onlook.answer.transformers_vlm`) so that they ask alike; all functions
are pure (same inputs, same text) and tested on strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from onlook.types import format_ts

__all__ = [
    "SYSTEM_PROMPT",
    "ask_text",
    "history_messages",
    "history_text",
    "option_block",
    "parse_choice",
    "parse_yes_no",
    "split_option",
]

SYSTEM_PROMPT = (
    "You watch a live video stream and answer questions about it. You are shown frames of the stream, "
    "each labelled with its stream time (mm:ss), and a log of what onlook's detectors recorded. Answer "
    "briefly from what the frames and the log show, giving times as mm:ss. If they do not show the "
    "answer, say that you cannot tell."
)

_OPTION_RE = re.compile(r"^\s*\(?([A-Za-z])[.):]\s*(.*)$")


def split_option(option: str) -> tuple[str, str]:
    """``"B. A red cap"`` -> ``("B", "A red cap")``; options without a letter get ``""``.

    Example:
        >>> split_option("(c) a van"), split_option("a bag")
        (('C', 'a van'), ('', 'a bag'))
    """
    m = _OPTION_RE.match(option)
    return (m.group(1).upper(), m.group(2).strip()) if m else ("", option.strip())


def option_block(options: Sequence[str]) -> tuple[str, list[str]]:
    """Options as prompt text, and their letters.

    Options written as ``"B. a red cap"`` keep their letter; bare ones get
    ``A``, ``B``... in order.

    Example:
        >>> option_block(["a cup", "a bag"])
        ('Options:\\nA. a cup\\nB. a bag', ['A', 'B'])
    """
    lines, letters = [], []
    for i, opt in enumerate(options):
        letter, text = split_option(opt)
        letter = letter or chr(ord("A") + i)
        letters.append(letter)
        lines.append(f"{letter}. {text}")
    return "Options:\n" + "\n".join(lines), letters


def _turn_fields(turn: Any) -> tuple[Any, Any, Any]:
    """``(question, answer, at)`` of a turn given as an object or a dict."""
    if isinstance(turn, dict):
        return turn.get("question"), turn.get("answer"), turn.get("at")
    return getattr(turn, "question", None), getattr(turn, "answer", None), getattr(turn, "at", None)


def history_messages(history: Sequence[Any]) -> list[dict[str, Any]]:
    """Earlier turns (objects or dicts with ``question``, ``answer`` and ``at``) as chat messages.

    Example:
        >>> history_messages([{"question": "who?", "answer": "a man", "at": 12.0}])[0]["content"]
        'who? (asked at stream time 00:12)'
    """
    out: list[dict[str, Any]] = []
    for turn in history:
        q, a, at = _turn_fields(turn)
        if not q or a is None:
            continue
        when = f" (asked at stream time {format_ts(float(at))})" if at is not None else ""
        out.append({"role": "user", "content": f"{q}{when}"})
        out.append({"role": "assistant", "content": str(a)})
    return out


def history_text(history: Sequence[Any]) -> str:
    """Earlier turns as plain text, for a prompt that holds them in one message.

    Example:
        >>> history_text([{"question": "who?", "answer": "a man"}])
        'Earlier question: who?\\nYour answer: a man'
    """
    lines = []
    for turn in history:
        q, a, _ = _turn_fields(turn)
        if q and a is not None:
            lines.append(f"Earlier question: {q}\nYour answer: {a}")
    return "\n".join(lines)


def ask_text(question: str, at: float, options: Sequence[str] | None = None, *, reason: bool = True) -> str:
    """The question line of a prompt: its stream time, the question, and any options.

    Args:
        question: The user's words.
        at: Stream time it is asked at.
        options: Multiple-choice options; the model is told to answer with a letter first.
        reason: Also ask for a short reason after the letter.

    Example:
        >>> ask_text("who?", 12.0)
        'Question (asked at stream time 00:12): who?'
    """
    ask = f"Question (asked at stream time {format_ts(at)}): {question}"
    if options:
        block, letters = option_block(options)
        ask += f"\n{block}\nAnswer with the letter of the correct option ({', '.join(letters)}) first"
        ask += ", then a short reason." if reason else "."
    return ask


_LETTER_PATTERNS = (
    r"^\W*\(?([A-Z])\)?(?:[.):,\s]|$)",                                   # "B", "B.", "(B) ..."
    r"\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\)?(?:[.):,\s]|$)",  # "the answer is B"
)


def parse_choice(text: str, letters: Sequence[str], options: Sequence[str] | None = None) -> str | None:
    """The option letter a model's reply picks, or None.

    Looks for a leading letter (``"B"``, ``"(B) because..."``), then
    ``"answer is B"``, then the one option whose text the reply quotes.

    Example:
        >>> parse_choice("(C) a red umbrella", ["A", "B", "C"])
        'C'
        >>> parse_choice("The answer is B.", ["A", "B"])
        'B'
    """
    valid = {ln.upper() for ln in letters}
    head = text.strip()
    for pat in _LETTER_PATTERNS:
        for m in re.finditer(pat, head, flags=re.IGNORECASE | re.MULTILINE):
            letter = m.group(1).upper()
            if letter in valid and (m.group(1).isupper() or pat != _LETTER_PATTERNS[0]):
                return letter
    if options:
        low = head.lower()
        texts = [split_option(opt)[1].lower() for opt in options]
        found = [ltr for ltr, txt in zip(letters, texts, strict=False) if txt and txt in low]
        if len(found) == 1:
            return found[0].upper()
    return None


def parse_yes_no(text: str) -> bool | None:
    """True for a reply that starts with yes, False for no, None when it says neither.

    Example:
        >>> parse_yes_no("Yes - a person walks in at 00:12"), parse_yes_no("No."), parse_yes_no("maybe")
        (True, False, None)
    """
    m = re.match(r"\W*(yes|no|true|false|a|b)\b", text.strip(), flags=re.IGNORECASE)
    if not m:
        return None
    return m.group(1).lower() in ("yes", "true", "a")
