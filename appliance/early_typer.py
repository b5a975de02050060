"""Typing a dictation while it is still being spoken (``daemon.type_while_speaking``)."""

from __future__ import annotations

import difflib
import logging
import queue
import re
import threading
from collections.abc import Callable

from appliance.asr import normalise_words
from appliance.hid.keys import TypedItem, keystroke_text
from appliance.text import Piece, TextShaper

log = logging.getLogger(__name__)


def _units(items: list[TypedItem]) -> list[TypedItem]:
    """Items split into single characters and keys, for comparing what is typed."""
    out: list[TypedItem] = []
    for item in items:
        out.extend(item if isinstance(item, str) else [item])
    return out


def _join(units: list[TypedItem]) -> list[TypedItem]:
    out: list[TypedItem] = []
    for unit in units:
        if isinstance(unit, str) and out and isinstance(out[-1], str):
            out[-1] += unit
        else:
            out.append(unit)
    return out


def _resume_point(typed: list[TypedItem], target: list[TypedItem]) -> int:
    """Where in ``target`` (units) to go on when it does not extend ``typed``: after the
    word that matches the last typed word, so no word is typed twice or cut in half."""
    typed_text = "".join(u if isinstance(u, str) else "\n" for u in typed)
    target_text = "".join(u if isinstance(u, str) else "\n" for u in target)
    typed_words = typed_text.split()
    spans = [m.span() for m in re.finditer(r"\S+", target_text)]
    target_words = [target_text[a:b] for a, b in spans]
    norm = [normalise_words(w) for w in typed_words], [normalise_words(w) for w in target_words]
    matcher = difflib.SequenceMatcher(a=norm[0], b=norm[1], autojunk=False)
    done = 0
    for a, b, size in matcher.get_matching_blocks():
        if size:
            done = min(len(target_words), b + size + (len(typed_words) - a - size))
    if done and typed_words:
        # The last typed word may be the start of its match ("friend" of "friend,").
        start, end = spans[done - 1]
        last = typed_words[-1]
        if target_text[start:end].lower().startswith(last.lower()):
            return start + len(last)  # units are one character (or key) each
    if done >= len(spans):
        return len(target)
    return spans[done][0] - (1 if spans[done][0] > 0 else 0)  # keep the space before it


class EarlyTyper:
    """Types a dictation while it is still being spoken (``daemon.type_while_speaking``).

    Pieces arrive from the transcription worker: provisional ones (words committed in a
    segment still being spoken) and final ones. After each, the whole dictation so far is
    shaped and only what extends the text already typed is typed, on a thread of its own,
    so a slow host never holds up transcription. ``close()`` types the rest and waits.

    Typed text cannot be taken back. Committed words only ever grow, so the shaped text
    normally extends what was typed; when it does not (a spoken command completed by a
    later word, say), typing pauses until the end and then continues from where the two
    texts part, and a warning is logged.
    """

    def __init__(self, shaper: TextShaper, type_items: Callable[[list[TypedItem]], object]):
        self._shaper = shaper
        self._type_items = type_items
        self._queue: queue.Queue[Piece | None] = queue.Queue()
        self._closed: list[Piece] = []
        self._open: Piece | None = None
        self._typed_units: list[TypedItem] = []
        self.typed: list[TypedItem] = []
        self.error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="early-typer", daemon=True)
        self._thread.start()

    def put(self, piece: Piece) -> None:
        self._queue.put(piece)

    def cancel(self) -> None:
        """Type nothing more (a long press); what is queued is dropped."""
        self._cancelled = True
        self._queue.put(None)

    def join(self, timeout_s: float) -> None:
        """Wait for the thread to end (after :meth:`cancel`), at most ``timeout_s``."""
        self._thread.join(timeout_s)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if piece.provisional:
                self._open = piece
            else:
                self._closed.append(piece)
                self._open = None
            pieces = self._closed + ([self._open] if self._open else [])
            self._extend(self._shaper.preview(pieces), final=False)
        # The end of the dictation: the shaper remembers it (spacing, sentence case).
        if self._cancelled:
            if self.typed:
                self._shaper.shape(self._closed + ([self._open] if self._open else []))
            return
        self._extend(self._shaper.shape(self._closed), final=True)

    def _extend(self, items: list[TypedItem], *, final: bool) -> None:
        if self.error is not None or self._cancelled:
            return
        target = _units(items)
        done = self._typed_units
        common = 0
        for a, b in zip(done, target, strict=False):
            if a != b:
                break
            common += 1
        if common < len(done):
            if not final:
                return
            common = _resume_point(done, target)
            log.warning(
                "typed %r, but the final text is %r: typing its words after the typed ones",
                keystroke_text(done),
                keystroke_text(target),
            )
        new = _join(target[common:])
        if not new:
            return
        try:
            self._type_items(new)
        except BaseException as exc:  # the host went away: reported by close()
            self.error = exc
            return
        self._typed_units = done + target[common:]
        self.typed.extend(new)
