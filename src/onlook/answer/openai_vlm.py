"""Answer with any OpenAI-compatible chat server: vLLM, SGLang, Ollama, llama.cpp, OpenAI.

Each question is sent as one chat request: a system prompt, the earlier turns
of the conversation (so follow-ups resolve), and one user message holding the
stream time, the state the detectors see now, a compact event log, the
selected frames as JPEG ``image_url`` data URLs each preceded by its stream
time (``Frame at 01:23``), and the question. With ``video=True`` the frames go
instead as one vLLM ``video_url`` of base64 JPEG frames with their true
sampling rate. Tokens stream back (:meth:`OpenAIAnswerer.stream_answer`).

Failures are one line each, raised as :class:`~onlook.errors.ModelError`:
server down (after retries with exponential backoff), no answer within the
timeout, unknown model, rejected key. A server whose model has no vision
rejects image parts with a 4xx (or 5xx) naming images; the answerer then
retries once with the event log as text and stays in text mode.

The request building (:func:`build_messages`) and the option parsing
(:func:`~onlook.answer.prompts.parse_choice`) are pure functions; the flow
from question to answer is :class:`~onlook.answer.vlm.VLMAnswerer`'s.

Example:
    >>> vlm = OpenAIAnswerer("Qwen/Qwen2.5-VL-7B-Instruct", base_url="http://127.0.0.1:8000/v1")  # doctest: +SKIP
    >>> for piece in vlm.stream_answer("what is the person in red carrying?", engine.view):        # doctest: +SKIP
    ...     print(piece, end="", flush=True)
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from onlook.answer.base import History
from onlook.answer.context import Context, ContextBudget, ImageMemo, frames_fps, strip_span
from onlook.answer.prompts import (
    SYSTEM_PROMPT,
    ask_text,
    history_messages,
    option_block,
    parse_choice,
    parse_yes_no,
)
from onlook.answer.vlm import VLMAnswerer
from onlook.errors import ConfigError, ModelError

__all__ = [
    "OpenAIAnswerer",
    "build_messages",
    "data_url",
    "looks_like_no_vision",
    # Prompt text and parsers live in onlook.answer.prompts (shared by every VLM backend); re-exported here.
    "SYSTEM_PROMPT",
    "history_messages",
    "option_block",
    "parse_choice",
    "parse_yes_no",
]

log = logging.getLogger(__name__)


_NO_VISION = re.compile(r"image|vision|multimodal|multi-modal|mmproj|image_url|content.?type|"
                        r"content part|not a multimodal", re.IGNORECASE)


# --- pure request building --------------------------------------------------------------------


def data_url(image: np.ndarray, quality: int = 80) -> str:
    """A BGR image as a ``data:image/jpeg;base64,...`` URL.

    Raises:
        ModelError: the image cannot be encoded.
    """
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ModelError(f"cannot encode a frame of shape {image.shape} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


# The frames a context shows are mostly the ones the last question showed (the same live
# window, the same keyframes, the same arrays: see context.ImageMemo): encode each once.
# About 30 KB of base64 each; enough for a few questions' frames of a few streams.
_DATA_URLS = ImageMemo(64)


def _frame_url(image: np.ndarray, quality: int) -> str:
    if image.flags.writeable:  # its owner could still change it: encode what it shows now
        return data_url(image, quality)
    return _DATA_URLS.get(image, ("jpeg", int(quality)), lambda im: data_url(im, quality))


def build_messages(question: str, ctx: Context, *, history: History = (), options: Sequence[str] | None = None,
                   vision: bool = True, video: bool = False, system_prompt: str = SYSTEM_PROMPT,
                   jpeg_quality: int = 80) -> list[dict[str, Any]]:
    """The chat messages for one question (pure: same inputs, same request).

    Args:
        question: The user's words.
        ctx: Frames and log from :func:`~onlook.answer.context.build_context`.
        history: Earlier turns of the conversation, oldest first.
        options: Multiple-choice options; the model is told to answer with a letter.
        vision: Send the frames as images; False sends only text (the log and
            the frames' notes), for models without vision.
        video: Send the frames as one vLLM ``video_url`` (base64 JPEG frames
            joined by commas) instead of separate images.
        system_prompt: The system message.
        jpeg_quality: JPEG quality of the frames.

    Returns:
        OpenAI chat ``messages``: system, history, then one user message
        whose content is a list of ``text`` / ``image_url`` / ``video_url`` parts.
    """
    parts: list[dict[str, Any]] = [{"type": "text", "text": ctx.text()}]
    if vision and ctx.frames:
        if video and len(ctx.frames) > 1:
            fps = frames_fps(ctx.times)
            times = ", ".join(f.label for f in ctx.frames)
            rate = f" (about {fps:.2g} frames per second)" if fps else ""
            parts.append({"type": "text", "text": f"Video of {len(ctx.frames)} frames at stream times {times}{rate}:"})
            frames = ",".join(_frame_url(f.image, jpeg_quality).split(",", 1)[1] for f in ctx.frames)
            parts.append({"type": "video_url", "video_url": {"url": "data:video/jpeg;base64," + frames}})
        else:
            for f in ctx.frames:
                note = f" ({strip_span(f.note)})" if f.note else ""
                parts.append({"type": "text", "text": f"Frame at {f.label}{note}:"})
                parts.append({"type": "image_url", "image_url": {"url": _frame_url(f.image, jpeg_quality)}})
    parts.append({"type": "text", "text": ask_text(question, ctx.at, options)})
    if not vision:  # text-only servers may reject content lists: send one string
        content: Any = "\n\n".join(p["text"] for p in parts)
    else:
        content = parts
    return [{"role": "system", "content": system_prompt}, *history_messages(history),
            {"role": "user", "content": content}]


def looks_like_no_vision(status: int | None, message: str) -> bool:
    """Whether a server's error says that it cannot take images (the model has no vision)."""
    return (status is None or 400 <= status < 600) and bool(_NO_VISION.search(message or ""))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- the answerer -------------------------------------------------------------------------------


class OpenAIAnswerer(VLMAnswerer):
    """Answer questions with a vision-language model behind an OpenAI-compatible API.

    Args:
        model: Model name as the server knows it (``Qwen/Qwen2.5-VL-7B-Instruct``,
            ``qwen2.5vl:7b`` for Ollama...).
        base_url: The server's ``/v1`` URL.
        api_key: Key sent as a bearer token (servers on your machine ignore it).
        budget: What each question may show the model.
        timeout_s: Longest wait for the server's next bytes (per chunk when streaming).
        connect_timeout_s: Longest wait to connect.
        retries: Further attempts after a connection failure, timeout, 429 or 5xx
            before the first token; delays double from ``backoff_s``.
        backoff_s: First retry delay.
        max_tokens: Longest answer.
        temperature: Sampling temperature (0: deterministic where the server allows).
        video: Send frames as one vLLM ``video_url`` instead of separate images.
        vision: True/False to force images on/off; None tries images and falls
            back to text for good when the server rejects them.
        system_prompt: The system message.
        client: An ``openai.OpenAI`` client to use instead of building one.

    Raises:
        ConfigError: the ``openai`` package is missing or a value is invalid.
    """

    name = "openai"

    def __init__(self, model: str, *, base_url: str = "http://127.0.0.1:8000/v1", api_key: str | None = None,
                 budget: ContextBudget | None = None, timeout_s: float = 60.0, connect_timeout_s: float = 5.0,
                 retries: int = 2, backoff_s: float = 0.5, max_tokens: int = 256, temperature: float = 0.0,
                 video: bool = False, vision: bool | None = None, system_prompt: str = SYSTEM_PROMPT,
                 client: Any = None) -> None:
        if not model:
            raise ConfigError("the openai answerer needs a model name (--model)")
        if timeout_s <= 0 or connect_timeout_s <= 0 or retries < 0 or backoff_s < 0 or max_tokens < 1:
            raise ConfigError("timeouts must be > 0, retries and backoff >= 0, max_tokens >= 1")
        super().__init__(budget)
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.video = video
        self.vision = vision
        self.system_prompt = system_prompt
        self._lock = threading.Lock()
        if client is None:
            try:
                import openai
            except ImportError as e:  # pragma: no cover - openai is a core dependency
                raise ConfigError(f"the openai answerer needs the openai package: pip install openai ({e})") from None
            client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "EMPTY", max_retries=0,
                                   # openai's own Timeout: openai 3 runs on an httpx fork (httpx2) that
                                   # refuses httpx's Timeout; openai.Timeout is the right one in 1.x and 3.x.
                                   timeout=openai.Timeout(timeout_s, connect=connect_timeout_s))
        self.client = client

    def __repr__(self) -> str:
        return f"OpenAIAnswerer(model={self.model!r}, base_url={self.base_url!r})"

    # --- the model ---------------------------------------------------------------------------------

    def reply_pieces(self, question: str, ctx: Context, view: Any, options: Sequence[str] | None,
                     history: History) -> Iterator[str]:
        """The server's reply to one question shown ``ctx``, streamed (see :func:`build_messages`).

        Raises:
            ModelError: the server is down, timed out, or rejected the request.
        """
        fps = frames_fps(ctx.times) if self.video and len(ctx.frames) > 1 else None
        yield from self.stream_messages(lambda vision: build_messages(
            question, ctx, history=history, options=options, vision=vision, video=self.video,
            system_prompt=self.system_prompt), video_fps=fps)

    def stream_messages(self, build: Callable[[bool], list[dict[str, Any]]], *,
                        video_fps: float | None = None) -> Iterator[str]:
        """Send a request built by ``build(vision)`` and stream the reply.

        Retries before the first token; when the server rejects image parts,
        rebuilds the request without them (``build(False)``) and remembers
        that the model has no vision. ``video_fps`` is the true sampling rate
        of a ``video_url`` request's frames (sent to vLLM so it does not resample).
        """
        vision = self.vision is not False
        while True:
            try:
                yield from self._stream_with_retries(build(vision), has_images=vision,
                                                     video_fps=video_fps if vision else None)
                if vision and self.vision is None:
                    self.vision = True
                return
            except _RejectedImages as e:
                log.warning("model %s rejected images (%s); answering from the event log as text", self.model, e)
                self.vision = False
                vision = False

    def complete(self, messages: list[dict[str, Any]]) -> str:
        """Send ready-made messages and return the whole reply."""
        return "".join(self._stream_with_retries(messages, has_images=False))

    # --- internals -----------------------------------------------------------------------------------


    def _stream_with_retries(self, messages: list[dict[str, Any]], *, has_images: bool,
                             video_fps: float | None = None) -> Iterator[str]:
        import openai

        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "max_tokens": self.max_tokens, "temperature": self.temperature}
        if video_fps:  # vLLM: the frames are the video, at their true rate; do not resample them
            body["mm_processor_kwargs"] = {"fps": round(video_fps, 4), "do_sample_frames": False}
        attempt = 0
        while True:
            started = False
            try:
                # The client's plain POST, not chat.completions.create: the typed path walks the whole
                # request (images included) to transform it and builds a pydantic model per streamed
                # token, about 7 ms of Python per answer that holds the GIL and so stalls ingest. Same
                # HTTP, same retries-free client, same errors; the chunks come back as dicts.
                stream = self.client.post("/chat/completions", cast_to=object, body=body, stream=True,
                                          stream_cls=openai.Stream[object])
                chunks = 0
                try:
                    for chunk in stream:
                        chunks += 1
                        piece = _delta_text(chunk)
                        if piece:
                            started = True
                            yield piece
                finally:
                    close = getattr(stream, "close", None)
                    if close:
                        close()
                if chunks == 0:
                    # Some servers (llama-cpp-python) answer 200 and drop an error raised inside the
                    # stream: ask once without streaming to get the answer, or the error, in the open.
                    text = self._complete_once({**body, "stream": False})
                    if text:
                        started = True
                        yield text
                return
            except openai.APIStatusError as e:
                msg = _error_text(e)
                if has_images and e.status_code != 429 and looks_like_no_vision(e.status_code, msg) and not started:
                    raise _RejectedImages(msg) from None
                if e.status_code == 404:
                    raise ModelError(f"model server at {self.base_url} has no model {self.model!r} "
                                     f"(HTTP 404: {_one_line(msg, 160)})") from None
                if e.status_code in (401, 403):
                    raise ModelError(f"model server at {self.base_url} rejected the API key "
                                     f"(HTTP {e.status_code})") from None
                if e.status_code in (408, 409, 429) or e.status_code >= 500:
                    if started or attempt >= self.retries:
                        raise ModelError(f"model server at {self.base_url} failed: HTTP {e.status_code} "
                                         f"{_one_line(msg, 160)}") from None
                else:
                    raise ModelError(f"model server at {self.base_url} rejected the request: HTTP {e.status_code} "
                                     f"{_one_line(msg, 160)}") from None
            except openai.APITimeoutError:
                if started or attempt >= self.retries:
                    raise ModelError(f"model server at {self.base_url} did not answer within {self.timeout_s:g} s "
                                     f"({attempt + 1} attempt{'s' if attempt else ''})") from None
            except openai.APIConnectionError as e:
                if started or attempt >= self.retries:
                    cause = _one_line(str(e.__cause__ or e), 120)
                    raise ModelError(f"cannot reach the model server at {self.base_url} ({cause}); "
                                     f"is it running? ({attempt + 1} attempt{'s' if attempt else ''})") from None
            except openai.OpenAIError as e:  # anything else the client raises: one line
                raise ModelError(f"model server at {self.base_url}: {_one_line(str(e), 200)}") from None
            delay = self.backoff_s * (2 ** attempt)
            attempt += 1
            log.info("model server %s: retrying in %.2f s (attempt %d)", self.base_url, delay, attempt + 1)
            time.sleep(delay)


    def _complete_once(self, body: dict[str, Any]) -> str | None:
        import openai

        for attempt in range(3):
            try:
                resp = self.client.post("/chat/completions", cast_to=object, body=body,
                                        options={"headers": {"Connection": "close"}})
                return _message_text(resp)
            except openai.APITimeoutError:
                raise
            except openai.APIConnectionError:
                # The broken stream's kept-alive connection is dead; a retry opens a fresh one.
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return None


def _delta_text(chunk: Any) -> str | None:
    """The text of one streamed ``chat.completion.chunk`` (a decoded JSON object), if any."""
    try:
        piece = chunk["choices"][0]["delta"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):  # no choices, no delta: a role or usage chunk
        return None
    return piece if isinstance(piece, str) else None


def _message_text(resp: Any) -> str | None:
    """The text of a whole ``chat.completion`` (a decoded JSON object), if any."""
    try:
        text = resp["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return text if isinstance(text, str) else None


class _RejectedImages(Exception):
    """The server refused image parts (internal: triggers the text fallback)."""


def _error_text(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    return str(getattr(e, "message", None) or e)

