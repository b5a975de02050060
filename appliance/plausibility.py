"""Is a decode whole, and said once? Checks made before a segment's text is typed.

Whisper was trained on 30-second windows. Given less (the encoder input sized to the
audio), greedy or not, it sometimes ends the text early ("She had a j" for a 2.9 s
sentence) or loops (the sentence two or three times over). Both can be seen from what the
VAD heard: text that ends well before the speech does, too few words for the speech, too
many, or a phrase said twice in a row. A segment that fails a check is decoded again with
the safe setting (the full window, beam search) instead of being typed as it is.

The thresholds were chosen on one half of ``../shared/speech`` (clean, and mixed with
noise) and checked on the other half; see docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.asr import normalise_words


@dataclass(frozen=True)
class Rules:
    max_words_per_s: float = 5.0  # of VAD speech: faster is a loop (fast talkers: about 4)
    min_words_per_s: float = 0.8  # slower, over speech of at least min_rate_speech_s: cut off
    min_rate_speech_s: float = 1.5
    max_end_gap_s: float = 0.8  # speech the text's last word ends this long before: cut off
    repeat_words: int = 3  # a phrase of this many words twice in a row: a loop
    dropped_words: int = 2  # words an earlier decode of less audio had beyond this one


RULES = Rules()


@dataclass(frozen=True)
class Heard:
    """What the VAD heard in the segment (seconds from the segment's start)."""

    speech_s: float  # how much of it was speech
    speech_end_s: float  # where the last speech ended


def doubts(
    text: str,
    heard: Heard,
    *,
    last_word_end_s: float | None = None,
    earlier_words: int = 0,
    rules: Rules = RULES,
) -> list[str]:
    """Why this text may not be all that was said, once; empty if it looks whole.

    ``last_word_end_s``: where the text's last word ends (from the decoder's alignment),
    if known. ``earlier_words``: the
    number of words an earlier decode of part of the same segment had (the streaming
    hypothesis); a final text with clearly fewer lost some.
    """
    words = normalise_words(text).split()
    if not words:
        return []
    found = []
    speech = max(heard.speech_s, 0.1)
    if len(words) / speech > rules.max_words_per_s:
        found.append(f"{len(words)} words in {speech:.1f} s of speech")
    if speech >= rules.min_rate_speech_s and len(words) / speech < rules.min_words_per_s:
        found.append(f"only {len(words)} words in {speech:.1f} s of speech")
    if last_word_end_s is not None and heard.speech_end_s - last_word_end_s > rules.max_end_gap_s:
        found.append(f"text ends at {last_word_end_s:.1f} s, speech at {heard.speech_end_s:.1f} s")
    if repeated_phrase(words, rules.repeat_words):
        found.append("a phrase repeated")
    if earlier_words - len(words) > rules.dropped_words:
        found.append(f"{earlier_words - len(words)} words fewer than an earlier decode")
    return found


def repeated_phrase(words: list[str], min_words: int) -> bool:
    """A phrase of at least ``min_words`` words that occurs twice back to back."""
    n_words = len(words)
    for n in range(min_words, n_words // 2 + 1):
        for i in range(n_words - 2 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n]:
                return True
    return False
