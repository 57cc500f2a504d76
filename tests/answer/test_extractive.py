"""Tests for onlook.answer.extractive and onlook.query.search over a synthetic memory.

The memory is fed with hand-built :class:`~onlook.types.Analysis` records (no footage, no
models), so every expected answer follows from the scenario below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from onlook.answer.extractive import CANNOT_SEE, ExtractiveAnswerer
from onlook.memory import Memory, Store
from onlook.query.search import MemoryView, query_labels, search
from onlook.types import Analysis, Answer, Frame, Observation

# Scenario, 0..60 s at 2 fps:
#   track 1 (blue)  enters at  2 s from the left and stays;
#   track 2 (red)   enters at 12 s from the right, leaves at 25 s;
#   track 3 (green) enters at 30 s from the left and stays;
#   on-screen text 'TAXI' at 15-16 s, 'NO ENTRY' at 45 s; scene cuts at 20 s and 50 s.
COLORS = {1: ["blue"], 2: ["red", "black"], 3: ["green"]}
BOXES = {1: (0.05, 0.2, 0.25, 0.9), 2: (0.7, 0.2, 0.9, 0.9), 3: (0.4, 0.2, 0.6, 0.9)}
ENTERS = {2.0: (1, "left"), 12.0: (2, "right"), 30.0: (3, "left")}
EXITS = {25.0: (2, "right")}
TEXTS = {15.0: "TAXI", 15.5: "TAXI", 16.0: "TAXI", 45.0: "NO ENTRY"}
CUTS = (20.0, 50.0)
END = 60.0


def visible(t: float) -> list[int]:
    return [k for at, (k, _) in ENTERS.items()
            if t >= at and not any(t >= e and k == ek for e, (ek, _) in EXITS.items())]


def scenario_analyses(step: float = 0.5, end: float = END) -> list[Analysis]:
    img = np.full((48, 64, 3), 80, np.uint8)
    out = []
    for i in range(int(end / step) + 1):
        t = round(i * step, 3)
        tracks = visible(t)
        obs = [Observation(t, "person", "person", 0.9, BOXES[k], k, {"colors": COLORS[k]}) for k in tracks]
        if t in ENTERS:
            k, edge = ENTERS[t]
            obs.append(Observation(t, "enter", "person", 0.9, BOXES[k], k, {"edge": edge, "colors": COLORS[k]}))
        if t in EXITS:
            k, edge = EXITS[t]
            obs.append(Observation(t, "exit", "person", 0.9, BOXES[k], k, {"edge": edge, "colors": COLORS[k]}))
        if t in TEXTS:
            label = TEXTS[t]
            obs.append(Observation(t, "text", label, 0.9, (0.4, 0.05, 0.6, 0.15), None,
                                   {"words": label.lower().split()}))
        if t in CUTS:
            obs.append(Observation(t, "scene_cut", "scene change", 0.9))
        if tracks:
            obs.append(Observation(t, "motion", "centre", 0.1, None, None, {"regions": ["centre"]}))
        out.append(Analysis(Frame("cam", i, t, 1000.0 + t, img), obs, 1.0, len(tracks)))
    return out


@dataclass
class World:
    store: Store
    memory: Memory
    view: MemoryView

    def ask(self, question: str, at: float | None) -> Answer:
        return ExtractiveAnswerer().answer(question, self.view, at=at)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    store = Store(tmp_path_factory.mktemp("extractive") / "store")
    memory = Memory(store, "cam")
    for a in scenario_analyses():
        memory.add(a)
    yield World(store, memory, MemoryView(store, live=memory, stream_id="cam"))
    store.close()


def evidence_times(ans: Answer) -> list[float]:
    return [e.t for e in ans.evidence]


def test_scenario_is_stored(world: World) -> None:
    assert world.view.now() == END
    assert world.store.last_time() == END
    assert len(world.store.events()) >= 4
    assert world.memory.open_event() is not None  # the last event is still open (live)
    kinds = [o.kind for o, _ in world.store.sightings()]
    assert kinds.count("enter") == 3 and kinds.count("scene_cut") == 2 and kinds.count("exit") == 1


# question, at, value, text fragment, evidence times (None: not checked)
CASES = [
    ("How many people are there right now?", END, 2, "2 people visible at 01:00", None),
    ("How many people are in view now?", 14.0, 2, "2 people visible at 00:14", None),
    ("how many people entered so far?", END, 3, "3 people entered the view", [2.0, 12.0, 30.0]),
    ("how many people entered so far?", 20.0, 2, "up to 00:20", [2.0, 12.0]),
    ("How many people entered in the last 40 seconds?", END, 1, "between 00:20 and 01:00", [30.0]),
    ("How many people in red entered?", END, 1, "1 person entered", [12.0]),
    ("How many scene changes were there?", END, 2, "2 scene changes", [20.0, 50.0]),
    # Shots are one more than the cuts between them; appearing people are everyone seen, not only entries.
    ("How many shots have there been?", END, 3, "3 shots up to 01:00 (2 cuts: at 00:20, 00:50)", [20.0, 50.0]),
    ("How many scenes were there in the last 20 seconds?", END, 2, "2 shots between 00:40 and 01:00 (1 cut", [50.0]),
    ("How many people appeared?", END, 3, "3 people seen up to 01:00", None),
    # When nobody was there, and how long one described person stayed.
    ("When was the room empty?", END, 0.0, "Empty from 00:00 to 00:02.", [0.0]),
    ("When was the room empty?", 1.0, None, "never empty up to 00:01", None),  # shorter than a moment so far
    ("How long did the person in red stay?", END, 12.5, "someone in red was in view from 00:12 to 00:24", [12.0]),
    ("How long was the person in green here?", 40.0, 10.0, "from 00:30 to 00:40", [30.0]),
    ("when did someone in red first appear?", END, 12.0, "At 00:12", [12.0]),
    ("When did someone first enter?", END, 2.0, "At 00:02", [2.0, 12.0, 30.0]),
    ("When did the last person enter?", END, 30.0, "At 00:30", None),
    ("When did someone leave?", END, 25.0, "At 00:25", [25.0]),
    ("when was the first scene change?", END, 20.0, "At 00:20", [20.0, 50.0]),
    ("When was the last scene change?", END, 50.0, "At 00:50", None),
    ('When did the word "TAXI" appear?', END, 15.0, "At 00:15", [15.0]),
    ("what does the sign say?", END, "NO ENTRY", "It reads 'NO ENTRY'", [15.0, 45.0]),
    ("what does the sign say?", 30.0, "TAXI", "It reads 'TAXI'", [15.0]),
    ("Is anyone in red here now?", 14.0, True, "Yes", None),
    ("Is anyone in red here now?", END, False, "No", None),
    ("What colour was the person who entered at first?", END, "blue", "blue", None),
    # for an entry or exit, "which side" / "how" asks for the edge
    ("Which side did the last person come in through?", END, "left", "came in through the left edge, at 00:30",
     [30.0]),
    ("how did the person in red leave?", END, "right", "left through the right edge, at 00:25", [25.0]),
    ("Which way did the second person enter?", END, "right", "through the right edge, at 00:12", [12.0]),
]


@pytest.mark.parametrize(("question", "at", "value", "fragment", "evidence"), CASES,
                         ids=[f"{q}@{at:g}" for q, at, *_ in CASES])
def test_answers(world: World, question: str, at: float, value: object, fragment: str,
                 evidence: list[float] | None) -> None:
    ans = world.ask(question, at)
    assert not ans.abstained, ans.text
    assert ans.value == value, ans.text
    assert fragment in ans.text
    assert ans.at == at and 0.0 < ans.confidence <= 1.0
    if evidence is not None:
        assert evidence_times(ans) == evidence
    assert ans.to_dict()["type"] == "answer"


@pytest.mark.parametrize("question", ["what is he wearing on his head?", "Is the dog barking?",
                                      "Did the man open the boot of the car?"])
@pytest.mark.parametrize("at", [10.0, END])
def test_abstains_on_what_perception_cannot_see(world: World, question: str, at: float) -> None:
    ans = world.ask(question, at)
    assert ans.abstained and ans.confidence == 0.0
    assert ans.text.startswith(CANNOT_SEE)
    assert ans.value is None and ans.evidence == ()


@pytest.mark.parametrize("at", [10.0, END])
def test_holding_without_hands_seen_is_no_claim(world: World, at: float) -> None:
    ans = world.ask("what is he carrying?", at)  # people in view, but no hand was ever seen to check
    assert ans.abstained and ans.confidence == 0.0 and "saw no hands" in ans.text and ans.value is None


def test_default_at_is_now(world: World) -> None:
    ans = ExtractiveAnswerer().answer("How many people are there right now?", world.view)
    assert ans.at == END and ans.value == 2


# Asked at t=10 the store already holds the whole minute; nothing after 10 s may be used.
CAUSAL = [
    ("How many people are there right now?", 1),
    ("how many people entered so far?", 1),
    ("when did someone in red first appear?", None),
    ("when was the first scene change?", None),
    ("How many scene changes were there?", 0),
    ("what does the sign say?", None),
    ('When did the word "TAXI" appear?', None),
    ("When did someone leave?", None),
    ("Is anyone in red here now?", False),
]


@pytest.mark.parametrize(("question", "value"), CAUSAL, ids=[q for q, _ in CAUSAL])
def test_answers_are_causal(world: World, question: str, value: object) -> None:
    ans = world.ask(question, 10.0)
    assert ans.value == value, ans.text
    assert all(t <= 10.0 for t in evidence_times(ans))
    assert all(e.end is None or e.end <= 10.0 for e in ans.evidence)
    assert ans.span is None or ans.span[0] <= 10.0
    for later in ("00:12", "00:15", "00:20", "00:25", "00:30", "TAXI", "red"):
        assert later not in ans.text or later in question


def test_view_events_are_clipped_at_until(world: World) -> None:
    for e in world.view.events(until=10.0):
        assert e.end <= 10.0
        assert all(o.t <= 10.0 for o in e.observations)
    assert world.view.state_at(10.0)["t"] == 10.0
    assert world.view.state_at(10.0)["people"] == 1


def test_search_ranks_red_person_entering_first(world: World) -> None:
    hits = search(world.view, "person in red entering")
    assert hits, "no hits"
    assert hits[0].start <= 12.0 <= hits[0].end
    assert "entered (right red black)" in hits[0].description
    assert hits[0].stream_id == "cam"
    assert all(h.score <= hits[0].score for h in hits)


def test_search_is_causal(world: World) -> None:
    for text in ("person entering", "person in red entering", "scene cut", "person leaving"):
        assert all(h.end <= 10.0 for h in search(world.view, text, until=10.0)), text
    # Nobody in red had entered by 10 s: at best a partial match (a person entering).
    hits = search(world.view, "person in red entering", until=10.0)
    assert all(h.score < 1.0 for h in hits)
    assert search(world.view, "scene cut", until=10.0) == []


@pytest.mark.parametrize(
    ("text", "first_span_contains"),
    [('the word "TAXI"', 15.0), ("scene cut", 20.0), ("person leaving", 25.0), ("person in green", 30.0)],
)
def test_search_finds_moments(world: World, text: str, first_span_contains: float) -> None:
    hits = search(world.view, text)
    assert hits and hits[0].start <= first_span_contains <= hits[0].end


def test_search_without_matches_is_empty(world: World) -> None:
    assert search(world.view, "a purple face") == []
    # Only part of the query matches (people, but none in purple): no hit scores as a full match.
    assert all(h.score < 1.0 for h in search(world.view, "person in purple"))


@pytest.mark.parametrize(
    ("text", "labels", "rest"),
    [
        ("person in red entering", ["person", "person:red", "enter", "enter:red"], []),
        ('the word "TAXI"', ["word:taxi"], ["word"]),
        ("scene cut", ["scene_cut"], []),
        ("motion in the lower left", ["motion", "region:lower left"], []),
        ("red", ["red"], []),
        ("person near the van", ["car", "truck", "person"], []),
    ],
)
def test_query_labels(text: str, labels: list[str], rest: list[str]) -> None:
    assert query_labels(text) == (labels, rest)


def test_closed_store_answers_the_same(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with Store(path) as store:
        memory = Memory(store, "cam")
        for a in scenario_analyses():
            memory.add(a)
        memory.flush()
    with Store(path, readonly=True) as ro:
        view = MemoryView(ro)
        assert view.now() == END
        a = ExtractiveAnswerer()
        assert a.answer("how many people entered so far?", view).value == 3
        assert a.answer("when did someone in red first appear?", view).value == 12.0
        assert a.answer("how many people entered so far?", view, at=10.0).value == 1


# --- regressions (bugs found by the first test pass, now fixed) ---


def test_describe_does_not_leak_the_future(world: World) -> None:
    ans = world.ask("what happened?", 13.0)
    assert "TAXI" not in ans.text and "00:19" not in ans.text


def test_search_does_not_leak_the_future(world: World) -> None:
    assert search(world.view, 'the word "TAXI"', until=13.0) == []


def test_count_so_far_counts_different_people(world: World) -> None:
    assert world.ask("how many people did you see so far?", END).value == 3


@pytest.mark.parametrize("question", ["when did someone in red first appear?", "When did someone leave?"])
def test_not_seen_reply_reads_well(world: World, question: str) -> None:
    text = world.ask(question, 10.0).text
    assert "was first seen up to" not in text and "someone left the view up to" not in text


def test_search_prefers_the_red_person_who_enters(tmp_path: Path) -> None:
    img = np.zeros((48, 64, 3), np.uint8)
    with Store(tmp_path / "s") as store:
        memory = Memory(store, "cam")
        for i in range(81):
            t = i * 0.5
            tracks = [1] if t < 20 else []
            tracks += [2] if t >= 10 else []
            tracks += [3] if t >= 30 else []
            cols = {1: ["red"], 2: ["green"], 3: ["red"]}
            obs = [Observation(t, "person", "person", 0.9, BOXES[k], k, {"colors": cols[k]}) for k in tracks]
            if t == 10.0:
                obs.append(Observation(t, "enter", "person", 0.9, BOXES[2], 2, {"edge": "left", "colors": ["green"]}))
            if t == 20.0:
                obs.append(Observation(t, "exit", "person", 0.9, BOXES[1], 1, {"edge": "left", "colors": ["red"]}))
            if t == 30.0:
                obs.append(Observation(t, "enter", "person", 0.9, BOXES[3], 3, {"edge": "left", "colors": ["red"]}))
            memory.add(Analysis(Frame("cam", i, t, t, img), obs, 1.0, len(tracks)))
        hits = search(MemoryView(store, live=memory), "person in red entering")
        assert hits[0].start <= 30.0 <= hits[0].end


@pytest.mark.parametrize(("question", "fragment"), [
    ("how did the person in green leave?", "nobody in green left the view"),
    ("When did someone leave through the left edge?", "nobody left the view through the left edge"),
])
def test_nothing_found_names_the_filters_applied(world: World, question: str, fragment: str) -> None:
    ans = world.ask(question, END)
    assert not ans.abstained and ans.value is None and fragment in ans.text, ans.text


# One shot as a time range: cuts at 20 s and 50 s make shots [0, 20), [20, 50) and [50, now].
@pytest.mark.parametrize(("question", "at", "value", "fragment"), [
    ("How many people were in the previous shot?", END, 3, "between 00:20 and 00:49"),
    ("How many people were in the first shot?", END, 2, "between 00:00 and 00:19"),
    ("Was anyone in the second shot?", END, True, "between 00:20 and 00:49"),
    ("How many people came in during the current shot?", END, 0, "0 people entered"),
    ("How many people came in during the shot before this one?", END, 1, "(at 00:30)"),
    ("How many people entered in the previous shot?", 30.0, 2, "between 00:00 and 00:19"),
])
def test_a_shot_is_a_time_range(world: World, question: str, at: float, value: object, fragment: str) -> None:
    ans = world.ask(question, at)
    assert not ans.abstained and ans.value == value and fragment in ans.text, ans.text


@pytest.mark.parametrize(("question", "at", "fragment"), [
    ("How many people were in the previous shot?", 10.0, "no shot before the current one yet"),
    ("Was anyone in the fourth shot?", END, "only 3 shots so far"),
])
def test_a_shot_that_has_not_happened_is_said_so(world: World, question: str, at: float, fragment: str) -> None:
    ans = world.ask(question, at)
    assert fragment in ans.text and ans.value in (None, 0, False), ans.text


def test_shot_zero_is_the_current_shot(world: World) -> None:
    from onlook.query.model import Ask, Event, Query, Subject, TimeKind, TimeRange
    from onlook.vocabulary import Label
    q = Query(ask=Ask.COUNT, subject=Subject(labels=frozenset({Label.PERSON})), event=Event.ENTER,
              time=TimeRange(TimeKind.SHOT, shot=0))
    ans = ExtractiveAnswerer().answer_query("how many came in during shot 0?", q, world.view, END)
    assert ans.value == 0 and "between 00:50 and 01:00" in ans.text, ans.text  # not the previous shot (1 entry)


@pytest.mark.parametrize(("question", "value", "fragment"), [
    ("Is anyone standing still?", True, "Yes: 1 person standing still visible at 00:05"),
    ("How many people are walking right now?", 1, "1 person moving visible at 00:05"),
    ("How many people are moving on the left?", 0, "0 people moving on the left"),
    ("How many people are there?", 2, "2 people visible"),
])
def test_people_moving_or_standing_still_now(remember, question: str, value: object, fragment: str) -> None:
    # Track 1 stands on the left; track 2 walks on the right (the people tracker's "static" and "moving").
    def seen(t: float) -> tuple[list[Observation], int]:
        x = 0.7 - 0.04 * t
        return [Observation(t, "person", "person", 0.9, (0.05, 0.2, 0.25, 0.9), 1, {"state": "static"}),
                Observation(t, "person", "person", 0.9, (x, 0.2, x + 0.2, 0.9), 2, {"state": "moving"})], 2

    ans = ExtractiveAnswerer().answer(question, remember([seen] * 11), at=5.0)
    assert not ans.abstained and ans.value == value, ans.text
    assert fragment in ans.text, ans.text


def test_a_person_lost_inside_the_picture_is_not_said_to_have_left_through_an_edge(remember) -> None:
    def lost(t: float) -> tuple[list[Observation], int]:
        return [Observation(t, "exit", "person", 0.9, (0.4, 0.2, 0.6, 0.9), 1, {"edge": "inside"})], 0

    def nothing(t: float) -> tuple[list[Observation], int]:
        return [], 0

    ans = ExtractiveAnswerer().answer("When did someone leave?", remember([nothing, nothing, lost, nothing]), at=2.0)
    assert ans.value == 1.0 and "lost from view inside the picture" in ans.text, ans.text
