"""The device's state and its last problems in a small text file, for a device with no screen.

A button-only build has no display and (on the image) no network: when it does not type, the
user takes the SD card out and any computer shows ``stt-keyboard-status.txt`` on its boot
partition. The daemon writes the file into its own state directory (it may not write the boot
partition); ``stt-keyboard-status.path`` copies each new version there. Writes are rate-limited
(an SD card wears, and a state change every second must not mean a write every second) and
atomic (a power cut leaves the old file or the new one).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.atomic_file import write_atomically
from appliance.status import State, Status, StatusBus, Topic

log = logging.getLogger(__name__)

NAME = "status.txt"
MIN_INTERVAL_S = 10.0  # at most one write per 10 s; what changed meanwhile is written then
KEEP_PROBLEMS = 10
HEADER = "STT Keyboard status (written by the device)"
PROBLEMS = "last problems, newest first:"
NO_PROBLEMS = "(none)"


def _stamp(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def earlier_problems(text: str) -> list[str]:
    """The problem lines of a file an earlier run wrote (they survive restarts)."""
    lines = text.splitlines()
    if PROBLEMS not in lines:
        return []
    return [ln for ln in lines[lines.index(PROBLEMS) + 1 :] if ln.strip() and ln != NO_PROBLEMS][
        :KEEP_PROBLEMS
    ]


class StatusFile:
    """Follows the bus's STATE topic; ``problem()`` records what stopped the service early."""

    def __init__(
        self,
        path: Path,
        *,
        min_interval_s: float = MIN_INTERVAL_S,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.min_interval_s = min_interval_s
        self._wall = wall
        self._clock = clock
        self._lock = threading.Lock()
        self._state = "starting"
        self._since = wall()
        self._problems: list[str] = []
        self._last_write = -float("inf")
        self._timer: threading.Timer | None = None
        self.writes = 0
        with contextlib.suppress(OSError, UnicodeDecodeError):
            self._problems = earlier_problems(path.read_text(encoding="utf-8"))

    # -- what is recorded ----------------------------------------------------------------

    def __call__(self, status: Status) -> None:
        if status.topic is not Topic.STATE:
            return
        state = State(status.value)
        line = state.value + (f": {status.message}" if status.message else "")
        detail = status.extra.get("detail", "")
        if state is State.ERROR:
            self._add_problem(status.message + (f" ({detail})" if detail else ""))
        self._set_state(line)

    def problem(self, text: str) -> None:
        """A problem the bus never saw (a config error before the daemon starts): written now."""
        self._add_problem(text)
        with self._lock:
            self._state, self._since = f"not running: {text}", self._wall()
        self.flush()

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._write()

    # -- internals -----------------------------------------------------------------------

    def _add_problem(self, text: str) -> None:
        with self._lock:
            self._problems.insert(0, f"{_stamp(self._wall())}  {text}")
            del self._problems[KEEP_PROBLEMS:]

    def _set_state(self, line: str) -> None:
        with self._lock:
            self._state, self._since = line, self._wall()
            if self._timer is not None:
                return  # a write is due: it will carry this
            wait = self._last_write + self.min_interval_s - self._clock()
            if wait > 0:
                self._timer = threading.Timer(wait, self._timed_write)
                self._timer.daemon = True
                self._timer.start()
                return
        self._write()

    def _timed_write(self) -> None:
        with self._lock:
            self._timer = None
        self._write()

    def _text(self) -> str:
        with self._lock:
            lines = [
                HEADER,
                f"written: {_stamp(self._wall())}",
                f"state: {self._state} (since {_stamp(self._since)})",
                "",
                PROBLEMS,
                *(self._problems or [NO_PROBLEMS]),
            ]
        return "\n".join(lines) + "\n"

    def _write(self) -> None:
        text = self._text()
        try:
            write_atomically(self.path, text)
        except OSError as exc:
            log.warning("could not write the status file %s: %s", self.path, exc)
            return
        with self._lock:
            self._last_write = self._clock()
            self.writes += 1


def open_status_file(bus: StatusBus | None, directory: Path) -> StatusFile:
    status_file = StatusFile(directory / NAME)
    if bus is not None:
        bus.subscribe(status_file)
    return status_file
