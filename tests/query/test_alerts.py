"""Tests for onlook.query.alerts: compiling alert queries and the AlertBook's hysteresis."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np
import pytest

from onlook.errors import QueryError, UnsupportedQuery
from onlook.query.alerts import SUPPORTED_HINT, AlertBook, Rule, RuleKind, compile_alert
from onlook.types import Alert, Analysis, Frame, Observation, ObservationKind

# --- compile_alert ---------------------------------------------------------------------------

# query, kind, colors, words, region, count, expected exception
ALERTS = [
    ("someone in a red jacket appears", "person_color", ("red",), (), None, 0, None),
    ("someone wearing a red shirt appears", "person_color", ("red",), (), None, 0, None),
    ("a person in a grey coat walks in", "enter", ("gray",), (), None, 0, None),
    ("a person enters", "enter", (), (), None, 0, None),
    ("someone enters in the top left corner", "enter", (), (), "upper left", 0, None),
    ("someone is visible", "count_above", (), (), None, 1, None),
    ("a person is present", "count_above", (), (), None, 1, None),
    ("when the room is not empty", "count_above", (), (), None, 1, None),
    ("when the room becomes empty", "count_below", (), (), None, 1, None),
    ("3+ people visible", "count_above", (), (), None, 3, None),
    ("the number of people drops below 3", "count_below", (), (), None, 3, None),
    ("exactly two people are in view", "count_equal", (), (), None, 2, None),
    ("someone leaves", "exit", (), (), None, 0, None),
    ("a person in blue leaves", "exit", ("blue",), (), None, 0, None),
    ("the word TAXI appears", "text", (), ("taxi",), None, 0, None),
    ('the word "Open" shows up', "text", (), ("open",), None, 0, None),
    ("NO ENTRY", "text", (), ("no", "entry"), None, 0, None),
    ("a scene change", "scene_cut", (), (), None, 0, None),
    ("a cut", "scene_cut", (), (), None, 0, None),
    ("motion in the lower left", "motion", (), (), "lower left", 0, None),
    ("movement in the top right", "motion", (), (), "upper right", 0, None),
    ("any activity", "motion", (), (), None, 0, None),
    ("a face appears", "face", (), (), None, 0, None),
    ("more than 3 people", "count_above", (), (), None, 4, None),
    ("at least two people", "count_above", (), (), None, 2, None),
    ("five or more people", "count_above", (), (), None, 5, None),
    ("a crowd", "count_above", (), (), None, 5, None),
    ("fewer than 2 people", "count_below", (), (), None, 2, None),
    ("nobody is there", "count_below", (), (), None, 1, None),
    # Things perception cannot see are refused at once.
    ("a dog barks", None, (), (), None, 0, UnsupportedQuery),
    ("someone opens the boot of a car", None, (), (), None, 0, UnsupportedQuery),
    ("the man opens his mouth", "state", (), (), None, 0, None),
    ("someone closes their eyes", "state", (), (), None, 0, None),
    ("a hand appears", "hand", (), (), None, 0, None),
    ("the man opens the door", None, (), (), None, 0, UnsupportedQuery),
    ("someone carrying a bag enters", None, (), (), None, 0, UnsupportedQuery),
    ("hello there", None, (), (), None, 0, UnsupportedQuery),
    ("the sign says hello", None, (), (), None, 0, UnsupportedQuery),  # words must be quoted/CAPS
    ("text appears", None, (), (), None, 0, UnsupportedQuery),
    ("", None, (), (), None, 0, UnsupportedQuery),
    ("   ", None, (), (), None, 0, UnsupportedQuery),
]


@pytest.mark.parametrize(("query", "kind", "colors", "words", "region", "count", "error"), ALERTS,
                         ids=[repr(a[0]) for a in ALERTS])
def test_compile_alert(query: str, kind: str | None, colors: tuple[str, ...], words: tuple[str, ...],
                       region: str | None, count: int, error: type[Exception] | None) -> None:
    if error is not None:
        with pytest.raises(error) as info:
            compile_alert(query)
        assert "\n" not in str(info.value)
        return
    rule = compile_alert(query)
    assert rule == Rule(query, kind, colors=colors, words=words, region=region, count=count, states=rule.states,
                        raised=rule.raised, edge=rule.edge)
    assert type(rule.kind) is RuleKind and rule.kind == kind
    assert bool(rule.states) == (kind == "state")


# Objects: (query, kind, labels, colours, region, count).
OBJECT_ALERTS = [
    ("alert when a dog appears", "appear", ("dog",), (), None, 0),
    ("a car in the lower left", "appear", ("car",), (), "lower left", 0),
    ("a red car shows up", "appear", ("car",), ("red",), None, 0),
    ("a bicycle comes into view in the lower left", "appear", ("bicycle",), (), "lower left", 0),
    ("a van arrives", "appear", ("car", "truck"), (), None, 0),
    ("the car leaves", "disappear", ("car",), (), None, 0),
    ("the car left", "disappear", ("car",), (), None, 0),
    ("someone takes the laptop", "disappear", ("laptop",), (), None, 0),
    ("more than 3 cars", "count_above", ("car",), (), None, 4),
    ("two or more bikes", "count_above", ("bicycle",), (), None, 2),
    ("fewer than 2 parked cars", "count_below", ("car",), (), None, 2),
    ("tell me when there are three cars", "count_above", ("car",), (), None, 3),  # a bare number: that many
]


@pytest.mark.parametrize(("query", "kind", "labels", "colors", "region", "count"), OBJECT_ALERTS,
                         ids=[a[0] for a in OBJECT_ALERTS])
def test_compile_object_alert(query: str, kind: str, labels: tuple[str, ...], colors: tuple[str, ...],
                              region: str | None, count: int) -> None:
    moving = False if "parked" in query else None  # the stationary filter of a count
    assert compile_alert(query) == Rule(query, kind, colors=colors, region=region, count=count,  # type: ignore[arg-type]
                                        labels=labels, moving=moving)


def test_object_alerts_fire_once_per_object_and_count_objects() -> None:
    book = AlertBook("cam", release_s=0.0)
    book.add("a dog appears")
    book.add("the dog leaves")
    book.add("more than 1 car")
    frame = Frame("cam", 0, 1.0, 0.0, np.zeros((4, 4, 3), np.uint8))
    dog = Observation(1.0, ObservationKind.APPEAR, "dog", 0.8, (0.1, 0.1, 0.3, 0.3), track_id=7)
    cat = Observation(1.0, ObservationKind.APPEAR, "cat", 0.8, (0.1, 0.1, 0.3, 0.3), track_id=8)
    cars = [Observation(1.0, ObservationKind.OBJECT, "car", 0.8, (0.5, 0.5, 0.7, 0.7), track_id=i) for i in (1, 2)]
    fired = book.check(Analysis(frame, [dog, cat, cars[0]], people=0))
    assert [(a.query, a.evidence[0].track_id) for a in fired] == [("a dog appears", 7)]
    fired = book.check(Analysis(frame, [dog, *cars], people=0))  # the same dog again: no second alert
    assert [a.query for a in fired] == ["more than 1 car"]
    gone = Observation(3.0, ObservationKind.DISAPPEAR, "dog", 0.8, (0.1, 0.1, 0.3, 0.3), track_id=7)
    assert [a.query for a in book.check(Analysis(frame, [gone], people=0))] == ["the dog leaves"]


def test_someone_standing_still_fires_on_the_trackers_static_people() -> None:
    book = AlertBook("cam", release_s=1.0)
    book.add("notify me when someone is standing still")

    def walker(t: float, state: str) -> Observation:
        return Observation(t, ObservationKind.PERSON, "person", 0.9, (0.1, 0.2, 0.3, 0.9), 1, {"state": state})

    fired = run(book, [analysis(0.0, [walker(0.0, "moving")], 1), analysis(0.5, [walker(0.5, "moving")], 1),
                       analysis(1.0, [walker(1.0, "static")], 1), analysis(1.5, [walker(1.5, "static")], 1),
                       analysis(2.0, [walker(2.0, "moving")], 1)])
    assert [a.t for a in fired] == [1.0]


def test_a_thing_left_behind_is_refused_by_name_not_read_as_leaving() -> None:
    with pytest.raises(UnsupportedQuery, match="left behind"):
        compile_alert("alert me if a bag is left behind")
    assert compile_alert("the bag leaves").kind is RuleKind.DISAPPEAR


def test_a_passing_object_fires_once_it_is_seen_moving_not_while_parked() -> None:
    rule = compile_alert("tell me when a bicycle passes by")
    assert (rule.kind, rule.labels, rule.moving) == (RuleKind.APPEAR, ("bicycle",), True)
    assert compile_alert("a moving car appears").moving is True
    book = AlertBook("cam", release_s=0.0)
    book.add("tell me when a bicycle passes by")

    def bike(t: float, track: int, still: bool) -> Observation:
        return Observation(t, ObservationKind.OBJECT, "bicycle", 0.8, (0.1 + t / 20, 0.4, 0.3 + t / 20, 0.7),
                           track_id=track, attrs={"stationary": still})

    fired = run(book, [(0.0, [bike(0.0, 1, True)]), (0.5, [bike(0.5, 1, True)]),  # a parked bike: nothing
                       (1.0, [bike(1.0, 1, True), bike(1.0, 2, True)]),  # a second one, not moving yet
                       (1.5, [bike(1.5, 1, True), bike(1.5, 2, False)]),  # ... now it rides: one alert
                       (2.0, [bike(2.0, 1, True), bike(2.0, 2, False)])])
    assert [(a.t, a.evidence[0].track_id) for a in fired] == [(1.5, 2)]


STATE_ALERTS = [
    ("the man opens his mouth", (("mouth_open", True),)),
    ("alert me when he yawns", (("mouth_open", True),)),
    ("tell me if she closes her eyes", (("eyes_closed", True),)),
    ("when he opens his eyes again", (("eyes_closed", False),)),
    ("someone looks at the camera", (("facing_camera", True),)),
    ("the driver looks away", (("facing_camera", False),)),
]


@pytest.mark.parametrize(("query", "states"), STATE_ALERTS, ids=[q for q, _ in STATE_ALERTS])
def test_compile_state_alert(query: str, states: tuple[tuple[str, bool], ...]) -> None:
    rule = compile_alert(query)
    assert rule.kind is RuleKind.STATE and rule.states == states


def test_state_alerts_fire_on_each_change_of_the_state_asked_for() -> None:
    book = AlertBook("cam")
    book.add("the man opens his mouth")
    frame = Frame("cam", 0, 2.0, 0.0, np.zeros((4, 4, 3), np.uint8))

    def change(t: float, state: str, on: bool) -> Observation:
        return Observation(t, ObservationKind.FACE_STATE, state, 0.9, (0.3, 0.2, 0.6, 0.7),
                           attrs={"change": state, "on": on, "face": 1, "since": t - 0.5})

    reading = Observation(2.0, ObservationKind.FACE_STATE, "mouth open", 0.9, attrs={"mouth_open": True})
    assert [a.t for a in book.check(Analysis(frame, [reading, change(2.0, "mouth_open", True)]))] == [2.0]
    assert book.check(Analysis(frame, [reading])) == []  # still open: no news
    assert book.check(Analysis(frame, [change(2.5, "mouth_open", False)])) == []  # closing is not opening
    assert book.check(Analysis(frame, [change(3.0, "eyes_closed", True)])) == []
    assert len(book.check(Analysis(frame, [change(3.5, "mouth_open", True)]))) == 1  # opens again


def test_hand_alerts_fire_when_a_hand_comes_into_view_and_raised_only_for_a_raised_one() -> None:
    book = AlertBook("cam", release_s=1.0)
    book.add("a hand appears")
    book.add("someone raises a hand")
    assert compile_alert("someone raises a hand").raised is True

    def at(t: float, *hands: bool) -> Analysis:
        obs = [Observation(t, ObservationKind.HAND, "hand", 0.9, (0.4, 0.0, 0.6, 0.25), attrs={"raised": r})
               for r in hands]
        return Analysis(Frame("cam", int(t * 2), t, 0.0, np.zeros((4, 4, 3), np.uint8)), obs)

    assert [a.query for a in book.check(at(1.0, False))] == ["a hand appears"]
    assert book.check(at(1.5, False)) == []  # still there
    assert [a.query for a in book.check(at(2.0, True))] == ["someone raises a hand"]
    assert book.check(at(2.5)) == [] and book.check(at(4.0)) == []  # gone long enough to re-arm
    assert [a.query for a in book.check(at(4.5, False))] == ["a hand appears"]


@pytest.mark.parametrize(("query", "named"), [("a dog barks", "bark"), ("someone opens the boot of a car", "boot"),
                                              ("the man opens his mouth holding a cup", "hold")])
def test_unsupported_alert_names_what_and_what_is_supported(query: str, named: str) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        compile_alert(query)
    msg = str(info.value)
    named_list = re.search(r"cannot see \(([^)]*)\)", msg)
    assert named_list and named in named_list.group(1).split(", ") and SUPPORTED_HINT in msg
    # One exception tree: it is also a QueryError and a ValueError.
    assert isinstance(info.value, QueryError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(("kind", "is_state"), [
    ("motion", True), ("face", True), ("count_above", True), ("count_below", True), ("hand", True),
    ("enter", False), ("exit", False), ("person_color", False), ("text", False), ("scene_cut", False),
])
def test_rule_is_state(kind: str, is_state: bool) -> None:
    assert Rule("q", kind).is_state is is_state


# Every rule kind the compiler makes, by its value: the strings callers compare rule.kind with.
RULE_KINDS = [
    ("enter", RuleKind.ENTER), ("exit", RuleKind.EXIT), ("person_color", RuleKind.PERSON_COLOR),
    ("text", RuleKind.TEXT), ("scene_cut", RuleKind.SCENE_CUT), ("motion", RuleKind.MOTION),
    ("face", RuleKind.FACE), ("count_above", RuleKind.COUNT_ABOVE), ("count_below", RuleKind.COUNT_BELOW),
    ("count_equal", RuleKind.COUNT_EQUAL),
    ("speech", RuleKind.SPEECH), ("appear", RuleKind.APPEAR), ("disappear", RuleKind.DISAPPEAR),
    ("state", RuleKind.STATE), ("hand", RuleKind.HAND), ("stop", RuleKind.STOP), ("hold", RuleKind.HOLD),
    ("release", RuleKind.RELEASE), ("heading", RuleKind.HEADING),
]


def test_rule_kinds_table_is_every_member_and_every_compiled_kind() -> None:
    assert sorted(m for _, m in RULE_KINDS) == sorted(RuleKind)
    compiled = ({a[1] for a in ALERTS if a[1] is not None} | {compile_alert("someone says help").kind}
                | {compile_alert(a[0]).kind for a in OBJECT_ALERTS} | {compile_alert("a car parks").kind}
                | {compile_alert(a).kind for a, *_ in HOLD_ALERTS} | {compile_alert("someone walks to the left").kind})
    assert compiled == set(RuleKind)


@pytest.mark.parametrize(("value", "member"), RULE_KINDS, ids=[v for v, _ in RULE_KINDS])
def test_rule_coerces_its_kind_to_the_member(value: str, member: RuleKind) -> None:
    rule = Rule("q", value)  # type: ignore[arg-type]  # a plain string, as older callers pass
    assert rule.kind is member and rule.kind == value
    assert Rule("q", member).kind is member
    assert rule == Rule("q", member) and hash(rule) == hash(Rule("q", member))


@pytest.mark.parametrize("value", ["", "person", "count", "Enter", "colour"])
def test_rule_refuses_an_unknown_kind(value: str) -> None:
    with pytest.raises(ValueError):
        Rule("q", value)  # type: ignore[arg-type]  # the point: not a rule kind


def test_speech_and_count_evidence_carry_observation_kind_members() -> None:
    book = AlertBook("cam", release_s=0.0)
    book.add("nobody is there")
    [alert] = book.check(Analysis(Frame("cam", 0, 1.0, 0.0, np.zeros((4, 4, 3), np.uint8)), [], people=0))
    assert alert.evidence[0].kind is ObservationKind.COUNT
    assert alert.to_dict()["evidence"][0]["kind"] == "count"


# --- AlertBook -------------------------------------------------------------------------------

_IMG = np.zeros((4, 4, 3), np.uint8)


def analysis(t: float, obs: Iterable[Observation] = (), people: int = 0) -> Analysis:
    return Analysis(frame=Frame("cam", int(t * 10), t, 1000.0 + t, _IMG), observations=list(obs), people=people)


def motion(t: float, *regions: str) -> Observation:
    return Observation(t, "motion", ", ".join(regions), 0.2, (0.0, 0.6, 0.4, 1.0), attrs={"regions": list(regions)})


def person(t: float, track: int, colors: list[str], kind: str = "person") -> Observation:
    return Observation(t, kind, "person", 0.9, (0.1, 0.2, 0.3, 0.9), track, {"colors": colors})


def text(t: float, label: str) -> Observation:
    return Observation(t, "text", label, 0.9, (0.3, 0.1, 0.6, 0.2), attrs={"words": label.lower().split()})


def run(book: AlertBook, timeline: list[tuple[float, list[Observation]]] | list[Analysis]) -> list[Alert]:
    out: list[Alert] = []
    for item in timeline:
        a = item if isinstance(item, Analysis) else analysis(item[0], item[1])
        out.extend(book.check(a))
    return out


def steps(start: float, end: float, dt: float = 0.5) -> list[float]:
    return [round(start + i * dt, 3) for i in range(int(round((end - start) / dt)))]


def test_state_rule_fires_once_per_run_and_again_after_release() -> None:
    book = AlertBook("cam", release_s=3.0)
    book.add("motion in the lower left")
    timeline: list[tuple[float, list[Observation]]] = []
    timeline += [(t, [motion(t, "lower left")]) for t in steps(0, 5)]  # continuing run: fires once
    timeline += [(t, []) for t in steps(5, 6.5)]  # 1.5 s quiet: not released
    timeline += [(t, [motion(t, "lower left")]) for t in steps(6.5, 8)]  # same run resumes: no alert
    timeline += [(t, []) for t in steps(8, 12)]  # 4 s quiet: released
    timeline += [(t, [motion(t, "lower left", "centre")]) for t in steps(12, 14)]  # fires again
    alerts = run(book, timeline)
    assert [a.t for a in alerts] == [0.0, 12.0]
    assert all(a.query == "motion in the lower left" and a.stream_id == "cam" for a in alerts)
    assert alerts[0].evidence[0].kind == "motion"
    assert alerts[0].wall == pytest.approx(1000.0)


def test_state_rule_ignores_motion_elsewhere() -> None:
    book = AlertBook("cam")
    book.add("motion in the lower left")
    assert run(book, [(t, [motion(t, "upper right")]) for t in steps(0, 5)]) == []


def test_motion_without_region_matches_any_motion() -> None:
    book = AlertBook("cam")
    book.add("any movement")
    assert [a.t for a in run(book, [(t, [motion(t, "upper right")]) for t in steps(0, 2)])] == [0.0]


def test_state_rule_rearms_after_sparse_quiet_analysis() -> None:
    book = AlertBook("cam", release_s=3.0)
    book.add("motion in the lower left")
    alerts = run(book, [(0.0, [motion(0.0, "lower left")]), (5.0, []), (10.0, [motion(10.0, "lower left")])])
    assert [a.t for a in alerts] == [0.0, 10.0]


@pytest.mark.parametrize(
    ("query", "people", "fires_at"),
    [
        ("more than 2 people", [1, 2, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3], [1.0, 7.0]),
        ("nobody is there", [1, 0, 0, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0], [0.5, 6.5]),
    ],
)
def test_count_rules_have_hysteresis(query: str, people: list[int], fires_at: list[float]) -> None:
    book = AlertBook("cam", release_s=3.0)
    book.add(query)
    timeline = []
    for i, n in enumerate(people):
        t = i * 0.5
        timeline.append(analysis(t, [person(t, k, []) for k in range(n)], people=n))
    assert [a.t for a in run(book, timeline)] == fires_at


def test_face_rule_is_a_state_rule() -> None:
    book = AlertBook("cam", release_s=1.0)
    book.add("a face appears")
    face = lambda t: Observation(t, "face", "face", 0.8, (0.4, 0.1, 0.5, 0.3))  # noqa: E731
    timeline = [(0.0, [face(0.0)]), (0.5, [face(0.5)]), (1.0, []), (1.5, []), (2.0, []), (2.5, [face(2.5)])]
    assert [a.t for a in run(book, timeline)] == [0.0, 2.5]


def test_enter_fires_once_per_track() -> None:
    book = AlertBook("cam")
    book.add("a person enters")
    timeline = [
        (1.0, [person(1.0, 7, ["blue"], "enter")]),
        (2.0, [person(2.0, 7, ["blue"], "enter")]),  # same track reported again: no alert
        (3.0, [person(3.0, 8, [], "enter"), person(3.0, 7, ["blue"], "enter")]),  # only the new one
        (4.0, [person(4.0, 8, [], "exit")]),  # exits are not entries
    ]
    alerts = run(book, timeline)
    assert [(a.t, [o.track_id for o in a.evidence]) for a in alerts] == [(1.0, [7]), (3.0, [8])]


def test_exit_with_colour_only_fires_for_that_colour() -> None:
    book = AlertBook("cam")
    book.add("a person in blue leaves")
    timeline = [(1.0, [person(1.0, 1, ["red"], "exit")]), (2.0, [person(2.0, 2, ["blue", "white"], "exit")]),
                (3.0, [person(3.0, 2, ["blue"], "exit")])]
    assert [(a.t, a.evidence[0].track_id) for a in run(book, timeline)] == [(2.0, 2)]


def test_person_color_fires_once_per_track() -> None:
    book = AlertBook("cam")
    book.add("someone in a red jacket appears")
    timeline: list[tuple[float, list[Observation]]] = []
    for t in steps(0, 10):
        obs = [person(t, 1, ["blue"])]
        if t >= 2:
            obs.append(person(t, 2, ["red", "black"]))  # visible from 2 s on, every frame
        if t >= 6:
            obs.append(person(t, 3, ["gray", "red"]))
        timeline.append((t, obs))
    alerts = run(book, timeline)
    assert [(a.t, [o.track_id for o in a.evidence]) for a in alerts] == [(2.0, [2]), (6.0, [3])]


def test_person_color_respects_region() -> None:
    book = AlertBook("cam")
    book.add("someone in red in the lower left")
    right = Observation(1.0, "person", "person", 0.9, None, 1, {"colors": ["red"], "region": "lower right"})
    left = Observation(2.0, "person", "person", 0.9, None, 2, {"colors": ["red"], "region": "lower left"})
    assert [a.t for a in run(book, [(1.0, [right]), (2.0, [left])])] == [2.0]


def test_text_rule_refires_only_after_repeat_interval() -> None:
    book = AlertBook("cam", text_repeat_s=30.0)
    book.add("the word TAXI appears")
    timeline: list[tuple[float, list[Observation]]] = []
    timeline += [(t, [text(t, "TAXI")]) for t in steps(0, 40, 1.0)]  # on screen for 40 s: once
    timeline += [(t, []) for t in steps(40, 60, 1.0)]  # gone for 20 s
    timeline += [(60.0, [text(60.0, "taxi rank")])]  # back after 21 s unseen: too soon
    timeline += [(t, []) for t in steps(61, 95, 1.0)]
    timeline += [(95.0, [text(95.0, "TAXI")])]  # unseen for 35 s: fires again
    alerts = run(book, timeline)
    assert [a.t for a in alerts] == [0.0, 95.0]
    assert alerts[0].evidence[0].label == "TAXI"


def test_text_rule_needs_all_words_in_one_observation() -> None:
    book = AlertBook("cam")
    book.add('"no entry"')
    timeline = [(1.0, [text(1.0, "NO"), text(1.0, "ENTRY")]), (2.0, [text(2.0, "No Entry")])]
    assert [a.t for a in run(book, timeline)] == [2.0]


def test_text_rule_falls_back_to_label_words() -> None:
    book = AlertBook("cam")
    book.add("the word TAXI appears")
    o = Observation(1.0, "text", "Taxi!", 0.9)  # no attrs["words"]
    assert len(run(book, [(1.0, [o])])) == 1


def test_scene_cut_fires_on_every_cut() -> None:
    book = AlertBook("cam")
    book.add("a scene change")
    cut = lambda t: Observation(t, "scene_cut", "scene change")  # noqa: E731
    assert [a.t for a in run(book, [(1.0, [cut(1.0)]), (1.5, []), (2.0, [cut(2.0)])])] == [1.0, 2.0]


def test_book_add_remove_queries() -> None:
    book = AlertBook("cam")
    rule = book.add("a person enters")
    assert rule.kind == "enter"
    book.add("a person enters")  # idempotent
    book.add("a scene change")
    assert book.queries == ["a person enters", "a scene change"]
    with pytest.raises(UnsupportedQuery):
        book.add("a dog barks")
    assert book.queries == ["a person enters", "a scene change"]
    assert book.remove("a person enters") is True
    assert book.remove("a person enters") is False
    assert book.queries == ["a scene change"]


def test_several_rules_fire_independently() -> None:
    book = AlertBook("cam")
    for q in ("a person enters", "someone in red appears", "motion in the lower left"):
        book.add(q)
    obs = [person(1.0, 5, ["red"], "enter"), person(1.0, 5, ["red"]), motion(1.0, "lower left")]
    alerts = book.check(analysis(1.0, obs, people=1))
    assert sorted(a.query for a in alerts) == sorted(book.queries)
    assert all(isinstance(a, Alert) and a.to_dict()["type"] == "alert" for a in alerts)


@pytest.fixture
def fresh_book() -> Callable[[str], AlertBook]:
    def make(query: str) -> AlertBook:
        b = AlertBook("cam")
        b.add(query)
        return b
    return make


def test_untracked_people_fire_each_time(fresh_book: Callable[[str], AlertBook]) -> None:
    # Without a track id the book cannot tell people apart, so each observation counts.
    book = fresh_book("someone in red appears")
    o = lambda t: Observation(t, "person", "person", 0.9, None, None, {"colors": ["red"]})  # noqa: E731
    assert len(run(book, [(1.0, [o(1.0)]), (2.0, [o(2.0)])])) == 2


def test_two_people_entering_in_one_frame_are_two_alerts() -> None:
    book = AlertBook("cam")
    book.add("a person enters the view")
    alerts = run(book, [(1.0, [person(1.0, 1, [], "enter"), person(1.0, 2, [], "enter")]),
                        (1.5, [person(1.5, 1, [], "enter")])])  # a repeated event for track 1 is not re-alerted
    assert [(a.t, a.evidence[0].track_id) for a in alerts] == [(1.0, 1), (1.0, 2)]


def test_people_already_in_view_at_registration_do_not_fire() -> None:
    book = AlertBook("cam")
    book.add("someone in red appears", visible=[person(1.0, 1, ["red"])])
    alerts = run(book, [(1.5, [person(1.5, 1, ["red"]), person(1.5, 2, ["red"])])])
    assert [a.evidence[0].track_id for a in alerts] == [2]


@pytest.mark.parametrize(("query", "kind", "edge", "cells"), [
    ("someone comes from the left", "enter", "left", ()),
    ("someone enters on the left", "enter", "left", ()),
    ("someone in red leaves through the left", "exit", "left", ()),
    ("someone walks out on the right side", "exit", "right", ()),
    ("more than 2 people on the left", "count_above", None, ("lower left", "middle left", "upper left")),
    ("motion on the right", "motion", None, ("lower right", "middle right", "upper right")),
])
def test_edges_and_regions(query: str, kind: str, edge: str | None, cells: tuple[str, ...]) -> None:
    rule = compile_alert(query)
    assert (rule.kind, rule.edge, rule.cells) == (kind, edge, cells)


def test_entry_edge_and_region_rules_fire_only_on_their_side() -> None:
    book = AlertBook("cam", release_s=0.0)
    book.add("someone comes from the left")
    book.add("more than 1 person on the left")

    def analysis(t: float, obs: list[Observation], people: int) -> Analysis:
        return Analysis(frame=Frame("cam", int(t), t, t, np.zeros((4, 4, 3), np.uint8)), observations=obs,
                        people=people)

    right = Observation(t=1.0, kind=ObservationKind.ENTER, label="person", score=1.0, track_id=1,
                        attrs={"edge": "right"})
    assert book.check(analysis(1.0, [right], 1)) == []
    left = Observation(t=2.0, kind=ObservationKind.ENTER, label="person", score=1.0, track_id=2,
                       attrs={"edge": "left"})
    fired = book.check(analysis(2.0, [left], 2))
    assert [a.query for a in fired] == ["someone comes from the left"]
    on_left = [Observation(t=3.0, kind=ObservationKind.PERSON, label="person", score=1.0, track_id=k,
                           box=(0.05, 0.2, 0.2, 0.9)) for k in (2, 3)]
    fired = book.check(analysis(3.0, on_left, 2))
    assert [a.query for a in fired] == ["more than 1 person on the left"]


def _car(t: float, x: float, tid: int = 1, stationary: bool = False, kind: str = "car") -> Observation:
    return Observation(t, ObservationKind.OBJECT, kind, 0.8, (x, 0.5, x + 0.1, 0.6), track_id=tid,
                       attrs={"stationary": stationary})


def _run(book: AlertBook, tracks: Iterable[Callable[[float], Observation | None]], until: float,
         step: float = 0.5) -> list[Alert]:
    fired: list[Alert] = []
    for i in range(int(until / step) + 1):
        t = i * step
        frame = Frame("cam", i, t, t, np.zeros((4, 4, 3), np.uint8))
        obs = [o for o in (make(t) for make in tracks) if o is not None]
        fired += book.check(Analysis(frame, obs, people=0))
    return fired


def test_a_car_parks_fires_once_when_a_moving_car_comes_to_rest() -> None:
    assert compile_alert("a car parks").kind is RuleKind.STOP
    assert compile_alert("tell me when a truck stops").labels == ("truck",)
    book = AlertBook("cam")
    book.add("a car parks")

    def arriving(t: float) -> Observation:  # drives in from the left for 4 s, then stands still
        return _car(t, 0.05 + 0.1 * min(t, 4.0) + (0.002 if int(t * 2) % 2 else 0.0))  # with detector jitter

    def parked(t: float) -> Observation:  # there all along, never moved: not news
        return _car(t, 0.7, tid=2, stationary=True)

    def passing(t: float) -> Observation | None:  # drives through without stopping
        return _car(t, 0.08 * t, tid=3) if t < 10 else None

    fired = _run(book, [arriving, parked, passing], until=12.0)
    assert [(a.evidence[0].track_id, a.t) for a in fired] == [(1, 6.0)]  # at rest 2 s after it stopped at 4 s


def test_a_person_stops_and_a_parked_count() -> None:
    book = AlertBook("cam", release_s=0.0)
    book.add("more than 1 parked car")
    assert compile_alert("more than 1 parked car").moving is False
    moving_cars = [lambda t, i=i: _car(t, 0.1 * i, tid=i) for i in (1, 2, 3)]
    assert _run(book, moving_cars, until=2.0) == []  # three cars, none parked
    parked = [lambda t, i=i: _car(t, 0.2 * i, tid=10 + i, stationary=True) for i in (1, 2)]
    assert [a.query for a in _run(book, parked, until=1.0)] == ["more than 1 parked car"]


@pytest.mark.parametrize(("query", "named"), [
    ("a big truck arrives", "size"),  # no rule measures size: refused by name, not fired on every truck
    ("the parked car leaves", "moving or parked"),  # a leaving car is not known to have been parked
])
def test_filters_no_rule_applies_are_refused_by_name(query: str, named: str) -> None:
    with pytest.raises(UnsupportedQuery, match=named):
        compile_alert(query)


# hold and release: a hand takes a cup at 2 s, keeps it to 6 s, then its hand is beside it; no hand from 9 s.
_CUP = (0.5, 0.5, 0.7, 0.8)


def _hold_analysis(t: float, hand: tuple[float, float, float, float] | None) -> Analysis:
    obs = [Observation(t, "object", "cup", 0.7, _CUP, 4, {"colors": ["blue"]}),
           Observation(t, "object", "dining table", 0.7, (0.0, 0.4, 1.0, 1.0), 5)]
    if hand is not None:
        obs.append(Observation(t, "hand", "hand", 0.9, hand))
    return Analysis(Frame("cam", int(t * 2), t, 100.0 + t, np.zeros((4, 4, 3), np.uint8)), obs, 1.0, 0)


def _hand_at(t: float) -> tuple[float, float, float, float] | None:
    return (0.55, 0.45, 0.65, 0.6) if 2.0 <= t < 6.0 else (0.1, 0.5, 0.2, 0.6) if t < 9.0 and t >= 6.0 else None


HOLD_ALERTS = [
    ("alert when someone picks up a cup", RuleKind.HOLD, ("cup",), [2.0]),
    ("notify me if anyone is holding a cup", RuleKind.HOLD, ("cup",), [2.0]),
    ("tell me when the hand puts the cup down", RuleKind.RELEASE, ("cup",), [6.0]),
    ("when the hand lets go of the cup", RuleKind.RELEASE, ("cup",), [6.0]),
    ("a hand grabs something", RuleKind.HOLD, (), [2.0]),  # the table the hand also rests on is never "held"
    ("someone picks up a bottle", RuleKind.HOLD, ("bottle",), []),
]


@pytest.mark.parametrize(("query", "kind", "labels", "fires"), HOLD_ALERTS, ids=[a[0] for a in HOLD_ALERTS])
def test_hold_and_release_alerts_fire_once_each(query: str, kind: RuleKind, labels: tuple[str, ...],
                                                fires: list[float]) -> None:
    rule = compile_alert(query)
    assert rule.kind is kind and rule.labels == labels
    book = AlertBook("cam")
    book.add(query)
    fired = [a for i in range(30) for a in book.check(_hold_analysis(i / 2, _hand_at(i / 2)))]
    assert [a.t for a in fired] == fires
    assert all(o.label == "cup" for a in fired for o in a.evidence)


def test_holding_alerts_refuse_who_holds_it() -> None:
    with pytest.raises(UnsupportedQuery, match="who holds it"):
        compile_alert("a man in red picks up a bottle")


def test_a_release_rule_keeps_no_frames_while_the_thing_is_out_of_view() -> None:
    book = AlertBook("cam")
    book.add("when the hand lets go of the cup")
    book.check(_hold_analysis(0.0, (0.55, 0.45, 0.65, 0.6)))  # held
    gone = Analysis(Frame("cam", 1, 1.0, 101.0, np.zeros((4, 4, 3), np.uint8)), [], 1.0, 0)
    for i in range(500):  # the cup carried out of view for a long while: nothing to remember
        book.check(replace(gone, frame=replace(gone.frame, seq=i + 2, pts=1.0 + i / 2)))
    (st,) = book._rules.values()
    assert len(st.hold_frames) == 1


@pytest.mark.parametrize(("query", "labels", "heading", "colors"), [
    ("someone walks to the left", ("person",), "left", ()),
    ("tell me when a car drives from left to right", ("car",), "right", ()),
    ("alert me if a person in red heads right", ("person",), "right", ("red",)),
])
def test_a_heading_is_a_rule_of_its_own(query: str, labels: tuple[str, ...], heading: str,
                                        colors: tuple[str, ...]) -> None:
    r = compile_alert(query)
    assert (r.kind, r.labels, r.heading, r.colors) == (RuleKind.HEADING, labels, heading, colors)


def test_a_heading_rule_fires_once_per_track_that_travels_its_way() -> None:
    book = AlertBook("cam", release_s=0.0)
    book.add("someone walks to the right")

    def at(t: float) -> Analysis:
        walker = Observation(t, ObservationKind.PERSON, "person", 0.9, (0.1 + 0.05 * t, 0.3, 0.2 + 0.05 * t, 0.9), 1)
        back = Observation(t, ObservationKind.PERSON, "person", 0.9, (0.8 - 0.05 * t, 0.3, 0.9 - 0.05 * t, 0.9), 2)
        still = Observation(t, ObservationKind.PERSON, "person", 0.9, (0.45 + 0.005 * (t % 2), 0.1, 0.5, 0.3), 3)
        return Analysis(Frame("cam", int(t * 2), t, 0.0, np.zeros((4, 4, 3), np.uint8)), [walker, back, still])

    fired = [(a.t, a.evidence[0].track_id) for k in range(12) for a in book.check(at(k * 0.5))]
    assert fired == [(2.0, 1)]  # 0.08 of the picture to the right after 1.6 s; the others never


def test_an_ordinal_fires_on_that_occurrence_only() -> None:
    assert compile_alert("tell me when the second person enters").nth == 2
    with pytest.raises(UnsupportedQuery, match="only known afterwards"):
        compile_alert("tell me when the last person leaves")
    book = AlertBook("cam", release_s=0.0)
    book.add("tell me when the second person enters")

    def entry(t: float, *ids: int) -> Analysis:
        obs = [Observation(t, ObservationKind.ENTER, "person", 0.9, (0.9, 0.3, 1.0, 0.9), i, {"edge": "right"})
               for i in ids]
        return Analysis(Frame("cam", int(t * 2), t, 0.0, np.zeros((4, 4, 3), np.uint8)), obs)

    fired = [(a.t, a.evidence[0].track_id) for t, ids in ((1.0, (1,)), (2.0, (2, 3)), (3.0, (4,)))
             for a in book.check(entry(t, *ids))]
    assert fired == [(2.0, 2)]


@pytest.mark.parametrize(("query", "refused"), [
    ("alert me when a dog and a cat are both visible", True),  # two things at once: no rule checks that
    ("cars and trucks together", True),
    ("alert when cars and trucks appear", False),  # either kind
    ("a car or a truck appears", False),
])
def test_two_things_at_once_are_refused_not_read_as_either(query: str, refused: bool) -> None:
    if refused:
        with pytest.raises(UnsupportedQuery, match="add one alert for each"):
            compile_alert(query)
    else:
        assert compile_alert(query).labels == ("car", "truck")
