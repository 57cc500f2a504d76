"""Answer with a vision-language model run in-process by Hugging Face ``transformers``.

Needs the ``[vlm]`` extra (``pip install 'onlook[vlm]'``: torch, transformers);
torch and transformers are imported inside functions only, so importing this
module costs nothing. Qwen2.5-VL, Qwen2-VL, Qwen3-VL and SmolVLM-class models
load through ``AutoModelForImageTextToText`` / ``AutoProcessor``.

Two ways of answering:

* **Per question** (every model): the frames chosen by
  :func:`~onlook.answer.context.build_context` are put in one chat message,
  each after its stream time (``Frame at 01:23``); where the processor has a
  video processor (and ``video=True``), they go as one video whose metadata
  carries their true sampling fps, so Qwen's temporal position ids match real
  time. Tokens stream from ``model.generate`` through a ``TextIteratorStreamer``.
* **Streaming KV cache** (Qwen2-VL / Qwen2.5-VL, ``streaming=True``): like
  StreamingVLM, frames are encoded once, as they arrive, into a KV cache that
  stays bounded: the system prompt's tokens are kept as attention sinks, plus
  a window of the most recent ``window_tokens`` of frames (whole frames are
  evicted, oldest first). The kept keys are re-rotated so positions stay
  contiguous (RoPE is a rotation, so moving a key from position ``p`` to
  ``p - d`` is one more rotation by ``-d``), which keeps position ids small
  however long the stream runs. A question appends its text (and the keyframes
  retrieved for it) to the cache, decodes greedily, then rolls the cache back.
  A question asked at a stream time older than frames already encoded falls
  back to the per-question path (the cache cannot un-see).

Example:
    >>> vlm = TransformersAnswerer("Qwen/Qwen2.5-VL-3B-Instruct", device="cuda")   # doctest: +SKIP
    >>> engine = StreamEngine("video.mp4", answerer=vlm)                           # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from onlook.answer.base import History
from onlook.answer.context import Context, ContextBudget, frames_fps, time_label
from onlook.answer.prompts import SYSTEM_PROMPT, ask_text, history_text
from onlook.answer.vlm import VLMAnswerer
from onlook.errors import ConfigError, ModelError

__all__ = ["TransformersAnswerer", "StreamingCache", "load_vlm"]

log = logging.getLogger(__name__)

_STREAMING_TYPES = {"qwen2_vl", "qwen2_5_vl"}


def _torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the transformers answerer needs: pip install 'onlook[vlm]' ({e.name or e})") from None
    return torch


def load_vlm(name: str, *, device: str = "cpu", dtype: str = "auto", local_files_only: bool = False) -> tuple[Any, Any]:
    """Load a model and its processor by Hugging Face name or folder.

    Raises:
        ConfigError: torch/transformers are not installed.
        ModelError: the model cannot be found or loaded.
    """
    torch = _torch()
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(name, local_files_only=local_files_only)
        kw: dict[str, Any] = {"local_files_only": local_files_only}
        if dtype != "auto":
            kw["dtype"] = getattr(torch, dtype)
        else:
            kw["dtype"] = "auto"
        model = AutoModelForImageTextToText.from_pretrained(name, **kw)
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"cannot load VLM {name!r}: {str(e).splitlines()[0]}") from None
    try:
        # transformers types `to` on a wrapper that mypy reads as taking a model, not a device.
        model = model.to(device).eval()  # type: ignore[arg-type]
    except (RuntimeError, AssertionError) as e:
        raise ModelError(f"cannot move {name!r} to device {device!r}: {str(e).splitlines()[0]}") from None
    return model, processor


def _rgb(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


@dataclass
class _Chunk:
    kind: str          # "sink" | "frame"
    tokens: int
    pos_start: int
    pos_next: int
    t: float | None = None


class StreamingCache:
    """A model's KV cache over a live stream, bounded StreamingVLM-style.

    Holds the attention-sink prefix (system prompt) and the most recent frames
    within ``window_tokens``; older frames are evicted whole and the kept keys
    re-rotated so that positions stay contiguous.

    Args:
        model: A loaded Qwen2-VL / Qwen2.5-VL ``...ForConditionalGeneration``.
        processor: Its processor.
        prefix: Text of the sink chunk (system prompt and user header).
        image_placeholder: What the chat template writes for one image.
        window_tokens: Most tokens of frames kept.
    """

    def __init__(self, model: Any, processor: Any, *, prefix: str, image_placeholder: str,
                 window_tokens: int = 4096) -> None:
        torch = _torch()
        from transformers import DynamicCache

        self.torch = torch
        self.model = model
        self.processor = processor
        self.image_placeholder = image_placeholder
        self.window_tokens = window_tokens
        self.cache = DynamicCache()
        self.chunks: list[_Chunk] = []
        self.next_pos = 0
        self.last_t: float | None = None
        self.evicted_frames = 0
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._inner = getattr(model, "model", model)
        self._rope_index = getattr(self._inner, "get_rope_index", None) or getattr(model, "get_rope_index", None)
        self._inv_freq = _text_inv_freq(model)
        self.append(prefix, kind="sink")

    # --- sizes ----------------------------------------------------------------------------------------

    @property
    def tokens(self) -> int:
        """Tokens held in the cache now."""
        return int(self.cache.get_seq_length())

    @property
    def sink_tokens(self) -> int:
        return sum(c.tokens for c in self.chunks if c.kind == "sink")

    # --- encoding ---------------------------------------------------------------------------------------

    def _inputs(self, text: str, images: list[Any]) -> dict[str, Any]:
        inputs = self.processor(text=[text], images=images or None, return_tensors="pt")
        dev = self.model.device
        return {k: (v.to(dev) if hasattr(v, "to") else v) for k, v in inputs.items()}

    def _positions(self, inputs: dict[str, Any]) -> Any:
        torch = self.torch
        ids = inputs["input_ids"]
        n = ids.shape[1]
        if inputs.get("image_grid_thw") is not None and self._rope_index is not None:
            params = inspect.signature(self._rope_index).parameters
            kw = {k: inputs[k] for k in ("mm_token_type_ids", "image_grid_thw") if k in params and k in inputs}
            if "mm_token_type_ids" in params and "mm_token_type_ids" not in kw:
                kw["mm_token_type_ids"] = _mm_types(ids, self.model.config)
            pos, _ = self._rope_index(ids, **kw)
            pos = pos - pos.min()
        else:
            pos = torch.arange(n, device=ids.device).view(1, 1, -1).expand(3, 1, -1)
        return pos + self.next_pos

    def forward(self, inputs: dict[str, Any]) -> Any:
        """Run ``inputs`` through the model on top of the cache; returns the last logits."""
        pos = self._positions(inputs)
        kw = {k: v for k, v in inputs.items() if k not in ("attention_mask",)}
        kw[self._cache_kw] = self.cache
        with self.torch.inference_mode():
            out = self.model(**kw, position_ids=pos, use_cache=True)
        self.next_pos = int(pos.max()) + 1
        return out.logits[:, -1, :]

    def append(self, text: str, images: Sequence[Any] = (), *, kind: str = "frame", t: float | None = None) -> Any:
        """Encode a chunk (text with image placeholders) into the cache; returns its last logits."""
        inputs = self._inputs(text, list(images))
        start = self.next_pos
        before = self.tokens
        logits = self.forward(inputs)
        self.chunks.append(_Chunk(kind, self.tokens - before, start, self.next_pos, t))
        if t is not None:
            self.last_t = t
        if kind == "frame":
            self._evict()
        return logits

    def add_frame(self, t: float, image: np.ndarray) -> None:
        """Encode one frame (labelled with its stream time) and evict what falls out of the window."""
        text = f"Frame at {time_label(t)}: {self.image_placeholder}\n"
        self.append(text, [_rgb(image)], kind="frame", t=t)

    # --- eviction ---------------------------------------------------------------------------------------

    def _evict(self) -> None:
        frames = [c for c in self.chunks if c.kind == "frame"]
        excess = sum(c.tokens for c in frames) - self.window_tokens
        drop: list[_Chunk] = []
        for c in frames[:-1]:  # never the newest frame
            if excess <= 0:
                break
            drop.append(c)
            excess -= c.tokens
        if not drop:
            return
        sink = self.sink_tokens
        dropped = sum(c.tokens for c in drop)
        kept = [c for c in self.chunks if c.kind == "frame" and c not in drop]
        shift = kept[0].pos_start - self.chunks[0].pos_next if kept else 0  # contiguous after the sink
        for layer in _layers(self.cache):
            k, v = layer.keys, layer.values
            tail_k = k[..., sink + dropped:, :]
            if shift:
                tail_k = _rotate(tail_k, -shift, self._inv_freq)
            layer.keys = self.torch.cat([k[..., :sink, :], tail_k], dim=-2)
            layer.values = self.torch.cat([v[..., :sink, :], v[..., sink + dropped:, :]], dim=-2)
        for c in kept:
            c.pos_start -= shift
            c.pos_next -= shift
        self.next_pos -= shift
        self.chunks = [c for c in self.chunks if c not in drop]
        self.evicted_frames += len(drop)

    # --- questions ------------------------------------------------------------------------------------

    def generate(self, text: str, images: Sequence[Any] = (), *, max_new_tokens: int = 128) -> Iterator[str]:
        """Append a question chunk, decode greedily, then roll the cache back to before it."""
        torch = self.torch
        tok = getattr(self.processor, "tokenizer", self.processor)
        eos = _eos_ids(self.model, tok)
        mark_tokens, mark_pos = self.tokens, self.next_pos
        try:
            logits = self.forward(self._inputs(text, list(images)))
            ids: list[int] = []
            shown = ""
            for _ in range(max_new_tokens):
                nxt = int(torch.argmax(logits[0]))
                if nxt in eos:
                    break
                ids.append(nxt)
                full = tok.decode(ids, skip_special_tokens=True)
                if not full.endswith("\ufffd") and len(full) > len(shown):
                    yield full[len(shown):]
                    shown = full
                step = {"input_ids": torch.tensor([[nxt]], device=self.model.device)}
                logits = self.forward(step)
        finally:
            for layer in _layers(self.cache):
                layer.keys = layer.keys[..., :mark_tokens, :]
                layer.values = layer.values[..., :mark_tokens, :]
            self.next_pos = mark_pos


def _layers(cache: Any) -> list[Any]:
    layers = getattr(cache, "layers", None)
    if layers is None or any(not hasattr(layer, "keys") for layer in layers):
        raise ModelError("this transformers version's KV cache has no per-layer keys/values to bound")
    return [layer for layer in layers if getattr(layer, "keys", None) is not None and layer.keys.numel()]


def _text_inv_freq(model: Any) -> Any:
    for name, mod in model.named_modules():
        if hasattr(mod, "inv_freq") and "visual" not in name and "vision" not in name:
            return mod.inv_freq
    raise ModelError("no rotary embedding found in the language model")


def _rotate(k: Any, delta: int, inv_freq: Any) -> Any:
    """Rotate RoPE-encoded keys by ``delta`` positions (HF's rotate-half layout)."""
    import torch

    ang = inv_freq.to(torch.float32) * float(delta)
    cos = torch.cat([ang.cos(), ang.cos()]).to(k.dtype)
    sin = torch.cat([ang.sin(), ang.sin()]).to(k.dtype)
    half = k.shape[-1] // 2
    rot = torch.cat([-k[..., half:], k[..., :half]], dim=-1)
    return k * cos + rot * sin


def _mm_types(ids: Any, config: Any) -> Any:
    torch = _torch()
    types = torch.zeros_like(ids, dtype=torch.int32)
    types[ids == getattr(config, "image_token_id", -1)] = 1
    types[ids == getattr(config, "video_token_id", -1)] = 2
    return types


def _eos_ids(model: Any, tok: Any) -> set[int]:
    out: set[int] = set()
    for src in (getattr(model, "generation_config", None), model.config, tok):
        e = getattr(src, "eos_token_id", None)
        if isinstance(e, int):
            out.add(e)
        elif isinstance(e, (list, tuple)):
            out.update(int(x) for x in e)
    return out


class TransformersAnswerer(VLMAnswerer):
    """Answer questions with an in-process VLM (``[vlm]`` extra).

    Args:
        model: Hugging Face name or folder (``Qwen/Qwen2.5-VL-3B-Instruct``,
            ``HuggingFaceTB/SmolVLM-256M-Instruct``). Loaded on first use.
        model_obj: An already-loaded model (then ``processor`` too); for tests
            and for sharing one model between answerers.
        processor: Its processor.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        dtype: ``"auto"`` or a torch dtype name (``"bfloat16"``).
        budget: What each question may show the model.
        max_new_tokens: Longest answer.
        streaming: Keep a bounded streaming KV cache where the model allows it.
        window_tokens: Tokens of recent frames kept in that cache.
        video: Pass frames as one video with their true fps where the
            processor supports videos (None: when it does).
        system_prompt: The system message.
        local_files_only: Never download (the model must be in the HF cache).
    """

    name = "transformers"

    def __init__(self, model: str | None = None, *, model_obj: Any = None, processor: Any = None,
                 device: str = "cpu", dtype: str = "auto", budget: ContextBudget | None = None,
                 max_new_tokens: int = 128, streaming: bool = True, window_tokens: int = 4096,
                 video: bool | None = None, system_prompt: str = SYSTEM_PROMPT,
                 local_files_only: bool = False) -> None:
        if model is None and model_obj is None:
            raise ConfigError("the transformers answerer needs a model name (--model)")
        if model_obj is not None and processor is None:
            raise ConfigError("pass the processor together with model_obj")
        if max_new_tokens < 1 or window_tokens < 1:
            raise ConfigError("max_new_tokens and window_tokens must be >= 1")
        super().__init__(budget)
        self.model_name = model or type(model_obj).__name__
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.streaming = streaming
        self.window_tokens = window_tokens
        self.video = video
        self.system_prompt = system_prompt
        self.local_files_only = local_files_only
        self._model = model_obj
        self._processor = processor
        self._stream: StreamingCache | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"TransformersAnswerer(model={self.model_name!r}, device={self.device!r})"

    # --- loading ---------------------------------------------------------------------------------------

    def load(self) -> tuple[Any, Any]:
        """Load the model and processor (once); returns them."""
        with self._lock:
            if self._model is None:
                self._model, self._processor = load_vlm(self.model_name, device=self.device, dtype=self.dtype,
                                                        local_files_only=self.local_files_only)
            return self._model, self._processor

    @property
    def can_stream(self) -> bool:
        """Whether this model gets the bounded streaming KV cache."""
        model, _ = self.load()
        return self.streaming and getattr(model.config, "model_type", "") in _STREAMING_TYPES

    @property
    def stream_cache(self) -> StreamingCache | None:
        return self._stream

    # --- prompt pieces -----------------------------------------------------------------------------------

    def _template(self, messages: list[dict[str, Any]]) -> str:
        _, processor = self.load()
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _pieces(self) -> tuple[str, str, str]:
        """(prefix, image placeholder, suffix) of this model's chat template, found by rendering markers."""
        a, q = "\u2063A\u2063", "\u2063Q\u2063"
        text = self._template([{"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
                               {"role": "user", "content": [{"type": "text", "text": a}, {"type": "image"},
                                                            {"type": "text", "text": q}]}])
        i, j = text.index(a), text.index(q)
        return text[:i], text[i + len(a):j], text[j + len(q):]

    def _question_text(self, question: str, ctx: Context, options: Sequence[str] | None,
                       history: History) -> str:
        parts = [ctx.text()]
        hist = history_text(history)
        if hist:
            parts.append(hist)
        parts.append(ask_text(question, ctx.at, options, reason=False))
        return "\n\n".join(parts)

    # --- answering -------------------------------------------------------------------------------------

    def reply_pieces(self, question: str, ctx: Context, view: Any, options: Sequence[str] | None,
                     history: History) -> Iterator[str]:
        """The model's reply to ``question`` shown ``ctx``, token by token.

        With ``view`` (the stream's memory) and a model that streams, the
        bounded KV cache of recent frames is used; without one (a context built
        elsewhere), every frame is encoded fresh.

        Raises:
            ConfigError: torch/transformers are missing.
            ModelError: the model cannot be loaded or run.
        """
        with self._lock:
            self.load()
            try:
                if view is not None and self.can_stream and self._stream_ready(ctx):
                    yield from self._answer_streaming(question, ctx, view, options, history)
                else:
                    yield from self._answer_fresh(question, ctx, options, history)
            except (RuntimeError, ValueError, IndexError) as e:
                first = str(e).splitlines()[0] if str(e) else repr(e)
                raise ModelError(f"VLM {self.model_name!r} failed: {first}") from None

    # per question: every frame re-encoded ------------------------------------------------------------------

    def _answer_fresh(self, question: str, ctx: Context, options: Sequence[str] | None,
                      history: History) -> Iterator[str]:
        model, processor = self.load()
        from transformers import TextIteratorStreamer

        content: list[dict[str, Any]] = []
        images: list[Any] = []
        videos: list[Any] = []
        use_video = (self.video is not False and getattr(processor, "video_processor", None) is not None
                     and len(ctx.frames) > 1)
        if use_video:
            h, w = ctx.frames[-1].image.shape[:2]
            clip = np.stack([cv2.cvtColor(cv2.resize(f.image, (w, h)), cv2.COLOR_BGR2RGB) for f in ctx.frames])
            times = ", ".join(f.label for f in ctx.frames)
            content += [{"type": "text", "text": f"Video of {len(ctx.frames)} frames at stream times {times}:"},
                        {"type": "video"}]
            videos.append(clip)
        else:
            for f in ctx.frames:
                content += [{"type": "text", "text": f"Frame at {f.label}:"}, {"type": "image"}]
                images.append(_rgb(f.image))
        content.append({"type": "text", "text": self._question_text(question, ctx, options, history)})
        messages = [{"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
                    {"role": "user", "content": content}]
        text = self._template(messages)
        kw: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if images:
            kw["images"] = images
        if videos:
            fps = frames_fps(ctx.times) or 1.0
            kw["videos"] = videos
            kw["video_metadata"] = [{"total_num_frames": len(ctx.frames), "fps": fps,
                                     "frames_indices": list(range(len(ctx.frames)))}]
        inputs = processor(**kw)
        inputs = {k: (v.to(model.device) if hasattr(v, "to") else v) for k, v in inputs.items()}
        tok = getattr(processor, "tokenizer", processor)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600.0)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, streamer=streamer)
            except BaseException as e:  # surfaced in the caller's thread
                errors.append(e)
                streamer.end()

        worker = threading.Thread(target=run, name="onlook-vlm-generate", daemon=True)
        worker.start()
        yield from (piece for piece in streamer if piece)
        worker.join()
        if errors:
            raise errors[0]

    # streaming: frames encoded once into a bounded cache ----------------------------------------------------

    def _stream_ready(self, ctx: Context) -> bool:
        """Create the streaming cache if needed; False when ``ctx.at`` is before frames already encoded."""
        if self._stream is None:
            model, processor = self.load()
            prefix, image, _ = self._pieces()
            self._stream = StreamingCache(model, processor, prefix=prefix, image_placeholder=image,
                                          window_tokens=self.window_tokens)
        last = self._stream.last_t
        return last is None or ctx.at >= last

    def observe(self, frames: Sequence[tuple[float, np.ndarray]]) -> int:
        """Encode new frames ``(t, BGR image)`` into the streaming cache; returns how many were new."""
        with self._lock:
            if not self.can_stream:
                return 0
            if self._stream is None:
                self._stream_ready(Context("", 0.0))
            assert self._stream is not None
            n = 0
            for t, img in sorted(frames, key=lambda p: p[0]):
                if self._stream.last_t is not None and t <= self._stream.last_t:
                    continue
                self._stream.add_frame(t, _fit(img, self.budget.image_side))
                n += 1
            return n

    def _answer_streaming(self, question: str, ctx: Context, view: Any, options: Sequence[str] | None,
                          history: History) -> Iterator[str]:
        assert self._stream is not None
        recent_fn = getattr(view.live, "recent_frames", None) if view.live is not None else None
        live = [(a.frame.pts, a.frame.image) for a in (recent_fn() if recent_fn else []) if a.frame.pts <= ctx.at]
        if not live:  # a closed store: its latest frames in the context stand for the stream
            live = [(f.t, f.image) for f in ctx.frames if f.why == "recent"]
        self.observe(live)
        _, image, suffix = self._pieces()
        cached = {round(c.t, 3) for c in self._stream.chunks if c.t is not None}
        extra = [f for f in ctx.frames if round(f.t, 3) not in cached]
        head = "".join(f"Frame at {f.label} (retrieved): {image}\n" for f in extra)
        text = head + self._question_text(question, ctx, options, history) + suffix
        yield from self._stream.generate(text, [_rgb(f.image) for f in extra], max_new_tokens=self.max_new_tokens)


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    from onlook.answer.context import fit_image

    return fit_image(image, side)
