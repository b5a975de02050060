"""Transcribing a segment while the user is still speaking it (local agreement).

The open segment is decoded again each time it has grown. Once ``MIN_COMMIT_AUDIO_S`` of
it has been heard, words that ``AGREEING_DECODES`` successive decodes agree on, that are not
the last word heard and that were followed by at least ``hold_back_s`` of speech, are
committed: they will not change, so they can be typed at once. Every later decode is forced
to start with them, so the final text always extends what was typed. This is
whisper_streaming's LocalAgreement policy (Macháček et al., 2023). Once enough words are
committed, a decode covers only the audio from a little before the last ``OVERLAP_WORDS``
committed words (forced again, the words before them given as Whisper's previous text), so
its cost stays the same however long the segment grows.

At the end of the segment only its last words are decoded the same way, and the result is
checked against the last decode of the whole segment. Before it is typed, the final text is
checked for being whole and said once (``appliance.plausibility``); if it is not, the
segment is decoded again with the full 30-second window.

The rules were chosen on the development half of ``../shared/speech``, clean and in noise
(``benchmarks/streaming_policy.py``, docs/performance.md): committing after 2 agreeing
decodes with a 1 s hold-back typed first words that later decodes changed ("fresh no peas"),
most of all in noise; 3 decodes and 1.5 s brought the WER to the baseline's.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from appliance.asr import (
    FULL_WINDOW,
    Decoded,
    Transcriber,
    WordTime,
    collapse_repeats,
    normalise_words,
    reject_reason,
)
from appliance.audio import SAMPLE_RATE
from appliance.config import AsrConfig
from appliance.plausibility import Heard, doubts, repeated_phrase
from appliance.vad import quiet_after

log = logging.getLogger(__name__)

HEARD_PAUSE = SAMPLE_RATE * 12 // 100  # 120 ms of quiet after the last speech: words complete
OVERLAP_WORDS = 8  # committed words heard again (forced) when only the end is decoded
OVERLAP_MARGIN_S = 0.5  # audio kept before them, in case the alignment placed them late
# Decodes of the growing segment only decide what to commit; beam search is kept for the
# final text (the end decode and the redo).
UPDATE_BEAM_SIZE: int | None = None  # None: asr.beam_size
EXTRA_WORDS = 3  # words the end may add to what the last whole decode heard...
WORDS_PER_S = 4.0  # ...and this many per second of audio that decode did not hear
WORD_COMPLETE_S = 0.3  # a word this long before the end of the audio was heard whole
# Nothing is committed from less audio: the first words of a sentence need the words after
# them (on short audio Whisper agreed with itself on "fresh no peas" for "fresh snow peas").
MIN_COMMIT_AUDIO_S = 2.0
AGREEING_DECODES = 3  # a word is committed once this many successive decodes agree on it


@dataclass(frozen=True)
class SpokenWord:
    """A spoken word with the punctuation Whisper attached to it ("arch,")."""

    key: str  # normalised: what agreement compares
    end_token: int  # index just past its last token in the decode
    start_s: float
    end_s: float


def spoken_words(words: list[WordTime]) -> list[SpokenWord]:
    """Join punctuation-only 'words' to the word before them."""
    spoken: list[SpokenWord] = []
    end = 0
    for word in words:
        end += len(word.tokens)
        key = normalise_words(word.text)
        if not key and spoken:
            last = spoken[-1]
            spoken[-1] = SpokenWord(last.key, end, last.start_s, last.end_s)
        else:
            spoken.append(SpokenWord(key, end, word.start_s, word.end_s))
    return spoken


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
    redone: str = ""  # why the segment was decoded again with the safe setting, if it was


@dataclass(frozen=True)
class Candidate:
    """A final text for the segment: its tokens and where its last word ends (if known)."""

    tokens: list[int]
    last_word_end_s: float | None
    decoded: Decoded | None = None  # the decode it came from, for the guards


def may_commit(cfg: AsrConfig, decoded: Decoded, spoken: list[SpokenWord], first: bool) -> bool:
    """Words are committed only from a decode that passes every guard; ``first``: nothing
    of the segment is committed yet."""
    keys = [u.key for u in spoken]
    if reject_reason(cfg, decoded.text, decoded.no_speech_prob, decoded.avg_logprob):
        return False
    if collapse_repeats(decoded.text) != decoded.text or repeated_phrase(keys, 3):
        return False
    if first:
        # "Thank ..." may be the start of a phrase Whisper invents on noise.
        heard = " ".join(keys)
        for phrase in cfg.phantom_phrases:
            if normalise_words(phrase).startswith(heard):
                return False
    return True


def candidate_of(decoded: Decoded, offset_s: float = 0.0) -> Candidate:
    """A decode as a final text, with where its last word ends."""
    ends = [w.end_s for w in decoded.words if normalise_words(w.text)]
    return Candidate(decoded.tokens, offset_s + max(ends) if ends else None, decoded)


def overlap_cut(spoken: list[SpokenWord], first_forced: int) -> tuple[int, int]:
    """Where to decode from to redo only the end: (token split, audio sample). The words
    from ``first_forced`` on are forced again, the tokens before the split are context."""
    split = spoken[first_forced - 1].end_token
    cut = max(0, int((spoken[first_forced].start_s - OVERLAP_MARGIN_S) * SAMPLE_RATE))
    return split, cut


def accept(
    transcriber: Transcriber, language: str, candidate: Candidate, committed: list[int]
) -> tuple[str, list[tuple[str, str]]]:
    """The candidate's text, or the committed words alone if the guards reject it."""
    decoded = candidate.decoded
    if decoded is not None and decoded.text and not committed:
        cfg = transcriber.cfg
        reason = reject_reason(cfg, decoded.text, decoded.no_speech_prob, decoded.avg_logprob)
        if reason:
            log.info("dropped %r: %s", decoded.text, reason)
            return "", [(decoded.text, reason)]
    tokens = candidate.tokens
    if tokens[: len(committed)] != committed:  # cannot happen with a forced prefix
        log.warning("final decode does not start with the committed words")
        tokens = committed
    return transcriber.detokenize(tokens, language), []


