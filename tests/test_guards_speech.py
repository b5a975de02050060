"""The checks on real speech: a decode that the short encoder window cut off or made loop is
caught and decoded again, so the user's words are typed whole and once.

Each case first shows the failure (a plain decode with that window rule gives the wrong
text), then that the segment's final text, with the checks, is right.
"""

from __future__ import annotations

import pytest

from appliance.asr import Transcriber, normalise_words
from appliance.audio import load_audio
from appliance.config import VadConfig, with_overrides
from appliance.pipeline import heard_in
from appliance.streaming import SegmentStream
from appliance.vad import VadSegmenter

pytestmark = pytest.mark.model

# The fast path before the checks: encoder input at least 5 s, greedy decoding, segments
# padded by 200 ms.
OLD_RULE = {"encoder_min_s": 5.0, "beam_size": 1}
OLD_VAD = VadConfig(min_silence_ms=700, speech_pad_ms=200)


def word_errors(reference: str, hypothesis: str) -> int:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    out = jiwer.process_words(norm(reference), norm(hypothesis) or "<nothing>")
    return int(out.substitutions + out.deletions + out.insertions)


@pytest.fixture(scope="module")
def old_rule(base_config, model_dir) -> Transcriber:
    return Transcriber(with_overrides(base_config, asr=OLD_RULE).asr, model_dir)


def item(english_items, name: str):
    return next(i for i in english_items if i.path.name == name)


def only_segment(pipeline, path, vad_cfg: VadConfig | None = None):
    vad = VadSegmenter(vad_cfg or pipeline.cfg.vad, pipeline.vad_model)
    audio = load_audio(path)
    segments = vad.feed(audio) + vad.flush()
    assert len(segments) == 1
    return segments[0]


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        (
            "so762_010390189.wav",
            "cut off",
        ),  # "Cars have come..." -> "Cars Cars Cars ...": typed "Cars"
        ("so762_000920025.wav", "loop"),  # "six five two seven" -> "6 5 2 7 6 5 2 7 6 5 ..."
        ("3_jackson_0.wav", "loop"),  # "three" -> "three three three ..." (ten times)
    ],
)
def test_the_old_rule_fails_and_the_checks_type_it_whole_and_once(
    pipeline, english_items, old_rule, name, failure
) -> None:
    speech = item(english_items, name)
    segment = only_segment(pipeline, speech.path, OLD_VAD)
    reference_words = len(normalise_words(speech.reference).split())
    plain = old_rule.decode_window(segment.audio, "en").text
    print(f"\n{name}: plain decode {plain!r}")
    if failure == "loop":
        assert len(normalise_words(plain).split()) >= reference_words + 3, "no longer loops"
    else:
        assert word_errors(speech.reference, plain) >= 3, "the old rule no longer cuts it off"
    result = SegmentStream(old_rule, "en").finish(segment.audio, heard_in(segment))
    print(f"checked: {result.text!r} (decoded again: {result.redone})")
    assert result.redone
    words = normalise_words(result.text).split()
    assert reference_words - 1 <= len(words) <= reference_words + 1
    if failure == "cut off":
        assert word_errors(speech.reference, result.text) <= 1


def test_a_sentence_the_default_window_loops_is_typed_once(pipeline, english_items) -> None:
    """With the default window (at least 10 s) and beam search this sentence came out twice."""
    speech = item(english_items, "p228_019.wav")
    segment = only_segment(pipeline, speech.path)
    transcriber = pipeline.transcriber
    plain = transcriber.decode_window(segment.audio, "en").text
    print(f"\nplain decode {plain!r}")
    assert word_errors(speech.reference, plain) > 10, "the default rule no longer loops here"
    result = SegmentStream(transcriber, "en").finish(segment.audio, heard_in(segment))
    print(f"checked: {result.text!r} (decoded again: {result.redone})")
    assert result.redone
    assert word_errors(speech.reference, result.text) <= 3
