"""The optional model-filled parser: JSON-schema requests, validation, and the offline fallback.

Most tests use a stand-in server (``httpx.MockTransport``) that answers what each test needs; the last
ones run llama.cpp's real server with a tiny random-weight model (its grammar keeps even random weights
inside the schema), skipped when ``llama-cpp-python[server]`` is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import ModelError, QueryError
from onlook.query.alerts import RuleKind, compile_alert
from onlook.query.model import Ask, Query
from onlook.query.model_parser import (
    _ALERT_EXAMPLES,
    _EXAMPLES,
    ModelQueryParser,
    build_parser,
    from_model_json,
    query_schema,
)
from onlook.query.understand import understand
from onlook.vocabulary import Label

CORPUS = Path(__file__).parent / "corpus"


def to_model_form(expect: dict[str, Any]) -> dict[str, Any]:
    """A corpus query in the model's JSON form (``compare`` as an object)."""
    d = dict(expect)
    if "compare" in d:
        d["compare"] = {"op": d["compare"][0], "n": d["compare"][1]}
    return d


def reply(content: Any, status: int = 200, finish: str = "stop") -> httpx.Response:
    text = content if isinstance(content, str) else json.dumps(content)
    return httpx.Response(status, json={"choices": [{"message": {"role": "assistant", "content": text},
                                                     "finish_reason": finish}]})


def server(handler: Callable[[dict[str, Any]], httpx.Response], seen: list[dict[str, Any]] | None = None
           ) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        return handler(body)
    return httpx.MockTransport(handle)


def parser(handler: Callable[[dict[str, Any]], httpx.Response], seen: list[dict[str, Any]] | None = None,
           **kw: Any) -> ModelQueryParser:
    return ModelQueryParser("m", base_url="http://model.test/v1", transport=server(handler, seen), **kw)


# ---- the schema --------------------------------------------------------------------------------------


def test_every_corpus_query_fits_the_schema_and_round_trips() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = query_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    cases = [c for p in sorted(CORPUS.glob("*.json")) for c in json.loads(p.read_text())]
    assert len(cases) > 400
    for case in cases:
        model_form = to_model_form(case["expect"])
        errors = [e.message for e in validator.iter_errors(model_form)]
        assert not errors, (case["text"], errors)
        assert from_model_json(model_form) == Query.from_dict(case["expect"])


def test_the_schema_names_the_whole_vocabulary_and_refuses_the_rest() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = query_schema()
    labels = set(schema["properties"]["labels"]["items"]["enum"])
    assert {m.value for m in Label} <= labels and "vehicle" in labels
    v = jsonschema.Draft202012Validator(schema)
    for bad in ({"labels": ["car"]},  # no ask
                {"ask": "count", "labels": ["spaceship"]},
                {"ask": "count", "colour": ["red"]},  # a misspelt field
                {"ask": "exists", "compare": ["gt", 3]}):  # the pair form is the corpus's, not the model's
        assert list(v.iter_errors(bad)), bad


def test_the_prompts_examples_are_valid_queries() -> None:
    for text, q in (*_EXAMPLES, *_ALERT_EXAMPLES):
        assert from_model_json(q).ask is not None, text
    assert all(from_model_json(q).ask is Ask.ALERT for _, q in _ALERT_EXAMPLES)


@pytest.mark.parametrize("bad", [[1, 2], {"labels": ["car"]}, {"ask": "count", "compare": {"op": "gt"}},
                                 {"ask": "count", "labels": "car"}, {"ask": "nonsense"}])
def test_invalid_model_json_is_a_query_error(bad: Any) -> None:
    with pytest.raises(QueryError):
        from_model_json(bad)


# ---- requests and fallbacks ---------------------------------------------------------------------------


def test_a_valid_reply_is_the_query_and_the_request_carries_the_schema() -> None:
    seen: list[dict[str, Any]] = []
    p = parser(lambda body: reply({"ask": "count", "labels": ["car"], "compare": {"op": "gt", "n": 2}}), seen)
    got = p.parse("are there more than two cabs?")
    assert got.source == "model" and got.error is None
    assert got.query.subject.labels == frozenset({Label.CAR}) and got.query.compare is not None
    body = seen[0]
    assert body["model"] == "m" and body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == query_schema()
    assert body["messages"][-1] == {"role": "user", "content": "are there more than two cabs?"}
    assert "Examples" in body["messages"][0]["content"]


@pytest.mark.parametrize(("handler", "why"), [
    (lambda body: reply("not json at all"), "not JSON"),
    (lambda body: reply({"ask": "count", "labels": ["spaceship"]}), "not a valid query"),
    (lambda body: reply('{"ask": "count", "labels": ["ca', finish="length"), "cut off"),
    (lambda body: httpx.Response(500, text="boom"), "HTTP 500"),
    (lambda body: httpx.Response(200, json={"nothing": 1}), "no chat completion"),
    (lambda body: httpx.Response(400, text="bad request"), "refused the request in both"),
    # a constraint the question never mentioned is invented, not read
    (lambda body: reply({"ask": "count", "labels": ["person"], "unknown": ["umbrella"]}), "not in the question"),
])
def test_every_failure_falls_back_to_the_offline_parser_and_says_why(handler, why: str) -> None:
    text = "how many people are on the left right now?"
    got = parser(handler).parse(text)
    assert got.source == "offline" and why in (got.error or "")
    assert got.query == understand(text)


