"""The wake-word trigger: hands-free dictation.

It hears every block of the one microphone (the capture thread hands them over; no second
capture of the device) and works on them on a thread of its own, so a slow step never holds
up the capture. While the appliance is ready it listens for the wake word and posts
:class:`~appliance.events.WakeWordHeard`; while the dictation that started runs, it listens
for the end of speech and posts :class:`~appliance.events.SpeechEnded`. What state the
appliance is in, it reads from the status bus; it writes only the LISTENING topic (the
LEDs and OLED show that it listens). Audio is only passed through memory, never kept.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

import numpy as np

from appliance.config import Config
from appliance.end_of_speech import EndOfSpeech
from appliance.events import Event, SpeechEnded, WakeWordHeard
from appliance.status import State, Status, StatusBus, Topic
from appliance.wake_word import WakeWordDetector

log = logging.getLogger(__name__)

BACKLOG_BLOCKS = 64  # about 2 s of 32 ms blocks; beyond that blocks are dropped (logged)
_STOP = None


class WakeWordTrigger:
    def __init__(
        self,
        cfg: Config,
        bus: StatusBus,
        *,
        detector: WakeWordDetector | None = None,
        end: EndOfSpeech | None = None,
    ) -> None:
        self.detector = detector or WakeWordDetector(cfg.wake_word)
        self._end = end or EndOfSpeech(cfg.wake_word, cfg.vad)
        self._listening = bus.publisher(Topic.LISTENING, "wake word")
        self._blocks: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(BACKLOG_BLOCKS)
        self._post: Callable[[Event], None] | None = None
        self._thread: threading.Thread | None = None
        self._state = State.STARTING
        self._recording_episode: int | None = None  # of the recording in progress
        self._episode = 0  # the last wake word heard
        self._ending = False  # listening for the end of speech of self._episode
        self._was_ready = False
        self._dropped = 0
        bus.subscribe(self._on_status)

    def start(self, post: Callable[[Event], None]) -> None:
        """Report to ``post`` from now on (the daemon's event queue)."""
        self._post = post
        self._thread = threading.Thread(target=self._run, name="wake-word", daemon=True)
        self._thread.start()

    def hear(self, block: np.ndarray, heard: int) -> None:
        """The microphone's listener (its capture thread): never blocks."""
        try:
            self._blocks.put_nowait((block, heard))
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 100 == 0:
                log.warning("wake word: %d audio blocks dropped (CPU too busy)", self._dropped)

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            while True:
                try:
                    self._blocks.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    with_drop(self._blocks)
            thread.join(timeout=2.0)
        self.detector.close()

    # -- the bus
    def _on_status(self, status: Status) -> None:
        if status.topic is not Topic.STATE:
            return
        self._state = State(status.value)
        self._recording_episode = status.extra.get("wake_episode")
        ready = self._state is State.READY
        phrase = self.detector.phrase if ready else ""
        last = self._listening.last()
        if last is None or last.value != phrase:
            self._listening.publish(phrase)

    # -- the thread
    def _run(self) -> None:
        while True:
            item = self._blocks.get()
            if item is _STOP:
                return
            try:
                self._step(*item)
            except Exception:
                log.exception("wake word listener failed on a block")

    def _step(self, block: np.ndarray, heard: int) -> None:
        state, post = self._state, self._post
        assert post is not None
        if state is State.READY:
            if not self._was_ready:  # back from a dictation: a pause before listening again
                self._was_ready = True
                self.detector.rest()
            self._ending = False
            found = self.detector.feed(block)
            if found is not None:
                self._episode += 1
                post(WakeWordHeard(self._episode, heard))
            return
        self._was_ready = False
        if state is State.RECORDING and self._recording_episode == self._episode:
            if not self._ending:
                self._ending = True
                self._end.reset()
            elif self._end.over:
                return  # already posted
            if self._end.feed(block):
                log.info("wake word dictation %d: speech ended", self._episode)
                post(SpeechEnded(self._episode))


def with_drop(blocks: queue.Queue[tuple[np.ndarray, int] | None]) -> None:
    """Make room in a full queue (at close: what was not heard yet is not needed)."""
    with contextlib.suppress(queue.Empty):
        blocks.get_nowait()
