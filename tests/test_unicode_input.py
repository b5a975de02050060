"""hid.unicode_input: characters no key types, entered by code point the host OS's way.

Each method is checked by a small emulation of what the host does with the keys, written
here from the methods' documentation (IBus/GTK's Ctrl+Shift+U; Windows' hex numpad entry;
macOS's Unicode Hex Input), decoding the reports with libxkbcommon's keysyms, not with the
encoder's tables.
"""

from __future__ import annotations

import pytest
from xkbcommon import xkb

from appliance.config import parse_config
from appliance.hid.encoder import encode_items, plan_items
from appliance.hid.layout import EVDEV_OFFSET, build_keymap, load_layout
from appliance.hid.typist import Typist
from appliance.hid.unicode_input import unicode_recipe
from appliance.hid.usages import usage_to_evdev
from appliance.hid.virtual_host import VirtualHost

LCTRL, LSHIFT, LALT = 0x01, 0x02, 0x04
TEXT = "Tschüß → 5 €, ✓ 𝄞 done"  # arrow, check mark, a character beyond U+FFFF


def key_downs(reports: list[bytes], layout: str) -> list[tuple[int, str, int]]:
    """(modifier byte, keysym name, usage) for every key pressed, the host's view."""
    keymap = build_keymap(layout)
    out: list[tuple[int, str, int]] = []
    prev: set[int] = set()
    for rep in reports:
        mods, keys = rep[0], {k for k in rep[2:] if k}
        state = keymap.state_new()
        if mods & (LSHIFT | 0x20):
            state.update_key(42 + EVDEV_OFFSET, xkb.KeyDirection.XKB_KEY_DOWN)
        for usage in sorted(keys - prev):
            sym = state.key_get_one_sym(usage_to_evdev(usage) + EVDEV_OFFSET)
            out.append((mods, xkb.keysym_get_name(sym) if sym else "", usage))
        prev = keys
    return out


def host_ctrl_shift_u(reports: list[bytes], layout: str) -> str:
    """GTK/IBus: Ctrl+Shift+U starts a code point, hex keysyms add digits, space ends it;
    other keys type their character (the layout's text, as a Linux host)."""
    host = VirtualHost(layout)
    out, digits, entering = [], "", False
    for mods, sym, usage in key_downs(reports, layout):
        if mods & LCTRL and mods & LSHIFT and sym in ("U", "u"):
            entering, digits = True, ""
        elif entering and sym == "space":
            out.append(chr(int(digits, 16)))
            entering = False
        elif entering:
            assert sym.lower() in "0123456789abcdef" and len(sym) == 1, sym
            digits += sym.lower()
        else:
            host.clear()
            host.write(bytes([mods, 0, usage, 0, 0, 0, 0, 0]))
            host.write(bytes(8))
            out.append(host.text)
    return "".join(out)


def host_alt_hex(reports: list[bytes], layout: str, *, windows: bool) -> str:
    """Windows: Alt held, keypad +, hex digits (keypad digits or letter keys), Alt up.
    macOS (Unicode Hex Input): Option held, 4 hex digits per UTF-16 unit, Option up."""
    host = VirtualHost(layout)
    out, digits = [], ""
    prev_mods = 0
    units: list[int] = []

    def flush() -> None:
        nonlocal digits
        if windows and digits:
            out.append(chr(int(digits.removeprefix("+"), 16)))
        elif units:
            out.append(b"".join(u.to_bytes(2, "big") for u in units).decode("utf-16-be"))
            units.clear()
        digits = ""

    prev: set[int] = set()
    for rep in reports:
        mods, keys = rep[0], {k for k in rep[2:] if k}
        if prev_mods & LALT and not mods & LALT:
            flush()
        for usage in sorted(keys - prev):
            if mods & LALT:
                if windows and usage == 0x57:
                    digits = "+"
                    continue
                if 0x59 <= usage <= 0x62:
                    digits += "0" if usage == 0x62 else str(usage - 0x58)
                    continue
                downs = key_downs([bytes([0, 0, usage, 0, 0, 0, 0, 0])], layout)
                sym = downs[0][1]
                assert len(sym) == 1 and sym in "0123456789abcdef", sym
                digits += sym
                if not windows and len(digits) == 4:
                    units.append(int(digits, 16))
                    digits = ""
            else:
                host.clear()
                host.write(bytes([mods, 0, usage, 0, 0, 0, 0, 0]))
                host.write(bytes(8))
                out.append(host.text)
        prev, prev_mods = keys, mods
    return "".join(out)


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_linux_ctrl_shift_u(layout: str) -> None:
    reports = encode_items_with_unicode(TEXT, layout, "linux")
    assert host_ctrl_shift_u(reports, layout) == TEXT


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_windows_hex_numpad(layout: str) -> None:
    bmp = TEXT.replace("𝄞", "")
    reports = encode_items_with_unicode(bmp, layout, "windows")
    assert host_alt_hex(reports, layout, windows=True) == bmp
    # beyond U+FFFF hex numpad entry does not work: the unknown-character policy instead
    assert unicode_recipe("𝄞", load_layout(layout, "windows")) is None


def test_macos_unicode_hex_input() -> None:
    """With Unicode Hex Input selected, Option+key enters hex digits, so nothing is typed with
    Option as on the U.S. Mac layout (ü there is Option+u, u): all by code point."""
    reports = encode_items_with_unicode(TEXT, "us", "macos")
    assert host_alt_hex(reports, "us", windows=False) == TEXT
    assert all(not rep[0] & 0x40 for rep in reports), "no Right Alt (Option) chord"


def encode_items_with_unicode(text: str, layout: str, host_os: str) -> list[bytes]:
    host = VirtualHost(layout)
    cfg = parse_config(f"hid:\n  layout: {layout}\n  host_os: {host_os}\n  unicode_input: true\n")
    Typist.from_config(cfg.hid, host).type([text])
    assert host.reports[-1] == bytes(8), "ends with every key up"
    return host.reports


def test_off_by_default_and_never_for_control_characters() -> None:
    layout = load_layout("us")
    plain = plan_items("→\x1b", layout)
    from anyascii import anyascii

    ascii_units = plan_items(anyascii("→"), layout).units
    assert plain.units[0].strokes == sum((u.strokes for u in ascii_units), ()), "transliterated"
    assert plain.skipped == ["\x1b"]
    entered = plan_items("→\x1b", layout, unicode_input=True)
    assert entered.units[0].strokes[0].modifiers == LCTRL | LSHIFT
    assert entered.skipped == ["\x1b"], "a control character is never entered by code point"
    assert encode_items("→", layout)[-1] == bytes(8)
