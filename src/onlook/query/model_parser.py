"""Optional model-filled parsing: an OpenAI-compatible model fills the typed query through JSON-schema output.

When a model server is configured (``ONLOOK_PARSER__MODEL``, ``--parser-model``), questions and alerts
are sent to its ``/chat/completions`` with a ``response_format`` holding :func:`query_schema`, the JSON
schema of the query language (:mod:`onlook.query.model`), so a grammar-constrained server (llama.cpp,
vLLM) can only produce a well-formed query. The reply is validated twice - as JSON against the schema's
vocabulary by :meth:`~onlook.query.model.Query.from_dict`, and for shape here - and whatever fails
(the server is down, slow, refuses the format, or the model writes something invalid) falls back to the
offline parser (:func:`~onlook.query.understand.understand`), which stays the default and the fast path.

Two request shapes exist: OpenAI's and vLLM's ``{"type": "json_schema", "json_schema": {...}}`` and
llama-cpp-python's ``{"type": "json_object", "schema": {...}}``. The parser sends the configured one
and, when a server rejects it (HTTP 400/422, or a 500 naming ``response_format``), tries the other
once and keeps whichever worked. A reply naming words the question does not contain (an invented
constraint) is refused like an invalid one.

Example:
    >>> import httpx, json
    >>> def server(request):  # a stand-in model server that always answers one query
    ...     reply = {"ask": "count", "labels": ["car"], "time": {"kind": "now"}}
    ...     return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(reply)}}]})
    >>> p = ModelQueryParser("m", base_url="http://model/v1", transport=httpx.MockTransport(server))
    >>> p.parse("how many taxis now?").query.to_dict(), p.parse("how many taxis now?").source
    ({'ask': 'count', 'labels': ['car'], 'time': {'kind': 'now'}}, 'model')
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from onlook.errors import ConfigError, ModelError, QueryError
from onlook.perception.color import COLOR_NAMES
from onlook.query.model import Ask, Cmp, Edge, Event, FollowUp, Query, Region, Size, TimeKind
from onlook.vocabulary import BodyState, Label, LabelGroup

__all__ = ["ModelQueryParser", "Parsed", "build_parser", "from_model_json", "query_schema", "system_prompt"]

log = logging.getLogger(__name__)

ResponseFormat = Literal["json_schema", "json_object"]

# Bounds on every list and string, so even a model that rambles (or a random-weight test model) ends
# its reply within the token budget instead of being cut off mid-JSON.
_MAX_LIST = 6
_MAX_WORD = 40


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [v.value if hasattr(v, "value") else v for v in values]}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item, "maxItems": _MAX_LIST}


def query_schema() -> dict[str, Any]:
    """The JSON schema of a query as the model writes it.

    It is the JSON form of ``docs/query-language.md`` with one change that grammar converters handle
    better: ``compare`` is an object ``{"op": "gt", "n": 3}`` instead of the pair ``["gt", 3]``.
    """
    labels = _enum([*(m.value for m in Label), *(g.value for g in LabelGroup)])
    word = {"type": "string", "maxLength": _MAX_WORD}
    anchor = {"type": "object", "additionalProperties": False, "required": ["event"],
              "properties": {"event": _enum(Event), "labels": _list_of(labels),
                             "ordinal": {"type": "integer", "minimum": -1, "maximum": 20}}}
    time = {"type": "object", "additionalProperties": False, "required": ["kind"],
            "properties": {"kind": _enum(TimeKind), "seconds": {"type": "number", "minimum": 0},
                           "start_s": {"type": "number", "minimum": 0},
                           "end_s": {"type": "number", "minimum": 0}, "anchor": anchor,
                           "shot": {"type": "integer", "minimum": -20, "maximum": 1000}}}
    return {
        "type": "object", "additionalProperties": False, "required": ["ask"],
        "properties": {
            "ask": _enum(Ask),
            "labels": _list_of(labels),
            "colours": _list_of(_enum(COLOR_NAMES)),
            "region": _enum(Region),
            "size": _enum(Size),
            "moving": {"type": "boolean"},
            "held": {"type": "boolean"},
            "heading": _enum(Edge),
            "holding": _list_of(labels),
            "states": {"type": "object", "additionalProperties": False,
                       "properties": {s.value: {"type": "boolean"} for s in BodyState}},
            "words": _list_of(word),
            "event": _enum(Event),
            "negated": {"type": "boolean"},
            "compare": {"type": "object", "additionalProperties": False, "required": ["op", "n"],
                        "properties": {"op": _enum(Cmp), "n": {"type": "integer", "minimum": 0, "maximum": 1000}}},
            "ordinal": {"type": "integer", "minimum": -1, "maximum": 20},
            "edge": _enum(Edge),
            "time": time,
            "follow": _enum(FollowUp),
            "unknown": _list_of(word),
        },
    }


# Few-shot examples in the model's JSON form; they teach the conventions the schema cannot say.
_EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Is the room empty right now?",
     {"ask": "exists", "labels": ["person"], "event": "absent", "time": {"kind": "now"}}),
    ("how many folks on the left rn",
     {"ask": "count", "labels": ["person"], "region": "left", "time": {"kind": "now"}}),
    ("When did the second person in red come in from the right?",
     {"ask": "when", "labels": ["person"], "colours": ["red"], "event": "enter", "ordinal": 2, "edge": "right"}),
    ("How many cabs left between 0:10 and 1:05?",
     {"ask": "count", "labels": ["car"], "event": "leave", "time": {"kind": "between", "start_s": 10, "end_s": 65}}),
    ("Are there more than 3 people visible?",
     {"ask": "exists", "labels": ["person"], "compare": {"op": "gt", "n": 3}, "time": {"kind": "now"}}),
    ("Did anybody leave after the first scene change?",
     {"ask": "exists", "labels": ["person"], "event": "leave",
      "time": {"kind": "after", "anchor": {"event": "cut", "labels": ["shot"], "ordinal": 1}}}),
    ("Is the man with the hat sitting?", {"ask": "exists", "labels": ["person"], "states": {"sitting": True},
                                          "time": {"kind": "now"}, "unknown": ["hat"]}),
    ("and after that?", {"ask": "unknown", "follow": "after_previous"}),
    ("what about the left side?", {"ask": "unknown", "region": "left", "follow": "amend"}),
)
_ALERT_EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("tell me when a dog shows up", {"ask": "alert", "labels": ["dog"], "event": "appear"}),
    ("if more than 3 people are visible", {"ask": "alert", "labels": ["person"], "compare": {"op": "gt", "n": 3}}),
    ("someone in red leaves through the left", {"ask": "alert", "labels": ["person"], "colours": ["red"],
                                                "event": "leave", "edge": "left"}),
    ("when the room is not empty", {"ask": "alert", "labels": ["person"]}),
)


def system_prompt(alert: bool = False) -> str:
    """What the model is told: the language's conventions in brief, and worked examples."""
    examples = (_ALERT_EXAMPLES if alert else _EXAMPLES)
    shown = "\n".join(f"{text}\n{json.dumps(q)}" for text, q in examples)
    role = ("The user's text is an alert rule for a camera: `ask` is always \"alert\"; give no time unless "
            "one is named." if alert else
            "The user's text is a question about what a camera has seen so far.")
    return (
        "Translate the user's text into one JSON query for a video-watching system. " + role + "\n"
        "Labels are COCO classes plus person, face, hand, text and shot; map synonyms to them (taxi -> car, "
        "folks -> person, scene change -> shot with event cut). Present tense about the current picture is "
        "time now; past tense or 'so far' has no time. 'How many' is count, 'how many times' frequency, "
        "'the most at once' peak, 'how long' duration, yes/no questions exists. 'Nobody', 'empty' are event "
        "absent. A region says where a thing is, an edge which border it crossed entering or leaving. "
        "Ordinals: first 1, second 2, last -1. Times are seconds (1:05 is 65). Put restrictive details the "
        "labels cannot express (hats, glasses, actions like eating, objects not in the labels) in unknown, "
        "as lemmas; leave out details that restrict nothing. Write only the JSON.\n\nExamples:\n" + shown)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed query and who filled it.

    Attributes:
        query: The typed query.
        source: ``"model"`` when the model's reply was used, ``"offline"`` when the offline parser was.
        error: Why the model's reply was not used (``None`` when it was, or when no model is set).
    """

    query: Query
    source: Literal["model", "offline"]
    error: str | None = None


def from_model_json(data: Any) -> Query:
    """The query a model's JSON reply describes (the schema's ``compare`` object becomes the pair).

    Raises:
        QueryError: the reply is not a valid query.
    """
    if not isinstance(data, dict):
        raise QueryError(f"the model's reply is a JSON {type(data).__name__}, not an object")
    d = dict(data)
    cmp = d.get("compare")
    if isinstance(cmp, dict):
        if set(cmp) - {"op", "n"} or "op" not in cmp or "n" not in cmp:
            raise QueryError(f"not a valid query: compare must be {{op, n}}, not {cmp}")
        d["compare"] = [cmp["op"], cmp["n"]]
    for key in ("labels", "colours", "words", "unknown"):
        if key in d and not isinstance(d[key], list):
            raise QueryError(f"not a valid query: {key} must be a list")
    if "ask" not in d:
        raise QueryError("not a valid query: it has no ask")
    return Query.from_dict(d)


def _check_words(q: Query, text: str) -> None:
    """Refuse a reply whose words (text to find, unknown constraints) are not the question's own.

    A model that invents a constraint would make the answer wrong where the offline parser's is right;
    words are compared by their first four letters, so a lemma ("wear" for "wearing") still matches.
    """
    tokens = {t[:4] for t in re.findall(r"[a-z0-9]+", text.lower())}
    for w in (*q.subject.words, *q.unknown):
        parts = re.findall(r"[a-z0-9]+", w.lower())
        if not parts or any(p[:4] not in tokens for p in parts):
            raise QueryError(f"the model's reply names {w[:40]!r}, which is not in the question")


class _Refused(Exception):
    """The server refused a request's shape (HTTP 400/422)."""


