"""llama.cpp's OpenAI-compatible server running a tiny random-weight GGUF llama written here.

Used by the VLM client's and the model parser's real-server tests: the fixture writes the model with the
``gguf`` package and starts ``python -m llama_cpp.server`` on a free loopback port (bounded waits).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from media import free_port

from onlook._subprocess import stop_process


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


# A chat template that, like a text-only model's server, refuses content lists (image parts).
_TEMPLATE = ("{% for m in messages %}{% if m['content'] is not string %}"
             "{{ raise_exception('image input is not supported by this model') }}{% endif %}"
             "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def write_tiny_gguf(path: Path, n_embd: int = 32, n_layer: int = 2, n_ff: int = 64, n_head: int = 4) -> Path:
    """A random-weight llama in GGUF with a byte-level BPE vocabulary and a chatml template."""
    import gguf

    tokens = list(_bytes_to_unicode().values())
    merges = ["Ġ t", "h e"]
    tokens += ["Ġt", "he"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [gguf.TokenType.NORMAL] * len(tokens) + [gguf.TokenType.CONTROL] * len(specials)
    tokens += specials
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("onlook-tiny-test")
    w.add_context_length(2048)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)
    w.add_chat_template(_TEMPLATE)
    rng = np.random.default_rng(0)

    def t(name: str, *shape: int, scale: float = 0.2) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    t("output.weight", n_vocab, n_embd)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            t(f"blk.{i}.{name}.weight", n_embd, n_embd)
        t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def start_llama_server(model: Path, log_path: Path, *, tries: int = 3, ready_s: float = 40.0,
                       n_ctx: int = 2048) -> tuple[subprocess.Popen[bytes], str]:
    """Start llama.cpp's server on a free loopback port; wait (bounded) until it lists its model.

    A port found free can be taken before the server binds it: then it exits with "address already
    in use" and is started again on another port. Every wait is bounded, within the tests' timeout.
    """
    import httpx

    for _ in range(tries):
        port = free_port()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                 "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", "tiny", "--n_threads", "1"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + ready_s
        while proc.poll() is None and time.monotonic() < deadline:
            try:  # trust_env=False: a proxy set in the environment must not see loopback requests
                if httpx.get(url + "/models", timeout=1.0, trust_env=False).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        stop_process(proc)
        out = log_path.read_text(errors="replace")
        if "address already in use" not in out.lower():
            pytest.fail(f"llama.cpp server did not start within {ready_s:g} s: {out[-2000:]}")
    pytest.fail(f"llama.cpp server found no free port in {tries} tries")


@contextlib.contextmanager
def running_llama_server(tmp_path_factory: pytest.TempPathFactory, log_name: str,
                         n_ctx: int = 2048) -> Iterator[str]:
    """A llama.cpp server on a freshly written tiny model, for a module fixture; skips without llama-cpp.

    Yields:
        The server's ``/v1`` URL; the server is stopped on exit.
    """
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is not installed")
    pytest.importorskip("gguf", reason="the gguf package is not installed")
    pytest.importorskip("sse_starlette", reason="llama-cpp-python's [server] extra is not installed")
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    proc, url = start_llama_server(model, tmp_path_factory.getbasetemp() / log_name, n_ctx=n_ctx)
    try:
        yield url
    finally:
        stop_process(proc)
