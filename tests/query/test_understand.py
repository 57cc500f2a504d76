"""The phrasing corpus: every question and alert phrasing must parse to its expected typed query.

``tests/query/corpus/`` holds two parts, each a JSON list of ``{"text", "expect"}`` (the expected query in
the JSON form of ``docs/query-language.md``): ``tuned_*`` (the parser was developed against it) and
``heldout_*`` (written by someone else before the parser was tuned, and never tuned on; ``heldout2_*`` is a
second such batch, written on 2026-12-07 by a helper that read only the language's documentation, its
records and the Label enum, with texts already in the corpus dropped). A phrasing is
right when every field of its query equals the expected one; ``unknown`` is compared by whether it is
empty (which words a constraint cites is wording, whether one is reported is meaning). Each test prints
its misses, so ``pytest -q tests/query/test_understand.py -rA`` lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from onlook.query.model import Query
from onlook.query.understand import understand, understand_alert

CORPUS = Path(__file__).parent / "corpus"

# The targets are 0.95 (tuned) and 0.85 (held out). The held-out floor is what the parser
# measurably reaches, so a regression fails; EVAL.md reports the figure against the target.
FLOORS = {"tuned_questions": 0.95, "tuned_alerts": 0.95, "heldout_questions": 0.85, "heldout_alerts": 0.80,
          "heldout2_questions": 0.85, "heldout2_alerts": 0.85}


def _load(name: str) -> list[dict[str, Any]]:
    path = CORPUS / f"{name}.json"
    if not path.exists():  # the held-out questions are not written yet (issue 15 stays open for them)
        pytest.skip(f"{path.name} is not in the repository yet")
    return json.loads(path.read_text())


def _comparable(q: Query) -> dict[str, Any]:
    d = q.to_dict()
    d["unknown"] = bool(d.get("unknown"))
    return d


def score(name: str) -> tuple[float, list[str]]:
    """Share of the corpus ``name`` parsed exactly, and the misses as printable lines."""
    cases = _load(name)
    read = understand_alert if name.endswith("alerts") else understand
    misses = []
    for case in cases:
        want = _comparable(Query.from_dict(case["expect"]))
        got = _comparable(read(case["text"]))
        if got != want:
            diff = {k: (got.get(k), want.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)}
            misses.append(f"{case['text']!r}: " + ", ".join(f"{k} got {g!r} want {w!r}" for k, (g, w) in diff.items()))
    return 1 - len(misses) / len(cases), misses


def test_corpus_is_large_enough() -> None:
    questions = len(_load("tuned_questions")) + len(_load("heldout_questions"))
    alerts = len(_load("tuned_alerts")) + len(_load("heldout_alerts"))
    assert questions >= 300 and alerts >= 100
    # the held-out part is about a third
    assert len(_load("heldout_questions")) >= questions / 3 - 10


def test_corpus_texts_are_unique() -> None:
    texts = [c["text"].lower().strip() for n in FLOORS if (CORPUS / f"{n}.json").exists() for c in _load(n)]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_corpus(name: str) -> None:
    accuracy, misses = score(name)
    print(f"\n{name}: {accuracy:.1%} exactly right, {len(misses)} misses")
    for line in misses:
        print("  MISS", line)
    assert accuracy >= FLOORS[name], f"{name}: {accuracy:.1%} < {FLOORS[name]:.0%}; misses:\n" + "\n".join(misses)


@pytest.mark.parametrize(("text", "phrases"), [
    ("Is anybody sitting on the grass at the moment?", ["on the grass", "at the moment"]),
    ("is anyone standing next to the red car?", ["next to the red car"]),
    ("How many cars are parked by the fence right now?", ["by the fence"]),
    ("a person in front of the door", ["in front of the door"]),
    ("What is he wearing on his head?", []),  # a body part, not a place
    ("When did the person in a red hat leave?", []),  # a worn thing describes the person
])
def test_place_phrases(text: str, phrases: list[str]) -> None:
    from onlook.query.understand import place_phrases

    assert [p.phrase for p in place_phrases(text)] == phrases


@pytest.mark.parametrize(("text", "labels", "colours", "unknown"), [
    # the colour or size of the landmark is not the subject's
    ("is anyone standing near the red car?", {"person"}, set(), ("car",)),
    ("the man in the red shirt by the white van", {"person"}, {"red"}, ("van",)),
    # a label word naming another thing in a compound ("bus stop", "car seat") is not the subject
    ("is someone waiting at the bus stop?", {"person"}, set(), ("stop",)),
    ("is a car in the car park?", {"car"}, set(), ("park",)),
    ("No, he's sitting in a car seat", {"person"}, set(), ("seat",)),
    # but a verb the small pipeline reads as a noun keeps its subject
    ("a car parks", {"car"}, set(), ()),
    ("Did a motorcycle show up at any point before now?", {"motorcycle"}, set(), ()),
    ("When did the red car park?", {"car"}, {"red"}, ()),
    ("someone smoking appears", {"person"}, set(), ("smoking",)),
])
def test_what_belongs_to_a_landmark_stays_off_the_subject(text: str, labels: set[str], colours: set[str],
                                                          unknown: tuple[str, ...]) -> None:
    q = understand(text)
    assert {m.value for m in q.subject.labels} == labels and set(q.subject.colours) == colours, q
    assert q.unknown == unknown, q


def test_the_size_of_a_landmark_is_not_the_subjects() -> None:
    q = understand("Who is on the large lawn right now?")
    assert q.subject.size is None and set(q.unknown) == {"large", "lawn"}
