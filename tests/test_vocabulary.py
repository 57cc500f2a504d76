"""The perception vocabulary: one Enum of labels, the capability each needs, group words."""

from __future__ import annotations

import pytest

from onlook.types import Capability
from onlook.vocabulary import GROUP_MEMBERS, LABEL_NEEDS, OBJECT_LABELS, Label, LabelGroup


def test_every_label_needs_a_declared_capability() -> None:
    assert set(LABEL_NEEDS) == set(Label)
    assert LABEL_NEEDS[Label.CAR] is Capability.OBJECTS
    assert LABEL_NEEDS[Label.HAND] is Capability.HANDS
    assert Label.PERSON not in OBJECT_LABELS
    assert len(OBJECT_LABELS) == 81  # COCO's 80 (person has its own tracker) and OpenImages' box and shoe


@pytest.mark.parametrize(("text", "label"), [("car", Label.CAR), ("Traffic-Light", Label.TRAFFIC_LIGHT),
                                             (" cell_phone ", Label.CELL_PHONE), ("TV", Label.TV)])
def test_parse(text: str, label: Label) -> None:
    assert Label.parse(text) is label


def test_parse_rejects_unknown() -> None:
    with pytest.raises(ValueError):
        Label.parse("unicorn")


def test_groups_cover_only_object_labels() -> None:
    assert set(GROUP_MEMBERS) == set(LabelGroup)
    for members in GROUP_MEMBERS.values():
        assert members <= OBJECT_LABELS
    assert Label.BICYCLE in GROUP_MEMBERS[LabelGroup.VEHICLE]


def test_a_box_is_also_what_the_detector_calls_a_book_but_not_the_other_way() -> None:
    from onlook.vocabulary import OBJECT_WORDS

    # COCO has no box class: a box it sees is its "book"; a van is a car or a truck the same way.
    assert OBJECT_WORDS["box"] == OBJECT_WORDS["boxes"] == {Label.BOX, Label.BOOK}
    assert OBJECT_WORDS["book"] == {Label.BOOK}
    assert OBJECT_WORDS["van"] == {Label.CAR, Label.TRUCK}
