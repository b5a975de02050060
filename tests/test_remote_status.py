"""Which engine typed the text reaches the OLED and the LEDs (the ENGINE topic's one writer
is the remote engine; the journal line is tested with the real servers)."""

from __future__ import annotations

import time

from luma.core.device import dummy

from appliance.status import State, StatusBus, Topic
from appliance.ui.leds import ANSWER_S, PATTERNS, LedListener, Pattern
from appliance.ui.oled import Oled
from appliance.ui.screens import lit_pixels


class RecordingLight:
    """Stands in for the LED hardware behind the StatusLight interface the listener drives."""

    def __init__(self) -> None:
        self.current: Pattern | None = None
        self.shown: list[str] = []

    def show(self, pattern: Pattern) -> None:
        self.current = pattern
        self.shown.append(pattern.name)

    def close(self) -> None:
        pass


def dictation(bus_state, engine, *, fallback: bool) -> None:
    bus_state.publish(State.TRANSCRIBING)
    value = "local" if fallback else "wyoming"
    message = "typed by local: nothing answers" if fallback else "typed by wyoming"
    engine.publish(value, message, fallback=fallback)
    bus_state.publish(State.TYPING)
    bus_state.publish(State.READY)


def test_oled_ready_screen_names_the_engine_and_a_failed_server():
    device = dummy(width=128, height=64, mode="1")
    oled = Oled(device, dim_after_s=0)
    bus = StatusBus()
    bus.subscribe(oled)
    state = bus.publisher(Topic.STATE, "test")
    engine = bus.publisher(Topic.ENGINE, "remote engine")
    state.publish(State.READY)
    before = lit_pixels(device.image, (0, 28, 128, 42))
    dictation(state, engine, fallback=False)
    assert oled.model.engine == "wyoming"
    named = lit_pixels(device.image, (0, 28, 128, 42))
    assert named > before
    dictation(state, engine, fallback=True)
    assert oled.model.engine == "local, server failed"


def test_leds_answer_after_text_the_device_typed_because_the_server_failed():
    light = RecordingLight()
    listener = LedListener(light)
    bus = StatusBus()
    bus.subscribe(listener)
    state = bus.publisher(Topic.STATE, "test")
    engine = bus.publisher(Topic.ENGINE, "remote engine")
    dictation(state, engine, fallback=False)
    assert light.shown[-1] == "ready" and "warning" not in light.shown
    dictation(state, engine, fallback=True)
    assert light.shown[-2:] == ["ready", PATTERNS["warning"].name]
    time.sleep(ANSWER_S + 0.3)
    assert light.shown[-1] == "ready"
    dictation(state, engine, fallback=False)  # answered once, not again
    assert light.shown.count("warning") == 1


def test_only_the_remote_engine_writes_the_engine_topic(base_config):
    from appliance.config import with_overrides
    from appliance.daemon import real_parts

    bus = StatusBus()
    real_parts(base_config, bus)
    assert Topic.ENGINE not in bus.owners()  # local: nothing to say
    remote = with_overrides(
        base_config, asr={"engine": "wyoming"}, remote={"url": "tcp://127.0.0.1:10300"}
    )
    real_parts(remote, bus)
    assert bus.owners()[Topic.ENGINE] == "remote engine"
