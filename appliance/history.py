"""What was typed, dictation by dictation, bounded: the seam for undo and retype.

The device cannot see the host's screen, only what it sent. So an undo takes back exactly
the characters the last dictation put there, and only while that is likely still true: the
most recent dictation, within a time limit, never after an Enter or Tab it typed (a message
may be sent, the focus moved), never once the host has been away (a reconnect, maybe another
computer).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

HISTORY_LENGTH = 20


@dataclass(frozen=True)
class TypedDictation:
    text: str
    """What reached the host (keystroke text: Enter as a newline, Backspace as ``\\b``)."""
    complete: bool
    """False when typing stopped early (a press, a cancel, the host went away)."""
    at: float
    shown: str = ""
    """The characters the host shows for it (a transliteration's ASCII): undo's count."""
    host_left: bool = False
    """The host was away after it was typed: it may not hold the text any more."""
    before: Any = None
    """The text shaper's memory before it (spacing, sentence case), restored by an undo."""


class TypedHistory:
    """The last :data:`HISTORY_LENGTH` dictations; written by the typing side, read by anyone."""

    def __init__(
        self, length: int = HISTORY_LENGTH, clock: Callable[[], float] = time.time
    ) -> None:
        self._entries: deque[TypedDictation] = deque(maxlen=length)
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, text: str, *, complete: bool, shown: str = "", before: Any = None) -> None:
        if not text:
            return
        with self._lock:
            entry = TypedDictation(text, complete, self._clock(), shown, before=before)
            self._entries.append(entry)

    def last(self) -> TypedDictation | None:
        with self._lock:
            return self._entries[-1] if self._entries else None

    def entries(self) -> list[TypedDictation]:
        with self._lock:
            return list(self._entries)

    def host_left(self) -> None:
        """The host went away: nothing typed before can be taken back."""
        with self._lock:
            for i, entry in enumerate(self._entries):
                self._entries[i] = replace(entry, host_left=True)

    def forget_last(self) -> None:
        """The last dictation was taken back: the one before is not undone by the next undo
        (its text may have been edited meanwhile), but it can still be retyped."""
        with self._lock:
            if self._entries:
                self._entries.pop()
            for i, entry in enumerate(self._entries):
                self._entries[i] = replace(entry, host_left=True)

    def why_not_undo(self, within_s: float) -> str | None:
        """None if the last dictation can be taken back, else why not (in plain words)."""
        entry = self.last()
        if entry is None or entry.host_left:
            return "Nothing to undo"
        if self._clock() - entry.at > within_s:
            return "Too late to undo"
        if "\n" in entry.shown or "\t" in entry.shown:
            return "Cannot undo past Enter"
        return None
