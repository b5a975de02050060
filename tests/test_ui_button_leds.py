"""Button and LEDs through gpiozero's own MockFactory pins."""

from __future__ import annotations

import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance.config import ButtonConfig, LedConfig
from appliance.status import State, StatusBus, Topic
from appliance.ui.button import Button, ButtonEvent, factory_choice, pi_generation, pin_factory
from appliance.ui.leds import PATTERNS, open_leds


@pytest.fixture
def mock_pins():
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def test_pi_model_decides_the_pin_factory():
    assert pi_generation("Raspberry Pi 5 Model B Rev 1.0") == 5
    assert pi_generation("Raspberry Pi 4 Model B Rev 1.5") == 4
    assert pi_generation("Raspberry Pi Compute Module 4 Rev 1.0") == 4
    assert pi_generation("Raspberry Pi 500 Rev 1.0") == 5
    assert pi_generation("Raspberry Pi 400 Rev 1.0") == 4
    assert pi_generation("QEMU Virtual Machine") is None
    assert factory_choice("auto", "Raspberry Pi 5 Model B Rev 1.0") == "auto"  # gpiozero's
    assert factory_choice("auto", "") == "mock"
    assert factory_choice("rpigpio", "Raspberry Pi 5 Model B") == "rpigpio"


def test_auto_on_a_pi_is_gpiozero_s_own_default(monkeypatch) -> None:
    """What ``$GPIOZERO_PIN_FACTORY`` names, as gpiozero would choose it itself."""
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setattr(Device, "pin_factory", None)
    factory = pin_factory("auto", model="Raspberry Pi 4 Model B Rev 1.5")
    assert isinstance(factory, MockFactory) and Device.pin_factory is factory
    factory.close()


def test_a_pin_factory_by_name_comes_from_gpiozero_s_registry() -> None:
    with pytest.raises(RuntimeError, match="no GPIO pin factory works here: nosuch"):
        pin_factory("nosuch", model="Raspberry Pi 5 Model B Rev 1.0")


def test_auto_says_what_gpiozero_passed_over(monkeypatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "nosuch")
    monkeypatch.setattr(Device, "pin_factory", None)
    with pytest.raises(RuntimeError, match="Unable to find pin factory 'nosuch'"):
        pin_factory("auto", model="Raspberry Pi 5 Model B Rev 1.0")


def test_button_press_release_and_long_press(mock_pins):
    events: list[ButtonEvent] = []
    cfg = ButtonConfig(pin=17, bounce_s=0.0, hold_s=0.2, pin_factory="mock")
    button = Button(cfg, events.append)
    pin = mock_pins.pin(17)
    pin.drive_low()
    time.sleep(0.05)
    pin.drive_high()
    time.sleep(0.05)
    assert events == [ButtonEvent.PRESS, ButtonEvent.RELEASE]
    events.clear()
    pin.drive_low()
    time.sleep(0.45)
    pin.drive_high()
    time.sleep(0.05)
    assert events == [ButtonEvent.PRESS, ButtonEvent.LONG_PRESS, ButtonEvent.RELEASE]
    button.close()


def test_rgb_leds_follow_the_state(mock_pins):
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    leds = open_leds(LedConfig(kind="rgb", pins=[5, 6, 13]), bus, factory=mock_pins)
    assert leds is not None
    r, g, b = (mock_pins.pin(p) for p in (5, 6, 13))
    state.publish(State.READY)
    assert leds.current == PATTERNS["ready"]
    assert (r.state, g.state, b.state) == (0, 1, 0)
    state.publish(State.RECORDING)
    assert (r.state, g.state, b.state) == (1, 0, 0)
    bus.publisher(Topic.WARNING, "test").publish("max_recording", "Stops in 8 s")
    assert leds.current == PATTERNS["warning"]
    state.publish(State.TRANSCRIBING)
    assert leds.current == PATTERNS["transcribing"]
    states = set()
    for _ in range(25):  # blinking: blue goes on and off
        states.add(b.state)
        time.sleep(0.05)
    assert states == {0, 1} and r.state == 0
    state.publish(State.STOPPED)
    assert (r.state, g.state, b.state) == (0, 0, 0)
    leds.close()


def test_single_led_is_dim_when_ready_and_full_when_recording(mock_pins):
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    leds = open_leds(LedConfig(kind="single", pins=[12]), bus, factory=mock_pins)
    assert leds is not None
    pin = mock_pins.pin(12)
    state.publish(State.READY)
    assert 0 < pin.state < 0.5
    state.publish(State.RECORDING)
    assert pin.state == 1
    state.publish(State.ERROR, "No microphone")
    assert leds.current == PATTERNS["error"]
    leds.close()


def test_dual_leds(mock_pins):
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    leds = open_leds(LedConfig(kind="dual", pins=[20, 21]), bus, factory=mock_pins)
    assert leds is not None
    red, green = mock_pins.pin(20), mock_pins.pin(21)
    state.publish(State.READY)
    assert (red.state, green.state) == (0, 1)
    state.publish(State.RECORDING)
    assert (red.state, green.state) == (1, 0)
    leds.close()


def test_missing_leds_are_optional(mock_pins, caplog):
    bus = StatusBus()
    assert open_leds(LedConfig(kind="none", activity="off"), bus) is None
    assert open_leds(LedConfig(kind="rgb", pins=[1]), bus, factory=mock_pins) is None
    assert "no status LEDs" in caplog.text


def test_the_qemu_test_s_fifo_presses_the_button_from_outside(mock_pins, tmp_path, caplog):
    """tests/qemu/button_fifo.py drives the daemon's mock pin; the product has no test hook."""
    import os

    from tests.qemu.button_fifo import serve_button_fifo

    fifo = tmp_path / "button"
    os.mkfifo(fifo)
    cfg = ButtonConfig(pin=17, bounce_s=0.0, hold_s=5.0, pin_factory="mock")
    caplog.set_level("INFO")
    serve_button_fifo(str(fifo), cfg)
    events: list[ButtonEvent] = []
    button = Button(cfg, events.append)
    with open(fifo, "w", encoding="utf-8") as writer:
        writer.write("press\nrelease\n")
    deadline = time.monotonic() + 2
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events == [ButtonEvent.PRESS, ButtonEvent.RELEASE]
    assert "test hook: button driven through" in caplog.text
    button.close()
