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

HISTORY_LENGTH = 20
ShaperMemory = tuple[bool, bool]
"""The text shaper's memory of what came before (spacing, sentence case)."""


def crosses_enter(shown: str) -> bool:
    """Taking ``shown`` back would cross an Enter or Tab it typed (a message may be sent,
    the focus moved): never done."""
    return "\n" in shown or "\t" in shown


@dataclass(frozen=True)
class TypedDictation:
    text: str
    """What reached the host (keystroke text: Enter as a newline, Backspace as ``\\b``)."""
    complete: bool
    """False when typing stopped early (a press, a cancel, the host went away)."""
    at: float
    shown: str = ""
    """The characters the host shows for it (a transliteration's ASCII): undo's count."""
    undoable: bool = True
    """False once the host was away, or a later dictation was taken back: the host may not
    hold this text as it was typed any more."""
    before: ShaperMemory | None = None
    """The text shaper's memory before it, restored by an undo."""


class TypedHistory:
    """The last :data:`HISTORY_LENGTH` dictations; written by the typing side, read by anyone."""

    def __init__(
        self, length: int = HISTORY_LENGTH, clock: Callable[[], float] = time.time
    ) -> None:
        self._entries: deque[TypedDictation] = deque(maxlen=length)
        self._clock = clock
        self._lock = threading.Lock()

    def add(
        self, text: str, *, complete: bool, shown: str = "", before: ShaperMemory | None = None
    ) -> None:
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
            self._close_undo()

    def forget_last(self) -> None:
        """The last dictation was taken back: the one before is not undone by the next undo
        (its text may have been edited meanwhile), but it can still be retyped."""
        with self._lock:
            if self._entries:
                self._entries.pop()
            self._close_undo()

    def _close_undo(self) -> None:
        for i, entry in enumerate(self._entries):
            self._entries[i] = replace(entry, undoable=False)

    def why_not_undo(self, within_s: float) -> str | None:
        """None if the last dictation can be taken back, else why not (in plain words)."""
        entry = self.last()
        if entry is None or not entry.undoable:
            return "Nothing to undo"
        if self._clock() - entry.at > within_s:
            return "Too late to undo"
        if crosses_enter(entry.shown):
            return "Cannot undo past Enter"
        return None
