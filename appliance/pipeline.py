"""The dictation pipeline: 16 kHz blocks in, typed items out.

Blocks go through the streaming VAD as they arrive; every segment the VAD closes (the
speaker paused) is transcribed at once on a worker thread, while the user is still
speaking. When the button is released only the audio since the last pause is left to
transcribe, which is what makes the wait short.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from appliance.asr import Transcriber, Transcript
from appliance.config import Config
from appliance.hid.keys import TypedItem
from appliance.models import model_cache_dir, resolve_model
from appliance.text import Piece, TextShaper, items_to_text
from appliance.vad import SAMPLE_RATE, SpeechSegment, VadSegmenter, load_vad_model

log = logging.getLogger(__name__)


@dataclass
class DictationResult:
    items: list[TypedItem]
    pieces: list[Piece]
    dropped: list[tuple[str, str]]
    audio_s: float
    timings: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def text(self) -> str:
        return items_to_text(self.items)


class Pipeline:
    """Loaded once per process: the warm model, the VAD model and the text shaper."""

    def __init__(self, cfg: Config, transcriber: Transcriber, *, vad_model: Any | None = None):
        self.cfg = cfg
        self.transcriber = transcriber
        self.vad_model = vad_model if vad_model is not None else load_vad_model()
        self.shaper = TextShaper(cfg.text)

    @classmethod
    def load(
        cls,
        cfg: Config,
        *,
        progress: Callable[[float, str], None] | None = None,
    ) -> Pipeline:
        model_dir = resolve_model(cfg.asr.model, model_cache_dir(cfg.asr.model_cache))
        return cls(cfg, Transcriber(cfg.asr, model_dir, progress=progress))

    @property
    def model_dir(self) -> Path:
        return self.transcriber.model_dir

    def start(self, on_piece: Callable[[Piece], None] | None = None) -> DictationSession:
        return DictationSession(self, on_piece)


class DictationSession:
    """One recording: feed blocks while recording, then finish() (or cancel())."""

    def __init__(self, pipeline: Pipeline, on_piece: Callable[[Piece], None] | None = None):
        self.pipeline = pipeline
        self._segmenter = VadSegmenter(pipeline.cfg.vad, pipeline.vad_model)
        self._on_piece = on_piece
        self._segments: queue.Queue[tuple[bool, SpeechSegment] | None] = queue.Queue()
        self._early = pipeline.cfg.asr.early_decode
        self._early_speech: tuple[int, int] | None = None
        self._early_results: dict[tuple[int, int], Transcript] = {}
        self._busy = threading.Event()
        self.early_hits = 0
        self._pieces: list[Piece] = []
        self._dropped: list[tuple[str, str]] = []
        self._asr_s = 0.0
        self._samples = 0
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._transcribe_loop, name="asr", daemon=True)
        self._worker.start()

    def feed(self, block: np.ndarray) -> None:
        if self._cancelled.is_set():
            return
        self._samples += len(block)
        closed = self._segmenter.feed(block)
        for segment in closed:
            self._segments.put((False, segment))
        if self._early and not closed:
            self._maybe_start_early()

    def _maybe_start_early(self) -> None:
        """The speaker just paused: transcribe the open segment now, while the worker is idle.

        If the pause lasts (or the button is released), the closed segment has the same speech
        and this result is used; if speech resumes, it is simply not used.
        """
        if self._busy.is_set() or not self._segments.empty():
            return
        tentative = self._segmenter.tentative()
        if tentative is None or tentative.speech == self._early_speech:
            return
        self._early_speech = tentative.speech
        self._segments.put((True, tentative))

    def finish(self) -> DictationResult:
        """End of recording: flush the VAD, wait for the transcriptions, shape the text."""
        t_release = time.perf_counter()
        for segment in self._segmenter.flush():
            self._segments.put((False, segment))
        self._segments.put(None)
        self._worker.join()
        t_asr_done = time.perf_counter()
        if self._error is not None:
            raise self._error
        cancelled = self._cancelled.is_set()
        # With on_piece the caller typed each piece as it came (type while speaking).
        typed_already = self._on_piece is not None
        items = [] if cancelled or typed_already else self.pipeline.shaper.shape(self._pieces)
        t_shaped = time.perf_counter()
        return DictationResult(
            items=items,
            pieces=list(self._pieces),
            dropped=list(self._dropped),
            audio_s=self._samples / SAMPLE_RATE,
            cancelled=cancelled,
            timings={
                "vad_s": self._segmenter.seconds_in_model,
                "asr_s": self._asr_s,
                "release_to_transcript_s": t_asr_done - t_release,
                "shape_s": t_shaped - t_asr_done,
                "early_hits": float(self.early_hits),
            },
        )

    def cancel(self) -> None:
        """Nothing from this recording will be typed; the worker stops after its segment."""
        self._cancelled.set()
        self._segments.put(None)

    def _transcribe_loop(self) -> None:
        while True:
            job = self._segments.get()
            if job is None or self._cancelled.is_set():
                return
            early, segment = job
            self._busy.set()
            try:
                transcript = self._early_results.pop(segment.speech, None)
                if transcript is not None:
                    self.early_hits += 1
                else:
                    transcript = self.pipeline.transcriber.transcribe(segment.audio)
                    self._asr_s += transcript.seconds
            except BaseException as exc:  # surfaced to finish(); the daemon shows it
                self._error = exc
                return
            finally:
                self._busy.clear()
            if early:
                self._early_results = {segment.speech: transcript}
                continue
            self._early_results.clear()
            self._dropped.extend(transcript.dropped)
            if transcript.text:
                piece = Piece(transcript.text, segment.pause_before_s)
                self._pieces.append(piece)
                if self._on_piece is not None and not self._cancelled.is_set():
                    self._on_piece(piece)


class EarlyTyper:
    """Types each finished segment while the user is still speaking.

    Pieces arrive from the transcription worker; a thread of its own shapes and types them
    in order, so a slow host never holds up transcription. ``close()`` waits until all is
    typed (the end of the dictation).
    """

    def __init__(self, shaper: TextShaper, type_items: Callable[[list[TypedItem]], Any]):
        self._shaper = shaper
        self._type_items = type_items
        self._queue: queue.Queue[Piece | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="early-typer", daemon=True)
        self._thread.start()
        self.typed: list[TypedItem] = []
        self.error: BaseException | None = None
        self._cancelled = False

    def put(self, piece: Piece) -> None:
        self._queue.put(piece)

    def cancel(self) -> None:
        """Type nothing more (a long press); what is queued is dropped."""
        self._cancelled = True
        self._queue.put(None)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self.error is not None or self._cancelled:
                continue
            items = self._shaper.shape([piece])
            try:
                self._type_items(items)
            except BaseException as exc:  # the host went away: reported by close()
                self.error = exc
            self.typed.extend(items)


def run_blocks(pipeline: Pipeline, blocks: Any) -> DictationResult:
    """Feed an iterable of blocks through one session (files, tests, the benchmark)."""
    session = pipeline.start()
    for block in blocks:
        session.feed(block)
    return session.finish()
