"""Decode USB HID boot-keyboard reports into the text a macOS or Windows host would type.

Why this exists: the product's encoder has to be checked against something it did not write
itself. This module reads only Unicode CLDR's keyboard data (tests/cldr/data, copied unchanged
from unicode-org/cldr, see data/README.md) plus public descriptions of how each OS turns a HID
usage into its own key code. It never imports anything from appliance/.

Chain per key press: HID usage (page 7) -> platform key code (Windows: PS/2 scan code set 1;
macOS: virtual key code) -> ISO position (CLDR _platform.xml hardwareMap) -> the keyMap that
matches the held modifiers -> the key's output -> CLDR transforms (dead keys).

Modifier matching follows UTS #35 Part 7 (Keyboards) as published up to CLDR 43
(unicode-org/cldr specs/ldml/tr35-keyboards.html, "Element: keyMap") and CLDR's own reference
code (tools/java/org/unicode/cldr/draft/KeyboardModifierSet.java):
- modifiers="a b" lists alternatives; an alternative is a "+"-joined set of names;
- "shift"/"ctrl"/"alt"/"opt" without a side means the left key, the right key, or both;
  "shiftL"/"shiftR" etc. mean that side; "cmd" and "caps" have no sides;
- a name ending in "?" may be on or off;
- any modifier not named in the alternative must be off;
- a keyMap without modifiers is the base map; when nothing matches, the base map is used,
  unless <settings fallback="omit"/>, which means "no output";
- a key missing from the matching keyMap produces no output.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
OS_NAMES = ("osx", "windows")
MAC_KEYBOARD_TYPES = ("ansi", "iso")

# --- errors -------------------------------------------------------------------------------


class CldrDataError(ValueError):
    """A CLDR file uses something this decoder does not understand (so it refuses to guess)."""


class DecodeError(ValueError):
    """The reports are not plain typing this decoder can vouch for."""


class ShortcutError(DecodeError):
    """A key went down with Ctrl/Alt (not as AltGr), Cmd or the Windows key held.

    The host would run a shortcut instead of typing, so this is reported rather than decoded:
    a test can prove that no shortcut was ever sent.
    """


class NoOutputError(DecodeError):
    """CLDR says this key types nothing with these modifiers (fallback="omit" or no map)."""


# --- HID usage -> platform key code --------------------------------------------------------

# HID usages (USB HID Usage Tables, page 7) handled outside the layout.
USAGE_ERROR_ROLLOVER = 0x01
USAGE_ENTER = 0x28
USAGE_BACKSPACE = 0x2A
USAGE_TAB = 0x2B
USAGE_SPACE = 0x2C
USAGE_CAPS_LOCK = 0x39
USAGE_GRAVE = 0x35  # "Keyboard Grave Accent and Tilde" (ISO E00)
USAGE_NON_US_BACKSLASH = 0x64  # "Keyboard Non-US \ and |" (ISO B00, key left of Z)

_LETTER_USAGES = range(0x04, 0x1E)  # a..z
_DIGIT_USAGES = range(0x1E, 0x28)  # 1..9, 0

# Windows identifies keys by scan code set 1 (that is what the CLDR windows hardwareMap
# lists). Source: Microsoft, "USB HID to PS/2 Scan Code Translation Table" (translate.pdf,
# 2004, part of the "Keyboard Scan Code Specification"), column "PS/2 Set 1 Make".
# HID 0x31 (US \|) and HID 0x32 ("Europe 1", non-US #~) both translate to scan 0x2B; the
# CLDR windows hardwareMap puts scan 0x2B at C12, so both land on the same key.
_WINDOWS_LETTER_SCAN = (
    0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32,
    0x31, 0x18, 0x19, 0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C,
)  # fmt: skip
HID_TO_WINDOWS_SCAN: Mapping[int, int] = {
    **dict(zip(_LETTER_USAGES, _WINDOWS_LETTER_SCAN, strict=True)),
    **{usage: 0x02 + i for i, usage in enumerate(_DIGIT_USAGES)},  # 1..0 -> 02..0B
    USAGE_SPACE: 0x39,
    0x2D: 0x0C,  # - _
    0x2E: 0x0D,  # = +
    0x2F: 0x1A,  # [ {
    0x30: 0x1B,  # ] }
    0x31: 0x2B,  # \ |
    0x32: 0x2B,  # Europe 1 (non-US # ~)
    0x33: 0x27,  # ; :
    0x34: 0x28,  # ' "
    USAGE_GRAVE: 0x29,  # ` ~
    0x36: 0x33,  # , <
    0x37: 0x34,  # . >
    0x38: 0x35,  # / ?
    USAGE_NON_US_BACKSLASH: 0x56,  # Europe 2 (non-US \ |)
    0x87: 0x73,  # International1 (JIS/ABNT key next to right Shift)
    0x89: 0x7D,  # International3 (JIS yen)
}

# macOS identifies keys by virtual key code (HIToolbox Events.h: kVK_ANSI_A = 0x00 ...
# kVK_ANSI_Grave = 0x32, kVK_ISO_Section = 0x0A). The HID -> key code table is Apple's own,
# IOHIDFamily Cosmo_USB2ADB.c (hid_usb_2_adb_keymap); 0x64 -> 0x0A is marked "ISO only".
_MAC_LETTER_KEYCODE = (
    0x00, 0x0B, 0x08, 0x02, 0x0E, 0x03, 0x05, 0x04, 0x22, 0x26, 0x28, 0x25, 0x2E,
    0x2D, 0x1F, 0x23, 0x0C, 0x0F, 0x01, 0x11, 0x20, 0x09, 0x0D, 0x07, 0x10, 0x06,
)  # fmt: skip
_MAC_DIGIT_KEYCODE = (0x12, 0x13, 0x14, 0x15, 0x17, 0x16, 0x1A, 0x1C, 0x19, 0x1D)
MAC_KEYCODE_GRAVE = 0x32  # kVK_ANSI_Grave, ISO E00
MAC_KEYCODE_ISO_SECTION = 0x0A  # kVK_ISO_Section, ISO B00
HID_TO_MAC_KEYCODE: Mapping[int, int] = {
    **dict(zip(_LETTER_USAGES, _MAC_LETTER_KEYCODE, strict=True)),
    **dict(zip(_DIGIT_USAGES, _MAC_DIGIT_KEYCODE, strict=True)),
    USAGE_SPACE: 0x31,
    0x2D: 0x1B,  # - _
    0x2E: 0x18,  # = +
    0x2F: 0x21,  # [ {
    0x30: 0x1E,  # ] }
    0x31: 0x2A,  # \ |
    0x32: 0x2A,  # non-US # ~ (same key code as \ |)
    0x33: 0x29,  # ; :
    0x34: 0x27,  # ' "
    USAGE_GRAVE: MAC_KEYCODE_GRAVE,
    0x36: 0x2B,  # , <
    0x37: 0x2F,  # . >
    0x38: 0x2C,  # / ?
    USAGE_NON_US_BACKSLASH: MAC_KEYCODE_ISO_SECTION,
    0x87: 0x5E,  # kVK_JIS_Underscore
    0x89: 0x5D,  # kVK_JIS_Yen
}


def mac_keycode(usage: int, mac_keyboard_type: str) -> int | None:
    """The macOS virtual key code for a HID usage, or None for keys this decoder ignores.

    Why the keyboard type matters: when macOS treats a keyboard as ISO it swaps the two keys
    around E00 and B00. Apple IOHIDFamily (IOHIDKeyboardEventTranslator.c,
    __IOHIDKeyboardEventTranslatorGetKeyboardKeyCode: "if (isISO) { NonUSBackslash ->
    kVK_ANSI_Grave; GraveAccentAndTilde -> kVK_ISO_Section }"; older IOHIDKeyboard.cpp
    patched _usb_2_adb_keymap[0x35] = 0x0a and [0x64] = 0x32 for ISO keyboards). Apple's
    own ISO keyboards send the two usages swapped, which is why Linux hid-apple has the
    iso_layout parameter (drivers/hid/hid-apple.c, apple_iso_keyboard[]: KEY_GRAVE <->
    KEY_102ND) and why Karabiner-Elements tells users whose ` types § to set the virtual
    keyboard type to ANSI (pqrs-org/Karabiner-Elements issues #4201, #2027, #345).
    """
    if mac_keyboard_type not in MAC_KEYBOARD_TYPES:
        raise ValueError(f"mac_keyboard_type must be one of {MAC_KEYBOARD_TYPES}")
    code = HID_TO_MAC_KEYCODE.get(usage)
    if mac_keyboard_type == "iso" and code in (MAC_KEYCODE_GRAVE, MAC_KEYCODE_ISO_SECTION):
        return MAC_KEYCODE_ISO_SECTION if code == MAC_KEYCODE_GRAVE else MAC_KEYCODE_GRAVE
    return code


# --- HID modifier byte -> CLDR modifier names ------------------------------------------------

MOD_LCTRL, MOD_LSHIFT, MOD_LALT, MOD_LGUI = 0x01, 0x02, 0x04, 0x08
MOD_RCTRL, MOD_RSHIFT, MOD_RALT, MOD_RGUI = 0x10, 0x20, 0x40, 0x80

# One CLDR name per physical modifier. Alt is "alt" on Windows and "opt" (Option) on macOS;
# both GUI keys are "cmd" on macOS. The Windows key has no CLDR name ("win" matches nothing
# and is always a shortcut).
_BITS: Mapping[str, Mapping[int, str]] = {
    "osx": {
        MOD_LCTRL: "ctrlL", MOD_LSHIFT: "shiftL", MOD_LALT: "optL", MOD_LGUI: "cmd",
        MOD_RCTRL: "ctrlR", MOD_RSHIFT: "shiftR", MOD_RALT: "optR", MOD_RGUI: "cmd",
    },
    "windows": {
        MOD_LCTRL: "ctrlL", MOD_LSHIFT: "shiftL", MOD_LALT: "altL", MOD_LGUI: "win",
        MOD_RCTRL: "ctrlR", MOD_RSHIFT: "shiftR", MOD_RALT: "altR", MOD_RGUI: "win",
    },
}  # fmt: skip


def modifier_state(os_name: str, modifier_byte: int, caps_lock: bool) -> frozenset[str]:
    """The set of CLDR modifier names that are on, from the report's byte 0 and Caps Lock.

    Why literal bits: on Windows, Right Alt on an AltGr layout reaches applications as
    Ctrl+Alt; the CLDR windows files list both "altR" and "ctrl+alt", so the literal state
    matches either way.
    """
    names = {name for bit, name in _BITS[os_name].items() if modifier_byte & bit}
    if caps_lock:
        names.add("caps")
    return frozenset(names)


# --- CLDR modifier expressions ---------------------------------------------------------------

_SIDED = {"shift", "ctrl", "alt", "opt"}
_ALLOWED_NAMES = {
    "osx": {"shift", "ctrl", "opt", "cmd", "caps"},
    "windows": {"shift", "ctrl", "alt", "caps"},
}


def _atoms(name: str) -> frozenset[str]:
    """The physical modifiers a CLDR name stands for ("shift" -> both Shift keys)."""
    if name in _SIDED:
        return frozenset({name + "L", name + "R"})
    return frozenset({name})


def _family(name: str) -> str:
    """ "shiftL" -> "shift"; "cmd" -> "cmd"."""
    if name[-1:] in ("L", "R") and name[:-1] in _SIDED:
        return name[:-1]
    return name


@dataclass(frozen=True)
class ModifierAlternative:
    """One "+"-joined alternative of a keyMap's modifiers attribute."""

    required: frozenset[str]
    optional: frozenset[str]

    def matches(self, state: frozenset[str]) -> bool:
        """True when the held modifiers satisfy this alternative exactly (UTS #35 Part 7)."""
        covered: set[str] = set()
        for name in self.required | self.optional:
            covered |= _atoms(name)
        if state - covered:  # something is held that the alternative does not mention
            return False
        return all(state & _atoms(name) for name in self.required)


def parse_modifiers(text: str, os_name: str) -> tuple[ModifierAlternative, ...]:
    """Parse a keyMap modifiers attribute ("altR+caps? ctrl+alt+caps?") into alternatives."""
    alternatives = []
    for alternative in text.split():
        required: set[str] = set()
        optional: set[str] = set()
        for token in alternative.split("+"):
            name = token.removesuffix("?")
            if _family(name) not in _ALLOWED_NAMES[os_name]:
                raise CldrDataError(f"unknown {os_name} modifier {token!r} in {text!r}")
            (optional if token.endswith("?") else required).add(name)
        alternatives.append(ModifierAlternative(frozenset(required), frozenset(optional)))
    if not alternatives:
        raise CldrDataError(f"empty modifiers attribute {text!r}")
    return tuple(alternatives)


# --- the keyboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOutput:
    """What one key types in one keyMap."""

    to: str
    transform: bool  # False for transform="no": never part of a dead-key sequence


@dataclass(frozen=True)
class KeyMap:
    """One <keyMap>: the outputs for one set of modifier combinations."""

    modifiers: str | None  # None for the base map
    alternatives: tuple[ModifierAlternative, ...]
    keys: Mapping[str, KeyOutput]  # ISO position -> output

    def matches(self, state: frozenset[str]) -> bool:
        """True when this keyMap applies to the held modifiers (base: none held)."""
        if self.modifiers is None:
            return not state
        return any(alternative.matches(state) for alternative in self.alternatives)


@dataclass(frozen=True)
class CldrKeyboard:
    """A CLDR (<= 43) keyboard file plus its platform's hardwareMap."""

    os_name: str
    file_name: str
    locale: str
    name: str
    keymaps: tuple[KeyMap, ...]
    transforms: Mapping[str, str]  # from -> to (type="simple")
    fallback_omit: bool
    iso_by_keycode: Mapping[int, str]

    @property
    def base(self) -> KeyMap:
        """The keyMap without a modifiers attribute."""
        return next(keymap for keymap in self.keymaps if keymap.modifiers is None)

    def keymap_for(self, state: frozenset[str]) -> KeyMap | None:
        """The one keyMap matching the modifiers, or None (CLDR requires them disjoint)."""
        found = [keymap for keymap in self.keymaps if keymap.matches(state)]
        if len(found) > 1:
            names = [keymap.modifiers for keymap in found]
            raise CldrDataError(f"{self.file_name}: {sorted(state)} matches keyMaps {names}")
        return found[0] if found else None

    @property
    def has_altgr(self) -> bool:
        """True when Right Alt (alone, or as Windows' Ctrl+Right Alt) selects a keyMap."""
        if self.os_name != "windows":
            return False
        return any(
            self.keymap_for(frozenset(state)) is not None for state in ({"altR"}, {"ctrlL", "altR"})
        )

    def starts_dead_key(self, text: str) -> bool:
        """True when text is a proper prefix of some transform: the host waits for more."""
        return any(source != text and source.startswith(text) for source in self.transforms)


_ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]{1,6}(?: [0-9A-Fa-f]{1,6})*)\}")


def unescape(text: str) -> str:
    r"""Replace CLDR's \u{XXXX} escapes (one or more space-separated hex values)."""
    return _ESCAPE.sub(lambda m: "".join(chr(int(h, 16)) for h in m.group(1).split()), text)


def layout_files(os_name: str) -> list[str]:
    """The keyboard files stored for an OS (everything except _platform.xml)."""
    return sorted(p.name for p in (DATA_DIR / os_name).glob("*.xml") if p.name[0] != "_")


@cache
def _hardware_map(os_name: str) -> Mapping[int, str]:
    """Platform key code -> ISO position, from CLDR's _platform.xml."""
    root = ET.parse(DATA_DIR / os_name / "_platform.xml").getroot()
    return {int(m.get("keycode", "")): m.get("iso", "") for m in root.iter("map")}


def _parse_keymap(element: ET.Element, os_name: str) -> KeyMap:
    """One <keyMap> element."""
    modifiers = element.get("modifiers")
    keys: dict[str, KeyOutput] = {}
    for item in element.findall("map"):
        iso, to = item.get("iso"), item.get("to")
        if iso is None or to is None or iso in keys:
            raise CldrDataError(f"bad or repeated <map> {item.attrib}")
        keys[iso] = KeyOutput(unescape(to), item.get("transform") != "no")
    alternatives = () if modifiers is None else parse_modifiers(modifiers, os_name)
    return KeyMap(modifiers, alternatives, keys)


def _parse_transforms(root: ET.Element) -> dict[str, str]:
    """All <transforms type="simple"> rules; other transform types are refused."""
    rules: dict[str, str] = {}
    for group in root.findall("transforms"):
        if group.get("type") != "simple":
            raise CldrDataError(f"unsupported transforms type {group.get('type')!r}")
        for rule in group.findall("transform"):
            source = unescape(rule.get("from", ""))
            if not source or source in rules:
                raise CldrDataError(f"bad or repeated transform {rule.attrib}")
            rules[source] = unescape(rule.get("to", ""))
    return rules


@cache
def load_keyboard(os_name: str, file_name: str) -> CldrKeyboard:
    """Load tests/cldr/data/<os_name>/<file_name> (os_name "osx" or "windows")."""
    if os_name not in OS_NAMES:
        raise ValueError(f"os_name must be one of {OS_NAMES}")
    root = ET.parse(DATA_DIR / os_name / file_name).getroot()  # the DOCTYPE is not loaded
    settings = root.find("settings")
    if settings is not None and settings.get("transformFailure") not in (None, "emit"):
        raise CldrDataError(f"{file_name}: transformFailure is not supported")
    names = root.find("names/name")
    keymaps = tuple(_parse_keymap(element, os_name) for element in root.findall("keyMap"))
    if sum(keymap.modifiers is None for keymap in keymaps) != 1:
        raise CldrDataError(f"{file_name}: needs exactly one base keyMap")
    return CldrKeyboard(
        os_name=os_name,
        file_name=file_name,
        locale=root.get("locale", ""),
        name="" if names is None else names.get("value", ""),
        keymaps=keymaps,
        transforms=_parse_transforms(root),
        fallback_omit=settings is not None and settings.get("fallback") == "omit",
        iso_by_keycode=_hardware_map(os_name),
    )


def iso_position(kb: CldrKeyboard, usage: int, mac_keyboard_type: str = "ansi") -> str:
    """The ISO key position (E00, D01, B00, A03, ...) a HID usage reaches on kb's OS."""
    if kb.os_name == "osx":
        code = mac_keycode(usage, mac_keyboard_type)
    else:
        if mac_keyboard_type != "ansi":
            raise ValueError("mac_keyboard_type only applies to macOS")
        code = HID_TO_WINDOWS_SCAN.get(usage)
    iso = None if code is None else kb.iso_by_keycode.get(code)
    if iso is None:
        raise DecodeError(f"HID usage 0x{usage:02X} is not a character key on {kb.os_name}")
    return iso


def key_output(kb: CldrKeyboard, iso: str, state: frozenset[str]) -> KeyOutput:
    """What the key at an ISO position types with these modifiers, before dead keys."""
    keymap = kb.keymap_for(state)
    if keymap is None:
        if kb.fallback_omit:
            raise NoOutputError(f"{kb.file_name}: no keyMap for {sorted(state)}")
        keymap = kb.base
    output = keymap.keys.get(iso)
    if output is None:
        raise NoOutputError(f"{kb.file_name}: {iso} has no output in {keymap.modifiers!r}")
    return output


def shortcut_modifiers(kb: CldrKeyboard, state: frozenset[str]) -> frozenset[str]:
    """The held modifiers that turn a key press into a shortcut (empty: it types).

    macOS: Control or Command. Windows: the Windows key, or Ctrl/Alt unless together they act
    as AltGr (Right Alt, or Ctrl+Alt, on a layout that has AltGr keyMaps).
    """
    if kb.os_name == "osx":
        return state & {"ctrlL", "ctrlR", "cmd"}
    ctrl = state & {"ctrlL", "ctrlR"}
    alt = state & {"altL", "altR"}
    altgr = kb.has_altgr and ("altR" in state or bool(ctrl and alt))
    return (state & {"win"}) | (frozenset() if altgr else ctrl | alt)


# --- the host ---------------------------------------------------------------------------------


class _Host:
    """The typing state a host keeps between key presses: output, Caps Lock, dead key."""

    def __init__(self, kb: CldrKeyboard, mac_keyboard_type: str, caps_lock: bool) -> None:
        self.kb = kb
        self.mac_keyboard_type = mac_keyboard_type
        self.caps_lock = caps_lock
        self.text: list[str] = []  # one code point per item, so Backspace removes one
        self.pending = ""  # the dead-key sequence typed so far

    def key_down(self, usage: int, modifier_byte: int, where: str) -> None:
        """Apply one key press."""
        if usage == USAGE_CAPS_LOCK:
            self.caps_lock = not self.caps_lock
            return
        state = modifier_state(self.kb.os_name, modifier_byte, self.caps_lock)
        held = shortcut_modifiers(self.kb, state)
        if held:
            raise ShortcutError(f"{where}: usage 0x{usage:02X} with {sorted(held)} held")
        if usage in (USAGE_ENTER, USAGE_TAB, USAGE_BACKSPACE):
            self._control_key(usage, state, where)
            return
        iso = iso_position(self.kb, usage, self.mac_keyboard_type)
        try:
            output = key_output(self.kb, iso, state)
        except NoOutputError as error:
            raise NoOutputError(f"{where}: {error}") from None
        self._type(output, where)

    def _control_key(self, usage: int, state: frozenset[str], where: str) -> None:
        """Enter, Tab and Backspace, accepted only without modifiers and dead keys."""
        if state - {"caps"}:
            raise DecodeError(f"{where}: usage 0x{usage:02X} with {sorted(state)} held")
        if self.pending:
            raise DecodeError(f"{where}: usage 0x{usage:02X} after dead key {self.pending!r}")
        if usage == USAGE_BACKSPACE:
            if not self.text:
                raise DecodeError(f"{where}: Backspace with nothing typed")
            self.text.pop()
        else:
            self.text.append("\n" if usage == USAGE_ENTER else "\t")

    def _type(self, output: KeyOutput, where: str) -> None:
        """Send one key's output through CLDR's dead-key transforms.

        A pending dead key combines with the next output through the transforms. When it does
        not combine, CLDR's default (transformFailure="emit") outputs the dead key's own
        character and then the new one; both OSes do the same (Windows: the dead character
        followed by the character, openjdk/jfx 5428f26; macOS: the dead key's terminator is
        output before the key is handled, Apple UCKeyTranslate/UCKeyStateTerminators docs).
        """
        if not output.transform:  # transform="no": never combines
            self.text.extend(self.pending + output.to)
            self.pending = ""
            return
        sequence = self.pending + output.to
        if self.kb.starts_dead_key(sequence):
            self.pending = sequence
        elif sequence in self.kb.transforms:
            self.text.extend(self.kb.transforms[sequence])
            self.pending = ""
        elif self.pending and self.kb.starts_dead_key(output.to):
            # A dead key after a dead key it does not combine with: Windows types both at
            # once, macOS types the first and waits on the second. Refuse rather than pick.
            raise DecodeError(f"{where}: dead key {output.to!r} after dead key {self.pending!r}")
        else:
            self.text.extend(sequence)
            self.pending = ""

    def finish(self) -> str:
        """The typed text; a dead key still waiting at the end is an error."""
        if self.pending:
            raise DecodeError(f"the reports end with dead key {self.pending!r} pending")
        return "".join(self.text)


def _pressed(report: bytes | bytearray | Sequence[int], index: int) -> tuple[int, list[int]]:
    """Byte 0 (modifiers) and the key usages in bytes 2..7 of one boot-keyboard report."""
    if len(report) != 8:
        raise DecodeError(f"report {index}: {len(report)} bytes, a boot report has 8")
    usages = [usage for usage in report[2:8] if usage != 0]
    if USAGE_ERROR_ROLLOVER in usages:
        raise DecodeError(f"report {index}: ErrorRollOver")
    if len(set(usages)) != len(usages):
        raise DecodeError(f"report {index}: a usage appears twice")
    return report[0], usages


def decode(
    reports: Iterable[bytes | bytearray | Sequence[int]],
    kb: CldrKeyboard,
    *,
    mac_keyboard_type: str = "ansi",
    caps_lock: bool = False,
) -> str:
    """The text kb's OS types for these HID reports.

    A key types on key-down: a usage present that was not in the previous report. Caps Lock
    (0x39) toggles on key-down, starting from caps_lock. Enter -> "\\n", Tab -> "\\t",
    Backspace deletes the last character. Raises ShortcutError for a key pressed with a
    shortcut modifier, NoOutputError where CLDR says the key types nothing, and DecodeError
    for anything else this decoder will not guess about (two keys going down in one report,
    non-character keys, a dead key left pending, ...).
    """
    host = _Host(kb, mac_keyboard_type, caps_lock)
    previous: set[int] = set()
    for index, report in enumerate(reports):
        modifier_byte, usages = _pressed(report, index)
        new = [usage for usage in usages if usage not in previous]
        if len(new) > 1:
            raise DecodeError(f"report {index}: {len(new)} keys go down at once (order unknown)")
        for usage in new:
            host.key_down(usage, modifier_byte, f"report {index}")
        previous = set(usages)
    return host.finish()


def report(modifier_byte: int = 0, *usages: int) -> bytes:
    """Build one 8-byte boot-keyboard report (for hand-written test input)."""
    if len(usages) > 6:
        raise ValueError("a boot report holds at most 6 keys")
    return bytes([modifier_byte, 0, *usages, *([0] * (6 - len(usages)))])
