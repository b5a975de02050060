"""The appliance's threads: each does one slow thing and posts one typed event when done.

The controller never blocks: loading the model, pumping the microphone into the engine,
finishing the transcription and typing run here. :class:`Workers` is what the controller
calls; :class:`ThreadWorkers` runs each on a thread of its own, tests may run them inline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from appliance.dictation_typer import TypingJob
from appliance.engine import DictationResult, Engine, ProgressFn, Session
from appliance.events import (
    Event,
    ModelFailed,
    ModelLoaded,
    RecordingEnded,
    Transcribed,
    Typed,
)
from appliance.parts import Recording
from appliance.status import Publisher

log = logging.getLogger(__name__)

Post = Callable[[Event], None]
LEVEL_EVERY_S = 0.05


@dataclass(frozen=True)
class RecordingJob:
    gen: int
    recording: Recording
    session: Session
    stop_audio: Callable[[], None]
    """Ends the recording now (the session heard enough of the tail)."""
    timeout_s: float
    """No block for this long: the microphone is gone."""

    def pump(self) -> None:
        """The recording's blocks into the session until the recording or the tail ends."""
        for block in self.recording.blocks(timeout_s=self.timeout_s):
            self.session.feed(block)
            if self.session.heard_enough():
                self.stop_audio()
                break


class Workers(Protocol):
    def load(self) -> None:
        """Load the engine; posts ModelLoaded or ModelFailed."""

    def record(self, job: RecordingJob) -> None:
        """Feed the recording to the session until it ends; posts RecordingEnded."""

    def finish(self, gen: int, session: Session) -> None:
        """Wait for the transcription; posts Transcribed."""

    def type(self, gen: int, job: TypingJob, result: DictationResult | None) -> None:
        """Type the rest of the dictation; posts Typed."""

    def wait_typing(self, timeout_s: float) -> None:
        """Until the typing worker has ended (after the job was cancelled)."""


class ThreadWorkers:
    def __init__(
        self,
        post: Post,
        load_engine: Callable[[ProgressFn], Engine],
        progress: Publisher,
        alive: Callable[[], None],
    ) -> None:
        """``progress`` is the PROGRESS topic's publisher; ``alive`` pets the watchdog
        while the model loads."""
        self._post = post
        self._load_engine = load_engine
        self._progress = progress
        self._alive = alive
        self._typing: threading.Thread | None = None

    def load(self) -> None:
        def body() -> None:
            def progress(fraction: float, message: str = "") -> None:
                self._progress.publish(float(fraction), message or "Loading model")
                self._alive()

            progress(0.0, "Loading model")
            try:
                engine = self._load_engine(progress)
            except Exception as exc:
                log.exception("model load failed")
                self._post(ModelFailed(exc))
                return
            self._progress.publish(1.0, "Model ready")
            self._post(ModelLoaded(engine))

        self._start("model-load", body)

    def record(self, job: RecordingJob) -> None:
        def body() -> None:
            try:
                job.pump()
            except BaseException as exc:
                self._post(RecordingEnded(job.gen, exc))
                return
            self._post(RecordingEnded(job.gen))

        self._start("recording", body)

    def finish(self, gen: int, session: Session) -> None:
        def body() -> None:
            try:
                result = session.finish()
            except BaseException as exc:
                self._post(Transcribed(gen, error=exc))
                return
            self._post(Transcribed(gen, result=result))

        self._start("finish", body)

    def type(self, gen: int, job: TypingJob, result: DictationResult | None) -> None:
        def body() -> None:
            try:
                job.type_rest(result)
            except BaseException as exc:
                self._post(Typed(gen, exc))
                return
            self._post(Typed(gen))

        self._typing = self._start("typing", body)

    def wait_typing(self, timeout_s: float) -> None:
        thread, self._typing = self._typing, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    @staticmethod
    def _start(name: str, body: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread


class LevelMeter:
    """The microphone's level on the LEVEL topic, only while recording, 20 times a second."""

    def __init__(self, level: Publisher, clock: Callable[[], float]) -> None:
        self._level = level
        self._clock = clock
        self._armed = threading.Event()
        self._last_t = 0.0

    def arm(self, on: bool) -> None:
        """The controller says whether a recording is running."""
        if on:
            self._armed.set()
        else:
            self._armed.clear()

    def __call__(self, value: float) -> None:
        """From the microphone's thread."""
        if not self._armed.is_set():
            return
        now = self._clock()
        if now - self._last_t >= LEVEL_EVERY_S:
            self._last_t = now
            self._level.publish(value)
