"""The perception vocabulary: every thing onlook's detectors can name, as one Enum.

Detectors write a :class:`Label` value into :attr:`onlook.types.Observation.label` of the observations
they make; memory indexes it; the query layer maps the nouns of a question onto these members; and
:data:`LABEL_NEEDS` says which :class:`~onlook.types.Capability` an engine must declare to see each one.
Nothing else defines what can be perceived: a detector for a new class adds its member here.

The object classes are the 80 of COCO (what the shipped SSD detector knows), spelt as COCO spells them
(``"traffic light"``, ``"cell phone"``), so a label read from a model's manifest is a member's value, plus the
OpenImages classes of the second shipped detector that COCO lacks (box, shoe).

Example:
    >>> Label("car") is Label.CAR
    True
    >>> Label.parse("Traffic-Light")
    <Label.TRAFFIC_LIGHT: 'traffic light'>
    >>> LABEL_NEEDS[Label.DOG].value, LABEL_NEEDS[Label.PERSON].value
    ('objects', 'people')
"""

from __future__ import annotations

import re
from enum import StrEnum

from onlook.types import Capability

__all__ = ["Label", "LABEL_NEEDS", "OBJECT_LABELS", "LabelGroup", "GROUP_MEMBERS", "OBJECT_WORDS", "find_objects",
           "plural", "OBJECT_GROUP_WORDS", "BodyState", "STATE_NEEDS", "STATE_WORDS", "find_states"]


class Label(StrEnum):
    """A class of thing perception can see."""

    # ---- things with their own detectors
    PERSON = "person"
    FACE = "face"
    HAND = "hand"
    TEXT = "text"
    SHOT = "shot"
    # ---- COCO object classes (the shipped SSD detector), in COCO's order
    BICYCLE = "bicycle"
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    AIRPLANE = "airplane"
    BUS = "bus"
    TRAIN = "train"
    TRUCK = "truck"
    BOAT = "boat"
    TRAFFIC_LIGHT = "traffic light"
    FIRE_HYDRANT = "fire hydrant"
    STOP_SIGN = "stop sign"
    PARKING_METER = "parking meter"
    BENCH = "bench"
    BIRD = "bird"
    CAT = "cat"
    DOG = "dog"
    HORSE = "horse"
    SHEEP = "sheep"
    COW = "cow"
    ELEPHANT = "elephant"
    BEAR = "bear"
    ZEBRA = "zebra"
    GIRAFFE = "giraffe"
    BACKPACK = "backpack"
    UMBRELLA = "umbrella"
    HANDBAG = "handbag"
    TIE = "tie"
    SUITCASE = "suitcase"
    FRISBEE = "frisbee"
    SKIS = "skis"
    SNOWBOARD = "snowboard"
    SPORTS_BALL = "sports ball"
    KITE = "kite"
    BASEBALL_BAT = "baseball bat"
    BASEBALL_GLOVE = "baseball glove"
    SKATEBOARD = "skateboard"
    SURFBOARD = "surfboard"
    TENNIS_RACKET = "tennis racket"
    BOTTLE = "bottle"
    WINE_GLASS = "wine glass"
    CUP = "cup"
    FORK = "fork"
    KNIFE = "knife"
    SPOON = "spoon"
    BOWL = "bowl"
    BANANA = "banana"
    APPLE = "apple"
    SANDWICH = "sandwich"
    ORANGE = "orange"
    BROCCOLI = "broccoli"
    CARROT = "carrot"
    HOT_DOG = "hot dog"
    PIZZA = "pizza"
    DONUT = "donut"
    CAKE = "cake"
    CHAIR = "chair"
    COUCH = "couch"
    POTTED_PLANT = "potted plant"
    BED = "bed"
    DINING_TABLE = "dining table"
    TOILET = "toilet"
    TV = "tv"
    LAPTOP = "laptop"
    MOUSE = "mouse"
    REMOTE = "remote"
    KEYBOARD = "keyboard"
    CELL_PHONE = "cell phone"
    MICROWAVE = "microwave"
    OVEN = "oven"
    TOASTER = "toaster"
    SINK = "sink"
    REFRIGERATOR = "refrigerator"
    BOOK = "book"
    CLOCK = "clock"
    VASE = "vase"
    SCISSORS = "scissors"
    TEDDY_BEAR = "teddy bear"
    HAIR_DRIER = "hair drier"
    TOOTHBRUSH = "toothbrush"
    # ---- OpenImages classes COCO lacks (the shipped OpenImages SSD, ``oidv4_ssd``)
    BOX = "box"
    SHOE = "shoe"

    @classmethod
    def parse(cls, name: str) -> Label:
        """The member named ``name``, ignoring case, ``_``/``-`` for spaces and surrounding blanks.

        Raises:
            ValueError: ``name`` is not a label.
        """
        key = " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
        return cls(key)


