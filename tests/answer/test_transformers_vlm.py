"""transformers backend on a TINY random-weight Qwen2.5-VL built from a config (no download).

Random weights say nothing sensible; what is tested is the plumbing: frames in, tokens out,
the context budget, and the StreamingVLM-style bounded KV cache (attention sinks + recent
window, re-rotated to contiguous positions) over a long stream.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from onlook.answer.context import ContextBudget
from onlook.errors import ConfigError, ModelError

torch = pytest.importorskip("torch", reason="the [vlm] extra (torch) is not installed")
transformers = pytest.importorskip("transformers", reason="the [vlm] extra (transformers) is not installed")

from onlook.answer.transformers_vlm import StreamingCache, TransformersAnswerer  # noqa: E402

from .conftest import frame_image  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|image_pad|>", "<|video_pad|>"]
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
            "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|>"
            "<|vision_end|>{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
            "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_qwen(layers: int = 2, seed: int = 0):
    """A ~100k-parameter Qwen2.5-VL and its processor: byte-level tokenizer, small images."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ids = {s: fast.convert_tokens_to_ids(s) for s in SPECIALS}

    class Processor(Qwen2_5_VLProcessor):
        # Without torchvision there is no video processor; transformers' class check then fails on None.
        def check_argument_for_proper_class(self, name, arg):
            return None if arg is None else super().check_argument_for_proper_class(name, arg)

    processor = Processor(image_processor=Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16),
                          tokenizer=fast, video_processor=None, chat_template=TEMPLATE)
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 1, 1]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[0],
                           window_size=56),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model, processor


@pytest.fixture(scope="module")
def tiny():
    return tiny_qwen()


