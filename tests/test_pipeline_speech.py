"""The whole pipeline on real speech: file source -> VAD -> whisper-base -> shaping ->
HID reports -> virtual host. Compared with faster-whisper called directly, same model."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.audio import SAMPLE_RATE, FileSource, iter_blocks, load_audio
from appliance.cli import type_into_virtual_host
from appliance.pipeline import run_blocks
from appliance.plausibility import Heard
from appliance.samples import room_noise, speak, with_pause
from appliance.streaming import transcribe_whole
from tests.shaping import shaped_items, shaped_text

pytestmark = pytest.mark.model

WER_TOLERANCE = 0.01  # one point: per-segment decoding may differ slightly from whole-file
# Every third English item (all kinds, both halves): the whole set took 11 minutes of the
# suite's budget; `make bench` and benchmarks/bench_report.py measure all of it.
EVERY_NTH = 3


def normaliser():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    norm = normaliser()
    refs = [norm(r) for r in references]
    hyps = [norm(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def test_typed_text_wer_no_worse_than_faster_whisper_direct(fresh_pipeline, english_items):
    model = fresh_pipeline.transcriber.model
    typed, direct, refs = [], [], []
    spread = english_items[::EVERY_NTH]
    assert len(spread) >= 30
    for item in spread:
        result = run_blocks(fresh_pipeline, FileSource(item.path).blocks())
        host_text, _reports, _ = type_into_virtual_host(shaped_items(result), "us")
        # The HID round trip is lossless: the host shows exactly the shaped text.
        assert host_text == shaped_text(result), item.path
        typed.append(host_text)
        segments, _ = model.transcribe(str(item.path), language="en")  # library defaults
        direct.append(" ".join(s.text.strip() for s in segments))
        refs.append(item.reference)
    ours, theirs = wer(refs, typed), wer(refs, direct)
    print(f"\nWER on {len(refs)} English items: pipeline {ours:.2%}, direct {theirs:.2%}")
    assert ours <= theirs + WER_TOLERANCE


def test_44k_stereo_gives_same_text_as_16k_mono(fresh_pipeline, speech_items, tmp_path):
    """Our down-mix + resampling against sox's conversion of the same file."""
    import subprocess

    stereo = next(i for i in speech_items if i.channels == 2 and i.sample_rate == 44100)
    mono16 = tmp_path / "mono16.wav"
    subprocess.run(["sox", str(stereo.path), "-r", "16000", "-c", "1", str(mono16)], check=True)
    assert len(load_audio(mono16)) == pytest.approx(len(load_audio(stereo.path)), abs=16)
    a = shaped_text(run_blocks(fresh_pipeline, FileSource(stereo.path).blocks()))
    b = shaped_text(run_blocks(fresh_pipeline, FileSource(mono16).blocks()))
    norm = normaliser()
    assert a and norm(a) == norm(b)


def _type(pipeline, audio: np.ndarray) -> str:
    result = run_blocks(pipeline, iter_blocks(audio, 1024))
    return type_into_virtual_host(shaped_items(result), "us")[0]


@pytest.mark.parametrize(
    "name",
    ["digital_silence", "low_noise", "room_noise_25s", "click", "hum_and_hiss_20s"],
)
def test_non_speech_types_nothing(fresh_pipeline, name):
    rng = np.random.default_rng(7)
    if name == "digital_silence":
        audio = np.zeros(5 * SAMPLE_RATE, np.float32)
    elif name == "low_noise":
        audio = rng.normal(0, 0.002, 8 * SAMPLE_RATE).astype(np.float32)
    elif name == "room_noise_25s":
        audio = room_noise(25.0, level_db=-40.0, seed=3)
    elif name == "click":
        audio = np.zeros(3 * SAMPLE_RATE, np.float32)
        audio[SAMPLE_RATE : SAMPLE_RATE + 40] = 0.9
    else:
        audio = room_noise(20.0, level_db=-30.0, seed=5)
    assert _type(fresh_pipeline, audio) == ""


def test_twenty_second_pause_types_both_parts_and_nothing_between(fresh_pipeline):
    first, second = "Please send the report by Friday.", "I will review it over the weekend."
    audio = with_pause(speak(first), speak(second), 20.0)
    result = run_blocks(fresh_pipeline, iter_blocks(audio, 1024))
    assert len(result.pieces) == 2, result.pieces
    assert result.pieces[1].pause_before_s > 18.0
    typed = type_into_virtual_host(shaped_items(result), "us")[0]
    assert typed == shaped_text(result)
    # Each part on its own (synthetic voice: a word may differ), nothing invented between.
    assert wer([first], [result.pieces[0].text]) <= 0.25
    assert wer([second], [result.pieces[1].text]) <= 0.25
    assert wer([first + " " + second], [typed]) <= 0.2


def test_guards_drop_what_whisper_invents_on_non_speech(fresh_pipeline):
    """Bypassing the VAD, whisper-base invents words on noise; the guards must drop them."""
    transcriber = fresh_pipeline.transcriber
    rng = np.random.default_rng(1)
    inputs = [
        room_noise(8.0, level_db=-40.0, seed=1),
        rng.normal(0, 0.05, 8 * SAMPLE_RATE).astype(np.float32),
        np.zeros(5 * SAMPLE_RATE, np.float32),
    ]
    for audio in inputs:
        seconds = len(audio) / SAMPLE_RATE
        transcript = transcribe_whole(transcriber, audio, Heard(seconds, seconds))
        assert transcript.text == ""


def test_segments_are_transcribed_while_audio_still_arrives(fresh_pipeline):
    """Streaming: the first segment is handed to the model before the recording ends."""
    audio = with_pause(speak("This is the first sentence."), speak("And this is the second."), 3.0)
    seen_before_end: list[str] = []
    session = fresh_pipeline.start(on_piece=lambda p: seen_before_end.append(p.text))
    blocks = list(iter_blocks(audio, 512))
    for block in blocks:
        session.feed(block)
    # Give the worker a moment; the second sentence has not been flushed yet.
    import time

    deadline = time.monotonic() + 30
    while not seen_before_end and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen_before_end and "first" in seen_before_end[0].lower()
    result = session.finish()
    assert len(result.pieces) == 2
