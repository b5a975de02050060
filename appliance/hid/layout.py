"""Host keyboard layouts, derived from the XKB data Linux desktops use (libxkbcommon).

The host's layout decides which character a key produces, so to type a character the device
must press the key that the host's layout maps to it. A :class:`Layout` is built by asking
libxkbcommon, for every key the encoder may press (``usages.TYPING_USAGES``) and every modifier
combination a typist uses (none, Shift, AltGr, Shift+AltGr), what a host with that layout
would produce: exactly what the host computes. So every XKB layout and variant works
(``us``, ``de``, ``ch(fr)``, ``us(dvorak)``, ...), not a few hand-written tables.

Characters a layout can only reach through a dead key (``ê`` on ``de``, ``^`` itself on ``de``)
are found with the host's compose table (the ``en_US.UTF-8`` Compose file of ``libx11-data``,
which is what a Linux desktop applies to dead keys): dead key, then base key.

The host's operating system (``host_os``) picks the variant of the data that matches what that
OS does with the same-named layout:

- ``linux``: XKB itself, exact. Characters only Caps Lock's capitalisation reaches (``Ç`` on
  ``fr``) are typed with Caps Lock toggled around them.
- ``macos``: XKB's Macintosh variant of the layout where xkb-data has one (``de(mac)``,
  ``fr(mac)``, ``gb(mac)``, ``ch(de_mac)``, ...): Right Alt is Option there, the level-3 key of
  those variants. Which of its keys 0x35 and 0x64 reach depends on the keyboard type macOS
  took the device for (``mac_keyboard_type``) and on the keyboard the data describes
  (:meth:`Layout._models_apple_iso`): where they disagree the strokes swap the two keys.
- ``windows``: XKB's PC layout; Right Alt is AltGr, as Windows treats it.
- On macOS and Windows a dead key is used only where the result is the Unicode composition of
  the accent and the base letter, which both systems' dead keys produce; combinations where
  Linux's Compose table differs from it (``ć`` for acute + ``c`` on ``us(intl)``, where Windows
  types ``ç``) are left out, and the character falls back to the unknown-character policy.

Building a layout takes a few milliseconds; :func:`load_layout` caches them.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Literal

from xkbcommon import xkb

from appliance.hid.keys import SpecialKey
from appliance.hid.usages import (
    MOD_LSHIFT,
    MOD_RALT,
    TYPING_USAGES,
    USAGE_BACKSPACE,
    USAGE_CAPS_LOCK,
    USAGE_ENTER,
    USAGE_TAB,
    usage_to_evdev,
)

log = logging.getLogger(__name__)

HostOs = Literal["linux", "windows", "macos"]
MacKeyboardType = Literal["ansi", "iso"]
HOST_OSES: tuple[str, ...] = ("linux", "windows", "macos")
# Layouts whose Macintosh variant in xkb-data has another name than "mac".
_MAC_VARIANT_NAMES = {("ch", ""): "ch(de_mac)", ("ch", "fr"): "ch(fr_mac)"}
_USAGE_GRAVE, _USAGE_ISO_102ND = 0x35, 0x64

EVDEV_OFFSET = 8  # XKB keycode = evdev keycode + 8
_EV_LEFTSHIFT = 42
_EV_RIGHTALT = 100

# The modifier combinations the typist uses, in order of preference.
MODIFIER_COMBOS: tuple[int, ...] = (0, MOD_LSHIFT, MOD_RALT, MOD_LSHIFT | MOD_RALT)
# Keys every keyboard has come first at each level; the ISO key left of Z (0x64) and the
# Brazilian and Japanese extra keys after them: a host that took the device for an ANSI
# keyboard may give them other characters (Windows' US layout types a backslash on 0x64,
# where XKB has "<").
_EXTRA_KEYS = (0x64, 0x87, 0x89)
_DIGITS = tuple(range(0x1E, 0x28))
_LETTERS = tuple(range(0x04, 0x1E))


def _stroke_order(*, letters_last: bool) -> list[tuple[int, int]]:
    """(modifiers, usage) in the order a character's keys are chosen. ``letters_last``: at
    the AltGr levels the digit row and punctuation come before letters, for PC layouts:
    XKB puts extra symbols on letters at that level (@ on AltGr+A in fr) that Windows does
    not have, while the traditional places (AltGr+0 in fr) are the same. On a Mac, Option
    with a letter is where the symbols are (Option+L is @ on a German Mac)."""
    common = [u for u in TYPING_USAGES if u not in _EXTRA_KEYS]
    punctuation = [u for u in common if u not in _DIGITS + _LETTERS]
    plain, altgr = MODIFIER_COMBOS[:2], MODIFIER_COMBOS[2:]
    order = [(mods, u) for mods in plain for u in common]
    order += [(mods, u) for mods in plain for u in _EXTRA_KEYS]
    if not letters_last:
        return order + [(mods, u) for mods in altgr for u in (*common, *_EXTRA_KEYS)]
    order += [(mods, u) for mods in altgr for u in (*punctuation, *_DIGITS, *_EXTRA_KEYS)]
    order += [(mods, u) for mods in altgr for u in _LETTERS]
    return order


PC_ORDER = _stroke_order(letters_last=True)
MAC_ORDER = _stroke_order(letters_last=False)
_MOD_KEYS = {MOD_LSHIFT: _EV_LEFTSHIFT, MOD_RALT: _EV_RIGHTALT}

SPECIAL_USAGES: dict[SpecialKey, int] = {
    SpecialKey.ENTER: USAGE_ENTER,
    SpecialKey.TAB: USAGE_TAB,
    SpecialKey.BACKSPACE: USAGE_BACKSPACE,
}

_NAME_RE = re.compile(r"^\s*([a-z0-9_-]+)\s*(?:\(\s*([A-Za-z0-9_-]+)\s*\))?\s*$")

# Dead keysym name -> combining character, for the fallback when no Compose file exists.
_DEAD_COMBINING = {
    "dead_grave": "\u0300",
    "dead_acute": "\u0301",
    "dead_circumflex": "\u0302",
    "dead_tilde": "\u0303",
    "dead_macron": "\u0304",
    "dead_breve": "\u0306",
    "dead_abovedot": "\u0307",
    "dead_diaeresis": "\u0308",
    "dead_abovering": "\u030a",
    "dead_doubleacute": "\u030b",
    "dead_caron": "\u030c",
    "dead_cedilla": "\u0327",
    "dead_ogonek": "\u0328",
}


class LayoutError(ValueError):
    """An unknown or unusable layout name."""


@dataclass(frozen=True)
class Stroke:
    """One key press: the modifiers held (HID bits) and the key's HID usage."""

    modifiers: int
    usage: int


