"""Export a Hugging Face CLIP checkpoint into an onlook encoder directory.

Run once, on a machine with internet access and the ``[export]`` extra
(torch, transformers, onnx)::

    pip install 'onlook[export]'
    python -m onlook.export_encoder openai/clip-vit-base-patch32 models/clip-b32

then copy ``models/clip-b32`` to the offline machine and point onlook at it.
The directory layout is documented in :mod:`onlook.perception.encoder`, which
loads it with onnxruntime alone. torch and transformers are imported inside
:func:`export_clip` only, so that importing this module stays cheap.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from onlook.errors import ModelError
from onlook.perception.encoder import (
    CONFIG_NAME,
    TEXTUAL_NAME,
    TOKENIZER_NAME,
    VISUAL_NAME,
    EncoderConfig,
)

__all__ = ["export_clip", "main"]

# OpenAI CLIP's preprocessing, used when a checkpoint ships no image processor.
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def export_clip(
    checkpoint: str,
    out_dir: str | Path,
    *,
    name: str | None = None,
    opset: int = 17,
    verify: bool = True,
) -> Path:
    """Export a CLIP checkpoint as ``visual.onnx`` + ``textual.onnx`` + tokenizer.

    Both graphs end with L2 normalisation, so their outputs can be compared
    with a dot product directly.

    Args:
        checkpoint: Hugging Face model id (``openai/clip-vit-base-patch32``)
            or a local folder saved with ``save_pretrained`` (model and
            tokenizer).
        out_dir: Folder to write; created if missing, files overwritten.
        name: Model name written to the config; default is derived from
            ``checkpoint``.
        opset: ONNX opset of the exported graphs.
        verify: Run both graphs with onnxruntime on sample inputs and compare
            them with torch.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        ModelError: torch/transformers are missing, the checkpoint cannot be
            loaded, or the exported graphs disagree with torch.

    Example:
        >>> export_clip("openai/clip-vit-base-patch32", Path("models/clip-b32"))  # doctest: +SKIP
        PosixPath('models/clip-b32')
    """
    try:
        import torch
        from transformers import AutoTokenizer, CLIPModel
    except ImportError as exc:
        raise ModelError(f"exporting needs torch and transformers ({exc.name} missing): "
                         "pip install 'onlook[export]'") from exc

    out = Path(out_dir)
    try:
        # Eager attention traces into plain ops that every onnxruntime runs.
        model = CLIPModel.from_pretrained(checkpoint, attn_implementation="eager").eval()
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    except Exception as exc:  # hub, file and config errors come in many types
        raise ModelError(f"cannot load CLIP checkpoint {checkpoint!r}: {exc}") from exc

    vcfg, tcfg = model.config.vision_config, model.config.text_config
    mean, std = _image_stats(checkpoint)
    pad_token = tokenizer.pad_token or tokenizer.eos_token
    if pad_token is None:
        raise ModelError(f"tokenizer of {checkpoint!r} has neither a pad nor an end token")
    config = EncoderConfig(
        name=name or checkpoint.rstrip("/").split("/")[-1],
        image_size=int(vcfg.image_size),
        mean=mean,
        std=std,
        context_length=int(tcfg.max_position_embeddings),
        embed_dim=int(model.config.projection_dim),
        pad_token=str(pad_token),
        source=checkpoint,
    )
    out.mkdir(parents=True, exist_ok=True)

    s, length = config.image_size, config.context_length
    pixels = torch.randn(2, 3, s, s)
    sample = tokenizer(["a photo of a cat", "a red car"], padding="max_length",
                       max_length=length, truncation=True, return_tensors="pt")
    ids = sample["input_ids"].to(torch.long)
    mask = sample["attention_mask"].to(torch.long)

    visual, textual = _wrappers(torch, model)
    with torch.no_grad():
        _export(torch, visual, (pixels,), out / VISUAL_NAME, ["pixel_values"], ["image_embeds"],
                {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset)
        _export(torch, textual, (ids, mask), out / TEXTUAL_NAME, ["input_ids", "attention_mask"],
                ["text_embeds"],
                # The length stays fixed: the loader always pads to it, and the
                # traced causal mask would not follow another length anyway.
                {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                 "text_embeds": {0: "batch"}}, opset)
    _save_tokenizer(tokenizer, out / TOKENIZER_NAME)
    (out / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")

    if verify:
        with torch.no_grad():
            want_img = visual(pixels).numpy()
            want_txt = textual(ids, mask).numpy()
        _verify(out, pixels.numpy(), ids.numpy(), mask.numpy(), want_img, want_txt)
    return out


def _image_stats(checkpoint: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(checkpoint)
        mean, std = list(proc.image_mean), list(proc.image_std)
        return (mean[0], mean[1], mean[2]), (std[0], std[1], std[2])
    except Exception:  # no preprocessor_config.json (e.g. a bare saved model)
        return _CLIP_MEAN, _CLIP_STD


def _wrappers(torch: Any, model: Any) -> tuple[Any, Any]:
    """The two halves of CLIP as modules ending in L2 normalisation.

    Built from the sub-modules rather than ``get_image_features``, whose
    return type changed between transformers 4 and 5. Defined here because
    torch is imported lazily.
    """

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vision_model = model.vision_model
            self.visual_projection = model.visual_projection

        def forward(self, pixel_values: Any) -> Any:
            pooled = self.vision_model(pixel_values=pixel_values).pooler_output
            emb = self.visual_projection(pooled)
            return emb / emb.norm(dim=-1, keepdim=True)

    class Textual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.text_model = model.text_model
            self.text_projection = model.text_projection

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            pooled = self.text_model(input_ids=input_ids,
                                     attention_mask=attention_mask).pooler_output
            emb = self.text_projection(pooled)
            return emb / emb.norm(dim=-1, keepdim=True)

    return Visual().eval(), Textual().eval()


def _export(torch: Any, module: Any, args: tuple[Any, ...], path: Path, inputs: list[str],
            outputs: list[str], dynamic: dict[str, dict[int, str]], opset: int) -> None:
    # The TorchScript exporter (dynamo=False) needs no onnxscript and keeps
    # the graph in one file. Its tracer warnings are about shape checks that
    # become constants, which is what we want for a fixed input size.
    kw = dict(input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
              opset_version=opset, do_constant_folding=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        # The legacy exporter is chosen on purpose (see above); not news to the user.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        try:
            torch.onnx.export(module, args, str(path), dynamo=False, **kw)
        except TypeError:  # torch older than 2.5 has no ``dynamo`` argument
            torch.onnx.export(module, args, str(path), **kw)


def _save_tokenizer(tokenizer: Any, path: Path) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.save(str(path))
        return
    # Slow tokenizers: save_pretrained converts to tokenizer.json when it can.
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        src = Path(tmp) / TOKENIZER_NAME
        if not src.is_file():
            raise ModelError("the checkpoint's tokenizer cannot be saved as tokenizer.json")
        shutil.copyfile(src, path)


def _verify(out: Path, pixels: Any, ids: Any, mask: Any, want_img: Any, want_txt: Any) -> None:
    import numpy as np
    import onnxruntime as ort

    got_img = ort.InferenceSession(str(out / VISUAL_NAME), providers=["CPUExecutionProvider"]) \
        .run(None, {"pixel_values": pixels})[0]
    got_txt = ort.InferenceSession(str(out / TEXTUAL_NAME), providers=["CPUExecutionProvider"]) \
        .run(None, {"input_ids": ids, "attention_mask": mask})[0]
    for what, got, want in (("visual", got_img, want_img), ("textual", got_txt, want_txt)):
        err = float(np.abs(got - want).max())
        if err > 1e-3:
            raise ModelError(f"exported {what} graph differs from torch by {err:.2g}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m onlook.export_encoder CHECKPOINT OUT_DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m onlook.export_encoder",
        description="Export a Hugging Face CLIP checkpoint for onlook's offline encoder.")
    parser.add_argument("checkpoint", help="model id or local folder, e.g. openai/clip-vit-base-patch32")
    parser.add_argument("out_dir", type=Path, help="folder to write")
    parser.add_argument("--name", help="model name stored in the config")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    args = parser.parse_args(argv)
    try:
        out = export_clip(args.checkpoint, args.out_dir, name=args.name, opset=args.opset,
                          verify=not args.no_verify)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
