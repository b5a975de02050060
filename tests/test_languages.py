"""Other languages: detection limited to a list, and the transcript typed on that language's
host layout (accented letters through dead keys and AltGr) arrives exactly."""

from __future__ import annotations

import pytest

from appliance.asr import Transcriber
from appliance.audio import FileSource
from appliance.cli import type_into_virtual_host
from appliance.config import with_overrides
from appliance.pipeline import Pipeline, run_blocks
from tests.shaping import shaped_items, shaped_text

pytestmark = pytest.mark.model

LAYOUTS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt"}


@pytest.fixture(scope="module")
def auto_pipeline(base_config, pipeline):
    cfg = with_overrides(
        base_config, asr={"language": "auto", "languages": ["de", "es", "fr", "it", "pt", "en"]}
    )
    transcriber = Transcriber(cfg.asr, pipeline.transcriber.model_dir)
    return Pipeline(cfg, transcriber, vad_model=pipeline.vad_model)


def test_detected_language_text_types_exactly_on_its_layout(auto_pipeline, speech_items):
    items = [i for i in speech_items if i.language in LAYOUTS]
    assert len(items) >= 5
    for item in items:
        result = run_blocks(auto_pipeline, FileSource(item.path).blocks())
        text = shaped_text(result)
        assert text, item.path
        typed, _reports, _ = type_into_virtual_host(shaped_items(result), LAYOUTS[item.language])
        assert typed == text, (item.language, typed, text)


def test_language_detection_restricted_to_the_list(auto_pipeline, speech_items):
    german = next(i for i in speech_items if i.language == "de")
    from appliance.audio import load_audio

    assert auto_pipeline.transcriber.language_for(load_audio(german.path)) == "de"
    only_en_fr = with_overrides(
        auto_pipeline.cfg, asr={"language": "auto", "languages": ["en", "fr"]}
    ).asr
    saved = auto_pipeline.transcriber.cfg
    try:
        auto_pipeline.transcriber.cfg = only_en_fr
        assert auto_pipeline.transcriber.language_for(load_audio(german.path)) in ("en", "fr")
    finally:
        auto_pipeline.transcriber.cfg = saved
