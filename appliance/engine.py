"""The engine seam: what turns a recording into text.

The local faster-whisper pipeline (:class:`appliance.pipeline.Pipeline`) is today's engine;
a model server is the next. The controller and the benchmark use only what is declared
here. An engine returns the transcribed pieces; what is typed from them is decided by
:mod:`appliance.dictation_typer`, which owns the text shaper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from appliance.text import Piece

PieceFn = Callable[[Piece], None]
ProgressFn = Callable[[float, str], None]  # loading: fraction done, what is happening


@dataclass
class DictationResult:
    pieces: list[Piece]
    """The transcribed segments in order (final pieces only)."""
    dropped: list[tuple[str, str]] = field(default_factory=list)
    """Text the guards removed, with the reason."""
    audio_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False


class Session(Protocol):
    """One recording being transcribed."""

    def feed(self, block: np.ndarray) -> None: ...
    def release(self) -> None:
        """The button was let go: the audio that follows is the tail."""

    def heard_enough(self) -> bool:
        """After the release: whether the tail can end now."""

    def finish(self) -> DictationResult: ...
    def cancel(self) -> None: ...


class Engine(Protocol):
    def set_language(self, code: str) -> None:
        """Transcribe in ``code`` from the next recording on (the language gesture)."""

    def start(self, on_piece: PieceFn | None = None) -> Session:
        """A new recording; ``on_piece`` hears each piece as soon as it is known.

        With ``on_piece`` every final piece goes through it, in order (the typing side
        types from it). It is called from the engine's threads, while the engine keeps the
        pieces in order, so it must only hand the piece on (a queue), never block.
        """
