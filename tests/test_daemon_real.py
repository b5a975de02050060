"""The daemon once with the real pipeline (whisper-base, Silero VAD, text shaper, hid.Typist).

A microphone stand-in plays a real recording from the moment the button goes down; the button
is gpiozero's mock pin; what reaches the virtual USB host is scored against the reference.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from jiwer import wer
from whisper_normalizer.english import EnglishTextNormalizer

from appliance.audio import level_of, load_audio
from appliance.status import State
from tests.test_daemon import SPEECH, FakeRecording, Rig, wait_for

REFERENCE = "Author of the danger trail, Philip Steels, etc."


class SpeechMic:
    """Silence, except that each recording hears the speech file from its start (4x speed)."""

    def __init__(self, level: Any):
        self.audio = load_audio(SPEECH)
        self.level = level
        self.rec: FakeRecording | None = None
        self.pos = 0
        self.running = False
        self.lock = threading.Lock()

    alive = property(lambda self: self.running)
    opening = False
    error = None

    def start(self) -> None:
        self.running = True
        threading.Thread(target=self._capture, daemon=True).start()

    def _capture(self) -> None:
        while self.running:
            with self.lock:
                block = self.audio[self.pos : self.pos + 512]
                self.pos += 512
                if len(block) < 512:
                    block = np.concatenate([block, np.zeros(512 - len(block), np.float32)])
                if self.rec is not None:
                    self.rec.push(block)
            self.level(level_of(block))
            time.sleep(512 / 16000 / 4)

    def close(self) -> None:
        self.running = False

    def begin(self) -> FakeRecording:
        with self.lock:
            self.pos = 0
            self.rec = FakeRecording()
            return self.rec

    def end(self) -> None:
        with self.lock:
            if self.rec is not None:
                self.rec.close()
                self.rec = None

    cancel = stop = end


@pytest.mark.model
def test_push_to_talk_with_the_real_pipeline_types_the_recording(fresh_pipeline):
    rig = Rig(
        "push_to_talk",
        hold_s=5.0,
        open_timeout_s=5.0,
        load_engine=lambda progress: fresh_pipeline,
        mic=SpeechMic,
    )
    rig.start()
    try:
        rig.wait(State.READY, 30)
        rig.press()
        time.sleep(3.88 / 4 + 0.6)  # the recording plus a bit of silence
        rig.release()
        wait_for(lambda: State.TYPING in rig.entered(), 60, "typing")
        rig.wait(State.READY, 60)
        norm = EnglishTextNormalizer()
        typed = rig.host.text
        assert wer(norm(REFERENCE), norm(typed)) <= 0.25, typed
        assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down
    finally:
        rig.close()
