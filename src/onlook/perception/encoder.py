"""Optional open-vocabulary image/text encoder (CLIP family) on onnxruntime.

An encoder maps frames and phrases into one vector space, so that a search
for "a red umbrella" can rank moments nobody labelled. Nothing here imports
torch: the model is a pair of ONNX graphs exported once, on a machine with
internet access, by :mod:`onlook.export_encoder`, into a directory laid out
as::

    ENCODER_DIR/
      onlook-encoder.json  {"name": "clip-vit-b32", "image_size": 224,
                            "mean": [0.4815, 0.4578, 0.4082],
                            "std": [0.2686, 0.2613, 0.2758],
                            "context_length": 77, "embed_dim": 512,
                            "pad_token": "<|endoftext|>",   (optional)
                            "source": "openai/clip-vit-base-patch32"}
      visual.onnx          "pixel_values" float32 [N, 3, S, S] -> "image_embeds" [N, D]
      textual.onnx         "input_ids" int64 [N, L] (+ "attention_mask" int64 [N, L])
                           -> "text_embeds" [N, D]
      tokenizer.json       a Hugging Face ``tokenizers`` file

Images are preprocessed the CLIP way: RGB, shorter side resized to ``S``
(bicubic), centre crop ``S x S``, scaled to ``0..1``, normalised with
``mean``/``std``. Texts are padded/truncated to ``L`` tokens.

The tokenizer needs the ``tokenizers`` package (``pip install onlook[clip]``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from onlook.errors import ModelError

__all__ = [
    "Encoder",
    "EncoderConfig",
    "OnnxClipEncoder",
    "FakeEncoder",
    "CONFIG_NAME",
    "l2_normalise",
]

CONFIG_NAME = "onlook-encoder.json"
VISUAL_NAME = "visual.onnx"
TEXTUAL_NAME = "textual.onnx"
TOKENIZER_NAME = "tokenizer.json"


@runtime_checkable
class Encoder(Protocol):
    """Embeds images and texts into one L2-normalised space.

    Cosine similarity of an image and a text embedding (their dot product)
    says how well the text describes the image.
    """

    name: str
    dim: int

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``HxWx3`` ``uint8`` BGR images -> ``[N, dim]`` float32, rows of norm 1."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Phrases -> ``[N, dim]`` float32, rows of norm 1."""
        ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (zero rows stay zero), as float32.

    Example:
        >>> l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class EncoderConfig:
    """Contents of ``onlook-encoder.json``.

    Attributes:
        name: Short model name, stored with embeddings to keep spaces apart.
        image_size: Side ``S`` of the square model input.
        mean: Per-channel RGB mean on the ``0..1`` scale.
        std: Per-channel RGB standard deviation on the ``0..1`` scale.
        context_length: Token count ``L`` texts are padded/truncated to.
        embed_dim: Embedding size ``D``.
        pad_token: Token used for padding (CLIP pads with its end token).
        source: Where the weights came from (checkpoint name), informative.
    """

    name: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    context_length: int
    embed_dim: int
    pad_token: str = "<|endoftext|>"
    source: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, default_name: str = "encoder") -> EncoderConfig:
        """Validate a parsed JSON object.

        Raises:
            ValueError: A field is missing or out of range (message names it).
        """
        if not isinstance(d, dict):
            raise ValueError("top level must be an object")
        for key in ("image_size", "mean", "std", "context_length", "embed_dim"):
            if key not in d:
                raise ValueError(f"missing {key!r}")
        mean, std = d["mean"], d["std"]
        if (not isinstance(mean, list) or len(mean) != 3
                or not isinstance(std, list) or len(std) != 3):
            raise ValueError("'mean' and 'std' must be lists of 3 numbers")
        cfg = cls(
            name=str(d.get("name") or default_name),
            image_size=int(d["image_size"]),
            mean=(float(mean[0]), float(mean[1]), float(mean[2])),
            std=(float(std[0]), float(std[1]), float(std[2])),
            context_length=int(d["context_length"]),
            embed_dim=int(d["embed_dim"]),
            pad_token=str(d.get("pad_token") or "<|endoftext|>"),
            source=str(d.get("source") or ""),
        )
        if cfg.image_size < 1 or cfg.context_length < 1 or cfg.embed_dim < 1:
            raise ValueError("'image_size', 'context_length' and 'embed_dim' must be positive")
        if min(cfg.std) <= 0:
            raise ValueError("'std' must be positive")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "image_size": self.image_size, "mean": list(self.mean),
                "std": list(self.std), "context_length": self.context_length,
                "embed_dim": self.embed_dim, "pad_token": self.pad_token, "source": self.source}