OBJECT_LABELS: frozenset[Label] = frozenset(
    m for m in Label if m not in (Label.PERSON, Label.FACE, Label.HAND, Label.TEXT, Label.SHOT))
"""The classes the object detector reports (everything but the labels with their own detectors)."""

LABEL_NEEDS: dict[Label, Capability] = {
    Label.PERSON: Capability.PEOPLE, Label.FACE: Capability.FACES, Label.HAND: Capability.HANDS,
    Label.TEXT: Capability.OCR, Label.SHOT: Capability.SHOTS,
    **{m: Capability.OBJECTS for m in OBJECT_LABELS},
}
"""The capability an engine must declare to see each label."""


class LabelGroup(StrEnum):
    """Words that name several labels at once ("any vehicle", "an animal")."""

    VEHICLE = "vehicle"
    ANIMAL = "animal"
    FOOD = "food"
    FURNITURE = "furniture"
    ELECTRONICS = "electronics"
    TABLEWARE = "tableware"
    BAG = "bag"


GROUP_MEMBERS: dict[LabelGroup, frozenset[Label]] = {
    LabelGroup.VEHICLE: frozenset({Label.BICYCLE, Label.CAR, Label.MOTORCYCLE, Label.AIRPLANE, Label.BUS,
                                   Label.TRAIN, Label.TRUCK, Label.BOAT}),
    LabelGroup.ANIMAL: frozenset({Label.BIRD, Label.CAT, Label.DOG, Label.HORSE, Label.SHEEP, Label.COW,
                                  Label.ELEPHANT, Label.BEAR, Label.ZEBRA, Label.GIRAFFE}),
    LabelGroup.FOOD: frozenset({Label.BANANA, Label.APPLE, Label.SANDWICH, Label.ORANGE, Label.BROCCOLI,
                                Label.CARROT, Label.HOT_DOG, Label.PIZZA, Label.DONUT, Label.CAKE}),
    LabelGroup.FURNITURE: frozenset({Label.CHAIR, Label.COUCH, Label.BED, Label.DINING_TABLE, Label.BENCH,
                                     Label.TOILET}),
    LabelGroup.ELECTRONICS: frozenset({Label.TV, Label.LAPTOP, Label.MOUSE, Label.REMOTE, Label.KEYBOARD,
                                       Label.CELL_PHONE, Label.MICROWAVE, Label.OVEN, Label.TOASTER,
                                       Label.REFRIGERATOR}),
    LabelGroup.TABLEWARE: frozenset({Label.BOTTLE, Label.WINE_GLASS, Label.CUP, Label.FORK, Label.KNIFE,
                                     Label.SPOON, Label.BOWL}),
    LabelGroup.BAG: frozenset({Label.BACKPACK, Label.HANDBAG, Label.SUITCASE}),
}
"""What each group word covers."""


