"""The board's own LED (a Pi's green ACT LED) as the status light when none is wired.

A button-only build has no other feedback: with ``leds.kind: none`` the states show on the LED
every Pi has, through the kernel's LED class (``/sys/class/leds/ACT``, ``led0`` on older
kernels). The LED is taken from its kernel trigger (SD card activity) while the service runs
and given back to it at the end. It is on/off only, so "ready" is a short flash every two
seconds and "recording" is steadily on.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from appliance.ui.leds import Pattern

log = logging.getLogger(__name__)

LEDS_DIR = Path("/sys/class/leds")
NAMES = ("ACT", "led0")  # Raspberry Pi OS Bookworm's name first, then the older one

# (on, off) seconds for each pattern of an on/off LED; None = steadily on.
TIMING: dict[str, tuple[float, float] | None] = {
    "starting": (0.8, 0.8),
    "ready": (0.05, 1.95),
    "listening": (0.05, 0.45),  # ready, and listening for the wake word: twice a second
    "recording": None,
    "warning": (0.1, 0.1),
    "transcribing": (0.4, 0.4),
    "typing": (0.4, 0.4),
    "error": (0.1, 0.1),
}


def find_activity_led(setting: str, leds_dir: Path | None = None) -> Path | None:
    """The LED's sysfs directory: ``auto`` tries the Pi's names, anything else is a name."""
    if setting == "off":
        return None
    names = NAMES if setting == "auto" else (setting,)
    for name in names:
        path = (leds_dir or LEDS_DIR) / name
        if (path / "brightness").exists():
            return path
    return None


def _own_trigger(text: str) -> str:
    """The trigger to give the LED back to: the selected one of ``none [mmc0] timer``, unless
    it is what an earlier run left (``timer``: blinking on after a config error; ``none``:
    killed while it drove the LED), then the SD card's (``mmc0``) if the kernel has it."""
    words = text.split()
    selected = next((w[1:-1] for w in words if w.startswith("[") and w.endswith("]")), "none")
    if selected in ("timer", "none") and "mmc0" in words:
        return "mmc0"
    return selected


class ActivityLed:
    """Shows a :class:`Pattern` on a sysfs LED; a thread of its own does the blinking."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: Pattern | None = None
        self._max = int((path / "max_brightness").read_text().strip() or 1)
        self._old_trigger = _own_trigger((path / "trigger").read_text())
        self._write("trigger", "none")  # PermissionError here: the caller runs without it
        self._timing: tuple[float, float] | None = None
        self._steady = False
        self._changed = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="activity-led", daemon=True)
        self._thread.start()

    def show(self, pattern: Pattern) -> None:
        with self._lock:
            if pattern == self.current or self._closed:
                return
            self.current = pattern
            if pattern.mode == "off":
                self._timing, self._steady = None, False
            else:
                self._timing = TIMING.get(pattern.name, (0.4, 0.4))
                self._steady = self._timing is None
        self._changed.set()

    def close(self) -> None:
        """Off, and back to the kernel's own use of the LED (SD card activity on a Pi)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._changed.set()
        self._thread.join(timeout=2)
        try:
            self._set(False)
            self._write("trigger", self._old_trigger)
        except OSError as exc:
            log.warning(
                "could not give %s back to its trigger %s: %s", self.path, self._old_trigger, exc
            )

    # -- internals -----------------------------------------------------------------------

    def _run(self) -> None:
        lit = False
        while True:
            self._changed.clear()
            with self._lock:
                closed, timing, steady = self._closed, self._timing, self._steady
            if closed:
                return
            try:
                if steady or timing is None:
                    self._set(steady)
                    self._changed.wait()
                    continue
                lit = not lit
                self._set(lit)
            except OSError as exc:
                log.warning("activity LED %s: %s; it stays as it is", self.path, exc)
                return
            self._changed.wait(timing[0] if lit else timing[1])

    def _set(self, on: bool) -> None:
        self._write("brightness", str(self._max if on else 0))

    def _write(self, name: str, value: str) -> None:
        with open(self.path / name, "w") as fh:
            fh.write(value)


def blink_after_exit(setting: str, leds_dir: Path | None = None) -> bool:
    """The service cannot start (a config error): the kernel blinks the LED (its timer
    trigger, once a second) after the process is gone; the next start takes it back."""
    path = find_activity_led(setting, leds_dir)
    if path is None:
        return False
    try:
        (path / "trigger").write_text("timer")
    except OSError as exc:
        log.warning("board LED %s: %s", path, exc)
        return False
    return True


def open_activity_led(setting: str, leds_dir: Path | None = None) -> ActivityLed | None:
    """The board's LED as the status light, or None (logged once) when there is none or the
    service may not drive it."""
    path = find_activity_led(setting, leds_dir)
    if path is None:
        if setting != "off":
            log.info("no status LEDs configured, and no board LED (%s) to show the states", setting)
        return None
    try:
        led = ActivityLed(path)
    except OSError as exc:
        log.warning("board LED %s: %s; no status light", path, exc)
        return None
    log.info("status light: the board's LED %s (leds.kind: none)", path.name)
    return led
