"""When a hands-free dictation is over: the speaker has been silent long enough.

With no button to let go of, silence ends the dictation: Silero VAD (its own instance: the
pipeline's model carries the dictation's state) marks each 32 ms frame speech or not, and
``end_silence_s`` of non-speech after speech ends it. If nobody speaks at all, it ends after
``start_timeout_s`` and nothing is typed.
"""

from __future__ import annotations

import numpy as np

from appliance.config import VadConfig, WakeWordConfig
from appliance.vad import FRAME, SAMPLE_RATE, SileroVad


class EndOfSpeech:
    def __init__(self, cfg: WakeWordConfig, vad: VadConfig, model: SileroVad | None = None):
        self._model = model if model is not None else SileroVad()
        self._threshold = vad.threshold
        self._end_frames = max(1, round(cfg.end_silence_s * SAMPLE_RATE / FRAME))
        self._start_frames = max(1, round(cfg.start_timeout_s * SAMPLE_RATE / FRAME))
        self._pending = np.zeros(0, np.float32)
        self.reset()

    def reset(self) -> None:
        """A new dictation begins."""
        self._model.reset_states()
        self._pending = np.zeros(0, np.float32)
        self._frames = 0
        self._spoke = False
        self._quiet = 0

    def feed(self, block: np.ndarray) -> bool:
        """True once the dictation is over (and on every block after)."""
        data = np.concatenate([self._pending, block.astype(np.float32, copy=False)])
        usable = len(data) - len(data) % FRAME
        self._pending = data[usable:]
        for offset in range(0, usable, FRAME):
            if self.over:
                break
            self._frames += 1
            if self._model(data[offset : offset + FRAME]) >= self._threshold:
                self._spoke, self._quiet = True, 0
            else:
                self._quiet += 1
        return self.over

    @property
    def over(self) -> bool:
        if self._spoke:
            return self._quiet >= self._end_frames
        return self._frames >= self._start_frames
