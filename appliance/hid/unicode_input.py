"""Characters no key of the host's layout types, entered as their code point by the host OS's
own method (opt-in: ``hid.unicode_input``).

Each method is a key combination the host must be set up for, which is why it is off by
default (docs/host-notes.md):

- Linux: Ctrl+Shift+U, the hex digits, space: GTK applications and IBus take it; Qt
  applications without IBus, terminals and the console do not.
- Windows: Alt held, keypad ``+``, the hex digits, Alt released: needs the registry value
  ``EnableHexNumpad`` (HKCU\\Control Panel\\Input Method, "1") and a new login; some
  applications ignore it. Only characters up to U+FFFF.
- macOS: Option held, four hex digits per UTF-16 unit: only with the input source "Unicode Hex
  Input" selected (a U.S.-based layout, so ``hid.layout`` must be ``us``). Option+key enters
  hex digits there, so what the U.S. Mac layout types with Option is entered by code point
  too.
"""

from __future__ import annotations

from appliance.hid.layout import Layout, Recipe, Stroke
from appliance.hid.usages import MOD_LALT, MOD_LCTRL, MOD_LSHIFT, MOD_RALT

RELEASE = Stroke(0, 0)
"""All modifiers up, no key: ends an entry made with Alt held (Windows, macOS)."""

_OPTION = MOD_LALT | MOD_RALT
_KEYPAD_PLUS = 0x57
_KEYPAD_DIGITS = {str(d): 0x58 + d for d in range(1, 10)} | {"0": 0x62}


def takes_option(recipe: Recipe, layout: Layout) -> bool:
    """On macOS, Unicode Hex Input reads Option+key as a hex digit: a character the layout
    types with Option (``ü`` is Option+u, u on a U.S. Mac) must be entered by code point."""
    return layout.host_os == "macos" and any(s.modifiers & _OPTION for s in recipe)


def unicode_recipe(ch: str, layout: Layout) -> Recipe | None:
    """The strokes that enter ``ch`` by its code point on ``layout``'s host OS, or None
    when the layout lacks a key the method needs (or the OS cannot enter ``ch`` so)."""
    if layout.host_os == "linux":
        return _ctrl_shift_u(ch, layout)
    if layout.host_os == "windows":
        return _alt_keypad_hex(ch, layout)
    return _option_hex(ch, layout)


def _plain_key(ch: str, layout: Layout) -> int | None:
    """The usage that types ``ch`` with no modifier (None if a modifier or two strokes are
    needed: held under Alt or Option they would type something else)."""
    recipe = layout.recipe(ch)
    if recipe is None or len(recipe) != 1 or recipe[0].modifiers:
        return None
    return recipe[0].usage


def _ctrl_shift_u(ch: str, layout: Layout) -> Recipe | None:
    u = _plain_key("u", layout)
    if u is None:
        return None
    strokes = [Stroke(MOD_LCTRL | MOD_LSHIFT, u)]
    for digit in f"{ord(ch):x}":
        recipe = layout.recipe(digit)  # IBus reads the keysym: Shift for digits on fr is fine
        if recipe is None or len(recipe) != 1:
            return None
        strokes.append(recipe[0])
    space = layout.recipe(" ")
    if space is None:
        return None
    return (*strokes, *space)


def _alt_keypad_hex(ch: str, layout: Layout) -> Recipe | None:
    if ord(ch) > 0xFFFF:
        return None
    strokes = [Stroke(MOD_LALT, _KEYPAD_PLUS)]
    for digit in f"{ord(ch):x}":
        usage = _KEYPAD_DIGITS.get(digit) or _plain_key(digit, layout)
        if usage is None:
            return None
        strokes.append(Stroke(MOD_LALT, usage))
    return (*strokes, RELEASE)


def _option_hex(ch: str, layout: Layout) -> Recipe | None:
    units = ch.encode("utf-16-be")
    strokes: list[Stroke] = []
    for i in range(0, len(units), 2):
        for digit in units[i : i + 2].hex():
            usage = _plain_key(digit, layout)
            if usage is None:
                return None
            strokes.append(Stroke(MOD_LALT, usage))
    return (*strokes, RELEASE)
