"""What an engine perceives, named as the evaluation data's ``needs`` name it.

Every question and alert of the evaluation data carries ``needs``: the
capabilities answering it takes (``../shared/eval/README.md``). An engine
declares the ones it has here, so that a harness can report accuracy on the
questions it can perceive by comparing the two sets, not by trusting the
engine's own parser.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = ["Capability", "engine_capabilities"]


class Capability(str, Enum):
    """One perception capability, as ``needs`` spells it."""

    PEOPLE = "people"
    PERSON_COLOUR = "person_colour"
    FACES = "faces"
    OCR = "ocr"
    SHOTS = "shots"
    SCENE_COLOUR = "scene_colour"
    MOTION = "motion"
    SPEECH = "speech"
    OPEN_VOCABULARY = "open_vocabulary"


def engine_capabilities(settings: Any, *, hears: bool, encoder: bool = False) -> frozenset[str]:
    """The capabilities an engine with these settings has.

    Args:
        settings: The engine's :class:`~onlook.config.Settings`.
        hears: Whether it transcribes speech (see ``StreamEngine.hears``).
        encoder: Whether an open-vocabulary image encoder is loaded.

    Example:
        >>> from onlook.config import Settings
        >>> sorted(engine_capabilities(Settings(detect_faces=False, detect_text=False), hears=True))
        ['motion', 'people', 'person_colour', 'scene_colour', 'shots', 'speech']
    """
    caps = {Capability.MOTION, Capability.SHOTS}
    if settings.detect_people:
        caps.add(Capability.PEOPLE)
        if settings.detect_colors:
            caps.add(Capability.PERSON_COLOUR)
    if settings.detect_colors:
        caps.add(Capability.SCENE_COLOUR)
    if settings.detect_faces:
        caps.add(Capability.FACES)
    if settings.detect_text:
        caps.add(Capability.OCR)
    if hears:
        caps.add(Capability.SPEECH)
    if encoder:
        caps.add(Capability.OPEN_VOCABULARY)
    return frozenset(c.value for c in caps)
