"""The OLED: follows the status bus and draws the screens of ``screens.py`` with luma.oled.

SSD1306 or SH1106 over I²C, 128×64 or 128×32. Dims itself after a while idle, and moves the
picture by a pixel now and then so a long-shown "Ready" does not burn in. Any luma device
works, including ``luma.core.device.dummy`` (tests, docs).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from appliance.config import OledConfig
from appliance.status import State, Status, StatusBus, Topic
from appliance.ui.screens import ScreenModel, render, shifted

log = logging.getLogger(__name__)

BRIGHT = 0xCF
DIM = 0x08
SHIFT_EVERY_S = 120.0
SHIFTS = [(0, 0), (1, 0), (1, 1), (0, 1)]
FPS = 8.0


def open_device(cfg: OledConfig) -> Any:
    """The luma device for the config (raises when the display does not answer)."""
    from luma.core.interface.serial import i2c

    serial = i2c(port=cfg.i2c_port, address=cfg.i2c_address)
    if cfg.driver == "sh1106":
        from luma.oled.device import sh1106

        return sh1106(serial, width=cfg.width, height=cfg.height, rotate=cfg.rotate)
    from luma.oled.device import ssd1306

    return ssd1306(serial, width=cfg.width, height=cfg.height, rotate=cfg.rotate)


class Oled:
    """A bus listener that keeps a ScreenModel and draws it on a luma device."""

    def __init__(
        self,
        device: Any,
        *,
        dim_after_s: float = 30.0,
        base: ScreenModel | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.device = device
        self.dim_after_s = dim_after_s
        self.model = base or ScreenModel()
        self._clock = clock
        self._lock = threading.RLock()
        self._dirty = True
        self._last_activity = clock()
        self._last_shift = clock()
        self._shift_index = 0
        self.dimmed = False
        self.last_image: Image.Image | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._set_contrast(BRIGHT)

    # -- bus
    def __call__(self, status: Status) -> None:
        with self._lock:
            m = self.model
            t = status.topic
            if t is Topic.STATE:
                state = State(status.value)
                changes: dict[str, Any] = {"state": state}
                if state is State.ERROR:
                    changes["reason"] = status.message or "Error"
                    changes["detail"] = status.extra.get("detail", "")
                elif state is State.RECORDING:
                    changes.update(level=0.0, elapsed_s=0.0, warning="")
                elif state is State.TYPING:
                    changes["text"] = ""
                m = m.with_(**changes)
                self._wake()
            elif t is Topic.PROGRESS:
                m = m.with_(
                    progress=float(status.value or 0.0),
                    progress_label=status.message or m.progress_label,
                )
            elif t is Topic.LEVEL:
                m = m.with_(level=float(status.value or 0.0))
            elif t is Topic.ELAPSED:
                m = m.with_(elapsed_s=float(status.value or 0.0))
            elif t is Topic.HOST:
                m = m.with_(host=bool(status.value))
                self._wake()
            elif t is Topic.MICROPHONE:
                m = m.with_(microphone=bool(status.value))
            elif t is Topic.TEXT:
                m = m.with_(text=str(status.value or ""))
            elif t is Topic.WARNING:
                m = m.with_(warning=status.message)
                self._wake()
            elif t is Topic.ERROR:
                m = m.with_(detail=status.message)
            elif t is Topic.LANGUAGE:
                m = m.with_(language=str(status.value or ""))
            elif t is Topic.ENGINE:
                fallback = status.extra.get("fallback", False)
                m = m.with_(engine=f"{status.value}, server failed" if fallback else status.value)
            elif t is Topic.LISTENING:
                m = m.with_(listening=str(status.value or ""))
            else:
                return
            if m != self.model:
                self.model = m
                self._dirty = True
        if self._thread is None:
            self.refresh()  # no render thread: draw synchronously

    def _wake(self) -> None:
        self._last_activity = self._clock()
        if self.dimmed:
            self._set_contrast(BRIGHT)
            self.dimmed = False

    def _set_contrast(self, level: int) -> None:
        try:
            self.device.contrast(level)
        except Exception:
            log.debug("display contrast not supported", exc_info=True)

    # -- drawing
    def image(self) -> Image.Image:
        """The current screen, shifted, at the device's size."""
        with self._lock:
            img = render(self.model, (self.device.width, self.device.height))
            dx, dy = SHIFTS[self._shift_index]
        return shifted(img, dx, dy)

    def refresh(self, *, force: bool = False) -> bool:
        """Draw if something changed; returns whether it drew."""
        with self._lock:
            if not (self._dirty or force):
                return False
            self._dirty = False
            img = self.image()
            self.last_image = img
        try:
            self.device.display(img.convert(self.device.mode))
        except Exception:
            log.exception("display update failed")
        return True

    def tick(self) -> None:
        """Animation, dimming and pixel shift; call a few times a second."""
        now = self._clock()
        with self._lock:
            state = self.model.state
            if state in (State.RECORDING, State.TRANSCRIBING):
                self.model = self.model.with_(frame=self.model.frame + 1)
                self._dirty = True
            idle = state in (State.READY, State.ERROR, State.STOPPED)
            if (
                idle
                and self.dim_after_s > 0
                and not self.dimmed
                and now - self._last_activity >= self.dim_after_s
            ):
                self._set_contrast(DIM)
                self.dimmed = True
            if now - self._last_shift >= SHIFT_EVERY_S:
                self._last_shift = now
                self._shift_index = (self._shift_index + 1) % len(SHIFTS)
                self._dirty = True
        self.refresh()

    # -- lifecycle
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="oled", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(1.0 / FPS):
            try:
                self.tick()
            except Exception:
                log.exception("OLED update failed")

    def close(self, *, final: State | None = None) -> None:
        """Stop the render thread; draw a final screen (e.g. "Stopped") and keep it lit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if final is not None:
            with self._lock:
                self.model = self.model.with_(state=final)
                self._dirty = True
            self._wake()
            self.refresh()
        with contextlib.suppress(Exception):  # keep the last screen lit on exit
            self.device.cleanup = lambda *a, **k: None


def open_oled(cfg: OledConfig, bus: StatusBus, *, base: ScreenModel | None = None) -> Oled | None:
    """The OLED attached to the bus, or None (logged once) when disabled or not answering."""
    if not cfg.enabled:
        log.info("no OLED configured")
        return None
    try:
        device = open_device(cfg)
    except Exception as exc:
        log.warning(
            "no OLED (%s at I²C bus %d address 0x%02X): %s; running without",
            cfg.driver,
            cfg.i2c_port,
            cfg.i2c_address,
            exc,
        )
        return None
    oled = Oled(device, dim_after_s=cfg.dim_after_s, base=base)
    bus.subscribe(oled)
    oled.start()
    return oled