class ModelQueryParser:
    """Fill the typed query with an OpenAI-compatible model; fall back to the offline parser.

    Args:
        model: The model's name as the server knows it.
        base_url: The server's ``/v1`` URL.
        api_key: Sent as a bearer token when given (local servers ignore it).
        timeout_s: Longest wait for the reply; past it the offline parser answers.
        response_format: The request shape tried first (see the module's docstring).
        max_tokens: Longest reply.
        transport: An httpx transport (tests pass ``httpx.MockTransport``).
        fallback: The offline parser for questions.
        alert_fallback: The offline parser for alerts.
    """

    def __init__(self, model: str, *, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 timeout_s: float = 10.0, response_format: ResponseFormat = "json_schema", max_tokens: int = 300,
                 transport: httpx.BaseTransport | None = None,
                 fallback: Callable[[str], Query] | None = None,
                 alert_fallback: Callable[[str], Query] | None = None) -> None:
        from onlook.query.understand import understand, understand_alert

        self.model, self.base_url = model, base_url.rstrip("/")
        self.max_tokens = max_tokens
        self.format: ResponseFormat = response_format
        self._fallback = fallback or understand
        self._alert_fallback = alert_fallback or understand_alert
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env=False: a proxy from the environment must not see a loopback model server.
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers, transport=transport,
                                    trust_env=False)
        self._schema = query_schema()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelQueryParser({self.model!r}, base_url={self.base_url!r})"

    def __call__(self, text: str) -> Query:
        """The query for the question ``text`` (the model's when it gave a valid one)."""
        return self.parse(text).query

    def alert(self, text: str) -> Query:
        """The query for the alert ``text`` (its ``ask`` is always ``alert``)."""
        return self.parse(text, alert=True).query

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def parse(self, text: str, *, alert: bool = False) -> Parsed:
        """Ask the model for ``text``'s query; on any failure, the offline parser's, with the reason."""
        fallback = self._alert_fallback if alert else self._fallback
        try:
            q = self.fill(text, alert=alert)
        except (ModelError, QueryError) as e:
            log.warning("model parser: %s; the offline parser answers", e)
            return Parsed(fallback(text), "offline", str(e))
        return Parsed(q, "model")

    def fill(self, text: str, *, alert: bool = False) -> Query:
        """The model's query for ``text``, with no fallback.

        Raises:
            ModelError: the server could not be reached, timed out, or refused the request.
            QueryError: the model's reply is not a valid query.
        """
        with self._lock:  # the format may switch once; concurrent callers see one decision
            first = self.format
        try:
            content = self._request(text, alert, first)
        except _Refused:  # the server refused this request shape: try the other one
            other: ResponseFormat = "json_object" if first == "json_schema" else "json_schema"
            try:
                content = self._request(text, alert, other)
            except _Refused as e:
                raise ModelError(f"{self.base_url} refused the request in both JSON-schema shapes: {e}") from None
            with self._lock:
                self.format = other
        try:
            data = json.loads(content, strict=False)  # some grammars let raw control characters into strings
        except json.JSONDecodeError as e:
            raise QueryError(f"the model's reply is not JSON ({e.msg}): {content[:80]!r}") from None
        q = from_model_json(data)
        _check_words(q, text)
        if alert and q.ask is not Ask.ALERT:
            q = q.with_(ask=Ask.ALERT)
        return q

    def _request(self, text: str, alert: bool, shape: ResponseFormat) -> str:
        fmt: dict[str, Any] = ({"type": "json_schema", "json_schema": {"name": "query", "schema": self._schema,
                                                                       "strict": True}}
                               if shape == "json_schema" else {"type": "json_object", "schema": self._schema})
        body = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens, "response_format": fmt,
                "messages": [{"role": "system", "content": system_prompt(alert)},
                             {"role": "user", "content": text}]}
        url = f"{self.base_url}/chat/completions"
        try:
            r = self._client.post(url, json=body)
        except httpx.TimeoutException:
            raise ModelError(f"{url} did not answer in time") from None
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise ModelError(f"cannot reach {url}: {e}") from None
        # llama-cpp-python answers an unknown response_format with HTTP 500 naming the field.
        if r.status_code in (400, 422) or (r.status_code == 500 and "response_format" in r.text):
            raise _Refused(f"HTTP {r.status_code}: {r.text[:200]}")
        if r.status_code != 200:
            raise ModelError(f"{url} answered HTTP {r.status_code}: {r.text[:200]}")
        try:
            choice = r.json()["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelError(f"{url} sent no chat completion: {r.text[:200]}") from None
        if choice.get("finish_reason") == "length":
            raise QueryError(f"the model's reply was cut off at {self.max_tokens} tokens")
        if not isinstance(content, str):
            raise ModelError(f"{url} sent no text in its completion")
        return content


def build_parser(settings: Any) -> ModelQueryParser | None:
    """The model parser ``settings.parser`` configures, or ``None`` when no model is set (offline only).

    Args:
        settings: A :class:`~onlook.config.Settings`.

    Raises:
        ConfigError: the server's URL is not an http(s) URL (said once, at start, not at every question).
    """
    p = settings.parser
    if not p.model:
        return None
    try:
        url = httpx.URL(p.base_url)
    except httpx.InvalidURL as e:
        raise ConfigError(f"parser.base_url {p.base_url!r} is not a URL: {e}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"parser.base_url {p.base_url!r} must be an http(s) URL with a host, like "
                          "http://127.0.0.1:8000/v1")
    return ModelQueryParser(p.model, base_url=p.base_url, api_key=p.api_key, timeout_s=p.timeout_s,
                            response_format=p.response_format)
