"""What the OLED shows, as pure functions from a ScreenModel to a 1-bit PIL image.

No hardware here: the OLED driver, luma's dummy device in the tests, and the PNGs in
docs/screens/ all draw through ``render()``. Layouts exist for 128×64 and 128×32.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from appliance.status import State


@dataclass(frozen=True)
class ScreenModel:
    state: State = State.STARTING
    reason: str = ""  # headline of an error ("No microphone")
    detail: str = ""  # what to do, in plain words
    progress: float = 0.0  # model load 0..1
    progress_label: str = "Loading model"
    level: float = 0.0  # input level 0..1
    elapsed_s: float = 0.0
    max_s: float = 0.0  # maximum recording time (0 = unknown)
    warning: str = ""  # e.g. "Stops in 8 s"
    host: bool | None = None
    microphone: bool | None = None
    text: str = ""  # being typed
    model: str = ""
    language: str = ""
    layout: str = ""
    engine: str = ""  # who transcribed the last dictation, with a remote engine configured
    listening: str = ""  # the wake word listened for while ready ("" = the button only)
    frame: int = 0  # animation frame (spinner, blinking dot)

    def with_(self, **changes: Any) -> ScreenModel:
        return replace(self, **changes)


@lru_cache(maxsize=8)
def font(size: int = 0) -> Any:
    """size 0: Pillow's built-in 6×11 bitmap font (crisp on 1-bit); otherwise FreeType."""
    if size == 0:
        return ImageFont.load_default_imagefont()
    return ImageFont.load_default(size=size)


SMALL_W = 6  # bitmap font advance
SMALL_H = 11


def _w(draw: ImageDraw.ImageDraw, text: str, f: Any) -> int:
    box = draw.textbbox((0, 0), text, font=f)
    return int(box[2] - box[0])


def printable(text: str) -> str:
    """Text the built-in bitmap font can draw (Latin-1); other scripts are transliterated."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    from anyascii import anyascii

    return "".join(c if ord(c) < 256 else anyascii(c) for c in text)


def _fit(text: str, width_px: int) -> str:
    text = printable(text)
    cols = max(1, width_px // SMALL_W)
    return text if len(text) <= cols else text[: cols - 1] + "»"


def wrap(text: str, width_px: int) -> list[str]:
    cols = max(1, width_px // SMALL_W)
    lines: list[str] = []
    for para in printable(text).split("\n"):
        lines.extend(textwrap.wrap(para, cols, break_long_words=True) or [""])
    return lines


def _bar(draw: ImageDraw.ImageDraw, x: int, y: int, w: int, h: int, fraction: float) -> None:
    fraction = min(1.0, max(0.0, fraction))
    draw.rectangle((x, y, x + w - 1, y + h - 1), outline=1, fill=0)
    inner = round((w - 4) * fraction)
    if inner > 0:
        draw.rectangle((x + 2, y + 2, x + 1 + inner, y + h - 3), fill=1)


def _meter(draw: ImageDraw.ImageDraw, x: int, y: int, w: int, h: int, level: float) -> None:
    """A segmented level meter: the number of lit segments grows with the level."""
    level = min(1.0, max(0.0, level))
    seg_w, gap = 4, 2
    n = (w + gap) // (seg_w + gap)
    lit = round(n * level)
    for i in range(n):
        sx = x + i * (seg_w + gap)
        if i < lit:
            draw.rectangle((sx, y, sx + seg_w - 1, y + h - 1), fill=1)
        else:
            draw.line((sx, y + h - 1, sx + seg_w - 1, y + h - 1), fill=1)


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _title(draw: ImageDraw.ImageDraw, text: str, w: int, right: str = "") -> None:
    f = font()
    draw.text((0, 0), _fit(text, w - _w(draw, right, f) - 4), font=f, fill=1)
    if right:
        draw.text((w - _w(draw, right, f), 0), right, font=f, fill=1)


def _host_tag(m: ScreenModel) -> str:
    return {True: "USB ok", False: "no host", None: ""}[m.host]


def render(m: ScreenModel, size: tuple[int, int] = (128, 64)) -> Image.Image:
    """The screen for a model, as a mode "1" image of the display's size."""
    w, h = size
    img = Image.new("1", size, 0)
    d = ImageDraw.Draw(img)
    tall = h >= 64
    drawer = _SCREENS.get(m.state, _draw_error)
    drawer(d, m, w, h, tall)
    return img


