"""After the release: the tail ends as soon as the VAD hears that the speaker has stopped,
and goes on (up to audio.tail_s) while a word is still being said. Real Silero VAD, real
speech; no model."""

from __future__ import annotations

import numpy as np

from appliance.audio import SAMPLE_RATE, iter_blocks, load_audio
from appliance.config import Config, with_overrides
from appliance.pipeline import DictationSession
from appliance.vad import load_vad_model


class NoModelPipeline:
    """What a session needs of its pipeline, without Whisper (streaming off, no decodes)."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.vad_model = load_vad_model()


def tail_needed(session: DictationSession, after: np.ndarray, block: int = 512) -> float:
    """Seconds of audio fed after the release until the session has heard enough."""
    session.release()
    fed = 0
    for chunk in iter_blocks(after, block):
        if session.heard_enough():
            break
        session.feed(chunk)
        fed += len(chunk)
    return fed / SAMPLE_RATE


def session(cfg: Config) -> DictationSession:
    return DictationSession(NoModelPipeline(cfg))  # type: ignore[arg-type]


def test_the_tail_ends_soon_after_the_speaker_stops(english_items) -> None:
    cfg = with_overrides(Config(), asr={"streaming": False})
    speech = load_audio(next(i for i in english_items if "ljspeech" in str(i.path)).path)
    s = session(cfg)
    for chunk in iter_blocks(speech, 512):  # released right at the end of the speech
        s.feed(chunk)
    quiet = np.random.default_rng(0).normal(0, 1e-3, SAMPLE_RATE).astype(np.float32)
    needed = tail_needed(s, quiet)
    print(f"\ntail after the speech: {needed:.2f} s (at most {cfg.audio.tail_s} s)")
    # Silero still says "speech" for 60-200 ms after a voice stops; the level does not.
    assert 0.05 <= needed <= 0.15
    s.cancel()


def test_the_tail_is_not_cut_while_the_speaker_goes_on(english_items) -> None:
    """Released in the middle of a sentence: the whole tail is recorded."""
    cfg = with_overrides(Config(), asr={"streaming": False}, audio={"tail_s": 1.0})
    speech = load_audio(next(i for i in english_items if "ljspeech" in str(i.path)).path)
    middle = len(speech) // 2
    s = session(cfg)
    for chunk in iter_blocks(speech[:middle], 512):
        s.feed(chunk)
    needed = tail_needed(s, speech[middle:])
    assert needed >= 0.9  # the sentence went on: the tail ran to its limit
    s.cancel()


def test_released_in_silence_the_tail_ends_at_once(english_items) -> None:
    cfg = with_overrides(Config(), asr={"streaming": False})
    speech = load_audio(next(i for i in english_items if "ljspeech" in str(i.path)).path)
    quiet = np.random.default_rng(1).normal(0, 1e-3, 2 * SAMPLE_RATE).astype(np.float32)
    s = session(cfg)
    for chunk in iter_blocks(np.concatenate([speech, quiet]), 512):
        s.feed(chunk)
    assert tail_needed(s, quiet) == 0.0
    s.cancel()
