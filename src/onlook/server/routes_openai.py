"""Routes of the OpenAI-compatible API (``/v1``). Thin: parse, call :class:`OpenAIServing`, return.

Errors raised in these routes (bad bodies, unknown models, onlook errors)
are answered in OpenAI's shape, ``{"error": {"message", "type", "param",
"code"}}``, with request validation problems as 400 (as OpenAI does), by
:class:`OpenAIRoute`. The API key (``Authorization: Bearer KEY``, what the
``openai`` client sends) is checked before, by the app's middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from onlook.errors import OnlookError
from onlook.server.errors import one_line
from onlook.server.protocol_openai import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    OpenAIErrorResponse,
)
from onlook.server.routes_streams import SSE_HEADERS
from onlook.server.serving_openai import OpenAIServing, error_body

__all__ = ["router", "OpenAIRoute", "get_serving"]

log = logging.getLogger(__name__)


def _validation_error(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    e = errors[0] if errors else {}
    loc = [str(p) for p in e.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    kind = e.get("type", "")
    if kind == "json_invalid":
        detail = (e.get("ctx") or {}).get("error", "")
        message = f"the request body is not valid JSON{': ' + detail if detail else ''}"
    elif kind == "model_attributes_type" and isinstance(e.get("input"), bytes | str):
        message = "send the request body as JSON with 'Content-Type: application/json'"
    elif kind == "missing":
        message = f"missing required parameter '{param}'" if param else "missing request body"
    else:
        message = str(e.get("msg", "invalid request")).removeprefix("Value error, ")
        message = f"{param}: {message}" if param else message
    return JSONResponse({"error": {"message": one_line(message), "type": "invalid_request_error", "param": param,
                                   "code": None}}, status_code=400)


class OpenAIRoute(APIRoute):
    """An ``APIRoute`` whose errors are answered in OpenAI's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                return _validation_error(e)
            except OnlookError as e:
                status, body = error_body(e)
                if status >= 500:
                    log.error("%s %s failed: %s", request.method, request.url.path, e)
                return JSONResponse(body, status_code=status)

        return route


router = APIRouter(prefix="/v1", route_class=OpenAIRoute, tags=["openai"],
                   responses={c: {"model": OpenAIErrorResponse} for c in (400, 401, 404, 413, 503)})


def get_serving(request: Request) -> OpenAIServing:
    state = request.app.state
    serving = getattr(state, "openai_serving", None)
    if serving is None:  # one per app, made on first use (it keeps which unknown fields were logged)
        serving = state.openai_serving = OpenAIServing(state.service)
    return serving


Serving = Annotated[OpenAIServing, Depends(get_serving)]


@router.get("/models", response_model=ModelList)
async def list_models(serving: Serving) -> ModelList:
    """The streams, as models: use a stream id as ``model`` in chat completions."""
    return await serving.list_models()


@router.get("/models/{model}", response_model=ModelCard)
async def get_model(model: str, serving: Serving) -> ModelCard:
    return await serving.get_model(model)


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "the completion; with stream=true, chat.completion.chunk Server-Sent "
                                             "Events ending with 'data: [DONE]'"}})
async def chat_completions(req: ChatCompletionRequest, serving: Serving) -> Any:
    """Ask the stream named by ``model``: the last user message is the question, earlier turns its history."""
    result = await serving.chat(req)
    if isinstance(result, ChatCompletion):
        return result
    return StreamingResponse(result, media_type="text/event-stream", headers=SSE_HEADERS)
