"""Status LEDs: none, one, two (red + green) or an RGB LED, one pattern per state.

    starting      slow blink (green / white)
    ready         steady (single LED: dimmed; dual: green; rgb: green)
    listening     ready, and listening for the wake word: steady (single: half; dual: green;
                  rgb: blue)
    recording     on (single: full; dual: red; rgb: red)
    warning       recording near its maximum: fast blink in the recording colour
    transcribing  blinking (dual: green; rgb: blue)
    typing        blinking (dual: green; rgb: cyan)
    error         fast blink (dual: red; rgb: red)
    stopped       off
    a gesture's answer (undo, retype, language): a second of the warning's fast blink

The LEDs listen to the status bus; the core never calls them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from appliance.config import LedConfig
from appliance.status import State, Status, StatusBus, Topic

log = logging.getLogger(__name__)

Mode = Literal["off", "steady", "blink", "fast"]
Color = tuple[float, float, float]

RED: Color = (1.0, 0.0, 0.0)
GREEN: Color = (0.0, 1.0, 0.0)
BLUE: Color = (0.0, 0.0, 1.0)
CYAN: Color = (0.0, 0.6, 1.0)
WHITE: Color = (1.0, 1.0, 1.0)
AMBER: Color = (1.0, 0.4, 0.0)

BLINK = (0.4, 0.4)  # on, off seconds
FAST = (0.1, 0.1)
SLOW = (0.8, 0.8)


@dataclass(frozen=True)
class Pattern:
    """What the LEDs show: a mode and a colour (an RGB triple; dual maps red/green)."""

    name: str
    mode: Mode
    color: Color = WHITE
    level: float = 1.0  # single LED brightness for "steady"
    slow: bool = False


PATTERNS: dict[str, Pattern] = {
    "starting": Pattern("starting", "blink", GREEN, slow=True),
    "ready": Pattern("ready", "steady", GREEN, level=0.15),
    "listening": Pattern("listening", "steady", BLUE, level=0.5),
    "recording": Pattern("recording", "steady", RED),
    "warning": Pattern("warning", "fast", AMBER),
    "transcribing": Pattern("transcribing", "blink", BLUE),
    "typing": Pattern("typing", "blink", CYAN),
    "error": Pattern("error", "fast", RED),
    "stopped": Pattern("stopped", "off"),
}


def pattern_for(state: State, *, warning: bool = False, listening: bool = False) -> Pattern:
    if state is State.RECORDING and warning:
        return PATTERNS["warning"]
    if state is State.READY and listening:
        return PATTERNS["listening"]
    return PATTERNS[state.value]


class StatusLight(Protocol):
    """What the status bus drives: the wired LEDs, or the board's own LED."""

    current: Pattern | None

    def show(self, pattern: Pattern) -> None: ...

    def close(self) -> None: ...


class Leds:
    """Drives the configured LEDs; ``show(pattern)`` is all the rest of the code needs."""

    def __init__(self, cfg: LedConfig, *, factory: Any = None):
        self.cfg = cfg
        self.kind = cfg.kind
        self.current: Pattern | None = None
        self._lock = threading.Lock()
        self._device: Any = None
        self._pwm = False
        if cfg.kind == "none":
            return
        need = {"single": 1, "dual": 2, "rgb": 3}[cfg.kind]
        if len(cfg.pins) != need:
            raise ValueError(f"leds.pins: {cfg.kind} needs {need} pin(s), got {cfg.pins}")
        from gpiozero import LED, PWMLED, RGBLED, LEDBoard

        kw: dict[str, Any] = {"active_high": cfg.active_high}
        if factory is not None:
            kw["pin_factory"] = factory
        if cfg.kind == "single":
            try:
                self._device = PWMLED(cfg.pins[0], **kw)
                self._pwm = True
            except Exception:  # no PWM on this pin factory: plain on/off
                self._device = LED(cfg.pins[0], **kw)
        elif cfg.kind == "dual":
            self._device = LEDBoard(
                red=cfg.pins[0], green=cfg.pins[1], pwm=False, _order=("red", "green"), **kw
            )
        else:
            try:
                self._device = RGBLED(*cfg.pins, pwm=True, **kw)
                self._pwm = True
            except Exception:
                self._device = RGBLED(*cfg.pins, pwm=False, **kw)

    # -- what is shown
    def _value(self, p: Pattern) -> Any:
        """The gpiozero value for the pattern's lit phase."""
        if self.kind == "single":
            return p.level if (self._pwm and p.mode == "steady") else 1
        if self.kind == "dual":
            r, g, _b = p.color
            return (1 if r >= 0.5 else 0, 1 if g >= 0.5 or (r < 0.5 and _b > 0) else 0)
        if self._pwm:
            return p.color
        return tuple(1 if c >= 0.5 else 0 for c in p.color)

    def show(self, pattern: Pattern) -> None:
        with self._lock:
            if pattern == self.current:
                return
            self.current = pattern
            if self._device is None:
                return
            dev = self._device
            try:
                if pattern.mode == "off":
                    dev.off()
                    return
                value = self._value(pattern)
                if pattern.mode == "steady":
                    dev.value = value
                    return
                on, off = SLOW if pattern.slow else FAST if pattern.mode == "fast" else BLINK
                if self.kind == "single":
                    dev.blink(on_time=on, off_time=off, background=True)
                elif self.kind == "dual":
                    # blink only the LEDs of the colour: set the others off first
                    dev.off()
                    for led, lit in zip((dev.red, dev.green), value, strict=True):
                        if lit:
                            led.blink(on_time=on, off_time=off, background=True)
                else:
                    kw: dict[str, Any] = {"on_color": value, "background": True}
                    if self._pwm:
                        kw.update(fade_in_time=0, fade_out_time=0)
                    dev.blink(on_time=on, off_time=off, **kw)
            except Exception:
                log.exception("LED pattern %s failed", pattern.name)

    @property
    def lit(self) -> Any:
        """The LEDs' current value (for tests and the doctor)."""
        return None if self._device is None else self._device.value

    def close(self) -> None:
        with self._lock:
            if self._device is not None:
                try:
                    self._device.off()
                finally:
                    self._device.close()
                self._device = None