# Other words people use for a class (singular; plurals are made below). A word naming several
# classes (a van is "car" or "truck" to the detector) lists them all.
_SYNONYMS: dict[str, tuple[Label, ...]] = {
    "bike": (Label.BICYCLE,), "cycle": (Label.BICYCLE,), "cyclist": (Label.BICYCLE,),
    "motorbike": (Label.MOTORCYCLE,), "scooter": (Label.MOTORCYCLE,), "moped": (Label.MOTORCYCLE,),
    "motorcyclist": (Label.MOTORCYCLE,), "automobile": (Label.CAR,), "taxi": (Label.CAR,), "cab": (Label.CAR,),
    "suv": (Label.CAR,), "van": (Label.CAR, Label.TRUCK), "lorry": (Label.TRUCK,), "pickup": (Label.TRUCK,),
    "coach": (Label.BUS,), "plane": (Label.AIRPLANE,), "aeroplane": (Label.AIRPLANE,), "ship": (Label.BOAT,),
    "hydrant": (Label.FIRE_HYDRANT,), "puppy": (Label.DOG,), "kitten": (Label.CAT,), "pony": (Label.HORSE,),
    "rucksack": (Label.BACKPACK,), "purse": (Label.HANDBAG,), "luggage": (Label.SUITCASE,),
    "ball": (Label.SPORTS_BALL,), "football": (Label.SPORTS_BALL,), "racket": (Label.TENNIS_RACKET,),
    "mug": (Label.CUP,), "doughnut": (Label.DONUT,), "sofa": (Label.COUCH,), "plant": (Label.POTTED_PLANT,),
    "table": (Label.DINING_TABLE,), "desk": (Label.DINING_TABLE,), "television": (Label.TV,),
    "computer": (Label.LAPTOP,), "phone": (Label.CELL_PHONE,),
    "smartphone": (Label.CELL_PHONE,), "mobile": (Label.CELL_PHONE,), "fridge": (Label.REFRIGERATOR,),
    "teddy": (Label.TEDDY_BEAR,), "hairdryer": (Label.HAIR_DRIER,), "hair dryer": (Label.HAIR_DRIER,),
    "tie": (Label.TIE,), "necktie": (Label.TIE,), "bow tie": (Label.TIE,),
    # COCO, the primary detector, has no box class: a box it sees is most often its "book" (the OpenImages
    # model, which has both, runs less often). A box is "box" or "book" to the detector, as a van is a car or a
    # truck; a book stays a book.
    "box": (Label.BOX, Label.BOOK), "carton": (Label.BOX, Label.BOOK), "parcel": (Label.BOX, Label.BOOK),
    "crate": (Label.BOX,), "cardboard box": (Label.BOX, Label.BOOK),
    "sneaker": (Label.SHOE,), "footwear": (Label.SHOE,), "high heels": (Label.SHOE,),
}
_IRREGULAR = {"knife": "knives", "mouse": "mice", "person": "people", "bus": "buses", "couch": "couches",
              "wine glass": "wine glasses", "sandwich": "sandwiches", "bench": "benches", "sheep": "sheep",
              "skis": "skis", "scissors": "scissors", "luggage": "luggage", "tv": "tvs", "hot dog": "hot dogs",
              "box": "boxes", "taxi": "taxis", "bow tie": "bow ties", "pony": "ponies", "lorry": "lorries",
              "puppy": "puppies", "teddy": "teddies"}
OBJECT_GROUP_WORDS: dict[str, LabelGroup] = {
    "vehicle": LabelGroup.VEHICLE, "vehicles": LabelGroup.VEHICLE, "traffic": LabelGroup.VEHICLE,
    "animal": LabelGroup.ANIMAL, "animals": LabelGroup.ANIMAL, "pet": LabelGroup.ANIMAL, "pets": LabelGroup.ANIMAL,
    "food": LabelGroup.FOOD, "furniture": LabelGroup.FURNITURE, "electronics": LabelGroup.ELECTRONICS,
    "tableware": LabelGroup.TABLEWARE,
    "dishes": LabelGroup.TABLEWARE, "bag": LabelGroup.BAG, "bags": LabelGroup.BAG,
}