Recipe = tuple[Stroke, ...]
"""The strokes that type one character: one, or two for dead key + base key."""


def parse_layout_name(name: str) -> tuple[str, str]:
    """``"us(dvorak)"`` -> ``("us", "dvorak")``; ``"de"`` -> ``("de", "")``."""
    m = _NAME_RE.match(name)
    if not m:
        raise LayoutError(f"not an XKB layout name: {name!r} (e.g. us, de, us(dvorak), ch(fr))")
    return m.group(1), m.group(2) or ""


_ctx_lock = threading.Lock()


def _xkb_log(_user_data: object, level: int, message: str) -> None:
    log.debug("xkbcommon[%s]: %s", level, message.rstrip())


@functools.cache
def _context() -> xkb.Context:
    ctx = xkb.Context()
    ctx.set_log_fn(_xkb_log)
    return ctx


@functools.cache
def _compose_table() -> xkb.ComposeTable | None:
    try:
        return _context().compose_table_new_from_locale("en_US.UTF-8")
    except Exception as exc:  # no libx11-data: fall back to Unicode composition
        log.warning("no XKB compose table (%s); dead keys use Unicode composition", exc)
        return None


def build_keymap(name: str) -> xkb.Keymap:
    """The XKB keymap a Linux host configured with layout ``name`` uses (model pc105)."""
    layout, variant = parse_layout_name(name)
    try:
        return _context().keymap_new_from_names(
            rules="evdev", model="pc105", layout=layout, variant=variant
        )
    except xkb.XKBKeymapCreationFailure as exc:
        raise LayoutError(f"unknown XKB layout {name!r}: see /usr/share/X11/xkb/symbols") from exc


def host_keymap(name: str, host_os: HostOs) -> tuple[str, xkb.Keymap]:
    """The XKB name whose data matches ``name`` on ``host_os``, and its keymap: a Mac's
    variant on macOS when xkb-data has one and the user named no variant; ``name`` itself
    otherwise."""
    if host_os != "macos":
        return name, build_keymap(name)
    layout, variant = parse_layout_name(name)
    mac = _MAC_VARIANT_NAMES.get((layout, variant)) or ("" if variant else f"{layout}(mac)")
    if mac:
        try:
            return mac, build_keymap(mac)
        except LayoutError:
            log.warning("xkb-data has no Macintosh variant of %r: its PC layout is used on the "
                        "Mac (characters may differ; docs/host-notes.md)", name)  # fmt: skip
    return name, build_keymap(name)


