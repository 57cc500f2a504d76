"""Dialogue: follow-up detection and retrieval (pure), conversations stored with the stream."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from onlook.answer.base import AnswerStream, BaseAnswerer
from onlook.answer.dialogue import Conversations, Turn, followup_query, is_followup
from onlook.answer.extractive import ExtractiveAnswerer
from onlook.memory import Store
from onlook.types import Answer, Evidence


@pytest.mark.parametrize("question,expected", [
    ("and after that?", True),
    ("what colour was it?", True),
    ("what was he carrying?", True),
    ("what about the woman?", True),
    ("what happened next?", True),
    ("how many people entered?", False),
    ("when did someone in red first appear?", False),
    ("", False),
])
def test_is_followup(question, expected):
    assert is_followup(question) is expected


def test_followup_query_uses_previous_turn_and_after_that():
    hist = [Turn("how many people entered?", "2", 50.0),
            Turn("when did the man in red enter?", "at 00:12", 60.0, span=(12.0, 14.0))]
    assert followup_query("and after that?", hist) == ("when did the man in red enter? and after that?", 14.0)
    assert followup_query("what colour was his bag?", hist) == (
        "when did the man in red enter? what colour was his bag?", None)
    assert followup_query("how many people are visible now?", hist) == ("how many people are visible now?", None)
    assert followup_query("and after that?", []) == ("and after that?", None)
    # Evidence times stand in for a span; dict turns (as a server keeps them) work too.
    d = [{"question": "who left?", "answer": "someone at 00:30", "at": 40.0, "evidence": [30.0, 31.5]}]
    assert followup_query("what happened next?", d) == ("who left? what happened next?", 31.5)


def test_turns_survive_restart_in_the_store_folder(tmp_path):
    store = Store(tmp_path / "s")
    convs = Conversations(store)
    chat = convs.conversation("c1")
    a = Answer("when did the man in red enter?", "at 00:12", 40.0, 0.8, value=12.0, span=(12.0, 14.0),
               evidence=(Evidence(12.0, "entry"),))
    convs.add("c1", a.question, a)
    convs.add("c1", "and after that?", "he left at 00:25", at=41.0)
    convs.close()
    store.close()
    # Reopen everything: the turns come back in order, with span, evidence and value.
    store = Store(tmp_path / "s")
    convs = Conversations(store)
    hist = convs.conversation("c1").history()
    assert [t.question for t in hist] == ["when did the man in red enter?", "and after that?"]
    assert hist[0].span == (12.0, 14.0) and hist[0].evidence == (12.0,) and hist[0].value == 12.0
    assert hist[1].answer == "he left at 00:25" and hist[1].at == 41.0
    assert chat.id in convs.ids()
    # Stored in the stream's own database, next to its events.
    tables = {r[0] for r in sqlite3.connect(store.db_path).execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "conversation_turns", "events"} <= tables
    convs.close()
    store.close()


def test_history_is_bounded_and_old_conversations_go(tmp_path):
    convs = Conversations(tmp_path / "s", max_turns=3, max_conversations=2)
    for i in range(5):
        convs.add("a", f"q{i}", f"a{i}", at=float(i))
    assert [t.question for t in convs.history("a")] == ["q2", "q3", "q4"]
    assert [t.question for t in convs.history("a", limit=1)] == ["q4"]
    convs.add("b", "q", "a", at=0.0)
    convs.add("c", "q", "a", at=0.0)
    assert set(convs.ids()) == {"b", "c"} and convs.history("a") == []
    convs.close()


def test_conversation_writes_while_the_store_writes(tmp_path, make_view):
    view = make_view(end=20.0)  # the store is open for writing by this process's ingest side
    convs = Conversations(view.store)
    errors: list[BaseException] = []

    def talk(cid: str) -> None:
        try:
            for i in range(20):
                convs.add(cid, f"q{i}", f"a{i}", at=float(i))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=talk, args=(c,)) for c in ("x", "y")]
    for th in threads:
        th.start()
    for i in range(50):
        view.store.add_frame(100.0 + i, i, 0.0, 0, 0.0, 1.0, [])
    for th in threads:
        th.join(10)
    assert not errors and len(convs.history("x")) == 20 and len(convs.history("y")) == 20
    convs.close()


class _HistoryEcho(BaseAnswerer):
    """An answerer that answers with how many earlier turns it was shown."""

    takes_history = True
    streams = True

    def __init__(self) -> None:
        self.seen: list[list[Turn]] = []

    def answer(self, question, view, at=None, *, history=()):
        self.seen.append(list(history))
        return Answer(question, f"{len(history)} earlier turns", view.now() if at is None else at, 0.5)

    def stream_answer(self, question, view, at=None, *, options=None, history=()):
        def run(stream):
            stream.started(33.0)
            return iter(["streamed ", f"after {len(history)}"])

        return AnswerStream(run)


def test_conversation_feeds_history_to_answerers_that_take_it(tmp_path, make_view):
    view = make_view()
    convs = Conversations(view.store)
    chat = convs.conversation()
    echo = _HistoryEcho()
    assert chat.ask(echo, "who came in?", view).text == "0 earlier turns"
    assert chat.ask(echo, "and after that?", view).text == "1 earlier turns"
    assert echo.seen[1][0].question == "who came in?"
    assert "".join(chat.stream(echo, "what colour was it?", view)) == "streamed after 2"
    assert [t.question for t in chat.history()][-1] == "what colour was it?"
    assert chat.history()[-1].at == 33.0  # the time the stream itself was answered at
    # The extractive answerer takes no history: it gets the question as it is.
    ans = chat.ask(ExtractiveAnswerer(), "how many people entered so far?", view)
    assert ans.value == 1 and len(chat.history()) == 4
    convs.close()
