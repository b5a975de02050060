"""OLED screens through luma's own dummy device: pixels, text, and PNGs for the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from luma.core.device import dummy

from appliance.status import State, StatusBus, Topic
from appliance.ui.oled import DIM, Oled
from appliance.ui.screens import ScreenModel, font, lit_pixels, render

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screens"

BASE = ScreenModel(model="whisper-small", language="en", layout="us", host=True)

SCREENS = {
    "starting": BASE.with_(state=State.STARTING, progress=0.42, model="small (int8)"),
    "ready": BASE.with_(state=State.READY),
    "ready-no-host": BASE.with_(state=State.READY, host=False),
    "recording": BASE.with_(state=State.RECORDING, elapsed_s=7, level=0.6, max_s=120),
    "recording-warning": BASE.with_(
        state=State.RECORDING, elapsed_s=112, level=0.45, max_s=120, warning="Stops in 8 s"
    ),
    "transcribing": BASE.with_(state=State.TRANSCRIBING, frame=3),
    "typing": BASE.with_(
        state=State.TYPING,
        text="The quick brown fox jumps over the lazy dog. Then it types this as well.",
    ),
    "error-no-microphone": BASE.with_(
        state=State.ERROR, reason="No microphone", detail="Plug in a USB microphone."
    ),
    "error-host": BASE.with_(
        state=State.ERROR,
        reason="Host not connected",
        detail="Plug the Pi's USB-C port into the computer.",
    ),
    "error-config": BASE.with_(
        state=State.ERROR,
        reason="Config error: audio.rate",
        detail="5 is out of range; allowed: 8000 to 192000",
    ),
    "stopped": BASE.with_(state=State.STOPPED),
}


def text_pixels(text: str, size: int = 0) -> int:
    from PIL import Image, ImageDraw

    img = Image.new("1", (128, 32), 0)
    ImageDraw.Draw(img).text((0, 0), text, font=font(size), fill=1)
    return lit_pixels(img)


@pytest.mark.parametrize("height", [64, 32])
@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_renders_on_the_dummy_device_and_goes_to_docs(name, height):
    device = dummy(width=128, height=height, mode="1")
    oled = Oled(device, dim_after_s=0, base=SCREENS[name])
    assert oled.refresh(force=True)
    shown = device.image
    assert shown.size == (128, height)
    assert lit_pixels(shown) > 40, f"{name} screen is (nearly) blank"
    DOCS.mkdir(parents=True, exist_ok=True)
    # scaled up 3x so the docs show the pixels; the raw image is what the display gets
    big = shown.convert("L").resize((128 * 3, height * 3), 0)
    big.save(DOCS / f"{name}-128x{height}.png")


def test_level_meter_grows_with_the_input_level():
    meter = (0, 26, 128, 40)  # the meter's rows on a 128x64 recording screen
    counts = [
        lit_pixels(render(SCREENS["recording"].with_(level=lv)), meter)
        for lv in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    assert counts == sorted(counts) and len(set(counts)) == 5, counts
    assert counts[-1] > 3 * counts[0]


def test_progress_bar_grows_with_model_load_progress():
    bar = (0, 44, 98, 56)
    a = lit_pixels(render(SCREENS["starting"].with_(progress=0.1)), bar)
    b = lit_pixels(render(SCREENS["starting"].with_(progress=0.9)), bar)
    assert b > a + 200


def test_text_is_on_screen():
    # the word "Ready" in the big font, drawn alone, has the same pixel count as on screen
    img = render(SCREENS["ready"].with_(host=None))
    assert lit_pixels(img, (0, 8, 128, 30)) == text_pixels("Ready", 18)
    # typing screen: the last wrapped line of the text is on the last row
    typing = render(SCREENS["typing"])
    assert lit_pixels(typing, (0, 12, 128, 64)) > 200
    different = render(SCREENS["typing"].with_(text="x"))
    assert lit_pixels(different, (0, 12, 128, 64)) < 30


def test_any_script_can_be_shown():
    img = render(BASE.with_(state=State.TYPING, text="Grüße — 東京 … ok"))
    assert lit_pixels(img, (0, 12, 128, 64)) > 50


def test_typing_screen_scrolls_to_the_latest_text():
    long_text = " ".join(f"word{i}" for i in range(60))
    img = render(BASE.with_(state=State.TYPING, text=long_text))
    img_tail = render(BASE.with_(state=State.TYPING, text="word58 word59"))
    # the last line on both is "word58 word59" (or ends with it): bottom rows hold the tail
    assert lit_pixels(img, (0, 12, 128, 64)) > lit_pixels(img_tail, (0, 12, 128, 64))


def test_bus_drives_the_display_and_errors_are_in_plain_words():
    device = dummy(width=128, height=64, mode="1")
    oled = Oled(device, dim_after_s=0)
    bus = StatusBus()
    bus.subscribe(oled)
    state, level = bus.publisher(Topic.STATE, "test"), bus.publisher(Topic.LEVEL, "test")
    state.publish(State.RECORDING)
    level.publish(0.9)
    loud = lit_pixels(device.image, (0, 26, 128, 40))
    level.publish(0.1)
    quiet = lit_pixels(device.image, (0, 26, 128, 40))
    assert loud > quiet
    state.publish(State.ERROR, "No microphone", detail="Plug in a USB microphone.")
    assert oled.model.reason == "No microphone"
    assert oled.model.detail == "Plug in a USB microphone."
    assert lit_pixels(device.image, (20, 0, 128, 14)) > 0


def test_dims_when_idle_and_shifts_against_burn_in():
    now = [0.0]
    contrast: list[int] = []
    device = dummy(width=128, height=64, mode="1")
    device.contrast = contrast.append  # record what the driver is told
    oled = Oled(device, dim_after_s=30, base=SCREENS["ready"], clock=lambda: now[0])
    oled.refresh(force=True)
    first = device.image.copy()
    now[0] = 31.0
    oled.tick()
    assert oled.dimmed and contrast[-1] == DIM
    oled(type("S", (), {"topic": Topic.STATE, "value": State.RECORDING, "message": "",
                        "extra": {}})())  # fmt: skip
    assert not oled.dimmed and contrast[-1] > DIM
    oled(type("S", (), {"topic": Topic.STATE, "value": State.READY, "message": "",
                        "extra": {}})())  # fmt: skip
    now[0] = 500.0
    oled.tick()
    assert device.image.tobytes() != first.tobytes()
    assert abs(lit_pixels(device.image) - lit_pixels(first)) < 10  # same picture, moved


def test_a_config_the_service_cannot_start_with_is_shown_with_its_key():
    """`run` with a broken file: the screen names the key and stays lit after the exit."""
    from appliance.config import ConfigError, parse_config
    from appliance.daemon import publish_config_error

    with pytest.raises(ConfigError) as broken:
        parse_config("audio:\n  rate: 5\n", "/etc/stt-keyboard/config.yaml")
    device = dummy(width=128, height=64, mode="1")
    oled = Oled(device, dim_after_s=0)
    bus = StatusBus()
    bus.subscribe(oled)
    publish_config_error(bus, broken.value)
    oled.close(final=State.ERROR)
    assert oled.model.state is State.ERROR
    assert oled.model.reason == "Config error: audio.rate"
    assert "out of range" in oled.model.detail and "(line 2)" in oled.model.detail
    assert lit_pixels(device.image) > 40
    device.cleanup()  # what luma runs at exit: the error screen is not cleared
    assert lit_pixels(device.image) > 40
