"""The dictation pipeline: 16 kHz blocks in, typed items out.

Blocks go through the streaming VAD as they arrive. The segment being spoken is decoded
again as it grows and its settled words are committed (``appliance.streaming``); every
segment the VAD closes (the speaker paused) is finished at once on a worker thread, while
the user is still speaking. When the button is released only the last words are left to
transcribe, which is what makes the wait short.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.asr import Transcriber
from appliance.config import Config
from appliance.engine import DictationResult, PieceFn
from appliance.models import model_cache_dir, resolve_model
from appliance.plausibility import Heard
from appliance.streaming import SegmentStream
from appliance.text import Piece
from appliance.vad import (
    FRAME,
    SAMPLE_RATE,
    SpeechSegment,
    VadSegmenter,
    load_vad_model,
    quiet_after,
)

log = logging.getLogger(__name__)

# Decode threads still running (a decode of the open segment outlives finish(), which does
# not wait for it). The process must not end under them: CTranslate2 aborts the process
# ("terminate called without an active exception") if it is torn down mid-decode.
_decode_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
# After the release, this much quiet ends the tail: the word being said has ended.
TAIL_QUIET_S = 0.1
# A decode of the open segment that takes longer than this has fallen behind the speaker.
MAX_STREAM_LAG_S = 2.5


@atexit.register
def wait_for_background_decodes(timeout_s: float = 30.0) -> None:
    """Until no decode thread of any session is running (at exit; between benchmark runs)."""
    deadline = time.monotonic() + timeout_s
    for thread in list(_decode_threads):
        thread.join(max(0.0, deadline - time.monotonic()))


def heard_in(segment: SpeechSegment) -> Heard:
    """Where the VAD heard speech in a segment, in seconds from the segment's start."""
    start = max(0, segment.speech[0] * FRAME - segment.span[0]) / SAMPLE_RATE
    end = (segment.speech[1] * FRAME - segment.span[0]) / SAMPLE_RATE
    return Heard(speech_s=max(0.0, end - start), speech_end_s=end)


@dataclass(frozen=True)
class EndAhead:
    """Work for the final worker: decode the end of the open segment now (the release)."""

    segment: SpeechSegment


class Pipeline:
    """The local engine, loaded once per process: the warm model and the VAD model."""

    def __init__(self, cfg: Config, transcriber: Transcriber, *, vad_model: Any | None = None):
        self.cfg = cfg
        self.transcriber = transcriber
        self.vad_model = vad_model if vad_model is not None else load_vad_model()

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

    def set_language(self, code: str) -> None:
        """From the next recording on: a session reads the settings once, at its start."""
        asr = dataclasses.replace(self.cfg.asr, language=code)
        self.transcriber.cfg = asr
        self.cfg = dataclasses.replace(self.cfg, asr=asr)

    def start(self, on_piece: PieceFn | None = None) -> DictationSession:
        return DictationSession(self, on_piece)


