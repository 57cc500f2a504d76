"""The page's timeline gets what was said: the store's record carries speech, shaped as the live messages."""

from __future__ import annotations

from pathlib import Path

from onlook.memory import Store
from onlook.server.manager import MESSAGE_TYPES
from onlook.server.routes_events import parse_types
from onlook.server.routes_page import history
from onlook.types import SpeechSegment, Word


def test_history_carries_speech_like_the_live_feed(tmp_path: Path) -> None:
    with Store(tmp_path / "st") as st:
        st.add_speech(SpeechSegment("s", 2.0, 3.0, "hello there", (Word("hello", 2.0, 2.4), Word("there", 2.5, 3.0))))
        items = history(st.record(10, []), "cam")["events"]
    said = [m for m in items if m["type"] == "speech"]
    assert said == [{**SpeechSegment("s", 2.0, 3.0, "hello there", (Word("hello", 2.0, 2.4),
                                                                     Word("there", 2.5, 3.0))).to_dict(),
                     "stream": "cam"}]
    assert {"t", "end", "text"} <= set(said[0])


def test_speech_messages_can_be_subscribed_to() -> None:
    assert "speech" in MESSAGE_TYPES
    assert parse_types("speech,alert") == frozenset({"speech", "alert"})