def _draw_starting(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    if tall:
        d.text((0, 0), "STT Keyboard", font=f, fill=1)
        d.text((0, 16), _fit(m.progress_label, w), font=f, fill=1)
        if m.model:
            d.text((0, 27), _fit(m.model, w), font=f, fill=1)
        _bar(d, 0, 44, w - 30, 12, m.progress)
        pct = f"{round(min(1.0, max(0.0, m.progress)) * 100)}%"
        d.text((w - _w(d, pct, f), 44), pct, font=f, fill=1)
    else:
        d.text((0, 0), _fit(m.progress_label, w), font=f, fill=1)
        _bar(d, 0, 16, w - 30, 12, m.progress)
        pct = f"{round(min(1.0, max(0.0, m.progress)) * 100)}%"
        d.text((w - _w(d, pct, f), 16), pct, font=f, fill=1)


def _draw_ready(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    big = font(18 if tall else 14)
    _title(d, "", w, _host_tag(m))
    d.text((0, 8 if tall else 2), "Listening" if m.listening else "Ready", font=big, fill=1)
    info = " · ".join(x for x in (m.model, m.language, m.engine) if x)
    if m.listening:  # what to say stands where the model's name stood
        info = f"Say \u201c{m.listening}\u201d"
    if tall:
        d.text((0, 31), _fit(info, w), font=f, fill=1)
        host = "Host connected" if m.host else "Host not connected" if m.host is False else ""
        d.text((0, 42), _fit(f"Layout {m.layout}" if m.layout else "", w), font=f, fill=1)
        d.text((0, 53), _fit(host, w), font=f, fill=1)
    else:
        d.text((0, 21), _fit(" · ".join(x for x in (info, m.layout) if x), w), font=f, fill=1)


def _draw_recording(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    big = font(18 if tall else 12)
    dot_on = m.frame % 2 == 0 or not m.warning
    r = 5 if tall else 4
    if dot_on:
        d.ellipse((0, 2, 2 * r, 2 + 2 * r), fill=1)
    clock = _clock(m.elapsed_s)
    d.text((2 * r + 6, -2 if tall else -1), "REC", font=big, fill=1)
    d.text((w - _w(d, clock, big) - 1, -2 if tall else -1), clock, font=big, fill=1)
    if tall:
        _meter(d, 0, 26, w, 14, m.level)
        if m.warning:
            d.rectangle((0, 46, w - 1, 63), fill=1)
            d.text((2, 49), _fit(m.warning, w - 4), font=f, fill=0)
        elif m.max_s:
            d.text((0, 50), _fit(f"max {_clock(m.max_s)}", w), font=f, fill=1)
    else:
        _meter(d, 0, 18, w, 10, m.level)
        if m.warning:
            d.rectangle((0, 29, w - 1, 31), fill=1)


def _draw_transcribing(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    big = font(14)
    dots = "." * (m.frame % 4)
    d.text((0, 10 if tall else 2), "Transcribing" + dots, font=big, fill=1)
    if tall:
        # a small bouncing block: shows the device is busy, not hung
        n = 8
        pos = m.frame % (2 * n - 2)
        pos = pos if pos < n else 2 * n - 2 - pos
        for i in range(n):
            x = 8 + i * 14
            if i == pos:
                d.rectangle((x, 40, x + 9, 49), fill=1)
            else:
                d.rectangle((x, 40, x + 9, 49), outline=1)
    else:
        d.text((0, 20), _fit("please wait", w), font=f, fill=1)


def _draw_typing(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    _title(d, "Typing", w, _host_tag(m))
    rows = (h - 12) // SMALL_H
    lines = wrap(m.text, w)
    shown = lines[-rows:]  # the text scrolls up as it is typed
    for i, line in enumerate(shown):
        d.text((0, 12 + i * SMALL_H), line, font=f, fill=1)
    d.line((0, 11, w - 1, 11), fill=1)


def _draw_error(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    big = font(14)
    # a warning triangle with "!"
    d.polygon([(7, 0), (0, 13), (14, 13)], outline=1, fill=1)
    d.text((5, 2), "!", font=f, fill=0)
    head = printable(m.reason or "Error")
    if _w(d, head, big) <= w - 20:
        d.text((20, -2), head, font=big, fill=1)
        y = 16
    else:
        lines = wrap(head, w - 20)
        d.text((20, 1), lines[0], font=f, fill=1)
        y = 14
        for line in lines[1:2]:
            d.text((0, y), line, font=f, fill=1)
            y += SMALL_H
    rows = (h - y) // SMALL_H
    for i, line in enumerate(wrap(m.detail, w)[:rows]):
        d.text((0, y + i * SMALL_H), line, font=f, fill=1)


def _draw_stopped(d: ImageDraw.ImageDraw, m: ScreenModel, w: int, h: int, tall: bool) -> None:
    f = font()
    big = font(18 if tall else 14)
    d.text((0, 8 if tall else 0), "Stopped", font=big, fill=1)
    d.text((0, 40 if tall else 20), _fit("not listening", w), font=f, fill=1)


_SCREENS = {
    State.STARTING: _draw_starting,
    State.READY: _draw_ready,
    State.RECORDING: _draw_recording,
    State.TRANSCRIBING: _draw_transcribing,
    State.TYPING: _draw_typing,
    State.ERROR: _draw_error,
    State.STOPPED: _draw_stopped,
}


def shifted(img: Image.Image, dx: int, dy: int) -> Image.Image:
    """The picture moved by (dx, dy) pixels (burn-in protection); edges fill with black."""
    if not dx and not dy:
        return img
    out = Image.new(img.mode, img.size, 0)
    out.paste(img, (dx, dy))
    return out


def lit_pixels(img: Image.Image, box: tuple[int, int, int, int] | None = None) -> int:
    """How many pixels are on (in a box): what the tests measure."""
    region = img.crop(box) if box else img
    return int(region.convert("1").convert("L").histogram()[255])
