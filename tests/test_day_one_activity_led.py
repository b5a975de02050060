"""Feedback without extras: with no LEDs wired, the board's own LED shows the states.

The LED is a sysfs-shaped directory here (``brightness``, ``max_brightness``, ``trigger`` as
the kernel's LED class has them); the systemd guest drives a real kernel LED (uleds).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from appliance.config import LedConfig
from appliance.status import State, StatusBus, Topic
from appliance.ui import activity_led
from appliance.ui.activity_led import (
    ActivityLed,
    blink_after_exit,
    find_activity_led,
    open_activity_led,
)
from appliance.ui.leds import PATTERNS, open_leds


def sysfs_led(leds_dir: Path, name: str, max_brightness: int = 1) -> Path:
    d = leds_dir / name
    d.mkdir(parents=True)
    (d / "brightness").write_text("0\n")
    (d / "max_brightness").write_text(f"{max_brightness}\n")
    (d / "trigger").write_text("none rc-feedback kbd-scrolllock [mmc0] timer heartbeat\n")
    return d


def brightness(led: Path) -> str:
    return (led / "brightness").read_text().strip()


def wait_for(pred, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return False


class Recorded(ActivityLed):
    """The LED, with the writes it made and when (the blinking is checked from these)."""

    def __init__(self, path: Path) -> None:
        self.writes: list[tuple[float, str, str]] = []
        super().__init__(path)

    def _write(self, name: str, value: str) -> None:
        self.writes.append((time.monotonic(), name, value))
        super()._write(name, value)

    def brightness_since(self, t0: float) -> list[tuple[float, str]]:
        return [(t, v) for t, n, v in self.writes if n == "brightness" and t >= t0]


def test_the_pi_names_are_found_in_order(tmp_path: Path) -> None:
    assert find_activity_led("auto", tmp_path) is None
    led0 = sysfs_led(tmp_path, "led0")
    assert find_activity_led("auto", tmp_path) == led0
    act = sysfs_led(tmp_path, "ACT")
    assert find_activity_led("auto", tmp_path) == act
    assert find_activity_led("led0", tmp_path) == led0
    assert find_activity_led("off", tmp_path) is None
    assert find_activity_led("PWR", tmp_path) is None


def test_states_show_and_the_led_goes_back_to_its_trigger(tmp_path: Path) -> None:
    path = sysfs_led(tmp_path, "ACT", max_brightness=255)
    led = Recorded(path)
    try:
        assert (path / "trigger").read_text() == "none"  # taken from SD card activity
        led.show(PATTERNS["recording"])
        assert wait_for(lambda: brightness(path) == "255"), "recording: steadily on"
        t0 = time.monotonic()
        time.sleep(0.5)
        assert led.brightness_since(t0) == [], "steady: no blinking"

        t0 = time.monotonic()
        led.show(PATTERNS["error"])  # fast: 0.1 s on, 0.1 s off
        time.sleep(1.0)
        seen = led.brightness_since(t0)
        values = [v for _, v in seen]
        assert 6 <= len(values) <= 12, seen
        assert all(a != b for a, b in itertools.pairwise(values)), values

        t0 = time.monotonic()
        led.show(PATTERNS["ready"])  # a 50 ms flash every 2 s
        time.sleep(2.3)
        seen = led.brightness_since(t0)
        ons = [t for t, v in seen if v == "255"]
        offs = [t for t, v in seen if v == "0"]
        assert 1 <= len(ons) <= 2 and offs, seen
        lit = min(t for t in offs if t > ons[0]) - ons[0]
        assert 0.03 <= lit <= 0.5, f"the ready flash lasted {lit:.3f} s"
    finally:
        led.close()
    assert brightness(path) == "0"
    assert (path / "trigger").read_text() == "mmc0", "given back to the kernel"


def test_the_bus_drives_it_when_no_leds_are_wired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sysfs_led(tmp_path, "ACT")
    monkeypatch.setattr(activity_led, "LEDS_DIR", tmp_path)
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    light = open_leds(LedConfig(kind="none"), bus)
    assert isinstance(light, ActivityLed)
    try:
        state.publish(State.RECORDING, "Recording")
        assert wait_for(lambda: brightness(path) == "1")
        assert light.current == PATTERNS["recording"]
        state.publish(State.ERROR, "No microphone")
        assert light.current == PATTERNS["error"]
        assert wait_for(lambda: brightness(path) == "0") and wait_for(
            lambda: brightness(path) == "1"
        )
    finally:
        light.close()
    assert open_leds(LedConfig(kind="none", activity="off"), bus) is None


def test_an_led_it_may_not_drive_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = sysfs_led(tmp_path, "ACT")
    (path / "trigger").unlink()
    (path / "trigger").mkdir()  # writing it fails as a read-only /sys would
    (path / "trigger" / "x").write_text("")
    assert open_activity_led("auto", tmp_path) is None
    assert "board LED" in caplog.text and "no status light" in caplog.text


def test_a_config_error_leaves_the_led_blinking_and_the_next_start_takes_it_back(
    tmp_path: Path,
) -> None:
    path = sysfs_led(tmp_path, "ACT")
    assert blink_after_exit("auto", tmp_path)
    assert (path / "trigger").read_text() == "timer"  # the kernel blinks it: no process needed
    # as the kernel lists it after that: the next run gives the LED back to the SD card
    (path / "trigger").write_text("none rc-feedback [timer] mmc0 heartbeat\n")
    led = ActivityLed(path)
    led.close()
    assert (path / "trigger").read_text() == "mmc0"
    assert not blink_after_exit("off", tmp_path)
