"""The shared text helpers of the query parsers."""

import pytest

from onlook.query.text import has_any, normalize


@pytest.mark.parametrize(("raw", "want"), [
    ("  Who’s   THERE? ", "who's there?"),
    ("a\tb\n c", "a b c"),
    ("", ""),
])
def test_normalize(raw: str, want: str) -> None:
    assert normalize(raw) == want


@pytest.mark.parametrize(("text", "words", "want"), [
    ("a man enters the room", {"enters"}, True),
    ("a man entered", {"enter"}, False),          # whole words only
    ("comes into view", ("into view",), True),    # phrases too
    ("who is there", (), False),
    ("a c++ book", {"c++"}, False),               # escaped, not a pattern (no word boundary after '+')
])
def test_has_any(text: str, words: set[str] | tuple[str, ...], want: bool) -> None:
    assert has_any(text, words) is want