def decode_after_committed(
    transcriber: Transcriber,
    language: str,
    audio: np.ndarray,
    committed: list[int],
    spoken: list[SpokenWord],
) -> tuple[Decoded, list[SpokenWord]] | None:
    """Decode only the audio from a little before the last ``OVERLAP_WORDS`` committed
    words (forced again; the words before them are Whisper's previous text, read in one
    pass). The cost of a decode then stays the same however long the segment grows, so
    streaming keeps up with the speaker. None while too few words are committed.

    Returns the decode as if of the whole segment (all tokens, times from its start).
    """
    first_forced = len(spoken) - OVERLAP_WORDS
    if first_forced < 1 or spoken[-1].end_token != len(committed):
        return None
    split, cut = overlap_cut(spoken, first_forced)
    part = transcriber.decode_window(
        audio[cut:],
        language,
        context=committed[:split],
        prefix=committed[split:],
        beam_size=UPDATE_BEAM_SIZE,
        with_words=True,
    )
    shift = cut / SAMPLE_RATE
    words = [WordTime(w.text, w.tokens, w.start_s + shift, w.end_s + shift) for w in part.words]
    tokens = committed[:split] + part.tokens
    later = [
        SpokenWord(u.key, u.end_token + split, u.start_s, u.end_s) for u in spoken_words(words)
    ]
    whole = Decoded(
        tokens=tokens,
        text=transcriber.detokenize(tokens, language),
        no_speech_prob=part.no_speech_prob,
        avg_logprob=part.avg_logprob,
        words=words,
    )
    return whole, spoken[:first_forced] + later


