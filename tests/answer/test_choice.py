"""Multiple choice: each option is a predicate of the query language, checked against memory.

Scenario (``conftest``): a person in red enters from the right at 12 s and leaves through the left at
25 s; a scene cut at 20 s.
"""

from __future__ import annotations

import pytest

from onlook.answer.extractive import ExtractiveAnswerer, option_query
from onlook.query.model import Cmp, Edge, Event
from onlook.query.understand import understand

CASES = [
    # (question, options, at, chosen letter or None for an abstention)
    ("What colour was the person who came in wearing?", ["A. Blue", "B. Red", "C. Green"], 40.0, "B"),
    # an option resting on something perception cannot see is unknown, not fatal for the others
    ("What colour was the person who came in wearing?", ["A. A blue hat", "B. Red", "C. Green"], 40.0, "B"),
    ("Which side did the person leave through?", ["A. The left", "B. The right"], 40.0, "A"),
    ("Which side did the person come in from?", ["A. From the left", "B. From the right"], 40.0, "B"),
    ("Who is in view right now?", ["A. Nobody", "B. A man in red"], 15.0, "B"),
    ("Who is in view right now?", ["A. Nobody", "B. A man in red"], 35.0, "A"),
    ("Has the person left yet?", ["A. He has not left", "B. He left through the left"], 18.0, "A"),
    ("Has the person left yet?", ["A. He has not left", "B. He left through the left"], 40.0, "B"),
    ("What happened to the picture?", ["A. There was a scene cut", "B. Someone in green came in"], 40.0, "A"),
    ("How many people came in?", ["A. Two", "B. One", "C. None"], 40.0, "B"),
    # what can be checked of an option refutes it ("in green"); the one left rests on what cannot be seen
    ("Who is in view right now?", ["A. A man in green with a hat", "B. Nobody", "C. A man in red with glasses"],
     15.0, "C"),
    # two options are left open: no elimination
    ("Who is in view right now?", ["A. A man in red with a hat", "B. Nobody", "C. A man in red with glasses"],
     15.0, None),
    # a tie not detected is no evidence against it: "a helmet" is not chosen by elimination
    ("What is the person wearing?", ["A. A green coat", "B. A suit and a tie", "C. A helmet"], 15.0, None),
    # every option rests on what perception cannot see
    ("What is the person carrying?", ["A. A phone", "B. An umbrella"], 15.0, None),
    ("What was the weather like?", ["A. Rainy", "B. Sunny"], 15.0, None),
]


@pytest.mark.parametrize(("question", "options", "at", "letter"), CASES, ids=[f"{c[0]} {c[1]} @{c[2]}" for c in CASES])
def test_choice(make_view, question: str, options: list[str], at: float, letter: str | None) -> None:
    ans = ExtractiveAnswerer().choose(question, options, make_view(), at=at)
    assert ans.value == letter, ans.text
    assert ans.abstained == (letter is None)


def test_option_query_completes_the_option_with_the_question() -> None:
    q = understand("Which way did the woman in red leave?")
    o = option_query(q, "To the left")
    assert o is not None and o.event is Event.LEAVE and o.edge is Edge.LEFT and o.subject.colours == {"red"}
    o = option_query(understand("How many cars are parked?"), "Two cars")
    assert o is not None and o.compare is not None and (o.compare.op, o.compare.n) == (Cmp.EQ, 2)


@pytest.mark.parametrize(("question", "value", "note"), [
    # the colour picks the person out; the modifiers perception cannot check are said, not dropped
    ("When did the tall person in the red striped jacket leave?", 25.0, "not checked"),
    ("Did the blonde person in red come in?", True, "not checked"),
])
def test_colour_with_unchecked_modifiers_answers_and_says_so(make_view, question: str, value, note: str) -> None:
    ans = ExtractiveAnswerer().answer(question, make_view(), at=40.0)
    assert not ans.abstained and note in ans.text, ans.text
    assert ans.value == value or (isinstance(value, float) and abs(float(ans.value) - value) < 1.5), ans.text


@pytest.mark.parametrize("question", ["When did the person in a red hat leave?",  # the red may be the hat's
                                      "When did the person in red with glasses leave?"])
def test_colour_with_an_unseen_thing_still_abstains(make_view, question: str) -> None:
    assert ExtractiveAnswerer().answer(question, make_view(), at=40.0).abstained


def test_colour_options_are_unchecked_when_no_colour_was_measured(tmp_path) -> None:
    """A person seen without clothing colours: "a red hoodie" is not refuted by "nobody in red"."""
    import numpy as np

    from onlook.memory import Memory, Store
    from onlook.query.search import MemoryView
    from onlook.types import Analysis, Frame, Observation

    store = Store(tmp_path / "store")
    mem = Memory(store, "cam")
    img = np.zeros((48, 64, 3), np.uint8)
    for i in range(10):
        t = i * 0.5
        mem.add(Analysis(Frame("cam", i, t, 1000.0 + t, img),
                         [Observation(t, "person", "person", 0.9, (0.3, 0.2, 0.6, 0.9), 1, {})], 1.0, 1))
    view = MemoryView(store, live=mem, stream_id="cam")
    options = ["A. A red hoodie", "B. A cycling jersey and a helmet", "C. A yellow raincoat"]
    ans = ExtractiveAnswerer().choose("What is the man wearing?", options, view, at=4.5)
    assert ans.abstained and ans.value is None, ans.text  # never "B by elimination"
    store.close()


def test_two_described_people_each_wear_all_of_their_colours(tmp_path) -> None:
    """ "A man in red-and-navy and a woman in black": the option must hold for each of them, each one a
    person wearing all of their colours (the union "red, blue or black" fits people who left both ways)."""
    import numpy as np

    from onlook.memory import Memory, Store
    from onlook.query.search import MemoryView
    from onlook.types import Analysis, Frame, Observation

    exits = {3.0: (1, "left", ["blue", "gray"]), 5.0: (2, "left", ["black", "yellow"]),
             9.5: (3, "right", ["black", "purple"]), 10.0: (4, "right", ["black", "red", "blue"])}
    store = Store(tmp_path / "store")
    mem = Memory(store, "cam")
    img = np.zeros((48, 64, 3), np.uint8)
    for i in range(25):
        t = i * 0.5
        obs = []
        if t in exits:
            tid, edge, cols = exits[t]
            obs.append(Observation(t, "exit", "person", 0.9, (0.0, 0.3, 0.1, 0.9), tid, {"edge": edge, "colors": cols}))
        mem.add(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, 0))
    view = MemoryView(store, live=mem, stream_id="cam")
    question = ("Earlier, a man in a red-and-navy jacket and a woman in a black coat walked through together. "
                "How did they leave?")
    options = ["A. They went out through the left edge", "B. They have not left", "C. Through the right edge"]
    ans = ExtractiveAnswerer().choose(question, options, view, at=12.0)
    assert ans.value == "C", ans.text
    assert "00:10" in ans.text and "00:09" in ans.text, ans.text  # each person, at their own exit
    store.close()