# A button gesture's answer (undo, retype, the language switched, or why not), and text the
# device typed itself because the remote engine's server failed: a second of
# fast blinking, then the state's pattern again. The OLED and the journal say which.
GESTURE_ANSWERS = ("undo", "retype", "language")
ANSWER_S = 1.0


class LedListener:
    """Follows the status bus: the state, the max-recording warning, gestures' answers."""

    def __init__(self, leds: StatusLight):
        self.leds = leds
        self._state = State.STARTING
        self._warning = False
        self._listening = False
        self._lock = threading.Lock()
        self._answer: threading.Timer | None = None
        self._fallback_typed = False

    def __call__(self, status: Status) -> None:
        if status.topic is Topic.STATE:
            self._state = State(status.value)
            self._warning = False
        elif status.topic is Topic.WARNING and status.value in GESTURE_ANSWERS:
            self._answer_gesture()
            return
        elif status.topic is Topic.ENGINE:
            # The server failed and the device transcribed: answered once the text is typed
            # (back to ready), so the typing pattern does not cut it short.
            self._fallback_typed = bool(status.extra.get("fallback"))
            return
        elif status.topic is Topic.WARNING:
            self._warning = status.value == "max_recording"
        elif status.topic is Topic.LISTENING:
            self._listening = bool(status.value)
        else:
            return
        with self._lock:
            if self._answer is not None:
                self._answer.cancel()
                self._answer = None
        self.leds.show(self._pattern())
        if self._state is State.READY and self._fallback_typed:
            self._fallback_typed = False
            self._answer_gesture()

    def _answer_gesture(self) -> None:
        with self._lock:
            if self._answer is not None:
                self._answer.cancel()
            timer = threading.Timer(ANSWER_S, self._end_answer)
            timer.args = (timer,)
            timer.daemon = True
            self._answer = timer
            self.leds.show(PATTERNS["warning"])
            timer.start()

    def _end_answer(self, timer: threading.Timer) -> None:
        with self._lock:
            if self._answer is not timer:  # a newer answer began as this one ended
                return
            self._answer = None
            self.leds.show(self._pattern())

    def _pattern(self) -> Pattern:
        return pattern_for(self._state, warning=self._warning, listening=self._listening)


def open_leds(cfg: LedConfig, bus: StatusBus, *, factory: Any = None) -> StatusLight | None:
    """LEDs attached to the bus, or None (logged once) when none are configured or usable.
    With none wired, the board's own LED (``leds.activity``) if it has one."""
    if cfg.kind == "none":
        from appliance.ui.activity_led import open_activity_led

        light = open_activity_led(cfg.activity)
        if light is not None:
            bus.subscribe(LedListener(light))
        return light
    if factory is None:
        from appliance.ui.button import pin_factory

        try:
            factory = pin_factory("auto")
        except Exception as exc:
            log.warning("no status LEDs: %s", exc)
            return None
    try:
        leds = Leds(cfg, factory=factory)
    except Exception as exc:
        log.warning("no status LEDs (%s on pins %s): %s; running without", cfg.kind, cfg.pins, exc)
        return None
    bus.subscribe(LedListener(leds))
    return leds
