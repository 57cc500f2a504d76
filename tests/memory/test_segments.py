"""Tests for onlook.memory.segments: cutting analyses into events and describing them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from onlook.memory.segments import Segmenter, event_labels, summarize
from onlook.types import Analysis, Event, Frame, Observation

_IMG = np.zeros((8, 8, 3), np.uint8)


def analysis(t: float, obs: Iterable[Observation] = (), people: int = 0,
             embedding: np.ndarray | None = None) -> Analysis:
    return Analysis(Frame("cam", int(round(t * 2)), t, 1000.0 + t, _IMG), list(obs), 1.0, people, embedding)


def person(t: float, track: int, colors: list[str], kind: str = "person", **attrs: object) -> Observation:
    return Observation(t, kind, "person", 0.9, (0.1, 0.2, 0.3, 0.9), track, {"colors": colors, **attrs})


def feed(seg: Segmenter, analyses: Iterable[Analysis]) -> list[Event]:
    out = []
    for a in analyses:
        ev = seg.push(a)
        if ev is not None:
            out.append(ev)
    return out


@pytest.mark.parametrize("max_len_s", [5.0, 10.0, 30.0])
def test_constant_input_gives_few_long_events_bounded_by_max_len(max_len_s: float) -> None:
    seg = Segmenter("cam", max_len_s=max_len_s)
    rng = np.random.default_rng(0)
    base = rng.normal(size=16).astype(np.float32)
    analyses = []
    for i in range(120):  # 60 s at 2 fps of one person standing still (tiny embedding noise)
        t = i * 0.5
        emb = base + 0.001 * rng.normal(size=16).astype(np.float32)
        analyses.append(analysis(t, [person(t, 1, ["red"])], people=1, embedding=emb / np.linalg.norm(emb)))
    events = feed(seg, analyses)
    last = seg.flush()
    assert last is not None
    events.append(last)
    assert len(events) == pytest.approx(60 / max_len_s, abs=1)
    for e in events:
        assert e.end - e.start <= max_len_s
        assert e.people_max == 1 and e.stream_id == "cam"
    # Events tile the stream: each starts where the previous one's boundary analysis was.
    assert events[0].start == 0.0 and events[-1].end == 59.5
    for a, b in zip(events, events[1:]):
        assert b.start == pytest.approx(a.end + 0.5)
    assert seg.flush() is None and seg.current() is None


def test_person_observation_kept_once_per_track() -> None:
    seg = Segmenter("cam")
    feed(seg, [analysis(i * 0.5, [person(i * 0.5, 1, ["red"]), person(i * 0.5, 2, ["blue"])], people=2)
               for i in range(10)])
    ev = seg.current()
    assert ev is not None
    assert sorted(o.track_id for o in ev.observations if o.kind == "person") == [1, 2]


@pytest.mark.parametrize(
    "boundary",
    [
        Observation(5.0, "scene_cut", "scene change"),
        Observation(5.0, "enter", "person", 0.9, (0.8, 0.2, 1.0, 0.9), 7, {"edge": "right", "colors": ["red"]}),
        Observation(5.0, "exit", "person", 0.9, (0.0, 0.2, 0.2, 0.9), 1, {"edge": "left"}),
    ],
    ids=["scene_cut", "enter", "exit"],
)
def test_hard_observation_closes_event(boundary: Observation) -> None:
    seg = Segmenter("cam")
    closed = feed(seg, [analysis(i * 0.5, people=1) for i in range(10)])  # 0.0 .. 4.5
    assert closed == []
    ev = seg.push(analysis(5.0, [boundary], people=1))
    assert ev is not None and (ev.start, ev.end) == (0.0, 4.5)
    assert boundary not in ev.observations
    cur = seg.current()  # the boundary analysis starts the next event
    assert cur is not None and cur.start == 5.0 and cur.observations == [boundary]
    assert seg.closed_key is not None


def test_hard_observation_on_first_analysis_does_not_close() -> None:
    seg = Segmenter("cam")
    assert seg.push(analysis(0.0, [Observation(0.0, "scene_cut", "scene change")])) is None
    assert seg.current() is not None


def test_current_returns_open_event_without_closing_it() -> None:
    seg = Segmenter("cam")
    assert seg.current() is None
    feed(seg, [analysis(t, people=2) for t in (1.0, 1.5, 2.0)])
    cur = seg.current()
    assert cur is not None and (cur.start, cur.end, cur.people_max, cur.id) == (1.0, 2.0, 2, None)
    seg.push(analysis(2.5, people=3))
    cur2 = seg.current()
    assert cur2 is not None and (cur2.start, cur2.end, cur2.people_max) == (1.0, 2.5, 3)
    flushed = seg.flush()
    assert flushed is not None and flushed.end == 2.5
    assert seg.current() is None


def test_curvature_turn_closes_event() -> None:
    # A long quiet stretch, then the picture turns sharply (another embedding): a soft boundary.
    seg = Segmenter("cam", max_len_s=1000.0)
    a_vec = np.eye(8, dtype=np.float32)[0]
    b_vec = np.eye(8, dtype=np.float32)[5]
    analyses = [analysis(i * 0.5, embedding=a_vec) for i in range(20)]
    analyses += [analysis(10.0 + i * 0.5, embedding=b_vec) for i in range(20)]
    events = feed(seg, analyses)
    assert len(events) == 1 and events[0].end == 9.5
    assert events[0].embedding is not None
    np.testing.assert_allclose(events[0].embedding, a_vec, atol=1e-6)


def test_event_salience_and_keyframe() -> None:
    seg = Segmenter("cam")
    feed(seg, [analysis(0.0, people=1), analysis(0.5, [Observation(0.5, "text", "TAXI", attrs={"words": ["taxi"]})],
                                                    people=1), analysis(1.0, people=2)])
    ev = seg.flush()
    assert ev is not None
    assert ev.salience == pytest.approx(0.6)  # text
    assert ev.keyframe_t == 0.5  # the frame with text beats one more person
    assert seg.closed_key is not None and seg.closed_key.frame.pts == 0.5


@pytest.mark.parametrize(
    ("obs", "people_max", "people_last", "expected", "absent"),
    [
        ([], 0, 0, ["00:00-00:10", "no people seen"], ["entered"]),
        ([], 3, 2, ["3 people visible at most (2 at the end)"], ["no people"]),
        ([], 1, 1, ["1 person visible at most"], []),
        ([person(2.0, 1, ["red", "black", "white"], "enter", edge="right"), person(4.0, 2, [], "enter", edge="left")],
         2, 2, ["2 entered (right red black; left)"], ["white"]),
        ([person(6.0, 1, ["blue"], "exit", edge="left")], 1, 0, ["1 left (left blue)"], []),
        ([Observation(3.0, "text", "TAXI"), Observation(4.0, "text", "TAXI"), Observation(5.0, "text", "NO ENTRY")],
         0, 0, ["text: 'TAXI', 'NO ENTRY'"], []),
        ([Observation(3.0, "scene_cut", "scene change")], 0, 0, ["; scene change"], ["scene changes"]),
        ([Observation(3.0, "scene_cut", "x"), Observation(6.0, "scene_cut", "x")], 0, 0, ["2 scene changes"], []),
        ([Observation(3.0, "face", "face", attrs={"count": 2})], 1, 1, ["faces seen"], []),
        ([Observation(3.0, "color", "green", attrs={"colors": {"green": 0.5, "gray": 0.3}})], 0, 0,
         ["colours: green, gray"], []),
    ],
)
def test_summarize(obs: list[Observation], people_max: int, people_last: int, expected: list[str],
                   absent: list[str]) -> None:
    s = summarize(0.0, 10.0, obs, people_max, people_last)
    assert s.startswith("00:00-00:10; ")
    for part in expected:
        assert part in s
    for part in absent:
        assert part not in s


def test_event_summary_mentions_people_entries_and_text() -> None:
    seg = Segmenter("cam")
    feed(seg, [analysis(i * 0.5, [person(i * 0.5, 1, ["blue"])], people=1) for i in range(6)])
    entered = seg.push(analysis(3.0, [person(3.0, 1, ["blue"]), person(3.0, 2, ["red"]),
                                      person(3.0, 2, ["red"], "enter", edge="right")], people=2))
    assert entered is not None and "1 person visible at most" in entered.summary
    seg.push(analysis(3.5, [person(3.5, 1, ["blue"]), person(3.5, 2, ["red"]),
                            Observation(3.5, "text", "TAXI", attrs={"words": ["taxi"]})], people=2))
    ev = seg.flush()
    assert ev is not None
    assert ev.summary == ("00:03-00:03; 2 people visible at most (2 at the end); 1 entered (right red); "
                          "text: 'TAXI'")
    assert {"person", "enter", "person:red", "red", "text", "word:taxi"} <= set(ev.labels)


@pytest.mark.parametrize(
    ("obs", "people_max", "expected"),
    [
        ([], 0, []),
        ([], 2, ["person"]),
        ([person(1.0, 1, ["red"], "enter", region="lower left")], 0,
         ["enter", "enter:red", "person", "person:red", "red", "region:lower left"]),
        ([person(1.0, 1, ["blue"], "exit")], 0, ["blue", "exit", "exit:blue", "person", "person:blue"]),
        ([Observation(1.0, "scene_cut", "cut")], 0, ["scene_cut"]),
        ([Observation(1.0, "face", "face")], 0, ["face"]),
        ([Observation(1.0, "text", "NO ENTRY", attrs={"words": ["no", "entry"]})], 0,
         ["text", "word:entry", "word:no"]),
        ([Observation(1.0, "motion", "x", attrs={"regions": ["lower left", "centre"]})], 0,
         ["motion", "motion:centre", "motion:lower left"]),
        ([Observation(1.0, "color", "green", attrs={"colors": {"green": 0.5}})], 0, ["scene:green"]),
    ],
)
def test_event_labels(obs: list[Observation], people_max: int, expected: list[str]) -> None:
    assert event_labels(obs, people_max) == expected