class CountingProcessor:
    """Wraps a processor and records how many images each call carried."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.images: list[int] = []

    def __call__(self, *a, **kw):
        self.images.append(len(kw.get("images") or []))
        return self.inner(*a, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_frames_in_tokens_out_within_budget(tiny, make_view):
    model, processor = tiny
    counting = CountingProcessor(processor)
    vlm = TransformersAnswerer(model_obj=model, processor=counting, streaming=False, max_new_tokens=6,
                               budget=ContextBudget(images=3, recent=2))
    view = make_view()
    stream = vlm.stream_answer("when did the person in red enter?", view, at=30.0)
    pieces = list(stream)
    assert pieces and all(isinstance(p, str) for p in pieces)
    ctx = stream.context  # what this call was shown: per call, not state on the shared answerer
    assert stream.at == ctx.at == 30.0
    assert 1 <= len(ctx.frames) <= 3 and all(f.t <= 30.0 for f in ctx.frames)
    assert counting.images[-1] == len(ctx.frames)  # every selected frame went to the model, no more
    ans = vlm.answer("what is going on?", view)
    assert isinstance(ans.text, str) and ans.evidence and all(e.t <= ans.at for e in ans.evidence)
    pick = vlm.choose("what is he carrying?", ["A. a cup", "B. a bag"], view)
    assert pick.value in ("A", "B", None)


def test_streaming_cache_stays_bounded_over_a_long_stream(tiny):
    model, processor = tiny
    vlm = TransformersAnswerer(model_obj=model, processor=processor, window_tokens=60,
                               budget=ContextBudget(image_side=56))
    assert vlm.can_stream
    for i in range(40):  # 40 frames at 2 fps; each is ~5 tokens of image + ~12 of label
        vlm.observe([(i * 0.5, frame_image(i * 0.5, w=56, h=56))])
    sc = vlm.stream_cache
    frame_tokens = [c.tokens for c in sc.chunks if c.kind == "frame"]
    assert sc.evicted_frames > 20
    assert sum(frame_tokens) <= 60 + max(frame_tokens)
    assert sc.tokens == sc.sink_tokens + sum(frame_tokens)
    assert sc.next_pos <= sc.chunks[0].pos_next + sum(frame_tokens) + 1  # positions stay contiguous, not 40 frames long
    assert [c.t for c in sc.chunks if c.kind == "frame"][-1] == pytest.approx(19.5)


def test_eviction_rerotation_matches_a_fresh_encoding():
    """With one layer, keys depend only on token and position: after evicting and re-rotating, the cache
    must give the same next-token logits as encoding the kept frames from scratch."""
    model, processor = tiny_qwen(layers=1, seed=1)
    with torch.no_grad():  # sharpen attention: with init-scale weights it is near uniform, blind to positions
        for name, p in model.named_parameters():
            if "language_model" in name and ("q_proj" in name or "k_proj" in name):
                p.mul_(40.0)
    vlm = TransformersAnswerer(model_obj=model, processor=processor)
    prefix, image, suffix = vlm._pieces()
    frames = [(t, frame_image(t, w=56, h=56)) for t in (1.0, 2.0, 3.0, 4.0)]
    streamed = StreamingCache(model, processor, prefix=prefix, image_placeholder=image, window_tokens=10_000)
    for t, img in frames:
        streamed.add_frame(t, img)
    per_frame = streamed.chunks[1].tokens
    streamed.window_tokens = 2 * per_frame
    streamed._evict()
    assert [c.t for c in streamed.chunks[1:]] == [3.0, 4.0]
    fresh = StreamingCache(model, processor, prefix=prefix, image_placeholder=image, window_tokens=10_000)
    for t, img in frames[2:]:
        fresh.add_frame(t, img)
    assert streamed.next_pos == fresh.next_pos and streamed.tokens == fresh.tokens
    q = "Question: what happened?" + suffix
    a = streamed.forward(streamed._inputs(q, []))
    b = fresh.forward(fresh._inputs(q, []))
    assert torch.allclose(a, b, atol=1e-4), float((a - b).abs().max())
    # ...and the test can tell: without the re-rotation the logits differ.
    unrotated = StreamingCache(model, processor, prefix=prefix, image_placeholder=image, window_tokens=10_000)
    for t, img in frames:
        unrotated.add_frame(t, img)
    unrotated._inv_freq = unrotated._inv_freq * 0  # a rotation by 0: keys keep their old positions
    unrotated.window_tokens = 2 * per_frame
    unrotated._evict()
    c = unrotated.forward(unrotated._inputs(q, []))
    assert not torch.allclose(c, b, atol=1e-3)


def test_streaming_answers_roll_the_cache_back_and_older_questions_fall_back(tiny, make_view):
    model, processor = tiny
    vlm = TransformersAnswerer(model_obj=model, processor=processor, max_new_tokens=5, window_tokens=200,
                               budget=ContextBudget(images=3, recent=2, image_side=56))
    view = make_view()
    first = "".join(vlm.stream_answer("what is happening now?", view))
    sc = vlm.stream_cache
    assert sc is not None and sc.last_t == pytest.approx(40.0)
    before = (sc.tokens, sc.next_pos)
    second = "".join(vlm.stream_answer("what is happening now?", view))
    assert (sc.tokens, sc.next_pos) == before  # the question and its answer were rolled back
    assert first == second  # greedy and same cache: same answer
    earlier = vlm.answer("what happened at the start?", view, at=5.0)  # before cached frames: fresh path
    assert earlier.at == pytest.approx(5.0) and all(e.t <= 5.0 for e in earlier.evidence)


def test_errors_and_lazy_imports(tmp_path):
    with pytest.raises(ConfigError):
        TransformersAnswerer()
    with pytest.raises(ConfigError):
        TransformersAnswerer(model_obj=object())
    with pytest.raises(ModelError, match="cannot load VLM"):
        TransformersAnswerer(str(tmp_path / "no-such-model"), local_files_only=True).load()
    code = "import sys, onlook.answer.transformers_vlm, onlook.answer.openai_vlm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
