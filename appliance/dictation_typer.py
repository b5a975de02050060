"""What is typed, and when: the one owner of the text shaper and of the typing history.

The engine hands over transcribed pieces; this module decides what they become on the host.
With ``daemon.type_while_speaking`` the pieces are typed as they come (the early typer); else
the whole dictation is shaped and typed at the end. Either way the controller sees the same
:class:`TypingJob`: ``on_piece`` for the engine, ``type_rest`` for the typing worker (the last
words, in the TYPING state), ``cancel`` for a press.
"""

from __future__ import annotations

import threading
from typing import Protocol

from appliance.config import Config
from appliance.early_typer import EarlyTyper
from appliance.engine import DictationResult, PieceFn
from appliance.hid.keys import SpecialKey, TypedItem, keystroke_items
from appliance.hid.typist import TypeResult
from appliance.history import ShaperMemory, TypedHistory
from appliance.text import TextShaper

CANCEL_WAIT_S = 2.0


class Typist(Protocol):
    """What typing needs of :class:`appliance.hid.Typist` (tests may pass their own)."""

    @property
    def pending(self) -> str: ...
    def type(self, items: list[TypedItem]) -> TypeResult:
        """Type the items; raises :class:`~appliance.hid.device.HostAbsent` if the host goes."""

    def cancel(self) -> None:
        """Stop after the current character; safe from any thread."""

    def release_all(self) -> None: ...
    def close(self) -> None: ...


class TypingJob:
    """Typing one dictation, on whatever threads the controller gives it."""

    def __init__(
        self,
        shaper: TextShaper,
        typist: Typist,
        history: TypedHistory | None,
        *,
        early: bool,
        keys: list[TypedItem] | None = None,
    ) -> None:
        """``history`` None: not remembered (an undo's Backspaces). ``keys``: type these
        instead of a dictation (undo, retype)."""
        self._shaper = shaper
        self._typist = typist
        self._history = history
        self._before = shaper.memory()
        self._keys = keys
        self._typed = ""
        self._shown = ""
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._early = EarlyTyper(shaper, self._type) if early else None

    @property
    def on_piece(self) -> PieceFn | None:
        """For the engine: with type-while-speaking, each piece as soon as it is known."""
        return self._early.put if self._early is not None else None

    @property
    def typed(self) -> str:
        """What reached the host so far."""
        with self._lock:
            return self._typed

    @property
    def shown(self) -> str:
        """The characters the host shows for it so far (what an undo takes back)."""
        with self._lock:
            return self._shown

    @property
    def shaper_before(self) -> ShaperMemory:
        return self._before

    def type_rest(self, result: DictationResult | None) -> None:
        """Type what is left of the dictation and wait for it (the typing worker's body).

        ``result`` None: nothing new was said (the host came back with kept text).
        Raises what the typist raised (the host went away).
        """
        try:
            if self._keys is not None:
                if not self._stopped.is_set():
                    self._type(self._keys)
            elif self._early is not None:
                self._early.close()  # the final pieces came through on_piece
            elif result is not None and not self._stopped.is_set():
                items = self._shaper.shape(result.pieces)
                if items or self._typist.pending:
                    self._type(items)
            elif self._typist.pending:
                self._type([])
        finally:
            if self._history is not None:
                self._history.add(
                    self.typed,
                    complete=not self._stopped.is_set(),
                    shown=self.shown,
                    before=self._before,
                )

    def cancel(self) -> None:
        """Type nothing more (a press while typing, a long press, shutdown)."""
        self._stopped.set()
        self._typist.cancel()
        if self._early is not None:
            self._early.cancel()
            self._early.join(CANCEL_WAIT_S)  # its last word, and the shaper's memory of it

    def _type(self, items: list[TypedItem]) -> None:
        if self._stopped.is_set():
            return
        result = self._typist.type(items)
        with self._lock:
            self._typed += result.typed
            self._shown += result.shown


class DictationTyper:
    """Makes each dictation's :class:`TypingJob`; keeps the shaper's memory across them."""

    def __init__(self, cfg: Config, history: TypedHistory | None = None) -> None:
        self._cfg = cfg
        self.shaper = TextShaper(cfg.text)
        self.history = history if history is not None else TypedHistory()

    def begin(self, typist: Typist) -> TypingJob:
        early = self._cfg.daemon.type_while_speaking
        return TypingJob(self.shaper, typist, self.history, early=early)

    def resume(self, typist: Typist) -> TypingJob:
        """The text the typist kept while the host was away, now that it is back."""
        return TypingJob(self.shaper, typist, self.history, early=False)

    def undo(self, typist: Typist, shown: str, before: ShaperMemory | None) -> TypingJob:
        """Backspaces for what the host shows of a dictation; the shaper as before it."""
        if before is not None:
            self.shaper.restore(before)
        keys: list[TypedItem] = [SpecialKey.BACKSPACE] * len(shown)
        return TypingJob(self.shaper, typist, None, early=False, keys=keys)

    def retype(self, typist: Typist, text: str) -> TypingJob:
        """A kept dictation typed again (no focused field then, or another computer)."""
        items = keystroke_items(text.lstrip(" "))
        return TypingJob(self.shaper, typist, self.history, early=False, keys=items)
