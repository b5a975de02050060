"""HID keyboard usages, modifier bits, and the HID usage <-> Linux keycode map.

``HID_TO_EVDEV`` is the first 232 entries of ``hid_keyboard[]`` in the Linux kernel's
``drivers/hid/hid-input.c`` (index = HID usage on page 0x07, value = evdev keycode, 0 = none):
it is what the host's kernel does with our reports, so the inverse is what the encoder needs.
XKB keycodes are evdev keycodes + 8.
"""

from __future__ import annotations

# fmt: off
HID_TO_EVDEV: tuple[int, ...] = (
      0,   0,   0,   0,  30,  48,  46,  32,  18,  33,  34,  35,  23,  36,  37,  38,
     50,  49,  24,  25,  16,  19,  31,  20,  22,  47,  17,  45,  21,  44,   2,   3,
      4,   5,   6,   7,   8,   9,  10,  11,  28,   1,  14,  15,  57,  12,  13,  26,
     27,  43,  43,  39,  40,  41,  51,  52,  53,  58,  59,  60,  61,  62,  63,  64,
     65,  66,  67,  68,  87,  88,  99,  70, 119, 110, 102, 104, 111, 107, 109, 106,
    105, 108, 103,  69,  98,  55,  74,  78,  96,  79,  80,  81,  75,  76,  77,  71,
     72,  73,  82,  83,  86, 127, 116, 117, 183, 184, 185, 186, 187, 188, 189, 190,
    191, 192, 193, 194, 134, 138, 130, 132, 128, 129, 131, 137, 133, 135, 136, 113,
    115, 114,   0,   0,   0, 121,   0,  89,  93, 124,  92,  94,  95,   0,   0,   0,
    122, 123,  90,  91,  85,   0,   0,   0,   0,   0,   0,   0, 111,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0, 179, 180,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0, 111,   0,   0,   0,   0,   0,   0,   0,
     29,  42,  56, 125,  97,  54, 100, 126,
)
# fmt: on

# Modifier bits of byte 0 of a boot keyboard report (usages 0xE0..0xE7).
MOD_LCTRL = 0x01
MOD_LSHIFT = 0x02
MOD_LALT = 0x04
MOD_LGUI = 0x08
MOD_RCTRL = 0x10
MOD_RSHIFT = 0x20
MOD_RALT = 0x40  # AltGr on layouts that have one
MOD_RGUI = 0x80

USAGE_ENTER = 0x28
USAGE_ESCAPE = 0x29
USAGE_BACKSPACE = 0x2A
USAGE_TAB = 0x2B
USAGE_SPACE = 0x2C
USAGE_CAPS_LOCK = 0x39

LED_NUM_LOCK = 0x01
LED_CAPS_LOCK = 0x02
LED_SCROLL_LOCK = 0x04

# Keys the encoder may use to type characters, in order of preference: the main block
# (letters, digits, punctuation, space), the ISO key left of Z (0x64), then the Brazilian /
# Japanese extra keys (0x87 "Ro" = ABNT2 /?, 0x89 Yen). Keypad keys are left out on purpose:
# what they type depends on the host's Num Lock.
TYPING_USAGES: tuple[int, ...] = (
    *range(0x04, 0x28),
    USAGE_SPACE,
    *range(0x2D, 0x32),  # - = [ ] backslash (0x32 non-US # is the same key to the host)
    *range(0x33, 0x39),
    0x64,
    0x87,
    0x89,
)

# Modifier usages 0xE0..0xE7 and their bits.
MODIFIER_USAGE_BITS: dict[int, int] = {0xE0 + i: 1 << i for i in range(8)}


def usage_to_evdev(usage: int) -> int:
    """The evdev keycode the Linux host reports for ``usage`` (0 if none)."""
    if 0 <= usage < len(HID_TO_EVDEV):
        return HID_TO_EVDEV[usage]
    return 0


def evdev_to_usage(code: int) -> int:
    """The lowest HID usage the Linux host maps to evdev ``code`` (0 if none)."""
    return _EVDEV_TO_HID.get(code, 0)


_EVDEV_TO_HID: dict[int, int] = {}
for _usage, _code in enumerate(HID_TO_EVDEV):
    if _code and _code not in _EVDEV_TO_HID:
        _EVDEV_TO_HID[_code] = _usage
