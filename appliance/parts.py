"""The parts the daemon drives, as it needs them: the real ones or a test's fakes.

:func:`appliance.daemon.real_parts` gives the real engine loader, microphone and typist;
tests pass their own :class:`Parts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from appliance.bluetooth.paired_host import PairedHost
from appliance.dictation_typer import Typist
from appliance.engine import Engine, ProgressFn
from appliance.hid.device import udc_configured
from appliance.status import Publisher

LevelFn = Callable[[float], None]
AudioListener = Callable[[np.ndarray, int], None]
"""Hears every block of the microphone and the stream's sample count at its end."""


class Recording(Protocol):
    def blocks(self, timeout_s: float = ...) -> Iterator[np.ndarray]: ...


class Microphone(Protocol):
    """What the appliance uses of :class:`appliance.audio.Microphone`."""

    @property
    def alive(self) -> bool:
        """Open, and audio arrived recently."""

    @property
    def opening(self) -> bool:
        """Started, and the device has not answered yet (nor failed)."""

    @property
    def error(self) -> Exception | None:
        """Why it did not open or stopped."""

    def start(self) -> None:
        """Begins opening the device; returns before it is open (never blocks the loop)."""

    def close(self) -> None: ...
    def begin(self, since: int | None = None) -> Recording:
        """A recording with the pre-roll (None), or only what was heard after sample ``since``
        of the stream (the wake word's end: its words are not typed)."""

    def end(self) -> None:
        """The recording ends after the tail (``audio.tail_s``)."""

    def stop(self) -> None:
        """The recording ends now (the tail was not needed)."""

    def cancel(self) -> None: ...


class BluetoothControl(Protocol):
    """What the controller's gestures use of the Bluetooth keyboard."""

    @property
    def pairing(self) -> bool: ...
    def set_pairing(self, on: bool) -> None:
        """Pairing mode: discoverable, and one new host may pair."""

    def select_next_host(self) -> PairedHost | None:
        """Type to the next paired host from now on (None: no host has paired)."""


@dataclass(frozen=True)
class Parts:
    """How the daemon gets each part it drives."""

    load_engine: Callable[[ProgressFn], Engine]
    open_microphone: Callable[[LevelFn], Microphone]
    open_typist: Callable[[Publisher], Typist]
    """Given the TEXT topic's publisher: the typist says what it is typing."""
    host_connected: Callable[[], bool] = udc_configured
    bluetooth: BluetoothControl | None = None
    """The Bluetooth keyboard's pairing and host choice (None: hid.output usb)."""