class SegmentStream:
    """One VAD segment, transcribed while it grows.

    ``update`` (the segment so far) and ``finish`` (the closed segment) may run on two
    threads at once: once ``finish`` has started, a running ``update`` commits nothing.
    """

    def __init__(self, transcriber: Transcriber, language: str, *, hold_back_s: float = 1.5):
        self.transcriber = transcriber
        self.language = language
        self.hold_back_s = hold_back_s
        self.committed: list[int] = []  # tokens
        self.decodes = 0
        self.seconds = 0.0
        self.reused = False  # the final text came from a decode made before the release
        self._lock = threading.Lock()
        self._closed = False
        self._previous: list[list[str]] = []  # unit keys of the last decodes, newest last
        self._committed_words: list[SpokenWord] = []  # the committed words, with their times
        # The last decode, the length of audio it heard, and its words.
        self._last: tuple[Decoded, int, list[SpokenWord]] | None = None
        # The end decoded at the release (prepare_end): it, the audio it heard, the
        # committed tokens it extends.
        self._ahead: tuple[Candidate, int, list[int]] | None = None

    @property
    def committed_text(self) -> str:
        return self.transcriber.detokenize(self.committed, self.language)

    def update(self, audio: np.ndarray) -> bool:
        """Decode the segment so far; True if more words were committed."""
        if len(audio) < SAMPLE_RATE // 2:
            return False
        t0 = time.perf_counter()
        with self._lock:
            prefix = list(self.committed)
            committed_words = list(self._committed_words)
        trimmed = decode_after_committed(
            self.transcriber, self.language, audio, prefix, committed_words
        )
        if trimmed is not None:
            decoded, spoken = trimmed
        else:
            decoded = self.transcriber.decode_window(
                audio, self.language, prefix=prefix, beam_size=UPDATE_BEAM_SIZE, with_words=True
            )
            spoken = spoken_words(decoded.words)
        keys = [u.key for u in spoken]
        took = time.perf_counter() - t0
        log.debug("update: %.2f s of audio decoded in %.2f s", len(audio) / SAMPLE_RATE, took)
        with self._lock:
            self.decodes += 1
            self.seconds += took
            if self._closed or prefix != self.committed:
                return False
            self._last = (decoded, len(audio), spoken)
            previous = self._previous[-(AGREEING_DECODES - 1) :]
            self._previous = [*previous, keys]
            if len(previous) < AGREEING_DECODES - 1:
                return False
            if len(audio) < MIN_COMMIT_AUDIO_S * SAMPLE_RATE:
                return False
            if not may_commit(self.transcriber.cfg, decoded, spoken, not self.committed):
                return False
            n = min([agreed_length(p, keys) for p in previous] + [len(spoken) - 1])
            limit = len(audio) / SAMPLE_RATE - self.hold_back_s
            while n > 0 and spoken[n - 1].end_s > limit:
                n -= 1
            if n <= 0 or spoken[n - 1].end_token <= len(prefix):
                return False
            self.committed = decoded.tokens[: spoken[n - 1].end_token]
            self._committed_words = spoken[:n]
        log.debug("committed %r", self.committed_text)
        return True

    def finish(self, audio: np.ndarray, heard: Heard) -> FinalText:
        """The closed segment; ``heard``: where its speech is (seconds from its start).

        If the last decode already heard a pause after the speech, it is the answer and
        nothing is left to decode. Otherwise the words not yet committed are decoded from
        the audio after the committed ones (``_decode_rest``), and checked against the last
        decode of the whole segment; only if they disagree is the whole segment decoded
        again, with the committed words forced. Whatever the source, a text that does not
        look whole and said once (``appliance.plausibility``) is decoded again with the
        full 30-second window before it is typed.
        """
        t0 = time.perf_counter()
        with self._lock:
            self._closed = True
            committed = list(self.committed)
            last = self._last
            ahead = self._ahead
        speech_end = int(heard.speech_end_s * SAMPLE_RATE)
        if (
            ahead is not None
            and ahead[2] == committed
            and (ahead[1] >= speech_end or quiet_after(audio, ahead[1]))
        ):
            candidate = ahead[0]  # decoded at the release; the tail held no more speech
            self.reused = True
            source = "reused the end decoded at the release"
        else:
            source = "decoded"
            log.debug(
                "finish: the end decoded at the release is not usable (%s)",
                "none" if ahead is None else f"heard {ahead[1]}, speech to {speech_end}",
            )
            candidate = self._end_candidate(audio, committed, last, speech_end)
        text, dropped = accept(self.transcriber, self.language, candidate, committed)
        earlier = len(last[2]) if last is not None else 0
        why = doubts(text, heard, last_word_end_s=candidate.last_word_end_s, earlier_words=earlier)
        redone = ""
        if why:
            safe = candidate_of(
                self.transcriber.decode_window(
                    audio, self.language, prefix=committed, frames=FULL_WINDOW, with_words=True
                )
            )
            self.decodes += 1
            safe_text, safe_dropped = accept(self.transcriber, self.language, safe, committed)
            safe_why = doubts(
                safe_text, heard, last_word_end_s=safe.last_word_end_s, earlier_words=earlier
            )
            log.info(
                "decoded again with the full window (%s): %r -> %r%s",
                "; ".join(why),
                text,
                safe_text,
                f" (still: {'; '.join(safe_why)})" if safe_why else "",
            )
            if len(safe_why) <= len(why):
                text, dropped, redone = safe_text, safe_dropped, "; ".join(why)
        text = collapse_repeats(text)
        seconds = time.perf_counter() - t0
        log.debug("finish: %s in %.2f s", source, seconds)
        self.seconds += seconds
        return FinalText(text, dropped, seconds, redone)

    def prepare_end(self, audio: np.ndarray) -> None:
        """At the release, while the tail is still being recorded: decode the end of the
        segment from the audio heard so far. ``finish`` uses the result if the tail held
        no more speech (the speaker had finished), so the wait after the release is the
        longer of the tail and this decode, not their sum. No word is committed after it.
        """
        t0 = time.perf_counter()
        with self._lock:
            self._closed = True
            committed = list(self.committed)
            last = self._last
        candidate = self._end_candidate(audio, committed, last, None)
        with self._lock:
            self._ahead = (candidate, len(audio), committed)
        took = time.perf_counter() - t0
        log.debug("prepare_end: %.2f s of audio in %.2f s", len(audio) / SAMPLE_RATE, took)
        self.seconds += took

    def _end_candidate(
        self,
        audio: np.ndarray,
        committed: list[int],
        last: tuple[Decoded, int, list[SpokenWord]] | None,
        speech_end: int | None,
    ) -> Candidate:
        """The segment's text: the last decode if it heard the pause after the speech, else
        its end decoded after the committed words, else all of it (committed forced)."""
        if last is not None and speech_end is not None and last[1] >= speech_end + HEARD_PAUSE:
            self.reused = True
            return candidate_of(last[0])
        if last is not None and committed:
            rest = self._decode_rest(audio, committed, last)
            if rest is not None:
                return rest
        decoded = self.transcriber.decode_window(
            audio, self.language, prefix=committed, with_words=True
        )
        self.decodes += 1
        return candidate_of(decoded)

    def _decode_rest(
        self, audio: np.ndarray, committed: list[int], last: tuple[Decoded, int, list[SpokenWord]]
    ) -> Candidate | None:
        """Decode only the end of the segment: from a little before the last committed
        words (they are forced, the ones before are Whisper's previous text).

        Accepted only if it agrees with the last decode of the whole segment on every word
        that decode heard whole, and adds at most a few words; otherwise None. Decoded
        without the audio before, names and compound words tend to come out split ("letter
        press"): the check sends those back to a decode of the whole segment.
        """
        heard_s = last[1] / SAMPLE_RATE
        unheard_s = max(0.0, len(audio) / SAMPLE_RATE - heard_s)
        spoken = last[2]
        done = next((i + 1 for i, u in enumerate(spoken) if u.end_token == len(committed)), 0)
        first_forced = done - OVERLAP_WORDS
        if first_forced < 1:
            return None
        split, cut = overlap_cut(spoken, first_forced)
        decoded = self.transcriber.decode_window(
            audio[cut:],
            self.language,
            context=committed[:split],
            prefix=committed[split:],
            with_words=True,
        )
        self.decodes += 1
        if decoded.tokens[: len(committed) - split] != committed[split:]:
            return None
        new = decoded.tokens[len(committed) - split :]
        new_words = normalise_words(self.transcriber.detokenize(new, self.language)).split()
        draft = [u.key for u in spoken[done:]]
        # The last word that decode heard counts too if it had ended well before its audio.
        checked = len(draft) - (0 if spoken[-1].end_s <= heard_s - WORD_COMPLETE_S else 1)
        agrees = new_words[: max(0, checked)] == draft[: max(0, checked)]
        text = self.transcriber.detokenize(committed + new, self.language)
        if (
            not agrees
            or len(new_words) > len(draft) + EXTRA_WORDS + WORDS_PER_S * unheard_s
            or collapse_repeats(text) != text
        ):
            log.debug(
                "the end decoded alone %r disagrees with %r (heard %.2f of %.2f s)",
                new_words,
                draft,
                heard_s,
                len(audio) / SAMPLE_RATE,
            )
            return None
        rest = candidate_of(decoded, cut / SAMPLE_RATE)
        return Candidate(committed + new, rest.last_word_end_s)


def transcribe_whole(transcriber: Transcriber, audio: np.ndarray, heard: Heard) -> FinalText:
    """One piece of audio decoded as a closed segment, with the same guards and checks."""
    return SegmentStream(transcriber, transcriber.language_for(audio)).finish(audio, heard)
