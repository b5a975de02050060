"""Transcribing a segment while the user is still speaking it (local agreement).

The open segment is decoded again each time it has grown. Words that two successive decodes
agree on, that are not the last word heard and that were followed by at least
``hold_back_s`` of speech, are committed: they will not change, so they can be typed at
once. Every later decode of the segment is forced to start with them (the final one too),
so the final text always extends what was typed. This is whisper_streaming's LocalAgreement
policy (Macháček et al., 2023) without its audio trimming: cutting the audio between two
committed words (at the cross-attention alignment's word boundary, or in short pauses)
cost 2 points of WER on the project's speech set, forcing the committed words cost 0.2
(measured; docs/performance.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from appliance.asr import (
    Decoded,
    Transcriber,
    WordTime,
    collapse_repeats,
    normalise_words,
    reject_reason,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HEARD_PAUSE = SAMPLE_RATE * 12 // 100  # 120 ms of quiet after the last speech: words complete


@dataclass(frozen=True)
class Unit:
    """A spoken word with the punctuation Whisper attached to it ("arch,")."""

    key: str  # normalised: what agreement compares
    end_token: int  # index just past its last token in the decode
    start_s: float
    end_s: float


def group_units(words: list[WordTime]) -> list[Unit]:
    """Join punctuation-only 'words' to the word before them."""
    units: list[Unit] = []
    end = 0
    for word in words:
        end += len(word.tokens)
        key = normalise_words(word.text)
        if not key and units:
            last = units[-1]
            units[-1] = Unit(last.key, end, last.start_s, last.end_s)
        else:
            units.append(Unit(key, end, word.start_s, word.end_s))
    return units


def agreed_length(previous: list[str], current: list[str]) -> int:
    n = 0
    for a, b in zip(previous, current, strict=False):
        if a != b:
            break
        n += 1
    return n


@dataclass
class FinalText:
    text: str
    dropped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


class SegmentStream:
    """One VAD segment, transcribed while it grows.

    ``update`` (the segment so far) and ``finish`` (the closed segment) may run on two
    threads at once: once ``finish`` has started, a running ``update`` commits nothing.
    """

    def __init__(self, transcriber: Transcriber, language: str, *, hold_back_s: float = 1.0):
        self.transcriber = transcriber
        self.language = language
        self.hold_back_s = hold_back_s
        self.committed: list[int] = []  # tokens
        self.decodes = 0
        self.seconds = 0.0
        self.reused = False  # the final text came from a decode made before the release
        self._lock = threading.Lock()
        self._closed = False
        self._previous: list[str] | None = None  # unit keys of the last decode
        self._last: tuple[Decoded, int] | None = None  # the last decode and its audio length

    @property
    def committed_text(self) -> str:
        return self.transcriber.detokenize(self.committed, self.language)

    def update(self, audio: np.ndarray) -> bool:
        """Decode the segment so far; True if more words were committed."""
        if len(audio) < SAMPLE_RATE // 2:
            return False
        t0 = time.perf_counter()
        prefix = list(self.committed)
        decoded = self.transcriber.decode_window(
            audio, self.language, prefix=prefix, with_words=True
        )
        units = group_units(decoded.words)
        keys = [u.key for u in units]
        with self._lock:
            self.decodes += 1
            self.seconds += time.perf_counter() - t0
            if self._closed or prefix != self.committed:
                return False
            self._last = (decoded, len(audio))
            previous, self._previous = self._previous, keys
            if previous is None or not self._may_commit(decoded, keys):
                return False
            n = min(agreed_length(previous, keys), len(units) - 1)
            limit = len(audio) / SAMPLE_RATE - self.hold_back_s
            while n > 0 and units[n - 1].end_s > limit:
                n -= 1
            if n <= 0 or units[n - 1].end_token <= len(prefix):
                return False
            self.committed = decoded.tokens[: units[n - 1].end_token]
        log.debug("committed %r", self.committed_text)
        return True

    def _may_commit(self, decoded: Decoded, keys: list[str]) -> bool:
        """Words are committed only from a decode that passes every guard."""
        cfg = self.transcriber.cfg
        if reject_reason(cfg, decoded.text, decoded.no_speech_prob, decoded.avg_logprob):
            return False
        if collapse_repeats(decoded.text) != decoded.text:
            return False
        if not self.committed:
            # "Thank ..." may be the start of a phrase Whisper invents on noise.
            heard = " ".join(keys)
            for phrase in cfg.phantom_phrases:
                if normalise_words(phrase).startswith(heard):
                    return False
        return True

    def finish(self, audio: np.ndarray, speech_end: int) -> FinalText:
        """The closed segment (``speech_end``: where its speech ends, in samples from its start).

        If the last decode already heard a pause after the speech, it is the answer and
        nothing is left to decode at the release.
        """
        t0 = time.perf_counter()
        with self._lock:
            self._closed = True
            committed = list(self.committed)
            last = self._last
        if last is not None and last[1] >= speech_end + HEARD_PAUSE:
            decoded = last[0]
            self.reused = True
        else:
            decoded = self.transcriber.decode_window(audio, self.language, prefix=committed)
            self.decodes += 1
        dropped: list[tuple[str, str]] = []
        tokens = committed
        reason = ""
        if decoded.text and not committed:
            cfg = self.transcriber.cfg
            reason = reject_reason(cfg, decoded.text, decoded.no_speech_prob, decoded.avg_logprob)
        if reason:
            log.info("dropped %r: %s", decoded.text, reason)
            dropped.append((decoded.text, reason))
        elif decoded.tokens[: len(committed)] == committed:
            tokens = decoded.tokens
        else:  # cannot happen with a forced prefix; keep what was committed (typed)
            log.warning("final decode does not start with the committed words")
        text = collapse_repeats(self.transcriber.detokenize(tokens, self.language))
        seconds = time.perf_counter() - t0
        self.seconds += seconds
        return FinalText(text, dropped, seconds)