def test_an_unreachable_or_slow_server_falls_back() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, why in ((slow, "in time"), (down, "cannot reach")):
        p = ModelQueryParser("m", base_url="http://model.test/v1", transport=httpx.MockTransport(handler))
        got = p.parse("is the room empty?")
        assert got.source == "offline" and why in (got.error or "")
        with pytest.raises(ModelError):
            p.fill("is the room empty?")


def test_a_server_refusing_json_schema_is_asked_with_json_object_and_that_is_kept() -> None:
    seen: list[dict[str, Any]] = []

    def llama_like(body: dict[str, Any]) -> httpx.Response:
        if body["response_format"]["type"] != "json_object":
            return httpx.Response(422, json={"detail": "response_format.type: Input should be 'json_object'"})
        assert body["response_format"]["schema"] == query_schema()
        return reply({"ask": "exists", "labels": ["dog"], "time": {"kind": "now"}})

    p = parser(llama_like, seen)
    assert p("is there a pup here now?").subject.labels == frozenset({Label.DOG})
    assert p.format == "json_object"
    p("is there a pup here now?")
    assert [b["response_format"]["type"] for b in seen] == ["json_schema", "json_object", "json_object"]


def test_alerts_are_filled_as_alerts() -> None:
    seen: list[dict[str, Any]] = []
    # A model that forgets to say "alert" still yields an alert; the alert prompt says what an alert is.
    p = parser(lambda body: reply({"ask": "exists", "labels": ["dog"], "event": "appear"}), seen)
    q = p.alert("ping me if a pooch turns up")
    assert q.ask is Ask.ALERT and q.subject.labels == frozenset({Label.DOG})
    assert "alert" in seen[0]["messages"][0]["content"]
    rule = compile_alert("ping me if a pooch turns up", read=p.alert)
    assert rule.kind is RuleKind.APPEAR and rule.labels == ("dog",)


def test_a_failing_model_leaves_alerts_to_the_offline_parser() -> None:
    p = parser(lambda body: httpx.Response(503, text="loading"))
    assert compile_alert("a person enters the view", read=p.alert) == compile_alert("a person enters the view")


def test_settings_build_the_parser_and_the_engine_uses_it(tmp_path: Path) -> None:
    assert build_parser(Settings()) is None
    s = Settings(parser={"model": "qwen", "base_url": "http://127.0.0.1:9/v1", "timeout_s": 0.5,
                         "response_format": "json_object"})
    p = build_parser(s)
    assert isinstance(p, ModelQueryParser) and p.model == "qwen" and p.format == "json_object"
    # Nothing listens on port 9: an alert is still compiled, by the offline parser.
    eng = StreamEngine("unused.mp4", settings=s.model_copy(update={"memory": {"store": str(tmp_path / "st")}}),
                       alerts=["a person enters the view"])
    try:
        assert isinstance(eng.parser, ModelQueryParser)
        assert eng.answerer.parser is eng.parser  # type: ignore[attr-defined]
        assert eng.book.queries == ["a person enters the view"]
        assert eng.book._rules["a person enters the view"].rule.kind is RuleKind.ENTER
    finally:
        eng.close()


# ---- llama.cpp's real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grammar_server(tmp_path_factory):
    from tiny_llama import running_llama_server

    # The tiny model's vocabulary is bytes: the system prompt alone is thousands of tokens.
    with running_llama_server(tmp_path_factory, "llama_parser.log", n_ctx=8192) as url:
        yield url


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_llama_cpp_server_fills_a_schema_valid_query(grammar_server) -> None:
    p = ModelQueryParser("tiny", base_url=grammar_server, timeout_s=120, max_tokens=600)
    got = p.parse("how many cars are there now?")
    # llama-cpp-python takes the schema only as json_object: the first shape is refused, the second kept.
    assert p.format == "json_object"
    # Random weights say nothing sensible, but the server's grammar keeps them inside the schema: the
    # reply is a valid query, unless it ran past the token budget or names words the question does not
    # have (then the offline parser answers).
    if got.source == "model":
        assert isinstance(got.query, Query)
    else:
        assert "cut off" in (got.error or "") or "not in the question" in (got.error or ""), got.error
        assert got.query == understand("how many cars are there now?")


@pytest.mark.parametrize("url", ["not a url", "ftp://model.test/v1", "http:///v1"])
def test_a_bad_server_url_is_refused_at_start_and_leaves_no_store(tmp_path: Path, url: str) -> None:
    from onlook.errors import ConfigError

    s = Settings(parser={"model": "m", "base_url": url}, memory={"store": str(tmp_path / "st")})
    with pytest.raises(ConfigError, match="base_url"):
        build_parser(s)
    with pytest.raises(ConfigError, match="base_url"):
        StreamEngine("unused.mp4", settings=s)
    assert not (tmp_path / "st").exists()  # refused before a store was made


def test_a_malformed_url_at_request_time_falls_back() -> None:
    p = ModelQueryParser("m", base_url="http://[bad/v1")
    got = p.parse("is the room empty?")
    assert got.source == "offline" and "cannot reach" in (got.error or "")
