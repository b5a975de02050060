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
class WakeWordHeard:
    """The wake word was said (:mod:`appliance.wake_trigger`): a hands-free dictation starts
    with the audio after it; ``episode`` names it for its :class:`SpeechEnded`."""

    episode: int
    at_sample: int
    """The microphone's count of samples at the end of the wake word (see Microphone.begin)."""


@dataclass(frozen=True)
class SpeechEnded:
    """The speaker of hands-free dictation ``episode`` has been silent long enough."""

    episode: int


@dataclass(frozen=True)
class ModelLoaded:
    """The engine is warm: the first dictation will not wait for it."""

    engine: Engine


@dataclass(frozen=True)
class ModelFailed:
    error: BaseException  # what is wrong with the model, in plain words


@dataclass(frozen=True)
class WorkerDone:
    """A worker ended; ``gen`` is the recording it worked on, ``error`` why it failed."""

    gen: int
    error: BaseException | None = None


@dataclass(frozen=True)
class RecordingEnded(WorkerDone):
    """The recording pump stopped: the tail ended, the maximum length, or the microphone failed."""


@dataclass(frozen=True)
class Transcribed(WorkerDone):
    """The engine finished the recording (``result``), or failed (``error``)."""

    result: DictationResult | None = None


@dataclass(frozen=True)
class Typed(WorkerDone):
    """The typing worker ended: all typed, stopped by a press, or failed (``error``)."""


@dataclass(frozen=True)
class Tick:
    """Time passed (the controller's clock is read, not carried: tests inject it)."""


@dataclass(frozen=True)
class StopRequested:
    """SIGTERM, SIGINT or :meth:`appliance.daemon.Daemon.stop`."""


Event = (
    Triggered
    | WakeWordHeard
    | SpeechEnded
    | ModelLoaded
    | ModelFailed
    | RecordingEnded
    | Transcribed
    | Typed
    | Tick
)
