"""Answers through a model-filled query: the model's query is what gets answered; a failure is invisible.

Scenario (``conftest``): a person in red enters from the right at 12 s and leaves through the left at 25 s.
"""

from __future__ import annotations

import json

import httpx

from onlook.answer.extractive import ExtractiveAnswerer
from onlook.query.model_parser import ModelQueryParser


def _parser(content: dict | None) -> ModelQueryParser:
    def handle(request: httpx.Request) -> httpx.Response:
        if content is None:
            return httpx.Response(503, text="model loading")
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(content)},
                                                      "finish_reason": "stop"}]})
    return ModelQueryParser("m", base_url="http://model.test/v1", transport=httpx.MockTransport(handle))


def test_the_models_query_is_answered(make_view) -> None:
    view = make_view()
    question = "tally of crimson-clad arrivals?"  # wording the model understood for us
    model = ExtractiveAnswerer(parser=_parser({"ask": "count", "labels": ["person"], "colours": ["red"],
                                               "event": "enter"}))
    ans = model.answer(question, view, at=40.0)
    assert ans.value == 1 and not ans.abstained, ans.text
    # the model said who left through which edge; the answer is the time of that exit
    when = ExtractiveAnswerer(parser=_parser({"ask": "when", "labels": ["person"], "event": "leave",
                                              "edge": "left"})).answer("and the exit?", view, at=40.0)
    assert when.value is not None and abs(float(when.value) - 25.0) < 1.5, when.text


def test_a_failing_model_answers_as_the_offline_parser_would(make_view) -> None:
    view = make_view()
    for question in ("How many people came in?", "When did the person leave?", "Is anyone here now?"):
        offline = ExtractiveAnswerer().answer(question, view, at=40.0)
        failed = ExtractiveAnswerer(parser=_parser(None)).answer(question, view, at=40.0)
        assert (failed.text, failed.value) == (offline.text, offline.value)
