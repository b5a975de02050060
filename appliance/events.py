"""What the controller reacts to: one typed event per thing that happened.

The button, the model loader and the worker threads only ever post one of these; the
controller handles them one at a time on its own thread. A worker's event carries the
recording's generation, so the result of a recording that was cancelled meanwhile is
recognised and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.engine import DictationResult, Engine
from appliance.ui.button import ButtonEvent


@dataclass(frozen=True)
class Triggered:
    """The button (or another trigger) was pressed, held or let go."""

    event: ButtonEvent


@dataclass(frozen=True)
class ModelLoaded:
    engine: Engine


@dataclass(frozen=True)
class ModelFailed:
    error: BaseException


@dataclass(frozen=True)
class RecordingEnded:
    """The recording pump stopped: the tail ended, the maximum length, or the microphone failed."""

    gen: int
    error: BaseException | None = None


@dataclass(frozen=True)
class Transcribed:
    gen: int
    result: DictationResult | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Typed:
    """The typing worker ended: all typed, stopped by a press, or failed (``error``)."""

    gen: int
    error: BaseException | None = None


@dataclass(frozen=True)
class Tick:
    """Time passed (the controller's clock is read, not carried: tests inject it)."""


@dataclass(frozen=True)
class StopRequested:
    """SIGTERM, SIGINT or :meth:`appliance.daemon.Daemon.stop`."""


Event = Triggered | ModelLoaded | ModelFailed | RecordingEnded | Transcribed | Typed | Tick
