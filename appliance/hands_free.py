"""A whole recording through the wake-word trigger's rules (``stt-keyboard simulate``).

The same parts as the daemon's trigger, on a file: the detector listens; a wake word starts
a dictation with the audio after it; the end of speech (or the recording's end, or the
maximum length) ends it; after it the detector rests for its cooldown and listens again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from appliance.audio import SAMPLE_RATE, iter_blocks
from appliance.config import Config
from appliance.end_of_speech import EndOfSpeech
from appliance.wake_word import WakeWordDetector


@dataclass(frozen=True)
class HandsFreeDictation:
    start: int  # sample after the wake word
    end: int
    probability: float  # the detector's averaged output that crossed the cutoff

    def seconds(self) -> tuple[float, float]:
        return self.start / SAMPLE_RATE, self.end / SAMPLE_RATE


def hands_free_dictations(
    audio: np.ndarray,
    cfg: Config,
    *,
    detector: WakeWordDetector | None = None,
    end: EndOfSpeech | None = None,
) -> list[HandsFreeDictation]:
    """Where the recording's hands-free dictations are (none without the wake word)."""
    detector = detector or WakeWordDetector(cfg.wake_word)
    end = end or EndOfSpeech(cfg.wake_word, cfg.vad)
    block = max(1, SAMPLE_RATE * cfg.audio.block_ms // 1000)
    longest = int(cfg.audio.max_recording_s * SAMPLE_RATE)
    found: list[HandsFreeDictation] = []
    start: int | None = None
    probability = 0.0
    at = 0
    for chunk in iter_blocks(audio, block):
        at += len(chunk)
        if start is None:
            heard = detector.feed(chunk)
            if heard is not None:
                start, probability = at, heard.probability
                end.reset()
            continue
        if end.feed(chunk) or at - start >= longest:
            found.append(HandsFreeDictation(start, at, probability))
            start = None
            detector.rest()
    if start is not None:
        found.append(HandsFreeDictation(start, len(audio), probability))
    return found
