"""The push button, through gpiozero.

``pin_factory: auto`` on a Raspberry Pi is gpiozero's own choice (``$GPIOZERO_PIN_FACTORY``,
else the first of lgpio, RPi.GPIO, pigpio and native that loads: lgpio on a Pi 5, whose RP1
chip RPi.GPIO cannot drive). Off a Pi it is ``mock``, so the daemon runs without a button.
A name (``lgpio``, ``rpigpio``, ``native``, ``mock``) is looked up in gpiozero's registry of
pin factories; ``mock`` is gpiozero's MockFactory (tests, laptops).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from appliance.config import ButtonConfig

log = logging.getLogger(__name__)

MODEL_PATH = Path("/proc/device-tree/model")
GPIOZERO_DEFAULT = "gpiozero's default (lgpio, else RPi.GPIO, pigpio, native)"


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


def factory_choice(name: str, model: str) -> str:
    """The pin factory a config value means on this board: ``"auto"`` (gpiozero's default,
    on a Pi), ``"mock"`` (``auto`` off a Pi) or the name given."""
    if name == "auto" and pi_generation(model) is None:
        return "mock"  # not a Pi: run without a real button
    return name


def _mock_factory() -> Any:
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    if not isinstance(Device.pin_factory, MockFactory):
        Device.pin_factory = MockFactory()
    return Device.pin_factory  # a test that set its own MockFactory drives its pins


def _default_factory() -> Any:
    """gpiozero's own choice, kept as its ``Device.pin_factory``; the libraries it passed
    over are logged (and named in the error when none loads)."""
    from gpiozero import Device

    with warnings.catch_warnings(record=True) as passed_over:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
        except Exception as exc:
            reasons = "; ".join(str(w.message) for w in passed_over)
            raise RuntimeError(f"{exc} ({reasons})" if reasons else str(exc)) from exc
    for w in passed_over:
        log.info("GPIO: %s", w.message)
    return Device.pin_factory


_named_factories: dict[str, Any] = {}  # the button and the LEDs share one


def _named_factory(name: str) -> Any:
    """The factory gpiozero registers under ``name`` (as ``$GPIOZERO_PIN_FACTORY`` would)."""
    if name not in _named_factories:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == name]
        if not found:
            raise ValueError(f"unknown pin factory {name!r}")
        _named_factories[name] = found[0].load()()
    return _named_factories[name]


def pin_factory(name: str = "auto", *, model: str | None = None) -> Any:
    """A gpiozero pin factory for the config value; raises RuntimeError when none loads."""
    board = pi_model() if model is None else model
    chosen = factory_choice(name, board)
    if chosen == "mock":
        return _mock_factory()
    try:
        factory = _default_factory() if chosen == "auto" else _named_factory(chosen)
    except Exception as exc:  # ImportError, or the library cannot open the chip
        raise RuntimeError(f"no GPIO pin factory works here: {chosen}: {exc}") from exc
    if chosen == "auto":
        log.info("GPIO pin factory: %s (%s)", type(factory).__name__, board)
    return factory


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


def open_button(cfg: ButtonConfig, callback: Callable[[ButtonEvent], None]) -> Button | None:
    """The button, or None (logged once) when there is no usable GPIO."""
    try:
        return Button(cfg, callback)
    except Exception as exc:
        log.warning("no button (GPIO %d): %s; running without it", cfg.pin, exc)
        return None
