"""Tests for onlook.types: the closed vocabularies and their round trips through JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from onlook.types import Observation, ObservationKind, TimelineRow

# --- ObservationKind coercion -----------------------------------------------------------------

# The value each member is stored and sent under: these strings are in stored rows and JSON messages.
KINDS = [
    ("motion", ObservationKind.MOTION),
    ("scene_cut", ObservationKind.SCENE_CUT),
    ("color", ObservationKind.COLOR),
    ("person", ObservationKind.PERSON),
    ("face", ObservationKind.FACE),
    ("text", ObservationKind.TEXT),
    ("enter", ObservationKind.ENTER),
    ("exit", ObservationKind.EXIT),
    ("speech", ObservationKind.SPEECH),
    ("count", ObservationKind.COUNT),
    ("object", ObservationKind.OBJECT),
    ("appear", ObservationKind.APPEAR),
    ("disappear", ObservationKind.DISAPPEAR),
    ("hand", ObservationKind.HAND),
    ("face_state", ObservationKind.FACE_STATE),
    ("pose", ObservationKind.POSE),
]


def test_the_table_covers_every_member() -> None:
    assert sorted(m for _, m in KINDS) == sorted(ObservationKind)


@pytest.mark.parametrize(("value", "member"), KINDS, ids=[v for v, _ in KINDS])
def test_a_known_kind_string_becomes_its_member(value: str, member: ObservationKind) -> None:
    o = Observation(1.0, value, "x")
    assert o.kind is member
    assert o.kind == value and member.value == value  # StrEnum: equal to the plain string


@pytest.mark.parametrize(("value", "member"), KINDS, ids=[v for v, _ in KINDS])
def test_a_member_stays_itself(value: str, member: ObservationKind) -> None:
    assert Observation(1.0, member, "x").kind is member
    # A positional kind, as the detectors write them.
    assert Observation(0.5, value, "x", 0.9, None, 3).kind is member


@pytest.mark.parametrize("value", ["smoke", "vehicle", "Enter", "enter ", "", "scene-cut"])
def test_an_unknown_kind_is_kept_as_a_plain_string(value: str) -> None:
    """A kind written by a newer version (or by hand) still loads: it stays the string it was."""
    o = Observation(1.0, value, "x")
    assert o.kind == value and type(o.kind) is str
    assert Observation.from_dict(o.to_dict()).kind == value


def test_another_str_enum_with_a_known_value_becomes_the_member() -> None:
    from onlook.query.alerts import RuleKind

    assert Observation(1.0, RuleKind.ENTER, "person").kind is ObservationKind.ENTER


def test_equality_and_hash_ignore_whether_the_kind_came_as_string_or_member() -> None:
    a = Observation(1.0, "face", "face", 0.5, (0.1, 0.1, 0.2, 0.2))
    b = Observation(1.0, ObservationKind.FACE, "face", 0.5, (0.1, 0.1, 0.2, 0.2))
    assert a == b and hash(a) == hash(b)
    assert a.kind in {"face"} and "face" in {a.kind}  # sets of plain strings still find members


# --- to_dict / from_dict ----------------------------------------------------------------------

ROUND_TRIPS: list[tuple[Observation, dict[str, Any]]] = [
    (Observation(1.23456, "enter", "person", 0.87654, (0.1, 0.2, 0.3, 0.9), 7, {"edge": "left", "colors": ["red"]}),
     {"t": 1.235, "kind": "enter", "label": "person", "score": 0.8765, "box": [0.1, 0.2, 0.3, 0.9], "track_id": 7,
      "attrs": {"edge": "left", "colors": ["red"]}}),
    (Observation(2.0, ObservationKind.SCENE_CUT, "scene change", 0.5),
     {"t": 2.0, "kind": "scene_cut", "label": "scene change", "score": 0.5}),
    (Observation(3.0, "text", "TAXI", 1.0, (0.0, 0.0, 0.5, 0.5), None, {"words": ["taxi"]}),
     {"t": 3.0, "kind": "text", "label": "TAXI", "score": 1.0, "box": [0.0, 0.0, 0.5, 0.5],
      "attrs": {"words": ["taxi"]}}),
    (Observation(4.0, ObservationKind.COUNT, "0"), {"t": 4.0, "kind": "count", "label": "0", "score": 1.0}),
    (Observation(5.0, "smoke", "grey smoke", 0.3), {"t": 5.0, "kind": "smoke", "label": "grey smoke", "score": 0.3}),
]


@pytest.mark.parametrize(("obs", "expected"), ROUND_TRIPS, ids=[str(o.kind) for o, _ in ROUND_TRIPS])
def test_to_dict_from_dict_round_trip(obs: Observation, expected: dict[str, Any]) -> None:
    d = obs.to_dict()
    assert d == expected
    back = Observation.from_dict(d)
    assert back.kind == obs.kind and type(back.kind) is type(obs.kind)
    assert (back.t, back.label, back.track_id, back.attrs) == (round(obs.t, 3), obs.label, obs.track_id, obs.attrs)
    # Through JSON text: the kind is written as its plain value and read back as the member.
    text = json.dumps(d)
    assert f'"kind": "{expected["kind"]}"' in text
    loaded = json.loads(text)
    assert type(loaded["kind"]) is str and loaded == expected
    again = Observation.from_dict(loaded)
    assert again == back and type(again.kind) is type(back.kind)


def test_json_of_members_is_plain_text() -> None:
    """StrEnum members serialise as their values, keys and values alike (what the messages rely on)."""
    text = json.dumps({ObservationKind.ENTER: [ObservationKind.EXIT, ObservationKind.SCENE_CUT]})
    assert text == '{"enter": ["exit", "scene_cut"]}'
    assert f"{ObservationKind.FACE}:red" == "face:red" and str(ObservationKind.FACE) == "face"


# --- TimelineRow ------------------------------------------------------------------------------


def test_timeline_row_names_the_keys_answerers_index() -> None:
    assert TimelineRow.__required_keys__ == {"t", "seq", "wall", "people", "motion", "analysed", "obs"}
    row = TimelineRow(t=1.0, seq=2, wall=3.0, people=1, motion=0.0, analysed=1.0, obs=[])
    assert type(row) is dict and row["people"] == 1  # a TypedDict is a plain dict at run time


def test_ingest_states_are_what_status_messages_carry() -> None:
    from onlook.types import IngestState, StreamState

    assert {s.value for s in IngestState} == {"started", "ended", "failed", "speech off"}
    # the final ingest states are also served states, by the same names
    assert StreamState(IngestState.ENDED) is StreamState.ENDED
    assert StreamState(IngestState.FAILED) is StreamState.FAILED
