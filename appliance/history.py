"""What was typed, dictation by dictation, bounded: the seam for undo and retype."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

HISTORY_LENGTH = 20


@dataclass(frozen=True)
class TypedDictation:
    text: str
    """What reached the host (keystroke text: Enter as a newline, Backspace as ``\\b``)."""
    complete: bool
    """False when typing stopped early (a press, a cancel, the host went away)."""
    at: float


class TypedHistory:
    """The last :data:`HISTORY_LENGTH` dictations; written by the typing side, read by anyone."""

    def __init__(
        self, length: int = HISTORY_LENGTH, clock: Callable[[], float] = time.time
    ) -> None:
        self._entries: deque[TypedDictation] = deque(maxlen=length)
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, text: str, *, complete: bool) -> None:
        if not text:
            return
        with self._lock:
            self._entries.append(TypedDictation(text, complete, self._clock()))

    def last(self) -> TypedDictation | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def entries(self) -> list[TypedDictation]:
        with self._lock:
            return list(self._entries)
