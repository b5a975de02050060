"""The test's host: turn a real kernel's evdev key events into text with libxkbcommon.

Independent of the package's own VirtualHost: it reads ``struct input_event`` records as the
guest kernel produced them and applies an XKB keymap for the host layout plus the
``en_US.UTF-8`` compose table, like a Linux desktop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from xkbcommon import xkb

EVENT = struct.Struct("llHHi")  # x86_64: timeval (16 bytes), type, code, value
EV_KEY = 1
EV_SYN, SYN_DROPPED = 0, 3


def dropped_events(raw: bytes) -> int:
    """How often the kernel told the reader it dropped events (it was too slow)."""
    return sum(
        EVENT.unpack_from(raw, off)[2:4] == (EV_SYN, SYN_DROPPED)
        for off in range(0, len(raw) - EVENT.size + 1, EVENT.size)
    )


@dataclass
class Decoded:
    text: str
    presses: int
    repeats: int
    held_at_end: set[int] = field(default_factory=set)
    caps_at_end: bool = False
    reader_dropped: int = 0  # SYN_DROPPED: the reader was too slow, the kernel dropped events


def decode(raw: bytes, layout: str, *, caps: bool = False) -> Decoded:
    m = __import__("re").match(r"^([a-z0-9_-]+)(?:\(([^)]*)\))?$", layout)
    assert m, layout
    ctx = xkb.Context()
    keymap = ctx.keymap_new_from_names(
        rules="evdev", model="pc105", layout=m.group(1), variant=m.group(2) or ""
    )
    state = keymap.state_new()
    if caps:
        state.update_mask(0, 0, 1 << keymap.mod_get_index("Lock"), 0, 0, 0)
    compose = ctx.compose_table_new_from_locale("en_US.UTF-8").compose_state_new()
    out: list[str] = []
    held: set[int] = set()
    presses = repeats = 0
    for off in range(0, len(raw) - EVENT.size + 1, EVENT.size):
        _s, _us, etype, code, value = EVENT.unpack_from(raw, off)
        if etype != EV_KEY:
            continue
        kc = code + 8
        if value == 2:
            repeats += 1
            continue
        if value == 0:
            held.discard(code)
            state.update_key(kc, xkb.KeyDirection.XKB_KEY_UP)
            continue
        presses += 1
        held.add(code)
        sym = state.key_get_one_sym(kc)
        s = state.key_get_string(kc)
        state.update_key(kc, xkb.KeyDirection.XKB_KEY_DOWN)
        if sym:
            compose.feed(sym)
            st = compose.get_status()
            if st == xkb.ComposeStatus.XKB_COMPOSE_COMPOSING:
                continue
            if st == xkb.ComposeStatus.XKB_COMPOSE_COMPOSED:
                out.append(compose.get_utf8())
                compose.reset()
                continue
            if st == xkb.ComposeStatus.XKB_COMPOSE_CANCELLED:
                compose.reset()
                continue
        name = xkb.keysym_get_name(sym) if sym else ""
        if name == "Return":
            out.append("\n")
        elif name == "Tab":
            out.append("\t")
        elif name == "BackSpace":
            if out:
                out.pop()
        elif (s and s.isprintable()) or s == "\xa0":
            out.append(s)
    caps_on = bool(state.led_name_is_active("Caps Lock"))
    return Decoded("".join(out), presses, repeats, held, caps_on, dropped_events(raw))
