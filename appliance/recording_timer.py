"""How long the current recording has run: the elapsed time, the warning, the maximum."""

from __future__ import annotations

import logging
from collections.abc import Callable

from appliance.config import Config
from appliance.status import Publisher

log = logging.getLogger(__name__)

ELAPSED_EVERY_S = 0.25


class RecordingTimer:
    """Part of the controller: it writes ELAPSED, and the controller's WARNING publisher."""

    def __init__(
        self, cfg: Config, elapsed: Publisher, warning: Publisher, clock: Callable[[], float]
    ) -> None:
        self._max_s = cfg.audio.max_recording_s
        self._warn_s = cfg.daemon.max_recording_warning_s
        self._elapsed = elapsed
        self._warning = warning
        self._clock = clock
        self._started = 0.0
        self._last_elapsed = -1.0
        self._warned_s: int | None = None

    def start(self) -> None:
        self._started = self._clock()
        self._last_elapsed = -1.0
        self._warned_s = None
        self._elapsed.publish(0.0)

    def tick(self) -> bool:
        """Publish the time; True once the maximum length is reached."""
        elapsed = self._clock() - self._started
        if elapsed - self._last_elapsed >= ELAPSED_EVERY_S:
            self._last_elapsed = elapsed
            self._elapsed.publish(elapsed)
        left = self._max_s - elapsed
        if left <= 0:
            log.warning("maximum recording time (%.0f s) reached", self._max_s)
            return True
        if left <= self._warn_s:
            secs = int(left + 0.999)
            if secs != self._warned_s:
                self._warned_s = secs
                self._warning.publish("max_recording", f"Stops in {secs} s")
        return False