class OnnxClipEncoder:
    """A CLIP-style dual encoder run from ONNX files on the CPU.

    Build it with :meth:`load`; see the module docstring for the directory
    layout and :mod:`onlook.export_encoder` for making one.

    Attributes:
        name: Model name from the config.
        dim: Embedding size.
        config: The parsed ``onlook-encoder.json``.

    Example:
        >>> enc = OnnxClipEncoder.load("models/clip-b32")            # doctest: +SKIP
        >>> sims = enc.encode_images([frame.image]) @ enc.encode_texts(["a red car"]).T  # doctest: +SKIP
    """

    def __init__(self, config: EncoderConfig, visual: Any, textual: Any, tokenizer: Any) -> None:
        self.config = config
        self.name = config.name
        self.dim = config.embed_dim
        self._visual = visual
        self._textual = textual
        self._tokenizer = tokenizer
        self._visual_input = visual.get_inputs()[0].name
        self._text_inputs = {i.name for i in textual.get_inputs()}
        if "input_ids" not in self._text_inputs:
            raise ModelError(f"textual model has no 'input_ids' input (has {sorted(self._text_inputs)})")

    @classmethod
    def load(cls, directory: str | Path, *, threads: int = 2) -> OnnxClipEncoder:
        """Load an encoder directory.

        Args:
            directory: Folder with ``onlook-encoder.json``, ``visual.onnx``,
                ``textual.onnx`` and ``tokenizer.json``.
            threads: onnxruntime intra-op threads per model.

        Returns:
            The encoder, ready to use.

        Raises:
            ModelError: The folder or a file is missing, the JSON is invalid,
                ``tokenizers`` is not installed, or a model fails to load.
        """
        root = Path(directory)
        if not root.is_dir():
            raise ModelError(f"encoder directory not found: {root}")
        for fname in (CONFIG_NAME, VISUAL_NAME, TEXTUAL_NAME, TOKENIZER_NAME):
            if not (root / fname).is_file():
                raise ModelError(f"encoder directory {root} lacks {fname} "
                                 "(make one with: python -m onlook.export_encoder)")
        try:
            raw = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
            config = EncoderConfig.from_dict(raw, default_name=root.name)
        except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            raise ModelError(f"bad {root / CONFIG_NAME}: {exc}") from exc
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError("the encoder needs the tokenizers package: "
                             "pip install 'onlook[clip]'") from exc
        try:
            tokenizer = Tokenizer.from_file(str(root / TOKENIZER_NAME))
        except Exception as exc:  # tokenizers raises its own untyped Exception
            raise ModelError(f"bad {root / TOKENIZER_NAME}: {exc}") from exc
        pad_id = tokenizer.token_to_id(config.pad_token)
        if pad_id is None:
            raise ModelError(f"pad token {config.pad_token!r} is not in {root / TOKENIZER_NAME}")
        tokenizer.enable_truncation(max_length=config.context_length)
        # Fixed length: exported graphs may not accept other sequence lengths.
        tokenizer.enable_padding(length=config.context_length, pad_id=pad_id,
                                 pad_token=config.pad_token)
        visual = _session(root / VISUAL_NAME, threads)
        textual = _session(root / TEXTUAL_NAME, threads)
        return cls(config, visual, textual, tokenizer)

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """BGR images -> ``[N, 3, S, S]`` float32 model input."""
        s = self.config.image_size
        mean = np.asarray(self.config.mean, np.float32)
        std = np.asarray(self.config.std, np.float32)
        batch = np.empty((len(images), 3, s, s), np.float32)
        for i, img in enumerate(images):
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"expected HxWx3 BGR images, got shape {img.shape}")
            h, w = img.shape[:2]
            k = s / min(h, w)
            nh, nw = max(s, round(h * k)), max(s, round(w * k))
            interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
            resized = cv2.resize(img, (nw, nh), interpolation=interp)
            y0, x0 = (nh - s) // 2, (nw - s) // 2
            rgb = resized[y0:y0 + s, x0:x0 + s, ::-1].astype(np.float32) / 255.0
            batch[i] = ((rgb - mean) / std).transpose(2, 0, 1)
        return batch

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embed images.

        Args:
            images: ``HxWx3`` ``uint8`` BGR images of any size.

        Returns:
            ``[N, dim]`` float32, each row of unit length.

        Raises:
            ModelError: The model failed to run.
        """
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        batch = self.preprocess(images)
        try:
            out = self._visual.run(None, {self._visual_input: batch})[0]
        except Exception as exc:  # onnxruntime's errors are not importable types
            raise ModelError(f"visual encoder failed: {exc}") from exc
        return self._check(l2_normalise(out), len(images))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed phrases.

        Args:
            texts: Phrases such as ``"a person with a red umbrella"``.

        Returns:
            ``[N, dim]`` float32, each row of unit length.

        Raises:
            ModelError: The model failed to run.
        """
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        enc = self._tokenizer.encode_batch([str(t) for t in texts])
        feed = {"input_ids": np.asarray([e.ids for e in enc], np.int64)}
        if "attention_mask" in self._text_inputs:
            feed["attention_mask"] = np.asarray([e.attention_mask for e in enc], np.int64)
        try:
            out = self._textual.run(None, feed)[0]
        except Exception as exc:
            raise ModelError(f"text encoder failed: {exc}") from exc
        return self._check(l2_normalise(out), len(texts))

    def _check(self, emb: np.ndarray, n: int) -> np.ndarray:
        if emb.shape != (n, self.dim):
            raise ModelError(f"encoder {self.name} returned shape {emb.shape}, "
                             f"config says [{n}, {self.dim}]")
        return emb


