"""Hands-free dictation: a wake word, then real speech, through the whole appliance.

The wake word is espeak-ng's; the words after it are a real recording of ../shared/speech.
Two real transcriptions (whisper-base): `stt-keyboard simulate` and the daemon with the real
microphone code (its capture process on a fake PortAudio that plays the file), the real
trigger, pipeline and typist. Neither types the wake word.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from jiwer import wer
from whisper_normalizer.english import EnglishTextNormalizer

from appliance.audio import SAMPLE_RATE, Microphone, load_audio
from appliance.cli import main
from appliance.config import Config, with_overrides
from appliance.events import SpeechEnded, WakeWordHeard
from appliance.samples import room_noise
from appliance.status import State, Topic
from appliance.ui.leds import PATTERNS
from appliance.ui.screens import ScreenModel, render
from appliance.wake_trigger import WakeWordTrigger
from tests.fake_portaudio import capture_command
from tests.test_daemon import SENTENCE, SPEECH, Rig, wait_for
from tests.wake_audio import wake_then, wake_word

NORM = EnglishTextNormalizer()


def write(path: Path, audio: np.ndarray) -> Path:
    soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return path


@pytest.fixture()
def wake_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("wake_word:\n  trigger: wake_word\n  model: okay_nabu\n")
    return path


@pytest.mark.model
def test_simulate_types_the_words_after_the_wake_word(
    model_dir: Path, english_items, wake_config: Path, tmp_path: Path, capsys
) -> None:
    item = next(i for i in english_items if i.path.name == "p225_003.wav")
    audio = wake_then(wake_word("okay_nabu", "en-gb-x-rp", 150), load_audio(item.path))
    wav = write(tmp_path / "wake.wav", audio)
    code = main(
        [
            "--config",
            str(wake_config),
            "simulate",
            "--json",
            "--audio",
            str(wav),
            "--model",
            str(model_dir),
            "--threads",
            "2",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["wake_words"]) == 1
    start = out["wake_words"][0]["start_s"]
    assert 0.6 < start < 0.6 + len(wake_word("okay_nabu", "en-gb-x-rp", 150)) / SAMPLE_RATE + 0.4
    typed = out["typed"]
    assert wer(NORM(item.reference), NORM(typed)) <= 0.2, typed
    assert "nabu" not in typed.lower() and not typed.lower().startswith("ok")


@pytest.mark.model
def test_simulate_without_the_wake_word_types_nothing(
    model_dir: Path, english_items, wake_config: Path, tmp_path: Path, capsys
) -> None:
    item = next(i for i in english_items if i.path.name == "p225_003.wav")
    audio = np.concatenate([room_noise(0.6), load_audio(item.path), room_noise(2.5)])
    wav = write(tmp_path / "plain.wav", audio)
    code = main(
        [
            "--config",
            str(wake_config),
            "simulate",
            "--json",
            "--audio",
            str(wav),
            "--model",
            str(model_dir),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["wake_words"] == [] and out["pieces"] == []
    assert out["typed"] == "" and out["shaped"] == ""  # at most the all-keys-up report


def wake_rig(tmp_path: Path, **rig: Any) -> tuple[Rig, WakeWordTrigger]:
    """The daemon with the real Microphone (fake PortAudio playing a wake word, then the
    test recording, at 4x speed) and the real wake-word trigger."""
    audio = wake_then(wake_word("okay_nabu", "en-us", 150), load_audio(SPEECH), gap_s=0.5)
    # 12 s before it (3 s at 4x): the daemon is ready and past its cooldown by then
    wav = write(tmp_path / "heard.wav", np.concatenate([room_noise(12.0), audio]))
    device = {"index": 0, "name": "USB mic", "maxInputChannels": 1, "defaultSampleRate": 16000.0}
    cfg = with_overrides(
        Config(), wake_word={"trigger": "wake_word", "model": "okay_nabu", "end_silence_s": 1.0}
    )
    trigger: list[WakeWordTrigger] = []

    def microphone(level: Any) -> Microphone:
        command = capture_command([device], wav=str(wav), speed=4.0)
        return Microphone(
            cfg.audio, level_callback=level, listener=trigger[0].hear, command=command
        )

    r = Rig("push_to_talk", hold_s=5.0, open_timeout_s=5.0, mic=microphone, **rig)
    trigger.append(WakeWordTrigger(cfg, r.bus))
    trigger[0].start(r.daemon.post)
    return r, trigger[0]


@pytest.mark.model
def test_the_daemon_types_a_hands_free_dictation(fresh_pipeline, tmp_path: Path) -> None:
    rig, trigger = wake_rig(tmp_path, load_engine=lambda progress: fresh_pipeline)
    listening: list[str] = []
    rig.bus.subscribe(lambda s: listening.append(s.value) if s.topic is Topic.LISTENING else None)
    rig.start()
    try:
        rig.wait(State.READY, 30)
        wait_for(lambda: bool(listening) and listening[-1] == "Okay Nabu", 5, "listening")
        assert rig.leds is not None and rig.leds.current == PATTERNS["listening"]
        wait_for(lambda: State.TYPING in rig.entered(), 60, "typing, with no button pressed")
        assert ("recording", "Hands-free") in [(s.value, m) for s, m in rig.states]
        rig.wait(State.READY, 60)
        typed = rig.host.text
        assert wer(NORM(SENTENCE), NORM(typed)) <= 0.25, typed
        assert "nabu" not in typed.lower()
        assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down
        assert listening[-1] == "Okay Nabu" and "" in listening  # not while it typed
    finally:
        rig.close()
        trigger.close()


def test_the_button_ends_a_hands_free_dictation_and_a_stale_end_is_ignored(tmp_path):
    """With the fake engine: a wake word starts recording; the end of an older dictation
    does nothing; a press and release of the button ends it (both)."""
    rig = Rig("toggle")
    rig.start()
    try:
        rig.wait(State.READY)
        rig.daemon.post(WakeWordHeard(episode=7, at_sample=0))
        rig.wait(State.RECORDING)
        rig.daemon.post(SpeechEnded(episode=6))
        time.sleep(0.2)
        assert rig.daemon.state is State.RECORDING
        rig.click()
        wait_for(lambda: State.TRANSCRIBING in rig.entered(), 5, "transcribing")
        rig.wait(State.READY, 10)
        rig.daemon.post(WakeWordHeard(episode=8, at_sample=0))
        rig.wait(State.RECORDING)
        rig.daemon.post(SpeechEnded(episode=8))
        rig.wait(State.READY, 10)
        assert rig.entered().count(State.TRANSCRIBING) == 2
    finally:
        rig.close()


def test_the_oled_says_what_to_say_while_listening():
    plain = render(ScreenModel(state=State.READY, model="base"))
    listening = render(ScreenModel(state=State.READY, model="base", listening="Okay Nabu"))
    assert plain.tobytes() != listening.tobytes()


def test_the_service_wires_the_trigger_only_when_asked(tmp_path: Path) -> None:
    from appliance.config import ConfigError
    from appliance.daemon import open_wake_trigger
    from appliance.status import StatusBus

    assert open_wake_trigger(Config(), StatusBus()) is None  # the default: the button
    wake = open_wake_trigger(with_overrides(Config(), wake_word={"trigger": "both"}), StatusBus())
    assert wake is not None and wake.detector.phrase == "Alexa"
    wake.close()
    broken = with_overrides(Config(), wake_word={"trigger": "wake_word", "model": "hey_you"})
    with pytest.raises(ConfigError) as err:
        open_wake_trigger(broken, StatusBus())
    assert err.value.key == "wake_word.model"
