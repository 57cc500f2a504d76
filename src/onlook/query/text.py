"""Text helpers the query parsers share: one normal form and whole-word matching.

The question parser (:mod:`onlook.query.parse`), the alert compiler
(:mod:`onlook.query.alerts`) and the speech parser (:mod:`onlook.query.speech`)
read the same normalised text, so a phrase matches in one exactly as in the
others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["has_any", "normalize"]


def normalize(text: str) -> str:
    """Lower-case ``text``, straighten curly apostrophes and collapse whitespace.

    Example:
        >>> normalize("  Who’s   THERE? ")
        "who's there?"
    """
    return re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip()


def has_any(text: str, words: Iterable[str]) -> bool:
    """Whether any of ``words`` (or phrases) occurs in ``text`` as whole words.

    Example:
        >>> has_any("a man enters the room", {"enter", "enters"})
        True
        >>> has_any("a man re-entered", {"enter"})
        False
    """
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)
