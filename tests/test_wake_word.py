"""The wake word's detector (pymicro-wakeword, the real models of its wheel) on generated wake
words, real speech, generated non-wake speech and noise; its cooldown, config errors, CPU use.

The hour of negatives runs here: the detector runs a few hundred times faster than real time
on this machine, so an hour costs about 10-20 s (measured and printed).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.audio import SAMPLE_RATE, iter_blocks, load_audio
from appliance.config import ConfigError, WakeWordConfig
from appliance.samples import room_noise, speak
from appliance.wake_word import WakeWordDetector, model_files
from tests.wake_audio import (
    HELD_VOICES,
    NEAR_MISS,
    ORDINARY,
    SPEEDS,
    noise_hour_part,
    padded,
    wake_word,
    with_pauses,
)

BLOCK = 512  # the microphone's 32 ms blocks


def detections(audio: np.ndarray, cfg: WakeWordConfig | None = None) -> list[float]:
    """Seconds at which the detector fires, fed block by block as from the microphone."""
    detector = WakeWordDetector(cfg or WakeWordConfig())
    found = []
    for block in iter_blocks(audio, BLOCK):
        heard = detector.feed(block)
        if heard is not None:
            found.append(heard.at_sample / SAMPLE_RATE)
    detector.close()
    return found


@pytest.mark.parametrize("model", ["okay_nabu", "alexa"])
def test_the_wake_word_is_heard_in_most_held_out_voices(model):
    """The benchmark's held-out voices at two speeds, at the default cutoffs (alexa: 0.99,
    chosen on the dev voices; okay_nabu: its own 0.85)."""
    heard = {
        (voice, wpm): bool(
            detections(padded(wake_word(model, voice, wpm)), WakeWordConfig(model=model))
        )
        for voice in HELD_VOICES
        for wpm in SPEEDS
    }
    rate = sum(heard.values()) / len(heard)
    print(f"{model}: heard in {sum(heard.values())} of {len(heard)}: {heard}")
    assert rate >= 0.75, heard
    voices = {voice for (voice, _), ok in heard.items() if ok}
    assert len(voices) >= 4, heard  # at least 4 of the 5 voices at one speed or more


def test_a_wake_word_said_once_starts_one_dictation_and_the_cooldown_ends():
    wake = wake_word("alexa", "en-us", 150)
    quick = np.concatenate([padded(wake), wake, room_noise(1.0)])  # again within 2 s
    assert len(detections(quick, WakeWordConfig(cooldown_s=5.0))) == 1
    later = np.concatenate([padded(wake), room_noise(3.0), wake, room_noise(1.0)])
    assert len(detections(later, WakeWordConfig(cooldown_s=2.0))) == 2


def test_a_cutoff_above_every_output_hears_nothing():
    wake = padded(wake_word("alexa", "en-us", 150))
    assert detections(wake)
    assert not detections(wake, WakeWordConfig(probability_cutoff=0.999))


@pytest.mark.parametrize("model", ["alexa", "okay_nabu"])
def test_no_false_trigger_on_all_the_real_speech(speech_items, model):
    """Every recording of ../shared/speech (all languages), one after another."""
    stream = with_pauses([load_audio(i.path) for i in speech_items])
    hours = len(stream) / SAMPLE_RATE / 3600
    found = detections(stream, WakeWordConfig(model=model))
    print(f"{model}: real speech: {hours * 60:.1f} min, {len(found)} triggers")
    assert found == [], found


def test_an_hour_of_noise_and_speech_without_the_wake_word_triggers_nothing():
    """An hour: every voice saying everyday sentences that are not the wake word, and
    generated noise (white, room, hum, clicks at -50..-15 dBFS) for the rest; triggers per
    hour and the detector's speed are printed."""
    voices = sorted({*HELD_VOICES, "en-us", "en-gb", "en-us+m3", "en-029"})
    talk = [
        speak(s, voice=v, words_per_minute=wpm) for v in voices for wpm in SPEEDS for s in ORDINARY
    ]
    speech = with_pauses(talk)
    noise = noise_hour_part(3600 - len(speech) / SAMPLE_RATE, seed=11)
    stream = np.concatenate([speech, noise])
    assert len(stream) >= 3600 * SAMPLE_RATE - 1
    wall, cpu = time.perf_counter(), time.process_time()
    found = detections(stream)  # the default: alexa at its measured cutoff
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{len(speech) / SAMPLE_RATE / 60:.0f} min generated speech + "
        f"{len(noise) / SAMPLE_RATE / 60:.0f} min noise: {len(found)} triggers per hour; "
        f"detector {3600 / wall:.0f}x real time, {cpu / 3600:.4f} CPU s per audio s"
    )
    assert found == [], found


def test_the_listener_costs_little_cpu():
    """The continuous listener's cost per second of audio, CPU time of this process."""
    audio = noise_hour_part(120, seed=3)
    detector = WakeWordDetector(WakeWordConfig())
    cpu = time.process_time()
    for block in iter_blocks(audio, BLOCK):
        detector.feed(block)
    per_s = (time.process_time() - cpu) / 120
    print(f"wake word listener: {per_s:.4f} CPU s per audio s")
    assert per_s < 0.02  # 2 % of one core here; docs/wake-word.md estimates a Pi


def test_a_custom_model_by_path(tmp_path: Path):
    builtin = model_files("alexa")
    shutil.copy(builtin.json_path, tmp_path / "my_word.json")
    shutil.copy(builtin.json_path, tmp_path / "alexa.json")  # a .tflite path: its .json
    shutil.copy(builtin.tflite_path, tmp_path / "alexa.tflite")
    for setting in (tmp_path / "my_word.json", tmp_path / "alexa.tflite"):
        cfg = WakeWordConfig(model=str(setting))
        assert detections(padded(wake_word("alexa", "en-us", 150)), cfg)


def test_unusable_models_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"neither a built-in wake word.*okay_nabu"):
        WakeWordDetector(WakeWordConfig(model="hey_computer"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a microWakeWord model"):
        WakeWordDetector(WakeWordConfig(model=str(tmp_path / "bad.json")))
    builtin = model_files("alexa")
    shutil.copy(builtin.json_path, tmp_path / "broken.json")
    (tmp_path / "alexa.tflite").write_bytes(b"\x00" * 4000)  # a corrupt download
    with pytest.raises(ConfigError, match="not a TFLite model") as err:
        WakeWordDetector(WakeWordConfig(model=str(tmp_path / "broken.json")))
    assert err.value.key == "wake_word.model"


def test_near_misses_do_not_start_the_default_wake_word():
    """ "Alexander ...", "Okay, now ...", "Okay boomer ..." in every voice, each after 2.5 s of
    room noise: the default (alexa) starts on none; okay_nabu's counts are printed (it starts
    on many "okay ..." at its own cutoff: docs/wake-word.md)."""
    voices = sorted({*HELD_VOICES, "en-us", "en-gb", "en-us+m3", "en-029"})
    talk = [
        speak(s, voice=v, words_per_minute=w) for v in voices for w in SPEEDS for s in NEAR_MISS
    ]
    stream = with_pauses(talk)
    own = detections(stream, WakeWordConfig(model="okay_nabu"))
    default = detections(stream)
    print(f"near misses ({len(talk)}): alexa {len(default)}, okay_nabu {len(own)} triggers")
    assert default == []