class DictationSession:
    """One recording: feed blocks while recording, then finish() (or cancel()).

    Two worker threads transcribe. While the user speaks, one decodes the open segment
    again each time ``asr.stream_interval_s`` of new audio has come in (or the speaker
    paused) and commits the words two decodes agree on (``appliance.streaming``); committed
    words are reported as provisional pieces, so they can be typed before the release. The
    other finishes each segment the VAD closes, at once and in order, without waiting for a
    running decode of the open segment.
    """

    def __init__(self, pipeline: Pipeline, on_piece: PieceFn | None = None):
        self.pipeline = pipeline
        asr = pipeline.cfg.asr
        self._segmenter = VadSegmenter(pipeline.cfg.vad, pipeline.vad_model)
        self._on_piece = on_piece
        self._finals: queue.Queue[SpeechSegment | EndAhead | None] = queue.Queue()
        self._partials: queue.Queue[SpeechSegment | None] = queue.Queue()
        self._stream_every = int(asr.stream_interval_s * SAMPLE_RATE) if asr.streaming else 0
        self._last_partial_end = 0
        # With language 'auto' the first decode also picks the segment's language: give it
        # enough speech to pick well.
        self._min_stream_audio = SAMPLE_RATE * (2 if asr.language == "auto" else 0)
        self._streams: dict[int, SegmentStream] = {}
        self._finished: set[int] = set()
        self._lock = threading.Lock()  # streams, counters, and the order of pieces
        self._partial_busy = threading.Event()
        self._behind: set[int] = set()  # segments streaming stopped on (it fell behind)
        self._finals_pending = 0
        self._pieces: list[Piece] = []
        self._dropped: list[tuple[str, str]] = []
        self._asr_s = 0.0
        self._decodes = 0
        self._reused = 0
        self._redone = 0
        self._samples = 0
        self._released_at: int | None = None  # samples fed when the button was let go
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._final_worker = threading.Thread(target=self._final_loop, name="asr", daemon=True)
        self._final_worker.start()
        _decode_threads.add(self._final_worker)
        self._partial_worker: threading.Thread | None = None
        if self._stream_every:
            self._partial_worker = threading.Thread(
                target=self._partial_loop, name="asr-stream", daemon=True
            )
            self._partial_worker.start()
            _decode_threads.add(self._partial_worker)

    def release(self) -> None:
        """The button was let go: the audio still coming is the tail (``heard_enough``).

        The end of the segment being spoken is decoded at once (``prepare_end``), while
        the tail is recorded; the segment's final text uses it if the tail held no more
        speech.
        """
        if self._released_at is not None:
            return
        self._released_at = self._samples
        segment = self._segmenter.open_segment()
        if segment is not None and self._stream_every:
            self._finals.put(EndAhead(segment))

    def heard_enough(self) -> bool:
        """After the release: whether the tail can end now.

        The tail is there for the end of a word the user was still saying when letting
        go. It ends as soon as the VAD hears that the speaker has stopped (``TAIL_QUIET_S``
        of quiet, or no speech in progress), and after ``audio.tail_s`` at most.
        """
        if self._released_at is None:
            return False
        tail = (self._samples - self._released_at) / SAMPLE_RATE
        limit = self.pipeline.cfg.audio.tail_s
        if tail >= limit or self._segmenter.quiet_s() >= min(TAIL_QUIET_S, limit):
            return True
        segment = self._segmenter.open_segment()
        return segment is not None and quiet_after(
            segment.audio, self._released_at - segment.span[0]
        )

    def feed(self, block: np.ndarray) -> None:
        if self._cancelled.is_set():
            return
        self._samples += len(block)
        closed = self._segmenter.feed(block)
        for segment in closed:
            self._close(segment)
        if self._stream_every and not closed:
            self._maybe_decode_open_segment()

    def _close(self, segment: SpeechSegment) -> None:
        with self._lock:
            self._finals_pending += 1
        self._finals.put(segment)

    def _maybe_decode_open_segment(self) -> None:
        """While the streaming worker is idle, decode the segment being spoken (it has grown
        enough, or the speaker just paused and its words may be complete)."""
        if self._partial_busy.is_set() or self._released_at is not None:
            return
        segment = self._segmenter.open_segment()
        if segment is None or len(segment.audio) < self._min_stream_audio:
            return
        if segment.span[0] in self._behind:
            return
        grown = segment.span[1] - self._last_partial_end >= self._stream_every
        paused = self._segmenter.tentative() is not None
        if grown or (paused and self._last_partial_end < segment.span[1] - FRAME):
            self._last_partial_end = segment.span[1]
            self._partial_busy.set()
            self._partials.put(segment)

    def finish(self) -> DictationResult:
        """End of recording: flush the VAD, wait for the transcriptions."""
        t_release = time.perf_counter()
        for segment in self._segmenter.flush():
            self._close(segment)
        self._finals.put(None)
        self._final_worker.join()
        t_asr_done = time.perf_counter()
        self._stop_partials(wait=False)  # a decode still running is of no use now
        if self._error is not None:
            raise self._error
        cancelled = self._cancelled.is_set()
        return DictationResult(
            pieces=[] if cancelled else list(self._pieces),
            dropped=list(self._dropped),
            audio_s=self._samples / SAMPLE_RATE,
            cancelled=cancelled,
            timings={
                "vad_s": self._segmenter.seconds_in_model,
                "asr_s": self._asr_s,
                "decodes": float(self._decodes),
                "finals_reused": float(self._reused),
                "finals_redone": float(self._redone),
                "release_to_transcript_s": t_asr_done - t_release,
            },
        )

    def cancel(self) -> None:
        """Nothing from this recording will be typed; the workers stop after their decode."""
        self._cancelled.set()
        self._finals.put(None)
        self._stop_partials(wait=False)

    def _stop_partials(self, *, wait: bool = True) -> None:
        if self._partial_worker is not None:
            self._partials.put(None)
            if wait:
                self._partial_worker.join()

    def _stream_for(self, segment: SpeechSegment) -> SegmentStream | None:
        """The segment's stream (None for a segment already finished)."""
        with self._lock:
            if segment.span[0] in self._finished:
                return None
            stream = self._streams.get(segment.span[0])
        if stream is None:
            transcriber = self.pipeline.transcriber
            stream = SegmentStream(transcriber, transcriber.language_for(segment.audio))
            with self._lock:
                stream = self._streams.setdefault(segment.span[0], stream)
        return stream

    def _partial_loop(self) -> None:
        while (segment := self._partials.get()) is not None:
            try:
                if self._cancelled.is_set():
                    continue
                stream = self._stream_for(segment)
                if stream is None:
                    continue
                t0 = time.perf_counter()
                committed = stream.update(segment.audio)
                took = time.perf_counter() - t0
                if took > MAX_STREAM_LAG_S:
                    # This CPU cannot decode the segment as fast as it is spoken: it is
                    # finished at its pause (or the release) instead.
                    log.warning(
                        "streaming falls behind (a decode took %.1f s): the rest of this "
                        "segment is decoded at its end",
                        took,
                    )
                    self._behind.add(segment.span[0])
                if not committed or not self._on_piece:
                    continue
                with self._lock:
                    # Pieces stay in order: an earlier segment still being finished speaks first
                    # (this one's words are reported again at its next commit or its end).
                    if self._finals_pending or self._cancelled.is_set():
                        continue
                    self._on_piece(
                        Piece(stream.committed_text, segment.pause_before_s, provisional=True)
                    )
            except BaseException as exc:  # surfaced by finish(); the daemon shows it
                self._error = self._error or exc
            finally:
                self._partial_busy.clear()

    def _final_loop(self) -> None:
        while (segment := self._finals.get()) is not None:
            if self._cancelled.is_set():
                return
            if isinstance(segment, EndAhead):
                try:
                    ahead = self._stream_for(segment.segment)
                    if ahead is not None:
                        ahead.prepare_end(segment.segment.audio)
                except BaseException as exc:  # surfaced by finish(); the daemon shows it
                    self._error = exc
                    return
                continue
            try:
                stream = self._stream_for(segment)
                assert stream is not None
                result = stream.finish(segment.audio, heard_in(segment))
            except BaseException as exc:  # surfaced by finish(); the daemon shows it
                self._error = exc
                return
            with self._lock:
                del self._streams[segment.span[0]]
                self._finished.add(segment.span[0])
                self._asr_s += stream.seconds
                self._decodes += stream.decodes
                self._reused += stream.reused
                self._redone += bool(result.redone)
                self._dropped.extend(result.dropped)
                if result.text and not self._cancelled.is_set():
                    piece = Piece(result.text, segment.pause_before_s)
                    self._pieces.append(piece)
                    if self._on_piece is not None:
                        self._on_piece(piece)
                self._finals_pending -= 1


def run_blocks(pipeline: Pipeline, blocks: Any) -> DictationResult:
    """Feed an iterable of blocks through one session (files, tests, the benchmark)."""
    session = pipeline.start()
    for block in blocks:
        session.feed(block)
    return session.finish()
