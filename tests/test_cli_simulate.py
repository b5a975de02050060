"""`stt-keyboard simulate` and `demo`: the whole pipeline from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.cli import main

pytestmark = pytest.mark.model


def test_simulate_json_has_typed_text_and_stage_timings(
    model_dir: Path, speech_items, capsys: pytest.CaptureFixture[str]
) -> None:
    item = next(i for i in speech_items if i.language == "en" and i.sample_rate == 22050)
    code = main(["simulate", "--audio", str(item.path), "--model", str(model_dir), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["typed"] and out["typed"] == out["shaped"]
    for stage in ("model_load_s", "vad_s", "asr_s", "release_to_transcript_s", "type_s"):
        assert out["timings"][stage] >= 0.0
    assert out["reports"] >= 2 * len(out["typed"])


def test_demo_types_both_sentences_and_nothing_for_the_pause(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from whisper_normalizer.english import EnglishTextNormalizer

    from appliance.samples import DEMO_SENTENCES

    monkeypatch.setenv("STT_KEYBOARD_CACHE", str(tmp_path))  # the demo sample goes here
    code = main(["demo", "--model", str(model_dir), "--pause", "8", "--no-contrast"])
    assert code == 0
    out = capsys.readouterr().out
    typed = out.split("the host received:\n", 1)[1].splitlines()[0].strip()
    norm = EnglishTextNormalizer()
    expected = norm(" ".join(DEMO_SENTENCES)).split()
    got = norm(typed).split()
    # The synthetic voice may cost a word or two, but no invented words for the pause.
    assert len(got) <= len(expected) + 1
    assert len(set(got) & set(expected)) >= len(set(expected)) - 3
