"""A virtual USB host: decodes keyboard reports to text the way a Linux desktop would.

It reads the reports like the kernel's HID driver does (modifier changes, then key releases,
then key presses), feeds the resulting key events through libxkbcommon with the configured
layout and the ``en_US.UTF-8`` compose table (dead keys), and keeps the resulting text. Enter
is ``"\\n"``, Tab ``"\\t"``, Backspace deletes the last character. Its Caps Lock can be set like
a host's; it then answers with LED output reports, which :meth:`read_leds` hands to a typist
just like ``/dev/hidg0`` does.

Used by ``stt-keyboard simulate``/``type --virtual`` and by tests; the end-to-end tests use a
real kernel instead.
"""

from __future__ import annotations

import threading
import unicodedata

from xkbcommon import xkb

from appliance.hid.layout import EVDEV_OFFSET, _compose_table, build_keymap
from appliance.hid.usages import LED_CAPS_LOCK, USAGE_CAPS_LOCK, usage_to_evdev

_DOWN = xkb.KeyDirection.XKB_KEY_DOWN
_UP = xkb.KeyDirection.XKB_KEY_UP


class VirtualHost:
    """A report sink with the same ``write``/``read_leds`` interface as the HID device."""

    def __init__(self, layout: str = "us") -> None:
        self.layout = layout
        self._keymap = build_keymap(layout)
        self._state = self._keymap.state_new()
        table = _compose_table()
        self._compose = table.compose_state_new() if table is not None else None
        self._text: list[str] = []
        self.reports: list[bytes] = []
        self._prev_mods = 0
        self._prev_keys: list[int] = []
        self._leds: list[int] = []
        self._lock = threading.Lock()
        self.key_events = 0

    # -- the sink interface --------------------------------------------------------------

    def write(self, report: bytes) -> int:
        if len(report) != 8:
            raise ValueError(f"a boot keyboard report is 8 bytes, got {len(report)}")
        with self._lock:
            self.reports.append(bytes(report))
            self._apply(bytes(report))
        return 8

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        """The newest LED report since the last call (a virtual host answers at once)."""
        with self._lock:
            if not self._leds:
                return None
            value = self._leds[-1]
            self._leds.clear()
            return value

    def close(self) -> None:
        pass

    # -- what the host shows -------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def keys_down(self) -> bool:
        return bool(self._prev_mods or any(self._prev_keys))

    @property
    def caps_lock(self) -> bool:
        return bool(self._state.led_name_is_active("Caps Lock"))

    @caps_lock.setter
    def caps_lock(self, on: bool) -> None:
        with self._lock:
            if bool(on) != self.caps_lock:
                kc = usage_to_evdev(USAGE_CAPS_LOCK) + EVDEV_OFFSET
                if xkb.keysym_get_name(self._state.key_get_one_sym(kc)) == "Caps_Lock":
                    self._state.update_key(kc, _DOWN)
                    self._state.update_key(kc, _UP)
                else:
                    lock = (1 << self._keymap.mod_get_index("Lock")) if on else 0
                    self._state.update_mask(0, 0, lock, 0, 0, 0)
            self._leds.append(self._led_byte())

    def clear(self) -> None:
        with self._lock:
            self._text.clear()
            self.reports.clear()

    # -- decoding ------------------------------------------------------------------------

    def _led_byte(self) -> int:
        return LED_CAPS_LOCK if self.caps_lock else 0

    def _apply(self, rep: bytes) -> None:
        mods = rep[0]
        keys = [k for k in rep[2:8] if k]
        if keys and all(k == 0x01 for k in keys):  # ErrorRollOver: the kernel ignores it
            return
        changed = mods ^ self._prev_mods
        for bit in range(8):
            if changed & (1 << bit):
                code = usage_to_evdev(0xE0 + bit)
                self._key(code, bool(mods & (1 << bit)))
        for k in self._prev_keys:
            if k not in keys:
                self._key(usage_to_evdev(k), False)
        for k in keys:
            if k not in self._prev_keys:
                self._key(usage_to_evdev(k), True)
        self._prev_mods = mods
        self._prev_keys = keys

    def _key(self, code: int, down: bool) -> None:
        if not code:
            return
        self.key_events += 1
        self.feed_evdev(code, down)

    def feed_evdev(self, code: int, down: bool) -> None:
        """Process one evdev key event (also used to decode a real kernel's events)."""
        kc = code + EVDEV_OFFSET
        caps_before = self.caps_lock
        if not down:
            self._state.update_key(kc, _UP)
            return
        sym = self._state.key_get_one_sym(kc)
        text = self._state.key_get_string(kc)
        self._state.update_key(kc, _DOWN)
        if self.caps_lock != caps_before:
            self._leds.append(self._led_byte())
        name = xkb.keysym_get_name(sym) if sym else ""
        if self._compose is not None and sym:
            self._compose.feed(sym)
            status = self._compose.get_status()
            if status == xkb.ComposeStatus.XKB_COMPOSE_COMPOSING:
                return
            if status == xkb.ComposeStatus.XKB_COMPOSE_COMPOSED:
                self._text.append(str(self._compose.get_utf8()))
                self._compose.reset()
                return
            if status == xkb.ComposeStatus.XKB_COMPOSE_CANCELLED:
                self._compose.reset()
                return
        if name in ("Return", "KP_Enter"):
            self._text.append("\n")
        elif name in ("Tab", "ISO_Left_Tab"):
            self._text.append("\t")
        elif name == "BackSpace":
            if self._text:
                self._text.pop()
        elif text and not any(unicodedata.category(c) == "Cc" for c in text):
            self._text.append(text)
