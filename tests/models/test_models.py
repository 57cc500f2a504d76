"""The model manifest loader: verification of size and sha256, one clear error when missing or corrupt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from onlook.errors import ModelCorrupt, ModelError, ModelMissing
from onlook.models import available, manifest, model_file


def _write_model(d: Path, name: str = "tiny", payload: bytes = b"\x08\x07onnx-bytes" * 100) -> Path:
    f = d / f"{name}.onnx"
    f.write_bytes(payload)
    (d / f"{name}.json").write_text(json.dumps({
        "name": name, "file": f.name, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
        "licence": "MIT", "precision": "fp32", "source": {"package": "p", "version": "1", "registry": "pypi"},
        "inputs": [{"name": "x", "dtype": "float32", "shape": [1]}], "outputs": [],
    }))
    return f


def test_verified_file_is_returned(tmp_path: Path) -> None:
    f = _write_model(tmp_path)
    assert available(tmp_path) == ["tiny"]
    assert model_file("tiny", tmp_path) == f
    assert manifest("tiny", tmp_path)["licence"] == "MIT"


def test_checksum_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    f = _write_model(tmp_path)
    model_file("tiny", tmp_path)
    data = f.read_bytes()
    f.write_bytes(b"Y" + data[1:])  # same size, new mtime: must be read again, not trusted from the cache
    with pytest.raises(ModelCorrupt, match="sha256"):
        model_file("tiny", tmp_path)


def test_missing_manifest_and_file(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="no manifest"):
        model_file("nothing", tmp_path)
    f = _write_model(tmp_path)
    f.unlink()
    with pytest.raises(ModelMissing, match="missing") as e:
        model_file("tiny", tmp_path)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ModelError)
    assert "\n" not in str(e.value)


def test_truncated_and_altered_files(tmp_path: Path) -> None:
    f = _write_model(tmp_path)
    data = f.read_bytes()
    f.write_bytes(data[:-10])
    with pytest.raises(ModelCorrupt, match="truncated"):
        model_file("tiny", tmp_path)
    f.write_bytes(b"X" + data[1:])
    with pytest.raises(ModelCorrupt, match="sha256") as e:
        model_file("tiny", tmp_path)
    assert "\n" not in str(e.value)


def test_bad_manifests(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ModelCorrupt, match="unreadable"):
        manifest("a", tmp_path)
    (tmp_path / "b.json").write_text(json.dumps({"name": "b"}))
    with pytest.raises(ModelCorrupt, match="lacks"):
        manifest("b", tmp_path)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("bytes", "12", "positive integer"), ("bytes", None, "positive integer"),
    ("sha256", "abc", "hex digits"), ("file", "../outside.onnx", "file name"), ("file", 7, "file name"),
])
def test_manifest_values_are_checked(tmp_path: Path, key: str, value: object, message: str) -> None:
    _write_model(tmp_path)
    m = json.loads((tmp_path / "tiny.json").read_text())
    m[key] = value
    (tmp_path / "tiny.json").write_text(json.dumps(m))
    with pytest.raises(ModelCorrupt, match=message) as e:
        model_file("tiny", tmp_path)
    assert "\n" not in str(e.value)
