"""Draw docs/wiring.png: the button, two LEDs and the OLED on the Pi's 40-pin header.

    .venv/bin/python docs/tools/wiring.py            # writes docs/wiring.png

Every pin is named by its BCM GPIO number and its physical header position. The defaults
come from appliance/config.py (button pin, OLED I²C bus); tests/test_docs_wiring.py checks
that this drawing, the hardware guide and the config agree, and that the PNG is up to date.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "wiring.png"

# Physical pin -> name, for the whole 40-pin header of a Pi 4 / Pi 5.
HEADER: dict[int, str] = {
    1: "3V3",
    2: "5V",
    3: "GPIO2 SDA",
    4: "5V",
    5: "GPIO3 SCL",
    6: "GND",
    7: "GPIO4",
    8: "GPIO14",
    9: "GND",
    10: "GPIO15",
    11: "GPIO17",
    12: "GPIO18",
    13: "GPIO27",
    14: "GND",
    15: "GPIO22",
    16: "GPIO23",
    17: "3V3",
    18: "GPIO24",
    19: "GPIO10",
    20: "GND",
    21: "GPIO9",
    22: "GPIO25",
    23: "GPIO11",
    24: "GPIO8",
    25: "GND",
    26: "GPIO7",
    27: "GPIO0",
    28: "GPIO1",
    29: "GPIO5",
    30: "GND",
    31: "GPIO6",
    32: "GPIO12",
    33: "GPIO13",
    34: "GND",
    35: "GPIO19",
    36: "GPIO16",
    37: "GPIO26",
    38: "GPIO20",
    39: "GND",
    40: "GPIO21",
}


def physical_pin(bcm: int) -> int:
    """The header position of BCM GPIO ``bcm``."""
    for pin, name in HEADER.items():
        if name.split()[0] == f"GPIO{bcm}":
            return pin
    raise KeyError(f"GPIO{bcm} is not on the 40-pin header")


# The suggested LED pins (leds.kind: dual, leds.pins: [red, green]), their ground and resistor.
LED_RED_BCM = 27
LED_GREEN_BCM = 22
LED_GND_PIN = 25
LED_RESISTOR_OHM = 270
BUTTON_GND_PIN = 9
OLED_PINS = {"VCC": 1, "SDA": 3, "SCL": 5, "GND": 6}


@dataclass(frozen=True)
class Wire:
    pin: int  # physical header pin
    part: str  # which part
    terminal: str  # which of its terminals
    colour: tuple[int, int, int]
    resistor: bool = False


RED, BLACK, BLUE, YELLOW, GREEN = (
    (200, 30, 30),
    (40, 40, 40),
    (30, 90, 200),
    (215, 160, 0),
    (0, 150, 0),
)


def wires(button_bcm: int = 17) -> list[Wire]:
    return [
        Wire(OLED_PINS["GND"], "OLED", "GND", BLACK),
        Wire(OLED_PINS["VCC"], "OLED", "VCC", RED),
        Wire(OLED_PINS["SDA"], "OLED", "SDA", BLUE),
        Wire(OLED_PINS["SCL"], "OLED", "SCL", YELLOW),
        Wire(BUTTON_GND_PIN, "Button", "leg", BLACK),
        Wire(physical_pin(button_bcm), "Button", "leg", (0, 120, 160)),
        Wire(physical_pin(LED_RED_BCM), "LEDs", "red +", RED, resistor=True),
        Wire(physical_pin(LED_GREEN_BCM), "LEDs", "green +", GREEN, resistor=True),
        Wire(LED_GND_PIN, "LEDs", "both −", BLACK),
    ]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def pin_label(pin: int) -> str:
    name = HEADER[pin]
    return f"{name} · pin {pin}"


def draw(button_bcm: int = 17) -> Image.Image:
    w_img, h_img = 900, 850
    img = Image.new("RGB", (w_img, h_img), "white")
    d = ImageDraw.Draw(img)
    small, f, title = _font(13), _font(15), _font(21)
    d.text(
        (20, 12),
        "STT Keyboard wiring: Raspberry Pi 4 / Pi 5 40-pin header",
        font=title,
        fill="black",
    )
    d.multiline_text(
        (20, 42),
        "Pins: BCM GPIO number · physical position. Pin 1 (square pad) is at the end of the "
        "header away from\nthe USB ports, in the row nearer the middle of the board.",
        font=small,
        fill=(70, 70, 70),
    )
    hx, hy, pitch = 560, 165, 30  # left column x, first row y, row spacing
    wires_ = wires(button_bcm)
    used = {w.pin for w in wires_}
    # header body
    d.rectangle((hx - 16, hy - 18, hx + 56, hy + 19 * pitch + 18), fill=(25, 25, 25))
    pin_xy: dict[int, tuple[int, int]] = {}
    for pin in HEADER:
        row, col = (pin - 1) // 2, (pin - 1) % 2
        x, y = hx + col * 40, hy + row * pitch
        pin_xy[pin] = (x, y)
        fill = (235, 195, 70) if pin in used else (150, 150, 150)
        box = (x - 7, y - 7, x + 7, y + 7)
        d.rectangle(box, fill=fill) if pin == 1 else d.ellipse(box, fill=fill)
        if col == 1:  # even pins: label on the right
            d.text(
                (x + 30, y - 8),
                pin_label(pin),
                font=small,
                fill="black" if pin in used else (150, 150, 150),
            )
        elif pin not in used:  # odd, unused: grey label on the left
            label = pin_label(pin)
            d.text(
                (hx - 26 - d.textlength(label, font=small), y - 8),
                label,
                font=small,
                fill=(150, 150, 150),
            )

    # parts, on the left, at the height of their pins
    part_x0, part_x1 = 20, 190
    term_x = part_x1
    oled_gnd_y = hy - 48
    parts = {
        "OLED": (oled_gnd_y - 22, hy + 2 * pitch + 16),
        "Button": (hy + 4 * pitch - 16, hy + 5 * pitch + 16),
        "LEDs": (hy + 6 * pitch - 16, hy + 12 * pitch + 16),
    }
    captions = {
        "OLED": "OLED display\nSSD1306 or\nSH1106, I²C\n0x3C, bus 1",
        "Button": f"Push button\n(button.pin: {button_bcm})",
        "LEDs": (
            f"Status LEDs\nred + green,\n{LED_RESISTOR_OHM} Ω each\n(leds.kind: dual,\n"
            f" pins: [{LED_RED_BCM}, {LED_GREEN_BCM}])\nlong leg = +"
        ),
    }
    for name, (y0, y1) in parts.items():
        d.rounded_rectangle(
            (part_x0, y0, part_x1, y1), radius=8, outline="black", width=2, fill=(243, 244, 250)
        )
        d.multiline_text(
            (part_x0 + 10, y0 + 8), captions[name], font=small, fill="black", spacing=3
        )

    for w in wires_:
        x, y = pin_xy[w.pin]
        if w.pin == OLED_PINS["GND"]:  # even pin: over the top of the header to the OLED
            ty = oled_gnd_y
            path = [(x, y), (x + 22, y), (x + 22, ty), (term_x, ty)]
            label_xy = (280, ty)
        else:
            ty = y
            path = [(x, y), (term_x, y)]
            label_xy = (330, y)
        d.line(path, fill=w.colour, width=3)
        d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=w.colour, outline="white", width=2)
        d.ellipse((term_x - 5, ty - 5, term_x + 5, ty + 5), fill=w.colour)
        tw = d.textlength(w.terminal, font=small)
        d.text((term_x - 10 - tw, ty - 8), w.terminal, font=small, fill="black")
        if w.resistor:  # a resistor on the wire
            d.rectangle((205, ty - 7, 255, ty + 7), fill="white", outline="black", width=2)
            d.text((260, ty - 20), f"{LED_RESISTOR_OHM} Ω", font=small, fill="black")
        label = pin_label(w.pin)
        lw = d.textlength(label, font=f)
        lx = label_xy[0] if w.pin == OLED_PINS["GND"] else hx - 24 - lw
        d.rectangle((lx - 4, ty - 10, lx + lw + 4, ty + 9), fill="white", outline=w.colour)
        d.text((lx, ty - 9), label, font=f, fill="black")

    notes = [
        f"LED resistor R = (3.3 V − Vf) / I: red (3.3 − 2.0) V / {LED_RESISTOR_OHM} Ω ≈ "
        f"{(3.3 - 2.0) / LED_RESISTOR_OHM * 1000:.1f} mA; "
        f"green (3.3 − 2.1) V / {LED_RESISTOR_OHM} Ω ≈ "
        f"{(3.3 - 2.1) / LED_RESISTOR_OHM * 1000:.1f} mA.",
        "Any GND pin works (6, 9, 14, 20, 25, 30, 34, 39). The OLED runs from 3V3, never 5V.",
        "Generated by docs/tools/wiring.py from the defaults in appliance/config.py.",
    ]
    for i, note in enumerate(notes):
        d.text((20, h_img - 70 + i * 20), note, font=small, fill=(70, 70, 70))
    return img


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    draw().save(out, optimize=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
