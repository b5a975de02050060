"""Speech recognition with faster-whisper, loaded once and kept warm, with guards.

Whisper's known failure modes on a dictation device: phrases invented on noise ("Thank you
for watching"), repetition loops, the vocabulary prompt echoed back on silence, and the
wrong language on short clips. Each has a guard here; every dropped piece is logged with
its reason so a user can see why something was not typed.
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from appliance.audio import SAMPLE_RATE
from appliance.config import AsrConfig
from appliance.errors import ModelError

log = logging.getLogger(__name__)

HOP = 160  # samples per mel frame
FULL_WINDOW = 3000  # mel frames in Whisper's 30-second window


@dataclass(frozen=True)
class WordTime:
    """A word of a decode and where it is in the audio (seconds from its start)."""

    text: str
    tokens: list[int]
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Decoded:
    """One decode of one piece of audio: its tokens, text, scores and (maybe) word times."""

    tokens: list[int]
    text: str
    no_speech_prob: float
    avg_logprob: float
    words: list[WordTime] = field(default_factory=list)


def normalise_words(text: str) -> str:
    """Lower case, punctuation removed, single spaces: for comparing phrases."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch if ch.isalnum() or ch.isspace() or ch == "♪" else " " for ch in text)
    return " ".join(text.split())


def collapse_repeats(text: str, *, max_ngram: int = 8) -> str:
    """Collapse a phrase repeated back to back (a decoding loop) to one occurrence.

    Single words may repeat up to three times ("no, no, no") and longer phrases twice before
    they count as a loop.
    """
    words = text.split()
    if len(words) < 3:
        return text
    keys = [normalise_words(w) for w in words]
    changed = True
    while changed:
        changed = False
        for n in range(1, min(max_ngram, len(words) // 2) + 1):
            limit = 4 if n == 1 else 3
            i = 0
            while i + n * limit <= len(words):
                gram = keys[i : i + n]
                reps = 1
                while keys[i + reps * n : i + (reps + 1) * n] == gram:
                    reps += 1
                if reps >= limit and any(gram):
                    del words[i + n : i + reps * n]
                    del keys[i + n : i + reps * n]
                    changed = True
                i += 1
    return " ".join(words)


class Transcriber:
    """The faster-whisper model for one configuration; thread-safe.

    ``asr.threads`` are split between ``asr.parallel_decodes`` CTranslate2 workers that
    share one copy of the weights, so two decodes can run at once. On this project's 2-core
    test machine a decoder step on one thread was also 2.6x faster than on two (measured in
    docs/performance.md).
    """

    def __init__(
        self,
        cfg: AsrConfig,
        model_dir: str | Path,
        *,
        progress: Callable[[float, str], None] | None = None,
    ):
        self.cfg = cfg
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()  # the tokenizer cache
        self._tokenizers: dict[str, Any] = {}
        total = cfg.threads or os.cpu_count() or 1
        self.workers = max(1, min(cfg.parallel_decodes, total))
        self.threads_per_decode = max(1, total // self.workers)
        report = progress or (lambda fraction, what: None)
        report(0.05, "loading libraries")
        from faster_whisper import WhisperModel

        report(0.3, "loading model")
        try:
            self.model = WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type=cfg.compute_type,
                cpu_threads=self.threads_per_decode,
                num_workers=self.workers,
                local_files_only=True,
            )
        except Exception as exc:
            raise ModelError(f"cannot load model from {self.model_dir}: {exc}") from exc
        report(0.7, "warming up")
        self.warm_up()
        report(1.0, "ready")

    def warm_up(self) -> None:
        """One pass on a second of quiet noise so the first dictation is not slow."""
        noise = np.random.default_rng(0).normal(0, 0.003, SAMPLE_RATE).astype(np.float32)
        self.decode_window(noise, self.cfg.language if self.cfg.language != "auto" else "en")

    # -- public
    def language_for(self, audio: np.ndarray) -> str:
        if self.cfg.language != "auto":
            return self.cfg.language
        _, _, probs = self.model.detect_language(audio)
        allowed = set(self.cfg.languages)
        for code, _p in probs:
            if not allowed or code in allowed:
                return str(code)
        return self.cfg.languages[0] if self.cfg.languages else "en"

    def max_new_tokens(self, audio_s: float) -> int:
        """Cap on decoded tokens for this much audio (a loop cannot run on for long)."""
        return int(min(440, 10 + self.cfg.max_tokens_per_second * audio_s))

    def encoder_frames_for(self, content_frames: int) -> int:
        """The encoder input length (mel frames, 100 per second) for a piece of audio."""
        if self.cfg.encoder_window == "full":
            return FULL_WINDOW
        margin = int(self.cfg.encoder_margin_s * 100)
        floor = int(self.cfg.encoder_min_s * 100)
        return min(FULL_WINDOW, max(floor, content_frames + margin))

    def decode_window(
        self,
        audio: np.ndarray,
        language: str,
        *,
        context: list[int] | None = None,
        prefix: list[int] | None = None,
        frames: int | None = None,
        beam_size: int | None = None,
        with_words: bool = False,
    ) -> Decoded:
        """One decode of audio that fits Whisper's window, the encoder input sized to it.

        ``context`` is text said before this audio, given in Whisper's previous-text slot
        (read in one pass). ``prefix`` tokens are forced as the start of the transcript
        (each costs a decoder step); the returned tokens include them. Mirrors
        faster-whisper's generate_with_fallback at temperature 0 (same prompt, suppressed
        tokens and score recovery), with the encoder input sized to the audio (or
        ``frames``, ``FULL_WINDOW`` for the 30-second window). ``beam_size`` defaults to
        ``asr.beam_size``. With
        ``with_words``, word start and end times come from the cross-attention alignment,
        as in faster-whisper's word timestamps.
        """
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_suppressed_tokens

        features = self.model.feature_extractor(audio)
        content = features[:, : features.shape[-1] - 1]
        if frames is None:
            frames = self.encoder_frames_for(content.shape[-1])
        # No lock: CTranslate2 runs concurrent calls on its workers.
        encoder_output = self.model.encode(pad_or_trim(content, frames))
        tokenizer = self._tokenizer(language)
        previous = tokenizer.encode(" " + self.cfg.prompt.strip()) if self.cfg.prompt else []
        prompt = self.model.get_prompt(
            tokenizer,
            previous + list(context or []),
            without_timestamps=True,
            hotwords=self.cfg.hotwords or None,
        ) + list(prefix or [])
        max_new = self.max_new_tokens(len(audio) / SAMPLE_RATE)
        result = self.model.model.generate(
            encoder_output,
            [prompt],
            beam_size=beam_size or self.cfg.beam_size,
            patience=1,
            length_penalty=1,
            max_length=min(len(prompt) + max_new, self.model.max_length),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=50,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        words: list[WordTime] = []
        if with_words and tokens:
            aligned = self.model.find_alignment(
                tokenizer, [tokens], encoder_output, content.shape[-1]
            )[0]
            words = [
                WordTime(w["word"], list(w["tokens"]), float(w["start"]), float(w["end"]))
                for w in aligned
            ]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        return Decoded(
            tokens=tokens,
            text=tokenizer.decode(tokens).strip(),
            no_speech_prob=float(result.no_speech_prob),
            avg_logprob=float(avg_logprob),
            words=words,
        )

    def detokenize(self, tokens: list[int], language: str) -> str:
        return str(self._tokenizer(language).decode(tokens)).strip()

    def _tokenizer(self, language: str) -> Any:
        with self._lock:
            return self._tokenizer_locked(language)

    def _tokenizer_locked(self, language: str) -> Any:
        from faster_whisper.tokenizer import Tokenizer

        cached = self._tokenizers.get(language)
        if cached is None:
            cached = Tokenizer(
                self.model.hf_tokenizer,
                self.model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
            self._tokenizers[language] = cached
        return cached


def reject_reason(cfg: AsrConfig, text: str, no_speech_prob: float, avg_logprob: float) -> str:
    """Why a decoded segment is not speech the user said, or '' to keep it."""
    words = normalise_words(text)
    if not any(ch.isalnum() for ch in words):
        return "no words (music or symbols only)"
    if no_speech_prob > cfg.no_speech_threshold and avg_logprob < cfg.log_prob_threshold:
        return f"no speech (p={no_speech_prob:.2f}, logprob={avg_logprob:.2f})"
    unsure = no_speech_prob > 0.2 or avg_logprob < cfg.log_prob_threshold / 2
    phantoms = {normalise_words(p) for p in cfg.phantom_phrases}
    if words in phantoms and unsure:
        return f"phantom phrase (p={no_speech_prob:.2f}, logprob={avg_logprob:.2f})"
    prompt = normalise_words(cfg.prompt)
    echoed = prompt and len(words.split()) >= 2 and words in prompt
    if echoed and (unsure or words == prompt):
        return "echo of the vocabulary prompt"
    return ""
