"""Places perception cannot check ("on the grass", "by the door") and "who is in view now?".

Perception places things by picture region and edge only. A question whose only unchecked words place
its subject against a landmark is answered on the rest, and the answer names the phrase: "nothing of the
kind anywhere" settles it; "two of them somewhere" is only an upper bound and is worded as one. Where
the place picks out *which* thing is meant ("what colour is the car near the bench?") it could matter,
so those still abstain (tests/answer/test_object_answers.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.query.search import MemoryView
from onlook.types import Observation, ObservationKind

LEFT, RIGHT = (0.05, 0.3, 0.2, 0.9), (0.7, 0.3, 0.85, 0.9)


def _two_people(t: float) -> tuple[list[Observation], int]:
    """A person in red on the left standing, one in blue on the right sitting; no car, no dog."""
    return ([Observation(t, ObservationKind.PERSON, "person", 0.9, LEFT, 1, {"colors": ["red"]}),
             Observation(t, ObservationKind.PERSON, "person", 0.9, RIGHT, 2, {"colors": ["blue", "white"]}),
             Observation(t, ObservationKind.POSE, "x", 0.9, LEFT, 1,
                         {"standing": True, "sitting": False, "person": 1}),
             Observation(t, ObservationKind.POSE, "x", 0.9, RIGHT, 2,
                         {"standing": False, "sitting": True, "person": 2})], 2)


@pytest.fixture
def two(remember: Callable[..., MemoryView]) -> MemoryView:
    return remember([_two_people] * 6)


@pytest.mark.parametrize(("question", "value", "said"), [
    # Nothing of the kind anywhere: the place cannot change that.
    ("Is there a dog on the lawn right now?", False, "so none on the lawn either"),
    ("How many cars are parked by the fence right now?", 0, "so none by the fence either"),
    ("Are there no dogs near the door?", True, "so none near the door either"),
    # Some of the kind somewhere: an upper bound, said to be unchecked.
    ("How many people are sitting on the bench right now?", 1, "At most 1: 1 person sitting"),
    ("Is anybody standing next to the red car?", True, "whether next to the red car I cannot check"),
    ("Is someone waiting at the bus stop?", True, "whether at the bus stop I cannot check"),
])
def test_a_place_is_named_as_unchecked_and_never_dropped(two: MemoryView, question: str, value, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, two, at=2.5)
    assert not a.abstained, a.text
    assert a.value == value and said in a.text, a.text


def test_an_upper_bound_is_less_sure_than_a_settled_answer(two: MemoryView) -> None:
    bound = ExtractiveAnswerer().answer("How many people are sitting on the bench right now?", two, at=2.5)
    plain = ExtractiveAnswerer().answer("How many people are sitting right now?", two, at=2.5)
    assert plain.value == 1 and "bench" not in plain.text
    assert bound.confidence < plain.confidence


@pytest.mark.parametrize("question", [
    "What colour is the car near the bench?",  # the place picks out which car: it could matter
    "When did the person by the door leave?",
    "What is he wearing on his head?",  # a body part is no place
    "When did the person in a red hat leave?",  # nor is a worn thing
    "Is he in a car?",  # of one known person, the place is all that is asked
    "Is the man on the lawn?",
])
def test_a_place_that_picks_out_the_thing_still_abstains(two: MemoryView, question: str) -> None:
    assert ExtractiveAnswerer().answer(question, two, at=2.5).abstained


@pytest.mark.parametrize(("question", "said", "n"), [
    ("Who is in view right now?", "2 people in view at 00:02, left to right: in red; in blue/white.", 2),
    ("who's on the left now?", "1 person on the left in view at 00:02", 1),
    ("who is in blue right now?", "1 person in blue in view at 00:02, left to right: in blue/white.", 1),
    ("Who is in green now?", "Nobody in green in view at 00:02.", 0),
])
def test_who_is_in_view_lists_the_people_by_what_they_wear(two: MemoryView, question: str, said: str,
                                                          n: int) -> None:
    a = ExtractiveAnswerer().answer(question, two, at=2.5)
    assert not a.abstained and a.text.startswith(said), a.text
    assert len(a.value) == n


def test_multiple_choice_checks_the_options_without_the_place(two: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("Is anybody sitting on the grass at the moment?",
                                    ["A. No, everyone is standing", "B. Yes, someone is sitting"], two, at=2.5)
    assert a.value == "B", a.text


def test_counting_people_in_a_posture_counts_them_now(two: MemoryView) -> None:
    a = ExtractiveAnswerer().answer("How many people are standing right now?", two, at=2.5)
    assert a.value == 1 and "1 person standing at 00:02 (of 2 whose posture I read then)" in a.text, a.text


def _sign(t: float) -> tuple[list[Observation], int]:
    """From 1 s on, a sign reads "FIRE ASSEMBLY P0INT" (the OCR took an O for a zero)."""
    if t < 1.0:
        return [], 0
    return [Observation(t, ObservationKind.TEXT, "FIRE ASSEMBLY P0INT", 0.9, (0.1, 0.1, 0.4, 0.2), None,
                        {"words": ["fire", "assembly", "p0int"]})], 0


SIGN_OPTIONS = ["A. Fire assembly point", "B. No parking", "C. Bus stop", "D. Keep off the grass"]


def test_a_reading_question_picks_the_option_that_was_read(remember: Callable[..., MemoryView]) -> None:
    view = remember([_sign] * 6)
    a = ExtractiveAnswerer().choose("what does the green sign on the lamp post say?", SIGN_OPTIONS, view, at=2.5)
    assert a.value == "A" and "FIRE ASSEMBLY P0INT" in a.text, a.text


def test_a_reading_question_with_nothing_read_abstains(remember: Callable[..., MemoryView]) -> None:
    # "No parking" is text to compare, not a claim that nothing parked
    view = remember([_sign] * 6)
    a = ExtractiveAnswerer().choose("what does the sign say?", SIGN_OPTIONS, view, at=0.5)
    assert a.abstained and a.value is None and "not read any text" in a.text, a.text
    a = ExtractiveAnswerer().choose("what does the sign say?", ["A. No parking", "B. Bus stop"], view, at=2.5)
    assert a.abstained and "FIRE ASSEMBLY P0INT" in a.text, a.text


@pytest.mark.parametrize(("question", "value", "said"), [
    ("Are there more people on the left or the right?", "neither", "Neither: the same for"),
    ("Are there more people in red or in blue?", "neither", "1 person in red visible"),
    ("Are there more people or cars?", "people", "More: people (2 people visible at 00:02; 0 cars visible"),
    ("Are there fewer people or cars right now?", "cars", "Fewer: cars"),
    ("Were there more people at 0:01 or at 0:02?", "neither", "Neither"),
])
def test_two_alternatives_are_each_counted_and_compared(two: MemoryView, question: str, value, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, two, at=2.5)
    assert not a.abstained and a.value == value and said in a.text, a.text


def test_comparing_over_time_counts_each_moment(remember: Callable[..., MemoryView]) -> None:
    # one person until 1 s, two after: "more now or a second ago?" counts each moment, not a range
    view = remember([lambda t: _two_people(t) if t >= 1.0 else ([_two_people(t)[0][0]], 1)] * 6)
    a = ExtractiveAnswerer().answer("were there more people now or 2 seconds ago?", view, at=2.5)
    assert a.value == "now" and "2 people visible at 00:02" in a.text and "1 person visible at 00:00" in a.text, a.text


def test_an_alternative_perception_cannot_count_makes_the_comparison_abstain(two: MemoryView) -> None:
    a = ExtractiveAnswerer().answer("Are there more people by the door or by the window?", two, at=2.5)
    assert a.abstained and a.value is None, a.text  # a count "by the door" is only an upper bound: no winner


def _walkers(t: float) -> tuple[list[Observation], int]:
    """Person 1 (red) walks left to right, person 2 (blue) right to left, person 3 stands; a car parked."""
    x = 0.1 * t
    return ([Observation(t, ObservationKind.PERSON, "person", 0.9, (0.1 + x, 0.3, 0.2 + x, 0.9), 1,
                         {"colors": ["red"]}),
             Observation(t, ObservationKind.PERSON, "person", 0.9, (0.8 - x, 0.3, 0.9 - x, 0.9), 2,
                         {"colors": ["blue"]}),
             Observation(t, ObservationKind.PERSON, "person", 0.9, (0.45, 0.1, 0.5, 0.3), 3, {"colors": ["white"]}),
             Observation(t, ObservationKind.OBJECT, "car", 0.8, (0.0, 0.0, 0.1, 0.1), 9, {"stationary": True})], 3)


@pytest.fixture
def walkers(remember: Callable[..., MemoryView]) -> MemoryView:
    return remember([_walkers] * 9)  # 0..4 s


@pytest.mark.parametrize(("question", "value", "said"), [
    ("How many people are walking to the left right now?", 1, "1 person moving to the left at 00:04"),
    ("Is anyone walking to the right?", True, "Yes: 1 person moving to the right"),
    ("Is anybody heading leftwards?", True, "Yes"),
    ("Which way is the man in red walking?", "right", "Moving to the right at 00:04"),
    ("Which way is the person in blue going?", "left", "Moving to the left"),
    ("Did anyone walk from left to right so far?", True, "Yes: 1 person moving to the right"),
    ("In which direction is the car moving?", None, "Not moving across the picture"),
])
def test_the_way_things_travel_comes_from_their_tracks(walkers: MemoryView, question: str, value, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, walkers, at=4.0)
    assert not a.abstained and a.value == value and said in a.text, a.text


def test_an_option_naming_a_way_is_checked_against_the_tracks(walkers: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("Which way did the person in red walk?",
                                    ["A. From right to left", "B. From left to right"], walkers, at=4.0)
    assert a.value == "B", a.text


@pytest.mark.parametrize(("question", "value", "said"), [
    ("what's the person on the far left wearing?", "red", "person on the left"),
    ("What's the person on the right wearing?", "blue", "blue and white (person on the right"),
    ("what colours is the person on the far right wearing?", "blue", "blue and white"),
])
def test_what_someone_wears_follows_the_side_asked(two: MemoryView, question: str, value: str, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, two, at=2.5)
    assert not a.abstained and a.value == value and said in a.text, a.text


@pytest.mark.parametrize(("question", "at", "value", "said"), [
    ("How long was the first shot?", 30.0, 20.0, "The first shot lasted 20.0 s (00:00-00:20)"),
    ("how long has the current shot lasted?", 30.0, 10.0, "has lasted 10.0 s so far (since 00:20)"),
    ("How long was the previous shot?", 30.0, 20.0, "The previous shot lasted 20.0 s"),
    ("How long was the third shot?", 30.0, None, "only 2 shots"),
])
def test_how_long_a_shot_lasted(make_view, question: str, at: float, value, said: str) -> None:
    a = ExtractiveAnswerer().answer(question, make_view(), at=at)
    assert a.value == value and said in a.text, a.text


def test_which_side_a_hand_is_on(remember: Callable[..., MemoryView]) -> None:
    def hand_on_the_left(t: float) -> tuple[list[Observation], int]:
        # hands are read on every other frame only: the answer uses the latest reading
        seen = [Observation(t, ObservationKind.HAND, "hand", 0.9, (0.05, 0.4, 0.25, 0.6), None, {})]
        return (seen if int(t * 2) % 2 == 0 else []), 0

    view = remember([hand_on_the_left] * 6)
    a = ExtractiveAnswerer().answer("Which side is the hand on?", view, at=2.5)
    assert not a.abstained and a.value == "middle left", a.text


@pytest.mark.parametrize(("question", "value"), [
    ("Are there more people now than 2 seconds ago?", True),
    ("Is it busier now than at the start?", True),
    ("Is it quieter now than at the start?", False),
    ("Are there more cars than people?", False),
    ("Are there more than 3 people?", False),  # a number after "than": a count comparison, not alternatives
])
def test_more_than_compares_the_first_with_the_second(remember: Callable[..., MemoryView], question: str,
                                                      value: bool) -> None:
    view = remember([lambda t: _two_people(t) if t >= 1.0 else ([_two_people(t)[0][0]], 1)] * 6)
    a = ExtractiveAnswerer().answer(question, view, at=2.5)
    assert not a.abstained and a.value is value, a.text


def test_an_age_is_not_checked(two: MemoryView) -> None:
    for question in ("Any kids?", "How many children are there?"):
        assert ExtractiveAnswerer().answer(question, two, at=2.5).abstained


@pytest.mark.parametrize(("question", "value"), [
    ("Has the number of people gone up or down in the last 2 seconds?", "up"),
    ("Is it getting busier?", True),
    ("Is it getting quieter?", False),
])
def test_a_trend_compares_the_start_of_the_stretch_with_now(remember: Callable[..., MemoryView], question: str,
                                                            value) -> None:
    view = remember([lambda t: _two_people(t) if t >= 1.0 else ([_two_people(t)[0][0]], 1)] * 6)
    a = ExtractiveAnswerer().answer(question, view, at=2.5)
    assert not a.abstained and a.value == value, a.text


@pytest.mark.parametrize(("question", "unchecked"), [
    ("How many people are walking towards the camera?", "towards the camera"),
    ("How many groups of people are there?", "groups"),
])
def test_depth_and_groups_are_named_not_dropped(two: MemoryView, question: str, unchecked: str) -> None:
    a = ExtractiveAnswerer().answer(question, two, at=2.5)
    assert a.abstained and unchecked in a.text, a.text


def test_options_of_a_comparison_name_the_winner_or_the_tie(two: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("Are there more people on the left or the right of the picture right now?",
                                    ["A. The left", "B. The right", "C. The same on both sides"], two, at=2.5)
    assert a.value == "C", a.text
    a = ExtractiveAnswerer().choose("Are there more people or cars?", ["A. Cars", "B. People"], two, at=2.5)
    assert a.value == "B", a.text


def test_options_of_a_way_name_the_side_memory_answers(walkers: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("Which way is the person in blue walking?",
                                    ["A. Towards the left", "B. Towards the right", "C. Standing still"],
                                    walkers, at=4.0)
    assert a.value == "A", a.text


def test_a_dark_garment_is_black_to_the_colour_namer(two: MemoryView) -> None:
    a = ExtractiveAnswerer().choose("What is the person on the far right wearing?",
                                    ["A. A red coat", "B. A dark jacket", "C. A blue top"], two, at=2.5)
    assert a.value == "C", a.text  # blue and white: not dark, not red


def test_staying_is_how_long_people_in_view_have_been_there(remember: Callable[..., MemoryView]) -> None:
    # person 1 (red) in view from 0 s, person 2 (blue) from 30 s; asked at 40 s
    def frame(t: float) -> tuple[list[Observation], int]:
        obs = [Observation(t, ObservationKind.PERSON, "person", 0.9, LEFT, 1, {"colors": ["red"]})]
        if t >= 30.0:
            obs.append(Observation(t, ObservationKind.PERSON, "person", 0.9, RIGHT, 2, {"colors": ["blue"]}))
        return obs, len(obs)

    view = remember([frame] * 81)
    a = ExtractiveAnswerer()
    ans = a.answer("Is anyone loitering?", view, at=40.0)
    assert ans.value is True and "1 person has been in view for 30 s or more" in ans.text, ans.text
    ans = a.answer("Who has been in view the longest?", view, at=40.0)
    assert ans.value == 40.0 and "in view since 00:00" in ans.text, ans.text
    ans = a.answer("How long has the person in blue been here?", view, at=40.0)
    assert ans.value == 10.0, ans.text
    assert a.answer("How many people are loitering?", view, at=20.0).value == 0


def test_an_average_weighs_each_analysed_frame_by_how_long_it_stood(remember: Callable[..., MemoryView]) -> None:
    # one person for the first second, two for the next two: (1 * 1 + 2 * 2) / 3 s
    view = remember([lambda t: _two_people(t) if t >= 1.0 else ([_two_people(t)[0][0]], 1)] * 7)
    for question in ("On average, how many people were in view?", "how many people are there on average?"):
        a = ExtractiveAnswerer().answer(question, view, at=3.0)
        assert not a.abstained and a.value == 1.7, a.text


def test_how_long_ago_gives_the_time_and_the_wait(make_view) -> None:
    a = ExtractiveAnswerer().answer("How long ago was the last cut?", make_view(), at=30.0)
    assert a.value == 20.0 and "(10.0 s ago)" in a.text, a.text


def test_a_known_things_place_is_the_question(two: MemoryView) -> None:
    # "is the man on the lawn?": the only person in view, but where he is is what is asked
    assert ExtractiveAnswerer().answer("Is the man on the left on the lawn?", two, at=2.5).abstained


def test_telling_about_a_person_gives_their_comings_and_goings(make_view) -> None:
    # the scenario's person in red enters from the right at 12 s and leaves through the left at 25 s
    view = make_view()
    for question in ("Tell me about the person in red.", "What did the person in red do?"):
        a = ExtractiveAnswerer().answer(question, view, at=40.0)
        assert not a.abstained and "came in through the right edge at 00:12" in a.text, a.text
        assert "left through the left edge at 00:25 (13 s in view)" in a.text, a.text


def test_a_held_box_is_named_by_the_askers_word(remember: Callable[..., MemoryView]) -> None:
    # the detectors call this box a book (COCO has no box class); the question said "box"
    def frame(t: float) -> tuple[list[Observation], int]:
        return ([Observation(t, ObservationKind.OBJECT, "book", 0.8, (0.3, 0.3, 0.7, 0.7), 5, {}),
                 Observation(t, ObservationKind.HAND, "hand", 0.9, (0.4, 0.4, 0.5, 0.5), None, {})], 0)

    a = ExtractiveAnswerer().answer("Is anyone holding the box?", remember([frame] * 4), at=1.5)
    assert a.value is True and "a hand on the box" in a.text, a.text
