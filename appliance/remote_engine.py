"""The remote engine: a speech-to-text server transcribes, the device's own model is the net.

The VAD still runs here, so only speech leaves the device, segment by segment: the segment
being spoken streams to the server as it grows (Wyoming; the OpenAI endpoint gets it when
it closes), and each closed segment's text is awaited in order on a worker thread while
the user keeps speaking. Every segment's audio is kept until its text is known. If the
server is away, refuses, or misses its deadline, that audio is transcribed by the local
:class:`~appliance.pipeline.Pipeline` instead, so nothing said is lost; the server is then
left alone for ``remote.retry_after_s``. Remote text passes the same guards as local text
(:func:`checked_remote_text`). Which engine typed what goes to the journal and the ENGINE
status topic (OLED, LEDs).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from appliance.asr import collapse_repeats, reject_reason
from appliance.config import AsrConfig, Config
from appliance.engine import DictationResult, PieceFn, ProgressFn
from appliance.pipeline import Pipeline, heard_in
from appliance.plausibility import Heard, doubts
from appliance.remote_servers import RemoteFailed, RemoteText, Server, Upload, open_server
from appliance.status import Publisher
from appliance.streaming import FinalText, SegmentStream
from appliance.text import Piece
from appliance.vad import FRAME, SAMPLE_RATE, SpeechSegment, VadSegmenter, load_vad_model

log = logging.getLogger(__name__)

LOCAL = "local"


@dataclass
class Checked:
    """Remote text after the guards: what to type, what was dropped, what looks wrong."""

    text: str
    dropped: list[tuple[str, str]] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)


def checked_remote_text(cfg: AsrConfig, got: RemoteText, heard: Heard) -> Checked:
    """The guards local text passes, applied to a server's text.

    Non-speech and phantom phrases: :func:`appliance.asr.reject_reason`. A server that
    gives no scores (Wyoming) counts as unsure, as a local decode with a high no-speech
    probability would, so a segment that is only a phantom phrase or the prompt echoed is
    dropped — but never for 'no speech' alone, which needs the log-probability. Repetition:
    loops are collapsed; a text that still does not look whole and said once
    (:func:`appliance.plausibility.doubts`) is reported, and the caller compares it with
    the local model's text.
    """
    no_speech = 1.0 if got.no_speech_prob is None else got.no_speech_prob
    logprob = 0.0 if got.avg_logprob is None else got.avg_logprob
    reason = reject_reason(cfg, got.text, no_speech, logprob) if got.text else ""
    if reason:
        return Checked("", [(got.text, reason)])
    text = collapse_repeats(got.text)
    return Checked(text, doubts=doubts(text, heard))


@dataclass(frozen=True)
class SegmentText:
    text: str
    engine: str  # the server's name, or LOCAL
    dropped: list[tuple[str, str]]
    why_local: str = ""  # why the device transcribed it, if it did


class LocalFallback:
    """The device's own pipeline: loaded at once (``warm``) or at the first failure."""

    def __init__(self, load: Callable[[], Pipeline], *, warm: bool) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = load() if warm else None

    @property
    def loaded(self) -> Pipeline | None:
        return self._pipeline

    def pipeline(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                log.info("loading the local model for the fallback")
                self._pipeline = self._load()
            return self._pipeline

    def transcribe(self, segment: SpeechSegment, language: str) -> FinalText:
        transcriber = self.pipeline().transcriber
        code = transcriber.language_for(segment.audio) if language == "auto" else language
        return SegmentStream(transcriber, code).finish(segment.audio, heard_in(segment))


class RemoteEngine:
    """An :class:`~appliance.engine.Engine` whose segments a server transcribes."""

    def __init__(
        self,
        cfg: Config,
        server: Server,
        fallback: LocalFallback,
        *,
        vad_model: Any | None = None,
        status: Publisher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.server = server
        self.fallback = fallback
        loaded = fallback.loaded
        self.vad_model = vad_model or (loaded.vad_model if loaded else load_vad_model())
        self.status = status
        self.clock = clock
        self._away_until = 0.0
        self._away_why = ""
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, cfg: Config, *, progress: ProgressFn | None = None, status: Publisher | None = None
    ) -> RemoteEngine:
        server = open_server(cfg.remote, cfg.asr.engine)
        warm = cfg.remote.fallback == "warm"
        fallback = LocalFallback(
            lambda: Pipeline.load(cfg, progress=progress if warm else None), warm=warm
        )
        if not warm and progress is not None:
            progress(1.0, "ready")
        return cls(cfg, server, fallback, status=status)

    def set_language(self, code: str) -> None:
        asr = dataclasses.replace(self.cfg.asr, language=code)
        self.cfg = dataclasses.replace(self.cfg, asr=asr)
        if self.fallback.loaded is not None:
            self.fallback.loaded.set_language(code)

    def start(self, on_piece: PieceFn | None = None) -> RemoteSession:
        return RemoteSession(self, on_piece)

    def close(self) -> None:
        self.server.close()

    # -- the server's health, shared by sessions
    def away(self) -> str:
        """Why the server is skipped now ('' when it is tried)."""
        with self._lock:
            return self._away_why if self.clock() < self._away_until else ""

    def failed(self, why: str) -> None:
        with self._lock:
            self._away_until = self.clock() + self.cfg.remote.retry_after_s
            self._away_why = why

    def answered(self) -> None:
        with self._lock:
            self._away_until = 0.0
            self._away_why = ""

    def report(self, segments: list[SegmentText]) -> None:
        """The journal and the ENGINE topic: who typed this dictation, and why not the server."""
        if not segments:
            return
        engines = sorted({s.engine for s in segments}, key=lambda e: e == LOCAL)
        local = [s for s in segments if s.engine == LOCAL]
        why = local[0].why_local if local else ""
        value = "+".join(engines)
        message = f"typed by {value}" + (f": {why}" if why else "")
        if local:
            log.warning(
                "%d of %d segments transcribed on the device: %s", len(local), len(segments), why
            )
        else:
            log.info("%d segments transcribed by %s", len(segments), self.server.name)
        if self.status is not None:
            self.status.publish(value, message, fallback=bool(local))


class RemoteSession:
    """One recording (the :class:`~appliance.engine.Session` protocol)."""

    def __init__(self, engine: RemoteEngine, on_piece: PieceFn | None) -> None:
        self.engine = engine
        self._cfg = engine.cfg
        self._on_piece = on_piece
        self._segmenter = VadSegmenter(engine.cfg.vad, engine.vad_model)
        self._uploads: dict[int, tuple[Upload, int]] = {}  # span start -> (upload, sent end)
        self._closed: queue.Queue[tuple[SpeechSegment, Upload | None] | None] = queue.Queue()
        self._pieces: list[Piece] = []
        self._texts: list[SegmentText] = []
        self._dropped: list[tuple[str, str]] = []
        self._samples = 0
        self._released_at: int | None = None
        self._remote_s = 0.0
        self._streamed = 0  # samples handed over while their segment was still spoken
        self._local_s = 0.0
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._skip_why = engine.away()  # the server failed lately: the device transcribes
        self._worker = threading.Thread(target=self._finish_loop, name="remote", daemon=True)
        self._worker.start()

    # -- the Session protocol
    def feed(self, block: np.ndarray) -> None:
        if self._cancelled.is_set():
            return
        self._samples += len(block)
        for segment in self._segmenter.feed(block):
            self._close(segment)
        self._stream_open_segment()

    def release(self) -> None:
        if self._released_at is None:
            self._released_at = self._samples

    def heard_enough(self) -> bool:
        """As the local session: the tail ends once the speaker is quiet."""
        from appliance.pipeline import TAIL_QUIET_S

        if self._released_at is None:
            return False
        tail = (self._samples - self._released_at) / SAMPLE_RATE
        limit = self._cfg.audio.tail_s
        return tail >= limit or self._segmenter.quiet_s() >= min(TAIL_QUIET_S, limit)

    def finish(self) -> DictationResult:
        t_release = time.perf_counter()
        for segment in self._segmenter.flush():
            self._close(segment)
        self._closed.put(None)
        self._worker.join()
        done = time.perf_counter()
        if self._error is not None:
            raise self._error
        cancelled = self._cancelled.is_set()
        if not cancelled:
            self.engine.report(self._texts)
        return DictationResult(
            pieces=[] if cancelled else list(self._pieces),
            dropped=list(self._dropped),
            audio_s=self._samples / SAMPLE_RATE,
            cancelled=cancelled,
            timings={
                "vad_s": self._segmenter.seconds_in_model,
                "remote_s": self._remote_s,
                "streamed_s": self._streamed / SAMPLE_RATE,
                "asr_s": self._local_s,
                "remote_segments": float(sum(t.engine != LOCAL for t in self._texts)),
                "local_segments": float(sum(t.engine == LOCAL for t in self._texts)),
                "release_to_transcript_s": done - t_release,
            },
        )

    def cancel(self) -> None:
        self._cancelled.set()
        for upload, _sent in list(self._uploads.values()):  # the recording thread's; a copy
            upload.abandon()
        self._closed.put(None)

    # -- streaming to the server
    def _upload_for(self, segment: SpeechSegment) -> tuple[Upload, int] | None:
        """The segment's upload (the recording thread owns them all); None once the server
        has failed: segments still streaming are then not waited for."""
        if self._skip_why:
            for upload, _sent in self._uploads.values():
                upload.abandon()
            self._uploads.clear()
            return None
        key = segment.span[0]
        if key not in self._uploads:
            self._uploads[key] = (self.engine.server.begin(self._cfg.asr.language), key)
        return self._uploads[key]

    def _stream_open_segment(self) -> None:
        segment = self._segmenter.open_segment()
        if segment is None:
            return
        entry = self._upload_for(segment)
        if entry is None:
            return
        upload, sent = entry
        end = segment.span[0] + len(segment.audio)
        if end > sent:
            upload.add(segment.audio[sent - segment.span[0] :])
            self._uploads[segment.span[0]] = (upload, end)
            self._streamed += end - sent

    def _close(self, segment: SpeechSegment) -> None:
        """A segment is complete: the rest of its audio goes to the server, its text is
        awaited in order. Audio already streamed beyond its end is fine if it is the pause
        that closed it; more (a long segment split while speech went on) is sent again, as
        exactly this segment, on a new upload."""
        entry = self._upload_for(segment)
        upload: Upload | None = None
        if entry is not None:
            upload, sent = entry
            del self._uploads[segment.span[0]]
            end = segment.span[1]
            pause = int(self._cfg.vad.min_silence_ms * SAMPLE_RATE / 1000) + FRAME
            if sent - end > pause:
                upload.abandon()
                upload = self.engine.server.begin(self._cfg.asr.language)
                upload.add(segment.audio)
            elif end > sent:
                upload.add(segment.audio[sent - segment.span[0] :])
        self._closed.put((segment, upload))

    # -- the texts, in order
    def _finish_loop(self) -> None:
        while (item := self._closed.get()) is not None:
            if self._cancelled.is_set():
                return
            segment, upload = item
            try:
                got = self._text_of(segment, upload)
            except BaseException as exc:  # surfaced by finish(); the daemon shows it
                self._error = exc
                return
            self._texts.append(got)
            self._dropped.extend(got.dropped)
            if got.text and not self._cancelled.is_set():
                piece = Piece(got.text, segment.pause_before_s)
                self._pieces.append(piece)
                if self._on_piece is not None:
                    self._on_piece(piece)

    def _text_of(self, segment: SpeechSegment, upload: Upload | None) -> SegmentText:
        asr = self._cfg.asr
        why = self._skip_why or "the server was not asked"
        if upload is not None and self._skip_why:
            upload.abandon()  # the server failed on an earlier segment: not waited for again
        elif upload is not None:
            t0 = time.perf_counter()
            try:
                got = upload.result()
            except RemoteFailed as exc:
                why = str(exc)
                log.warning("%s: %s; transcribing on the device", self.engine.server.name, why)
                self.engine.failed(why)
                self._skip_why = why
            else:
                self._remote_s += time.perf_counter() - t0
                self.engine.answered()
                checked = checked_remote_text(asr, got, heard_in(segment))
                if not checked.doubts:
                    return SegmentText(checked.text, self.engine.server.name, checked.dropped)
                local = self._local(segment)
                local_doubts = doubts(local.text, heard_in(segment))
                log.info(
                    "the server's text looks wrong (%s): %r; the device's: %r",
                    "; ".join(checked.doubts),
                    checked.text,
                    local.text,
                )
                if len(local_doubts) < len(checked.doubts):
                    why = "the server's text looked wrong: " + "; ".join(checked.doubts)
                    return SegmentText(local.text, LOCAL, local.dropped, why)
                return SegmentText(checked.text, self.engine.server.name, checked.dropped)
        local = self._local(segment)
        return SegmentText(local.text, LOCAL, local.dropped, why)

    def _local(self, segment: SpeechSegment) -> FinalText:
        t0 = time.perf_counter()
        result = self.engine.fallback.transcribe(segment, self._cfg.asr.language)
        self._local_s += time.perf_counter() - t0
        return result
