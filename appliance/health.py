"""The parts the appliance needs, and whether each is there: microphone, USB gadget, host.

The one owner of the MICROPHONE and HOST topics. It opens the microphone and the typist
(with back-off: opening PortAudio is slow and noisy), asks the USB controller whether a host
configured us, and hears from the controller when typing found the host gone. The
controller asks :meth:`Health.check` and gets the first :class:`Problem`, or None.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from appliance.dictation_typer import Typist
from appliance.errors import MicrophoneError
from appliance.parts import LevelFn, Microphone, Parts
from appliance.status import Publisher, StatusBus, Topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    code: str  # no_microphone, no_gadget, no_host, model, opening
    headline: str  # the OLED's headline
    detail: str  # what to do


NO_HOST = Problem(
    "no_host",
    "Host not connected",
    "Plug the Pi's USB-C port into the computer (a data cable, not a charger).",
)
HOST_STOPPED = Problem("no_host", "Host not connected", "The computer stopped listening.")
# Not an error: the first opening of the microphone has not answered yet (the state stays).
OPENING_MICROPHONE = Problem("opening", "Opening the microphone", "It answers in a moment.")


def microphone_problem(error: BaseException) -> Problem:
    """What the OLED says of a failed microphone (a MicrophoneError knows its own detail)."""
    detail = error.detail if isinstance(error, MicrophoneError) else str(error).strip()
    detail = detail or "Plug in a USB microphone."
    return Problem("no_microphone", "No microphone", detail[0].upper() + detail[1:])


class Health:
    """Opens the parts, probes them, and says what is missing."""

    def __init__(
        self,
        bus: StatusBus,
        parts: Parts,
        *,
        text: Publisher,
        level: LevelFn,
        gadget_path: str,
        clock: Callable[[], float],
        retry_s: float = 1.0,
    ) -> None:
        """``text`` goes to the typist it opens; ``level`` to the microphone."""
        self._microphone_topic = bus.publisher(Topic.MICROPHONE, "health")
        self._host_topic = bus.publisher(Topic.HOST, "health")
        self._parts = parts
        self._text = text
        self._level = level
        self._gadget_path = gadget_path
        self._clock = clock
        self.retry_s = retry_s
        self.microphone: Microphone | None = None
        self.typist: Typist | None = None
        self._mic_failures = 0
        self._mic_next_try = 0.0
        self._mic_problem: Problem | None = None
        self._mic_up = False  # what MICROPHONE last said

    def prepare(self) -> None:
        """Start opening the microphone while the model loads (its process takes a moment)."""
        self._check_microphone(now=True)

    def check(self, *, now: bool = False) -> Problem | None:
        """Microphone, gadget, host, in that order: the first problem, or None.

        ``now``: also try a missing microphone that is backed off (the user pressed).
        """
        return self._check_microphone(now) or self._check_typist() or self._check_host()

    def microphone_lost(self, error: BaseException) -> Problem:
        """The recording failed: the microphone is closed and opened again later."""
        self._close_microphone()
        return self._failed(error)

    def host_lost(self) -> Problem:
        """Typing found no host taking reports: offline until the next probe finds one."""
        self._publish_host(False)
        return HOST_STOPPED if self._udc_configured() else NO_HOST

    def typist_broken(self, error: BaseException) -> Problem:
        """Typing failed for another reason than the host: the device is opened again."""
        self._close_typist()
        return Problem("no_gadget", "USB keyboard unavailable", str(error))

    def close(self) -> None:
        self._close_microphone()
        self._close_typist()

    # ------------------------------------------------------------------ the probes
    def _check_microphone(self, now: bool) -> Problem | None:
        """Opening runs in the background: the problem before it (None at the start) stays
        until the device answers; a failure backs off before the next try."""
        mic = self.microphone
        if mic is not None:
            if mic.opening:
                return self._mic_problem or OPENING_MICROPHONE
            if mic.alive:
                self._mic_failures, self._mic_problem = 0, None
                if not self._mic_up:
                    self._mic_up = True
                    self._microphone_topic.publish(True)
                return None
            error = mic.error
            if error is None:
                log.warning("microphone stopped delivering audio")
                error = MicrophoneError("it stopped delivering audio")
            self._close_microphone()
            return self._failed(error)
        t = self._clock()
        if not now and t < self._mic_next_try and self._mic_problem is not None:
            return self._mic_problem
        try:
            mic = self._parts.open_microphone(self._level)
            mic.start()
        except Exception as exc:
            return self._failed(exc)
        self.microphone = mic
        return self._check_microphone(now)

    def _failed(self, error: BaseException) -> Problem:
        """The microphone failed to open or stopped: tried again after a growing pause."""
        if self._mic_up or self._microphone_topic.last() is None:
            self._microphone_topic.publish(False)
        self._mic_up = False
        self._mic_failures += 1
        backoff = min(self.retry_s * 2 ** (self._mic_failures - 1), 10 * self.retry_s)
        self._mic_next_try = self._clock() + backoff
        self._mic_problem = microphone_problem(error)
        return self._mic_problem

    def _check_typist(self) -> Problem | None:
        if self.typist is not None:
            return None
        try:
            self.typist = self._parts.open_typist(self._text)
        except FileNotFoundError as exc:
            return Problem(
                "no_gadget",
                "USB gadget not set up",
                f"{exc.filename or self._gadget_path} is missing: check "
                "'systemctl status stt-keyboard-gadget' and dtoverlay=dwc2.",
            )
        except Exception as exc:
            return Problem("no_gadget", "USB keyboard unavailable", str(exc))
        return None

    def _check_host(self) -> Problem | None:
        connected = self._udc_configured()
        self._publish_host(connected)
        return None if connected else NO_HOST

    def _udc_configured(self) -> bool:
        try:
            return bool(self._parts.host_connected())
        except Exception:
            return False

    def _publish_host(self, connected: bool) -> None:
        last = self._host_topic.last()
        if last is None or last.value != connected:
            self._host_topic.publish(connected)
            if connected and self.typist is not None:
                # A run killed mid-typing (or a host that saw a press before its cable was
                # pulled) may hold a key down: the first report to a host releases them all.
                self.typist.release_all()

    def _close_microphone(self) -> None:
        mic, self.microphone = self.microphone, None
        if mic is not None:
            with contextlib.suppress(Exception):
                mic.close()

    def _close_typist(self) -> None:
        typist, self.typist = self.typist, None
        if typist is not None:
            with contextlib.suppress(Exception):
                typist.close()