def plural(word: str) -> str:
    """The plural of a class name or synonym (``"bus"`` -> ``"buses"``)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _object_words() -> dict[str, frozenset[Label]]:
    table: dict[str, set[Label]] = {}
    singular: dict[str, tuple[Label, ...]] = {m.value: (m,) for m in OBJECT_LABELS}
    singular.update(_SYNONYMS)
    for word, labels in singular.items():
        for form in (word, plural(word)):
            table.setdefault(form, set()).update(labels)
    for word, group in OBJECT_GROUP_WORDS.items():
        table.setdefault(word, set()).update(GROUP_MEMBERS[group])
    # "orange" is a colour far more often than a fruit in a question ("someone in orange"): only the plural
    # names the fruit.
    del table["orange"]
    return {w: frozenset(v) for w, v in table.items()}


OBJECT_WORDS: dict[str, frozenset[Label]] = _object_words()
"""Every word or phrase (singular and plural) that names object classes, to the classes it names."""

# Longest phrases first, so "traffic light" wins over "traffic" and "wine glass" over "glass".
_OBJECT_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(OBJECT_WORDS, key=len, reverse=True))
                        + r")\b")


def find_objects(text: str) -> list[tuple[str, frozenset[Label]]]:
    """The object words of ``text`` (lower case) in order, each with the classes it names.

    Example:
        >>> [(w, sorted(m.value for m in labels)) for w, labels in find_objects("two vans and a traffic light")]
        [('vans', ['car', 'truck']), ('traffic light', ['traffic light'])]
    """
    return [(m.group(1), OBJECT_WORDS[m.group(1)]) for m in _OBJECT_RE.finditer(text.lower())]


class BodyState(StrEnum):
    """States of a face, a hand or a body that perception reads (``face_state``, ``hands``, ``pose``).

    The value is what an observation's ``attrs["change"]`` names and what a question's state is;
    :data:`STATE_NEEDS` says which capability reads each one.
    """

    MOUTH_OPEN = "mouth_open"
    """The mouth open wide (shouting, surprise, a yawn; not the small openings of speech)."""
    EYES_CLOSED = "eyes_closed"
    """Both eyes shut."""
    FACING_CAMERA = "facing_camera"
    """The face turned towards the camera."""
    STANDING = "standing"
    """A person standing (or walking): torso and thighs upright."""
    SITTING = "sitting"
    """A person sitting: torso upright, a thigh near horizontal."""
    LYING = "lying"
    """A person lying down (or fallen): torso near horizontal."""
    ARM_RAISED = "arm_raised"
    """A wrist above the shoulders."""


STATE_NEEDS: dict[BodyState, Capability] = {
    BodyState.MOUTH_OPEN: Capability.FACE_STATE, BodyState.EYES_CLOSED: Capability.FACE_STATE,
    BodyState.FACING_CAMERA: Capability.FACE_STATE,
    BodyState.STANDING: Capability.POSE, BodyState.SITTING: Capability.POSE, BodyState.LYING: Capability.POSE,
    BodyState.ARM_RAISED: Capability.POSE,
}
"""The capability an engine must declare to read each state."""

# How people say each state, as patterns over lower-case text: the verb forms ("opens his mouth",
# "closed her eyes"), the adjective forms ("mouth open", "eyes shut") and common stand-ins ("yawns", "gasps").
# Each pattern says the state is on; "closes his mouth" / "opens his eyes" are the same states turning off.
_STATE_ON: dict[BodyState, str] = {
    BodyState.MOUTH_OPEN: r"\bjaws?\s+(\w+\s+){0,2}(drop|drops|dropped|dropping)\b|"
                          r"\b(open(s|ed|ing)?|gap(es|ed|ing)?)\s+(\w+\s+){0,2}mouths?\b|\bmouths?\s+(\w+\s+){0,2}"
                          r"(open|opens|opened|opening|agape|wide)\b|\bopen[- ]mouthed\b|\b(yawn|yawns|yawned|yawning|"
                          r"gasp|gasps|gasped)\b",
    BodyState.EYES_CLOSED: r"\b(clos(e|es|ed|ing)|shut(s|ting)?)\s+(\w+\s+){0,2}eyes?\b|\beyes?\s+(\w+\s+){0,2}"
                           r"(closed|shut|close|closes|closing)\b|\b(blink|blinks|blinked|blinking|asleep|"
                           r"sleeping|dozing|dozes|dozed)\b",
    BodyState.FACING_CAMERA: r"\b(look(s|ed|ing)?|stare[sd]?|staring|fac(e|es|ed|ing)|turn(s|ed|ing)?)\s+"
                             r"(\w+\s+){0,3}(at|to|towards?|into)\s+(the\s+)?(camera|lens)\b|\bfac(e|es|ed|ing)\s+(the\s+)?"
                             r"(camera|lens|us|forward)\b|\beye contact\b",
    BodyState.STANDING: r"\b(stand|stands|standing|stood)\b|\b(gets?|got|getting)\s+up\b",
    BodyState.SITTING: r"\b(sit|sits|sitting|sat|seated)\b",
    BodyState.LYING: r"\b(lie|lies|lying|lay|laid)\s+(down|on)\b|\blying\b|\b(falls?|fell|fallen)\s+(down|over)\b|"
                     r"\b(falls?|fell|fallen)\b|\bon the (ground|floor)\b",
    BodyState.ARM_RAISED: r"\b(rais(e|es|ed|ing)|lift(s|ed|ing)?|put(s|ting)?\s+up|throw(s|ing)?\s+up)\s+(\w+\s+){0,2}"
                          r"arms?\b|\barms?\s+(\w+\s+){0,2}(up|raised|in the air)\b|\bhands up\b",
}
_STATE_OFF: dict[BodyState, str] = {
    BodyState.MOUTH_OPEN: r"\b(clos(e|es|ed|ing)|shut(s|ting)?)\s+(\w+\s+){0,2}mouths?\b|\bmouths?\s+(\w+\s+){0,2}"
                          r"(closed|shut)\b",
    BodyState.EYES_CLOSED: r"\b(open(s|ed|ing)?)\s+(\w+\s+){0,2}eyes?\b|\beyes?\s+(\w+\s+){0,2}(open|opened)\b|"
                           r"\bwak(e|es|ing)\s+up\b|\bwoke\b",
    BodyState.FACING_CAMERA: r"\blook(s|ed|ing)?\s+away\b|\bturn(s|ed|ing)?\s+away\b",
    BodyState.STANDING: r"(?!x)x",  # "sits down" is SITTING turning on, not STANDING turning off
    BodyState.SITTING: r"(?!x)x",
    BodyState.LYING: r"(?!x)x",
    BodyState.ARM_RAISED: r"\b(lower(s|ed|ing)?|drop(s|ped|ping)?)\s+(\w+\s+){0,2}arms?\b",
}
_STATE_ON_RE = {s: re.compile(p) for s, p in _STATE_ON.items()}
_STATE_OFF_RE = {s: re.compile(p) for s, p in _STATE_OFF.items()}
STATE_WORDS = frozenset({"agape", "arm", "arms", "asleep", "blink", "blinked", "blinking", "blinks", "camera",
    "close", "closed", "closes", "closing", "eye", "eyes", "facing", "fall", "fallen", "falls", "fell", "gasp",
    "gasped", "gasps", "jaw", "jaws", "lay", "lens", "lie", "lies", "looked", "looking", "looks", "lying", "mouth",
    "mouths", "open", "opened", "opening", "opens", "raise", "raised", "raises", "sat", "seated", "shut", "sit",
    "sits", "sitting", "sleeping", "stand", "standing", "stands", "stood", "yawn", "yawned", "yawning", "yawns"})
"""Words a state phrase is made of (so the query layer does not take them for things it cannot see)."""


_NOT_MOVING_RE = re.compile(r"\b(stand(s|ing)?|stood) (still|motionless)\b")


def find_states(text: str) -> list[tuple[BodyState, bool]]:
    """The body states ``text`` (lower case) mentions, each with whether it is said to be on.

    ``(MOUTH_OPEN, True)`` for "opens his mouth", ``(MOUTH_OPEN, False)`` for "closes his mouth"; in
    order of first mention, each state once.

    Example:
        >>> find_states("when did the man first open his mouth wide?")
        [(<BodyState.MOUTH_OPEN: 'mouth_open'>, True)]
        >>> find_states("tell me when she closes her eyes")
        [(<BodyState.EYES_CLOSED: 'eyes_closed'>, True)]
        >>> find_states("is he looking at the camera?")
        [(<BodyState.FACING_CAMERA: 'facing_camera'>, True)]
    """
    # "Standing still", "stood still" say someone is not moving, not how they hold their body.
    q = _NOT_MOVING_RE.sub(lambda m: " " * len(m.group(0)), text.lower())
    found: list[tuple[int, BodyState, bool]] = []
    for s in BodyState:
        m_off = _STATE_OFF_RE[s].search(q)
        m_on = _STATE_ON_RE[s].search(q)
        if m_on and (not m_off or m_on.start() <= m_off.start()):
            found.append((m_on.start(), s, True))
        elif m_off:
            found.append((m_off.start(), s, False))
    return [(s, on) for _, s, on in sorted(found, key=lambda x: x[0])]
