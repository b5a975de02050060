"""The wiring diagram agrees with the config defaults; it and the gesture map are their
generators' current output."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from appliance.config import Config, parse_config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


wiring = load_tool("wiring")


def test_header_map_is_the_pi_40_pin_header():
    assert len(wiring.HEADER) == 40
    gnd = sorted(p for p, n in wiring.HEADER.items() if n == "GND")
    assert gnd == [6, 9, 14, 20, 25, 30, 34, 39]
    assert [p for p, n in wiring.HEADER.items() if n == "3V3"] == [1, 17]
    bcm = sorted(int(n.split()[0][4:]) for n in wiring.HEADER.values() if n.startswith("GPIO"))
    assert bcm == list(range(28))  # GPIO0..GPIO27, each once
    assert wiring.physical_pin(17) == 11
    assert wiring.physical_pin(2) == 3 and wiring.physical_pin(3) == 5


def test_diagram_uses_the_config_defaults():
    cfg = Config()
    pins = {w.pin: w for w in wiring.wires(cfg.button.pin)}
    assert pins[wiring.physical_pin(cfg.button.pin)].part == "Button"
    assert wiring.HEADER[wiring.BUTTON_GND_PIN] == "GND"
    assert cfg.button.pull_up, "the diagram wires the button to ground"
    assert cfg.oled.i2c_port == 1 and cfg.oled.i2c_address == 0x3C
    assert wiring.OLED_PINS == {"VCC": 1, "SDA": 3, "SCL": 5, "GND": 6}
    assert wiring.HEADER[wiring.LED_GND_PIN] == "GND"
    leds = parse_config(
        f"leds:\n  kind: dual\n  pins: [{wiring.LED_RED_BCM}, {wiring.LED_GREEN_BCM}]\n"
    ).leds
    assert leds.pins == [27, 22]
    used_bcm = {cfg.button.pin, wiring.LED_RED_BCM, wiring.LED_GREEN_BCM}
    assert not used_bcm & {2, 3, 18, 19, 20, 21}, "I²C and the ReSpeaker HAT's I²S pins stay free"


def test_hardware_guide_and_boot_config_name_the_same_pins():
    guide = (DOCS / "hardware.md").read_text(encoding="utf-8")
    for text in ("GPIO17", "pin 11", "pin 9", "GPIO27", "pin 13", "GPIO22", "pin 15", "pin 25"):
        assert text in guide, text
    for text in ("GPIO2", "pin 3", "GPIO3", "pin 5", "pin 1", "pin 6"):
        assert text in guide, text
    assert f"{wiring.LED_RESISTOR_OHM} Ω" in guide
    boot = (
        ROOT / "image-build/stage-stt-keyboard/02-boot-config/files/stt-keyboard.yaml"
    ).read_text()
    assert re.search(rf"#\s+pins: \[{wiring.LED_RED_BCM}, {wiring.LED_GREEN_BCM}\]", boot)


@pytest.mark.parametrize("tool", ["wiring", "gestures"])
def test_committed_png_is_the_generator_output(tool: str):
    module = wiring if tool == "wiring" else load_tool(tool)
    committed = Image.open(DOCS / f"{tool}.png").convert("RGB")
    fresh = module.draw()
    assert committed.size == fresh.size
    diff = ImageChops.difference(committed, fresh.convert("RGB")).getbbox()
    assert diff is None, f"docs/{tool}.png is out of date: run python docs/tools/{tool}.py"
