"""The push button: gpiozero, with a pin factory that works on a Pi 4, a Pi 5 and in tests.

The Pi 5 moved its GPIO behind the RP1 chip: RPi.GPIO cannot drive it, lgpio can. On a Pi 4
both work. ``pin_factory: auto`` reads the board model from the device tree and picks the
first factory that loads; ``mock`` uses gpiozero's own MockFactory (tests, laptops).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from appliance.config import ButtonConfig

log = logging.getLogger(__name__)

TEST_FIFO_ENV = "STT_KEYBOARD_TEST_BUTTON_FIFO"

MODEL_PATH = Path("/proc/device-tree/model")


class ButtonEvent(StrEnum):
    PRESS = "press"
    RELEASE = "release"
    LONG_PRESS = "long_press"


def pi_model(path: Path = MODEL_PATH) -> str:
    """The board's model string ("Raspberry Pi 5 Model B Rev 1.0"), or "" when not a Pi."""
    try:
        return path.read_bytes().rstrip(b"\x00\n").decode("utf-8", "replace")
    except OSError:
        return ""


def pi_generation(model: str) -> int | None:
    """4 for "Raspberry Pi 4 Model B ...", 5 for a Pi 5 / CM5 / Pi 500, None otherwise."""
    if not model.startswith("Raspberry Pi"):
        return None
    rest = model.removeprefix("Raspberry Pi").strip()
    rest = rest.removeprefix("Compute Module").strip()
    digits = ""
    for ch in rest:
        if not ch.isdigit():
            break
        digits += ch
    if not digits:
        return None
    n = int(digits)
    return 5 if n == 500 else 4 if n == 400 else n


def factory_candidates(name: str, model: str) -> list[str]:
    """Which gpiozero pin factories to try, in order, for a config value and board model."""
    if name != "auto":
        return [name]
    gen = pi_generation(model)
    if gen is None:
        return ["mock"]  # not a Pi: run without a real button
    if gen >= 5:
        return ["lgpio"]  # RPi.GPIO does not work on the Pi 5 (RP1)
    return ["lgpio", "rpigpio", "native"]


def _make_factory(name: str) -> Any:
    if name == "mock":
        from gpiozero import Device
        from gpiozero.pins.mock import MockFactory

        current = Device.pin_factory
        if isinstance(current, MockFactory):
            return current  # tests set Device.pin_factory = MockFactory() and drive its pins
        Device.pin_factory = MockFactory()
        return Device.pin_factory
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if name == "native":
        from gpiozero.pins.native import NativeFactory

        return NativeFactory()
    raise ValueError(f"unknown pin factory {name!r}")


_factory_cache: dict[str, Any] = {}


def pin_factory(name: str = "auto", *, model: str | None = None) -> Any:
    """A gpiozero pin factory for the config value; raises RuntimeError when none loads."""
    board = pi_model() if model is None else model
    errors = []
    for candidate in factory_candidates(name, board):
        if candidate != "mock" and candidate in _factory_cache:
            return _factory_cache[candidate]
        try:
            factory = _make_factory(candidate)
        except Exception as exc:  # ImportError, or the library cannot open the chip
            errors.append(f"{candidate}: {exc}")
            continue
        if candidate != "mock":
            _factory_cache[candidate] = factory
        if name == "auto":
            log.info("GPIO pin factory: %s (%s)", candidate, board or "not a Raspberry Pi")
        return factory
    raise RuntimeError("no GPIO pin factory works here: " + "; ".join(errors))


class Button:
    """A button wired from a GPIO pin to ground; reports press, release and long press."""

    def __init__(
        self,
        cfg: ButtonConfig,
        callback: Callable[[ButtonEvent], None],
        *,
        factory: Any = None,
    ):
        from gpiozero import Button as GpioButton

        self.cfg = cfg
        self._callback = callback
        factory = factory if factory is not None else pin_factory(cfg.pin_factory)
        self._button = GpioButton(
            cfg.pin,
            pull_up=cfg.pull_up,
            bounce_time=cfg.bounce_s or None,
            hold_time=cfg.hold_s,
            pin_factory=factory,
        )
        self._button.when_pressed = lambda *_: self._emit(ButtonEvent.PRESS)
        self._button.when_released = lambda *_: self._emit(ButtonEvent.RELEASE)
        self._button.when_held = lambda *_: self._emit(ButtonEvent.LONG_PRESS)

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def _emit(self, event: ButtonEvent) -> None:
        try:
            self._callback(event)
        except Exception:  # never let a handler kill gpiozero's callback thread
            log.exception("button handler failed on %s", event)

    def close(self) -> None:
        self._button.close()

    def serve_test_fifo(self, path: str) -> None:
        """Test hook, only with gpiozero's mock pins: lines "press" / "release" written to the
        FIFO at ``path`` drive the button's mock pin, so gpiozero reports the edges as usual."""
        from gpiozero.pins.mock import MockPin

        pin = self._button.pin
        if not isinstance(pin, MockPin):
            raise RuntimeError(f"{TEST_FIFO_ENV} works only with the mock pin factory")
        pressed, released = (pin.drive_low, pin.drive_high)
        if not self.cfg.pull_up:
            pressed, released = released, pressed

        def serve() -> None:
            while True:
                with open(path, encoding="utf-8") as fifo:  # blocks until a writer opens it
                    for line in fifo:
                        word = line.strip()
                        if word in ("press", "release"):
                            log.info("test button: %s", word)
                            (pressed if word == "press" else released)()

        threading.Thread(target=serve, name="test-button", daemon=True).start()
        log.warning("test hook: button driven through %s", path)


def open_button(cfg: ButtonConfig, callback: Callable[[ButtonEvent], None]) -> Button | None:
    """The button, or None (logged once) when there is no usable GPIO.

    With ``pin_factory: mock`` and ``$STT_KEYBOARD_TEST_BUTTON_FIFO`` set, the FIFO drives the
    mock pin (:meth:`Button.serve_test_fifo`): the end-to-end test presses the button this way.
    """
    try:
        button = Button(cfg, callback)
    except Exception as exc:
        log.warning("no button (GPIO %d): %s; running without it", cfg.pin, exc)
        return None
    fifo = os.environ.get(TEST_FIFO_ENV)
    if fifo and cfg.pin_factory == "mock":
        button.serve_test_fifo(fifo)
    return button
