"""The checks on real speech: a decode that the encoder window cut off or made loop is caught
and decoded again, so the user's words are typed whole and once.

Which recordings a plain decode gets wrong depends on the CPU (CTranslate2's kernels differ
between CPUs, and greedy decoding follows the small differences: a clip that loops on one
machine comes out right on another). So the failures are not named here: every English
recording of the shared set that comes out as one VAD segment is decoded plainly with a rule,
and each one that loops or is cut off is then checked through the product's path.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from appliance.asr import Transcriber, normalise_words
from appliance.audio import load_audio
from appliance.config import VadConfig, with_overrides
from appliance.pipeline import heard_in
from appliance.streaming import SegmentStream
from appliance.vad import SpeechSegment, VadSegmenter

pytestmark = pytest.mark.model

# The fast path before the checks: encoder input at least 5 s, greedy decoding, segments
# padded by 200 ms. On its own it loops on most single digits.
OLD_RULE = {"encoder_min_s": 5.0, "beam_size": 1}
OLD_VAD = VadConfig(min_silence_ms=700, speech_pad_ms=200)
OLD_RULE_MAX_S = 4.0  # the old rule's failures are on short clips; longer ones cost time only
MIN_OLD_RULE_FAILURES = 3  # 11 loops among the 49 clips of at most 4 s (2026-12, AMD EPYC)


def word_errors(reference: str, hypothesis: str) -> int:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    out = jiwer.process_words(norm(reference), norm(hypothesis) or "<nothing>")
    return int(out.substitutions + out.deletions + out.insertions)


@dataclass(frozen=True)
class Failure:
    name: str
    reference: str
    segment: SpeechSegment
    plain: str
    kind: str  # "loop": 3 or more words too many; "cut off": a strict prefix, 2 or more short


def failure_kind(reference: str, plain: str) -> str:
    ref = normalise_words(reference).split()
    got = normalise_words(plain).split()
    if len(got) >= len(ref) + 3:
        return "loop"
    if len(got) <= len(ref) - 2 and got == ref[: len(got)]:
        return "cut off"
    return ""


def scan(pipeline, items, transcriber: Transcriber, vad_cfg: VadConfig) -> list[Failure]:
    failures = []
    for speech in items:
        vad = VadSegmenter(vad_cfg, pipeline.vad_model)
        audio = load_audio(speech.path)
        segments = vad.feed(audio) + vad.flush()
        if len(segments) != 1:
            continue
        plain = transcriber.decode_window(segments[0].audio, "en").text
        kind = failure_kind(speech.reference, plain)
        if kind:
            failures.append(Failure(speech.path.name, speech.reference, segments[0], plain, kind))
    for f in failures:
        print(f"{f.name}: {f.kind}: plain decode {f.plain!r}")
    return failures


@pytest.fixture(scope="module")
def old_rule(base_config, model_dir) -> Transcriber:
    return Transcriber(with_overrides(base_config, asr=OLD_RULE).asr, model_dir)


@pytest.fixture(scope="module")
def old_rule_failures(pipeline, english_items, old_rule) -> list[Failure]:
    short = [i for i in english_items if i.duration_s <= OLD_RULE_MAX_S]
    assert len(short) >= 20, "expected the short clips of the speech set"
    return scan(pipeline, short, old_rule, OLD_VAD)


@pytest.fixture(scope="module")
def default_rule_failures(pipeline, english_items) -> list[Failure]:
    return scan(pipeline, english_items, pipeline.transcriber, pipeline.cfg.vad)


def assert_typed_whole_and_once(transcriber: Transcriber, f: Failure) -> None:
    result = SegmentStream(transcriber, "en").finish(f.segment.audio, heard_in(f.segment))
    print(f"{f.name}: checked {result.text!r} (decoded again: {result.redone})")
    assert result.redone, f"{f.name}: the {f.kind} was not caught: {result.text!r}"
    reference_words = len(normalise_words(f.reference).split())
    words = normalise_words(result.text).split()
    assert reference_words - 1 <= len(words) <= reference_words + 1, (f.name, result.text)
    if f.kind == "cut off":
        assert word_errors(f.reference, result.text) <= 1, (f.name, result.text)


def test_the_old_rule_loops_or_cuts_off_real_speech(old_rule_failures) -> None:
    """The fixture the checks are proven on: without them the short window fails here."""
    assert len(old_rule_failures) >= MIN_OLD_RULE_FAILURES, old_rule_failures


def test_the_checks_type_the_old_rules_failures_whole_and_once(old_rule, old_rule_failures):
    assert old_rule_failures, "nothing to check: the old rule failed nowhere"
    for f in old_rule_failures:
        assert_typed_whole_and_once(old_rule, f)


def test_the_checks_type_the_default_rules_failures_whole_and_once(
    pipeline, default_rule_failures
) -> None:
    """The product's own window (at least 10 s, beam search) fails more rarely, and on which
    recordings depends on the CPU (p228_019 came out twice on one machine; on an AMD EPYC
    only the 0.6 s "zero" of 0_george_1 looped). Each failure found is typed whole and once."""
    print(f"{len(default_rule_failures)} failures of the default rule")
    for f in default_rule_failures:
        assert_typed_whole_and_once(pipeline.transcriber, f)