class Layout:
    """Which strokes type which character on a host with one XKB layout."""

    def __init__(
        self, name: str, host_os: HostOs = "linux", mac_keyboard_type: MacKeyboardType = "ansi"
    ) -> None:
        if host_os not in HOST_OSES:
            raise LayoutError(f"unknown host OS {host_os!r}: one of {', '.join(HOST_OSES)}")
        self.name = name
        self.host_os: HostOs = host_os
        self.keymap_name, self.keymap = host_keymap(name, host_os)
        layout, _variant = parse_layout_name(self.keymap_name)
        # libxkbcommon quietly substitutes "us" for a symbols file it cannot find.
        lname = self.keymap.layout_get_name(0) if self.keymap.num_layouts() else ""
        if layout != "us" and lname in ("English (US)", ""):
            raise LayoutError(f"unknown XKB layout {name!r}: see /usr/share/X11/xkb/symbols")
        self.description: str = lname
        caps_state = self.keymap.state_new()
        kc_caps = usage_to_evdev(USAGE_CAPS_LOCK) + EVDEV_OFFSET
        self.caps_lock_usage: int | None = (
            USAGE_CAPS_LOCK
            if xkb.keysym_get_name(caps_state.key_get_one_sym(kc_caps)) == "Caps_Lock"
            else None
        )
        self._swap_iso = host_os == "macos" and (
            self._models_apple_iso() != (mac_keyboard_type == "iso")
        )
        self._table: dict[str, Recipe] = self._build(caps=False)
        if self.caps_lock_usage is not None and host_os == "linux":
            self._add_caps_only(self._table, self.caps_lock_usage)
        self._caps_table: dict[str, Recipe] | None = None

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.host_os}, {len(self._table)} characters)"

    # -- queries ---------------------------------------------------------------------------

    def recipe(self, ch: str, *, caps: bool = False) -> Recipe | None:
        """Strokes that type ``ch`` (with the host's Caps Lock on if ``caps``), or None."""
        if caps:
            if self._caps_table is None:
                self._caps_table = self._build(caps=True)
            return self._caps_table.get(ch)
        return self._table.get(ch)

    def can_type(self, ch: str) -> bool:
        return ch in self._table

    @property
    def characters(self) -> frozenset[str]:
        return frozenset(self._table)

    @staticmethod
    def special(key: SpecialKey) -> Stroke:
        return Stroke(0, SPECIAL_USAGES[key])

    # -- construction ----------------------------------------------------------------------

    def _state(self, modifiers: int, caps: bool) -> xkb.KeyboardState:
        state = self.keymap.state_new()
        if caps:
            kc = usage_to_evdev(self.caps_lock_usage or USAGE_CAPS_LOCK) + EVDEV_OFFSET
            if self.caps_lock_usage is not None:
                state.update_key(kc, xkb.KeyDirection.XKB_KEY_DOWN)
                state.update_key(kc, xkb.KeyDirection.XKB_KEY_UP)
            else:
                lock = 1 << self.keymap.mod_get_index("Lock")
                state.update_mask(0, 0, lock, 0, 0, 0)
        for bit, ev in _MOD_KEYS.items():
            if modifiers & bit:
                state.update_key(ev + EVDEV_OFFSET, xkb.KeyDirection.XKB_KEY_DOWN)
        return state

    def _build(self, caps: bool) -> dict[str, Recipe]:
        table: dict[str, Recipe] = {}
        dead: list[tuple[int, Stroke]] = []  # (dead keysym, stroke)
        base_syms: dict[str, tuple[int, Stroke]] = {}  # char -> (keysym, stroke)
        with _ctx_lock:
            states = {mods: self._state(mods, caps) for mods in MODIFIER_COMBOS}
            for mods, usage in MAC_ORDER if self.host_os == "macos" else PC_ORDER:
                state = states[mods]
                kc = usage_to_evdev(usage) + EVDEV_OFFSET
                sym = state.key_get_one_sym(kc)
                if not sym:
                    continue
                stroke = Stroke(mods, self._host_usage(usage))
                if xkb.keysym_get_name(sym).startswith("dead_"):
                    dead.append((sym, stroke))
                    continue
                text = state.key_get_string(kc)
                if len(text) != 1 or not _typeable_char(text):
                    continue
                if text not in table:
                    table[text] = (stroke,)
                    base_syms[text] = (sym, stroke)
            self._add_dead_keys(table, dead, base_syms)
        return table

    def _models_apple_iso(self) -> bool:
        """Whether the XKB data describes an Apple ISO keyboard: its key left of 1 (TLDE,
        which HID 0x35 reaches) is the one macOS numbers 10, and the key left of Z (LSGT) is
        macOS's 50. So are xkb-data's Mac variants, except us(mac), which has the ANSI
        keyboard's grave key left of 1 and the § key of ISO ones on LSGT; so is no PC
        layout. macOS gives 0x35 the number 50 and 0x64 the number 10 on a keyboard it takes
        for ANSI, and the other way round on one it takes for ISO: where the two disagree,
        the strokes swap the two keys."""
        if "mac" not in parse_layout_name(self.keymap_name)[1]:
            return False
        state = self.keymap.state_new()
        lsgt = state.key_get_one_sym(usage_to_evdev(_USAGE_ISO_102ND) + EVDEV_OFFSET)
        return xkb.keysym_get_name(lsgt) != "section"

    def _host_usage(self, usage: int) -> int:
        """The usage that reaches XKB's key ``usage`` on this host (a Mac that took the
        device for an ISO keyboard swaps grave and the ISO key)."""
        if self._swap_iso and usage in (_USAGE_GRAVE, _USAGE_ISO_102ND):
            return _USAGE_ISO_102ND if usage == _USAGE_GRAVE else _USAGE_GRAVE
        return usage

    def _add_caps_only(self, table: dict[str, Recipe], caps_usage: int) -> None:
        """Characters only Caps Lock's capitalisation reaches: no level of ``fr`` holds ``Ç``,
        but its ``ç`` key types it with Caps Lock on. Caps Lock on, the key, Caps Lock off,
        so the host's state is as it was."""
        toggle = Stroke(0, caps_usage)
        for ch, recipe in self._build(caps=True).items():
            if ch not in table:
                table[ch] = (toggle, *recipe, toggle)

    def _add_dead_keys(
        self,
        table: dict[str, Recipe],
        dead: list[tuple[int, Stroke]],
        base_syms: dict[str, tuple[int, Stroke]],
    ) -> None:
        if not dead:
            return
        compose = _compose_table()
        space = base_syms.get(" ")
        bases = list(base_syms.items())
        if space is not None:
            bases.insert(0, (" ", space))  # dead key + space = the accent itself
        for dsym, dstroke in dead:
            pairs = [*bases, *((f"dead{i}", (sym, st)) for i, (sym, st) in enumerate(dead))]
            for base_ch, (bsym, bstroke) in pairs:
                result = _compose2(compose, dsym, bsym, base_ch)
                if result and self._accent_beats_altgr(table, result, base_ch):
                    table[result] = (dstroke, bstroke)
                    continue
                if result and len(result) == 1 and result not in table:
                    if not _typeable_char(result):
                        continue
                    if self.host_os != "linux" and not _unicode_composition(dsym, base_ch, result):
                        continue
                    table[result] = (dstroke, bstroke)

    def _accent_beats_altgr(self, table: dict[str, Recipe], result: str, base_ch: str) -> bool:
        """On Windows and macOS a dead key and space type the accent where XKB also has it
        at an AltGr (Option) level that the host does not: US-International's ' and " are
        dead keys on Windows, where AltGr+' types ´, not '. So the dead key wins."""
        if self.host_os == "linux" or base_ch != " " or len(result) != 1:
            return False
        recipe = table.get(result)
        return recipe is not None and len(recipe) == 1 and bool(recipe[0].modifiers & MOD_RALT)


