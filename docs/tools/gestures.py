"""Draw docs/gestures.png: what each way of pressing the button does, on a time line.

    .venv/bin/python docs/tools/gestures.py          # writes docs/gestures.png

The times come from appliance/config.py's defaults (button.hold_s, button.double_press_s);
tests/test_docs_wiring.py checks that the PNG is this script's output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from appliance.config import ButtonConfig
from docs.tools.wiring import _font

OUT = Path(__file__).resolve().parents[1] / "gestures.png"
SCALE = 120  # pixels per second
LEFT, TOP, ROW = 500, 70, 74


def rows(b: ButtonConfig) -> list[tuple[str, str, list[tuple[float, float]]]]:
    """(gesture, what it does, presses as (start s, end s))."""
    tap, gap = 0.1, b.double_press_s / 2
    return [
        ("Hold, speak, let go", "push_to_talk: dictate", [(0.2, 3.2)]),
        ("Press … press", "toggle: dictate", [(0.2, 0.3), (3.1, 3.2)]),
        ("Press while it types", "stop typing (typed words stay)", [(0.2, 0.3)]),
        (
            f"Hold {b.hold_s:g} s or more",
            "toggle, while recording or transcribing: cancel, take back what it typed",
            [(0.2, 0.2 + b.hold_s + 0.3)],
        ),
        (
            f"2 presses within {b.double_press_s:g} s",
            f"undo the last dictation (within {b.undo_within_s:g} s, not past Enter)",
            [(0.2, 0.2 + tap), (0.2 + tap + gap, 0.2 + 2 * tap + gap)],
        ),
        (
            f"3 presses within {b.double_press_s:g} s each",
            "type the last dictation again",
            [(0.2 + i * (tap + gap), 0.2 + i * (tap + gap) + tap) for i in range(3)],
        ),
        (
            f"4 presses within {b.double_press_s:g} s each",
            "next language of asr.languages (kept across restarts)",
            [(0.2 + i * (tap + gap), 0.2 + i * (tap + gap) + tap) for i in range(4)],
        ),
        (
            f"5 presses within {b.double_press_s:g} s each",
            "Bluetooth pairing mode on / off (hid.output bluetooth or both)",
            [(0.2 + i * (tap + gap), 0.2 + i * (tap + gap) + tap) for i in range(5)],
        ),
        (
            f"6 presses within {b.double_press_s:g} s each",
            "type to the next paired Bluetooth host",
            [(0.2 + i * (tap + gap), 0.2 + i * (tap + gap) + tap) for i in range(6)],
        ),
    ]


def draw() -> Image.Image:
    items = rows(ButtonConfig())
    width, height = LEFT + int(3.6 * SCALE) + 40, TOP + ROW * len(items) + 40
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((20, 18), "The button: every gesture", font=_font(21), fill="black")
    small, label = _font(13), _font(15)
    for s in range(4):
        x = LEFT + s * SCALE
        d.line([(x, TOP - 8), (x, height - 30)], fill="#dddddd")
        d.text((x - 4, height - 26), f"{s} s", font=small, fill="#666666")
    for i, (name, does, presses) in enumerate(items):
        y = TOP + i * ROW
        d.text((20, y + 4), name, font=label, fill="black")
        d.text((20, y + 26), does, font=small, fill="#444444")
        base = y + 34
        d.line([(LEFT, base), (LEFT + int(3.5 * SCALE), base)], fill="#888888", width=2)
        for start, end in presses:
            x0, x1 = LEFT + int(start * SCALE), LEFT + max(int(end * SCALE), int(start * SCALE) + 4)
            d.rectangle([x0, base - 22, x1, base], fill="#2b7bd6")
    return img


if __name__ == "__main__":
    draw().save(OUT, optimize=True)
    print(f"wrote {OUT}")
