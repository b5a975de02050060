"""The status bus: every stage reports here; LEDs, OLED, journald and sd_notify listen.

Stages never import the UI. A listener that raises is logged and dropped from that one
delivery, so a broken display can never stop the keyboard from typing.

Each topic has one writer: a part claims a topic once (:meth:`StatusBus.publisher`) and only
the :class:`Publisher` it gets can write it; a second claim raises :class:`TopicTaken`, so
two parts can never disagree about the same fact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class State(StrEnum):
    STARTING = "starting"
    READY = "ready"
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    TYPING = "typing"
    ERROR = "error"
    STOPPED = "stopped"


class Topic(StrEnum):
    STATE = "state"  # value: State; message: reason (for ERROR)
    PROGRESS = "progress"  # value: 0..1 (model loading)
    LEVEL = "level"  # value: 0..1 input level while recording
    ELAPSED = "elapsed"  # value: seconds recorded
    HOST = "host"  # value: bool, USB host connected
    MICROPHONE = "microphone"  # value: bool, microphone present
    TEXT = "text"  # value: str being typed
    WARNING = "warning"  # value: short code; message: plain words
    ERROR = "error"  # value: short code; message: plain words
    LANGUAGE = "language"  # value: the language code dictations are transcribed in
    ENGINE = "engine"  # value: who transcribed the last dictation; extra fallback: bool
    LISTENING = "listening"  # value: the wake word listened for while ready ("" = not)


@dataclass(frozen=True)
class Status:
    topic: Topic
    value: Any = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Status], None]


class TopicTaken(RuntimeError):
    """A second part tried to claim a topic that already has its writer."""


class StatusBus:
    """Synchronous, thread-safe publish/subscribe; keeps the last value of every topic."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._last: dict[Topic, Status] = {}
        self._owners: dict[Topic, str] = {}
        self._lock = threading.RLock()

    def publisher(self, topic: Topic, owner: str) -> Publisher:
        """The one writer of ``topic``; ``owner`` names it in errors and :meth:`owners`."""
        with self._lock:
            if topic in self._owners:
                raise TopicTaken(f"{topic.value} is written by {self._owners[topic]}, not {owner}")
            self._owners[topic] = owner
        return Publisher(self, topic, owner)

    def owners(self) -> dict[Topic, str]:
        """Which part writes each claimed topic."""
        with self._lock:
            return dict(self._owners)

    def subscribe(self, listener: Listener, *, replay: bool = True) -> None:
        with self._lock:
            self._listeners.append(listener)
            last = list(self._last.values()) if replay else []
        for status in last:
            self._deliver(listener, status)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _publish(self, status: Status) -> None:
        with self._lock:
            self._last[status.topic] = status
            listeners = list(self._listeners)
        for listener in listeners:
            self._deliver(listener, status)

    def last(self, topic: Topic) -> Status | None:
        with self._lock:
            return self._last.get(topic)

    @staticmethod
    def _deliver(listener: Listener, status: Status) -> None:
        try:
            listener(status)
        except Exception:
            log.exception("status listener %r failed on %s", listener, status.topic.value)


class Publisher:
    """The right to write one topic (from :meth:`StatusBus.publisher`)."""

    def __init__(self, bus: StatusBus, topic: Topic, owner: str) -> None:
        self.topic = topic
        self.owner = owner
        self._bus = bus

    def publish(self, value: Any = None, message: str = "", **extra: Any) -> None:
        self._bus._publish(Status(self.topic, value, message, extra))

    def last(self) -> Status | None:
        return self._bus.last(self.topic)