def _typeable_char(ch: str) -> bool:
    """A character text can contain as is: no control, and unchanged by NFC (the encoder
    normalises its input, so a character NFC rewrites could never be asked for)."""
    return unicodedata.category(ch) not in ("Cc", "Mn", "Me") and (
        unicodedata.normalize("NFC", ch) == ch
    )


def _unicode_composition(dead_sym: int, base_ch: str, result: str) -> bool:
    """Whether ``result`` is what Unicode composes from the dead key's accent and
    ``base_ch``: what macOS's and Windows' dead keys type, unlike some of Linux's Compose
    table. A dead key and space (the accent alone) is left to the host's data."""
    if base_ch == " ":
        return True
    combining = _DEAD_COMBINING.get(xkb.keysym_get_name(dead_sym))
    if combining is None or len(base_ch) != 1:
        return False
    return unicodedata.normalize("NFC", base_ch + combining) == result


def _compose2(
    compose: xkb.ComposeTable | None, dead_sym: int, base_sym: int, base_ch: str
) -> str | None:
    if compose is not None:
        cs = compose.compose_state_new()
        cs.feed(dead_sym)
        cs.feed(base_sym)
        if cs.get_status() == xkb.ComposeStatus.XKB_COMPOSE_COMPOSED:
            return str(cs.get_utf8())
        return None
    combining = _DEAD_COMBINING.get(xkb.keysym_get_name(dead_sym))
    if combining is None or base_ch == " ":
        return None
    composed = unicodedata.normalize("NFC", base_ch + combining)
    return composed if len(composed) == 1 else None


@functools.lru_cache(maxsize=32)
def load_layout(
    name: str, host_os: HostOs = "linux", mac_keyboard_type: MacKeyboardType = "ansi"
) -> Layout:
    """The :class:`Layout` for an XKB name such as ``us``, ``de``, ``us(dvorak)``, ``ch(fr)``,
    as the host's OS types it.

    Raises :class:`LayoutError` for a name XKB does not know.
    """
    return Layout(name.strip(), host_os, mac_keyboard_type)
