"""Tests of onlook.perception.encoder and onlook.export_encoder.

The real encoder is exercised on a tiny random model of the same interface,
built here with the ``onnx`` helpers and a word-level ``tokenizers`` file, so
that nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from onlook.errors import ModelError
from onlook.perception.encoder import (
    CONFIG_NAME,
    Encoder,
    FakeEncoder,
    OnnxClipEncoder,
    l2_normalise,
)

onnx = pytest.importorskip("onnx", reason="the tiny test model is built with onnx")
pytest.importorskip("tokenizers", reason="OnnxClipEncoder needs tokenizers (onlook[clip])")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIZE, DIM, LENGTH = 32, 16, 8
WORDS = ["a", "photo", "of", "red", "blue", "car", "cat", "dog"]


def _save_model(nodes, inputs, outputs, inits, path: Path) -> None:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by any onnxruntime >= 1.10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _build_encoder_dir(root: Path) -> Path:
    rng = np.random.default_rng(0)
    # Visual: 8x8 average pooling to a 3x4x4 thumbnail, then a random
    # projection. Deliberately not normalised: the loader must do it.
    proj = rng.standard_normal((48, DIM)).astype(np.float32)
    _save_model(
        [helper.make_node("AveragePool", ["pixel_values"], ["pooled"], kernel_shape=[8, 8],
                          strides=[8, 8]),
         helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "proj"], ["image_embeds"])],
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["N", DIM])],
        [numpy_helper.from_array(proj, "proj")],
        root / "visual.onnx",
    )
    # Textual: masked sum of per-token embeddings.
    vocab = {"<|endoftext|>": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    table = rng.standard_normal((len(vocab), DIM)).astype(np.float32)
    _save_model(
        [helper.make_node("Gather", ["table", "input_ids"], ["tok"], axis=0),
         helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
         helper.make_node("Mul", ["tok", "mask3"], ["masked"]),
         helper.make_node("ReduceSum", ["masked", "axis1"], ["text_embeds"], keepdims=0)],
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", LENGTH]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", LENGTH])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", DIM])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], np.int64), "axis2"),
         numpy_helper.from_array(np.array([1], np.int64), "axis1")],
        root / "textual.onnx",
    )
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(root / "tokenizer.json"))
    config = {"name": "tiny", "image_size": SIZE, "mean": [0.5, 0.5, 0.5],
              "std": [0.25, 0.25, 0.25], "context_length": LENGTH, "embed_dim": DIM,
              "source": "random"}
    (root / CONFIG_NAME).write_text(json.dumps(config))
    return root


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    return _build_encoder_dir(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="module")
def encoder(encoder_dir) -> OnnxClipEncoder:
    return OnnxClipEncoder.load(encoder_dir, threads=1)


def _images():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = a.copy()
    b[:24] = 255 - b[:24]
    return a, b


# --------------------------------------------------------------------------- OnnxClipEncoder


def test_loads_with_config(encoder):
    assert encoder.dim == DIM and encoder.name == "tiny"
    assert encoder.config.context_length == LENGTH
    assert isinstance(encoder, Encoder)


def test_image_embeddings(encoder):
    a, b = _images()
    emb = encoder.encode_images([a, b, a, np.zeros((300, 100, 3), np.uint8)])
    assert emb.shape == (4, DIM) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(emb[0], emb[2])
    assert float(emb[0] @ emb[1]) < 0.99
    assert np.array_equal(encoder.encode_images([a]), encoder.encode_images([a]))
    assert encoder.encode_images([]).shape == (0, DIM)


def test_preprocess_is_clip_style(encoder):
    # Non-square input: shorter side to S, centre crop, (x - mean) / std, RGB order.
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :, 2] = 255  # red in BGR
    batch = encoder.preprocess([img])
    assert batch.shape == (1, 3, SIZE, SIZE)
    assert np.allclose(batch[0, 0], (1.0 - 0.5) / 0.25) and np.allclose(batch[0, 1:], -2.0)


def test_text_embeddings(encoder):
    emb = encoder.encode_texts(["a red car", "A RED CAR", "a blue dog", "zebra"])
    assert emb.shape == (4, DIM) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.allclose(emb[0], emb[1])  # the tokenizer's normaliser lower-cases
    assert float(emb[0] @ emb[2]) < 0.99
    assert encoder.encode_texts([]).shape == (0, DIM)
    # Longer than the context: truncated, not an error.
    assert encoder.encode_texts([" ".join(WORDS * 5)]).shape == (1, DIM)


def _break(root: Path, what: str) -> None:
    if what.startswith("rm "):
        (root / what[3:]).unlink()
        return
    if what == "garbage json":
        (root / CONFIG_NAME).write_text("{not json")
        return
    if what == "garbage onnx":
        (root / "visual.onnx").write_bytes(b"\x00not a model")
        return
    if what == "garbage tokenizer":
        (root / "tokenizer.json").write_text("{}")
        return
    cfg = json.loads((root / CONFIG_NAME).read_text())
    if what == "no embed_dim":
        del cfg["embed_dim"]
    elif what == "short mean":
        cfg["mean"] = [0.5]
    elif what == "zero std":
        cfg["std"] = [0.0, 1.0, 1.0]
    elif what == "unknown pad":
        cfg["pad_token"] = "<pad>"
    elif what == "wrong dim":
        cfg["embed_dim"] = 7
    (root / CONFIG_NAME).write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("rm onlook-encoder.json", "lacks onlook-encoder.json"),
        ("rm visual.onnx", "lacks visual.onnx"),
        ("rm textual.onnx", "lacks textual.onnx"),
        ("rm tokenizer.json", "lacks tokenizer.json"),
        ("garbage json", "bad"),
        ("no embed_dim", "missing 'embed_dim'"),
        ("short mean", "'mean'"),
        ("zero std", "'std'"),
        ("unknown pad", "pad token"),
        ("garbage onnx", "cannot load"),
        ("garbage tokenizer", "bad"),
    ],
)
def test_broken_directories_raise_one_line_model_errors(tmp_path, what, message):
    root = _build_encoder_dir(tmp_path)
    _break(root, what)
    with pytest.raises(ModelError, match=message) as info:
        OnnxClipEncoder.load(root)
    assert "\n" not in str(info.value)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        OnnxClipEncoder.load(tmp_path / "nope")


def test_dim_mismatch_is_caught_at_encode(tmp_path):
    root = _build_encoder_dir(tmp_path)
    _break(root, "wrong dim")
    enc = OnnxClipEncoder.load(root)
    with pytest.raises(ModelError, match="shape"):
        enc.encode_texts(["a cat"])


def test_l2_normalise_leaves_zero_rows():
    out = l2_normalise(np.array([[0.0, 2.0], [0.0, 0.0]]))
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 1.0], [0.0, 0.0]]


# --------------------------------------------------------------------------- FakeEncoder


def test_fake_encoder():
    enc = FakeEncoder(dim=24)
    assert isinstance(enc, Encoder) and enc.dim == 24
    a, b = _images()
    emb = enc.encode_images([a, b, a.copy()])
    assert emb.shape == (3, 24) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert np.array_equal(emb[0], emb[2]) and abs(float(emb[0] @ emb[1])) < 0.9
    assert np.array_equal(FakeEncoder(dim=24).encode_images([a]), emb[:1])  # across instances
    t = enc.encode_texts(["red car", "a red car", "blue dog", ""])
    assert np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert float(t[0] @ t[1]) > float(t[0] @ t[2])  # shared words are closer
    enc.register(b, "a red car")
    assert float(enc.encode_images([b])[0] @ t[1]) == pytest.approx(1.0, abs=1e-5)
    assert enc.encode_images([]).shape == (0, 24) and enc.encode_texts([]).shape == (0, 24)


# --------------------------------------------------------------------------- export


_HAVE_EXPORT = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


def _tiny_clip_checkpoint(root: Path) -> Path:
    """A random CLIPModel and a CLIP BPE tokenizer over a few words, saved."""
    root.mkdir(parents=True, exist_ok=True)
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    letters = sorted(set("".join(WORDS)))
    vocab: dict[str, int] = {}
    for token in letters + [c + "</w>" for c in letters]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            merges.append((parts[0], parts[1]))
            parts = [parts[0] + parts[1], *parts[2:]]
            vocab.setdefault(parts[0], len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    lines = [" ".join(m) for m in dict.fromkeys(merges)]
    (root / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n")
    tokenizer = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"))
    eos = vocab["<|endoftext|>"]
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 37,
                     "num_attention_heads": 4, "num_hidden_layers": 2,
                     "max_position_embeddings": 16, "eos_token_id": eos, "pad_token_id": eos,
                     "bos_token_id": vocab["<|startoftext|>"]},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32,
                       "intermediate_size": 37, "num_attention_heads": 4,
                       "num_hidden_layers": 2},
        projection_dim=DIM,
    )
    torch.manual_seed(0)
    CLIPModel(config).eval().save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


@pytest.mark.slow
@pytest.mark.skipif(not _HAVE_EXPORT, reason="export needs torch and transformers (onlook[export])")
def test_export_clip_round_trip(tmp_path):
    import torch
    from transformers import AutoTokenizer, CLIPModel

    from onlook.export_encoder import main

    ckpt = _tiny_clip_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "enc"
    assert main([str(ckpt), str(out), "--name", "tiny-clip"]) == 0
    cfg = json.loads((out / CONFIG_NAME).read_text())
    assert cfg["name"] == "tiny-clip" and cfg["embed_dim"] == DIM and cfg["image_size"] == 32
    assert cfg["context_length"] == 16 and cfg["pad_token"] == "<|endoftext|>"

    enc = OnnxClipEncoder.load(out)
    texts = ["a photo of a cat", "a red car", "dog"]
    got_txt = enc.encode_texts(texts)
    a, b = _images()
    got_img = enc.encode_images([a, b])

    # The same texts and pixels through torch must agree: this checks the
    # exported graphs and that tokenizer.json reproduces the HF tokenizer.
    model = CLIPModel.from_pretrained(ckpt).eval()
    tok = AutoTokenizer.from_pretrained(ckpt)
    inputs = tok(texts, padding="max_length", max_length=16, return_tensors="pt")
    with torch.no_grad():
        tt = model.text_projection(model.text_model(**inputs).pooler_output)
        px = torch.from_numpy(enc.preprocess([a, b]))
        ti = model.visual_projection(model.vision_model(pixel_values=px).pooler_output)
    assert np.allclose(got_txt, l2_normalise(tt.numpy()), atol=1e-4)
    assert np.allclose(got_img, l2_normalise(ti.numpy()), atol=1e-4)


def test_export_without_torch_says_what_to_install(monkeypatch):
    import sys

    from onlook.export_encoder import export_clip

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"onlook\[export\]"):
        export_clip("openai/clip-vit-base-patch32", Path("unused"))