def _session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # bad protobuf, unsupported opset...
        raise ModelError(f"cannot load {path}: {exc}") from exc


_TOKEN = re.compile(r"[^\W_]+")


class FakeEncoder:
    """Deterministic stand-in encoder for tests; no model needed.

    Images hash their pixels into a vector, so identical images embed
    identically and any two different ones are nearly orthogonal. Texts
    are the normalised sum of one pseudo-random vector per lower-cased word,
    so phrases sharing words are similar. :meth:`register` ties a phrase to
    an image, making text search of fake footage testable.

    Args:
        dim: Embedding size.

    Example:
        >>> enc = FakeEncoder(dim=8)
        >>> enc.encode_texts(["red car"]).shape
        (1, 8)
        >>> import numpy as np
        >>> img = np.zeros((4, 4, 3), np.uint8)
        >>> enc.register(img, "red car")
        >>> float(enc.encode_images([img])[0] @ enc.encode_texts(["red car"])[0]) > 0.99
        True
    """

    def __init__(self, dim: int = 32, *, name: str = "fake") -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.name = name
        self._registered: dict[bytes, str] = {}

    def register(self, image: np.ndarray, text: str) -> None:
        """Make ``image`` embed exactly like ``text``."""
        self._registered[self._image_key(image)] = text

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Hash each image into a unit vector."""
        rows = []
        for img in images:
            key = self._image_key(img)
            if key in self._registered:
                rows.append(self.encode_texts([self._registered[key]])[0])
            else:
                rows.append(self._vector(b"img:" + key))
        return l2_normalise(np.stack(rows)) if rows else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sum of per-word vectors, normalised (a text without words hashes whole)."""
        rows = []
        for text in texts:
            words = _TOKEN.findall(str(text).lower())
            if words:
                rows.append(np.sum([self._vector(b"word:" + w.encode()) for w in words], axis=0))
            else:
                rows.append(self._vector(b"text:" + str(text).encode()))
        return l2_normalise(np.stack(rows)) if rows else np.zeros((0, self.dim), np.float32)

    @staticmethod
    def _image_key(img: np.ndarray) -> bytes:
        arr = np.ascontiguousarray(img)
        return hashlib.blake2b(arr.tobytes() + repr(arr.shape).encode(), digest_size=16).digest()

    def _vector(self, seed: bytes) -> np.ndarray:
        digest = hashlib.blake2b(seed, digest_size=8).digest()
        rng = np.random.default_rng(int.from_bytes(digest, "little"))
        return rng.standard_normal(self.dim).astype(np.float32)
