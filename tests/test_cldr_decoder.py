"""The CLDR second-source decoder (tests/cldr) checked against facts about each OS.

Why: before the decoder may judge the product's HID encoder it must itself be right. Every
report here is written by hand; nothing comes from appliance/.
"""

from __future__ import annotations

import string
from itertools import combinations

import pytest

from tests.cldr.decoder import (
    DATA_DIR,
    HID_TO_MAC_KEYCODE,
    HID_TO_WINDOWS_SCAN,
    MOD_LALT,
    MOD_LCTRL,
    MOD_LGUI,
    MOD_LSHIFT,
    MOD_RALT,
    MOD_RCTRL,
    MOD_RGUI,
    MOD_RSHIFT,
    OS_NAMES,
    CldrKeyboard,
    DecodeError,
    NoOutputError,
    ShortcutError,
    decode,
    iso_position,
    layout_files,
    load_keyboard,
    parse_modifiers,
    report,
    unescape,
)

# Layouts the brief asks for, by the CLDR file that holds them (see tests/cldr/data/README.md).
OSX_FILES = [
    "en-t-k0-osx.xml",  # U.S.
    "en-GB-t-k0-osx.xml",  # British
    "de-t-k0-osx.xml",
    "fr-t-k0-osx.xml",
    "es-t-k0-osx.xml",
    "it-t-k0-osx.xml",
    "pt-t-k0-osx.xml",  # Brazilian (the only Portuguese osx file in CLDR)
    "de-CH-t-k0-osx.xml",
    "sv-t-k0-osx.xml",
    "nb-t-k0-osx.xml",
    "da-t-k0-osx.xml",
    "fi-t-k0-osx.xml",
    "nl-t-k0-osx.xml",
    "pl-t-k0-osx-extended.xml",  # Polish Pro
]
WINDOWS_FILES = [
    "en-t-k0-windows.xml",  # US
    "en-t-k0-windows-intl.xml",  # United States-International
    "en-GB-t-k0-windows.xml",
    "de-t-k0-windows.xml",
    "fr-t-k0-windows.xml",
    "es-t-k0-windows.xml",
    "it-t-k0-windows.xml",
    "pt-t-k0-windows.xml",  # Portuguese (Brazil ABNT)
    "pt-PT-t-k0-windows.xml",  # Portuguese (Portugal)
    "de-CH-t-k0-windows.xml",
    "sv-t-k0-windows.xml",
    "nb-t-k0-windows.xml",
    "da-t-k0-windows.xml",
    "fi-t-k0-windows.xml",
    "nl-t-k0-windows.xml",
    "pl-t-k0-windows-extended.xml",  # Polish (Programmers)
    "pl-t-k0-windows.xml",  # Polish (214)
]
ALL_LAYOUTS = [("osx", f) for f in OSX_FILES] + [("windows", f) for f in WINDOWS_FILES]

# HID usages (USB HID Usage Tables, keyboard page 0x07).
A, C, E, L, Q, U, X = 0x04, 0x06, 0x08, 0x0F, 0x14, 0x18, 0x1B
DIGIT_5, DIGIT_9 = 0x22, 0x26
ENTER, ESCAPE, BACKSPACE, TAB, SPACE = 0x28, 0x29, 0x2A, 0x2B, 0x2C
APOSTROPHE, GRAVE, NON_US_BACKSLASH, CAPS_LOCK = 0x34, 0x35, 0x64, 0x39
UP = report()  # all keys released


def tap(usage: int, modifiers: int = 0) -> list[bytes]:
    """Press and release one key with modifiers held throughout."""
    return [report(modifiers, usage), report(modifiers)]


def typed(
    os_name: str,
    file_name: str,
    *taps: list[bytes],
    mac_keyboard_type: str = "ansi",
    caps_lock: bool = False,
) -> str:
    """Decode a sequence of taps on one CLDR layout."""
    reports = [r for t in taps for r in t]
    kb = load_keyboard(os_name, file_name)
    return decode(reports, kb, mac_keyboard_type=mac_keyboard_type, caps_lock=caps_lock)


def usages_for(os_name: str) -> list[int]:
    """Every character-key usage the decoder knows for an OS."""
    return sorted(HID_TO_MAC_KEYCODE if os_name == "osx" else HID_TO_WINDOWS_SCAN)


# --- the stored data -------------------------------------------------------------------------


def test_every_requested_layout_is_stored() -> None:
    assert set(OSX_FILES) <= set(layout_files("osx"))
    assert set(WINDOWS_FILES) <= set(layout_files("windows"))


def test_every_stored_file_is_described_in_the_readme() -> None:
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for os_name in OS_NAMES:
        for path in (DATA_DIR / os_name).glob("*.xml"):
            assert f"{os_name}/{path.name}" in readme
    assert (DATA_DIR / "LICENSE").read_text(encoding="utf-8").startswith("UNICODE, INC. LICENSE")


@pytest.mark.parametrize(("os_name", "file_name"), ALL_LAYOUTS)
def test_layout_loads_with_letters_and_digits(os_name: str, file_name: str) -> None:
    kb = load_keyboard(os_name, file_name)
    base = {key.to for key in kb.base.keys.values()}
    shifted_map = kb.keymap_for(frozenset({"shiftL"}))
    assert shifted_map is not None
    shifted = {key.to for key in shifted_map.keys.values()}
    assert set(string.ascii_lowercase) <= base
    assert set(string.digits) <= base | shifted  # fr has its digits on Shift
    assert kb.base.keys["A03"].to == " "


@pytest.mark.parametrize(("os_name", "file_name"), ALL_LAYOUTS)
def test_keymaps_are_disjoint_for_every_modifier_state(os_name: str, file_name: str) -> None:
    """UTS #35 requires it; a failure here would mean the modifier parser is wrong."""
    kb = load_keyboard(os_name, file_name)
    third = "opt" if os_name == "osx" else "alt"
    atoms = ["shiftL", "shiftR", "ctrlL", "ctrlR", third + "L", third + "R", "caps"]
    atoms += ["cmd"] if os_name == "osx" else []
    for size in range(len(atoms) + 1):
        for state in combinations(atoms, size):
            kb.keymap_for(frozenset(state))  # raises CldrDataError on an overlap


def test_unescape() -> None:
    assert unescape(r"\u{22}") == '"'
    assert unescape(r"\u{F8FF}x") == "\uf8ffx"
    assert unescape(r"a\u{41 301}b") == "aA\u0301b"
    assert unescape("\\") == "\\"


# --- modifier matching (UTS #35 Part 7, keyMap/@modifiers) ---------------------------------


def matches(modifiers: str, os_name: str, *state: str) -> bool:
    return any(alt.matches(frozenset(state)) for alt in parse_modifiers(modifiers, os_name))


def test_unsided_modifier_means_either_or_both_keys() -> None:
    assert matches("shift", "osx", "shiftL")
    assert matches("shift", "osx", "shiftR")
    assert matches("shift", "osx", "shiftL", "shiftR")
    assert not matches("shift", "osx")


def test_modifier_not_named_must_be_off() -> None:
    assert not matches("shift", "osx", "shiftL", "caps")
    assert not matches("opt", "osx", "optL", "cmd")
    assert matches("opt+shift+cmd?+caps?", "osx", "optR", "shiftL", "cmd", "caps")


def test_sided_and_optional_modifiers() -> None:
    expression = "cmd+ctrl+caps+shift+optR?"
    assert matches(expression, "osx", "cmd", "ctrlL", "caps", "shiftR")
    assert matches(expression, "osx", "cmd", "ctrlL", "caps", "shiftR", "optR")
    assert not matches(expression, "osx", "cmd", "ctrlL", "caps", "shiftR", "optL")
    assert matches("caps+shiftR+shiftL?", "osx", "caps", "shiftR", "shiftL")
    assert not matches("caps+shiftR+shiftL?", "osx", "caps", "shiftL")


def test_windows_altgr_expression() -> None:
    expression = "altR+caps? ctrl+alt+caps?"
    for state in [("altR",), ("altR", "caps"), ("ctrlL", "altL"), ("ctrlL", "altR")]:
        assert matches(expression, "windows", *state)
    for state in [("altL",), ("ctrlL",), ("altR", "shiftL"), ("ctrlR", "altR", "shiftR")]:
        assert not matches(expression, "windows", *state)


def test_modifier_names_of_the_other_os_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_modifiers("alt", "osx")
    with pytest.raises(ValueError):
        parse_modifiers("opt+cmd", "windows")


# --- key positions ---------------------------------------------------------------------------

US_UNSHIFTED = "abcdefghijklmnopqrstuvwxyz1234567890"
US_PUNCTUATION = {0x2D: "-_", 0x2E: "=+", 0x2F: "[{", 0x30: "]}", 0x31: "\\|", 0x33: ";:"}
US_PUNCTUATION |= {0x34: "'\"", 0x36: ",<", 0x37: ".>", 0x38: "/?"}


@pytest.mark.parametrize(
    ("os_name", "file_name"), [("osx", OSX_FILES[0]), ("windows", WINDOWS_FILES[0])]
)
def test_us_layout_types_every_key_legend(os_name: str, file_name: str) -> None:
    """The HID -> key code -> ISO chain reaches the key whose US legend matches the usage."""
    for usage, char in zip(range(0x04, 0x28), US_UNSHIFTED, strict=True):
        assert typed(os_name, file_name, tap(usage)) == char
    for usage, legend in US_PUNCTUATION.items():
        plain, shifted = legend[0], legend[1]
        assert typed(os_name, file_name, tap(usage)) == plain
        assert typed(os_name, file_name, tap(usage, MOD_LSHIFT)) == shifted
    assert typed(os_name, file_name, tap(SPACE)) == " "


def test_windows_non_us_hash_is_the_same_key_as_backslash() -> None:
    """Microsoft's table gives HID 0x31 and 0x32 the same scan code (0x2B)."""
    for file_name in ("en-t-k0-windows.xml", "de-t-k0-windows.xml", "en-GB-t-k0-windows.xml"):
        assert typed("windows", file_name, tap(0x32)) == typed("windows", file_name, tap(0x31))
    assert typed("windows", "de-t-k0-windows.xml", tap(0x32)) == "#"
    assert typed("windows", "en-GB-t-k0-windows.xml", tap(0x32)) == "#"


def test_windows_non_us_backslash() -> None:
    assert typed("windows", "en-t-k0-windows.xml", tap(NON_US_BACKSLASH)) == "\\"
    assert typed("windows", "de-t-k0-windows.xml", tap(NON_US_BACKSLASH)) == "<"
    assert typed("windows", "de-t-k0-windows.xml", tap(NON_US_BACKSLASH, MOD_LSHIFT)) == ">"


def test_macos_iso_keyboard_swaps_grave_and_non_us_backslash() -> None:
    """macOS de: 0x35 and 0x64 type each other's characters when the keyboard counts as ISO."""
    kb = load_keyboard("osx", "de-t-k0-osx.xml")
    assert iso_position(kb, GRAVE, "ansi") == "E00"
    assert iso_position(kb, NON_US_BACKSLASH, "ansi") == "B00"
    assert iso_position(kb, GRAVE, "iso") == "B00"
    assert iso_position(kb, NON_US_BACKSLASH, "iso") == "E00"
    space = tap(SPACE)  # "^" is a dead key on German: the space shows it alone
    ansi_grave = typed("osx", "de-t-k0-osx.xml", tap(GRAVE), space)
    ansi_other = typed("osx", "de-t-k0-osx.xml", tap(NON_US_BACKSLASH), space)
    iso_grave = typed("osx", "de-t-k0-osx.xml", tap(GRAVE), space, mac_keyboard_type="iso")
    iso_other = typed(
        "osx", "de-t-k0-osx.xml", tap(NON_US_BACKSLASH), space, mac_keyboard_type="iso"
    )
    assert (ansi_grave, ansi_other) == ("< ", "^")
    assert (iso_grave, iso_other) == ("^", "< ")


def test_other_usages_are_not_guessed() -> None:
    with pytest.raises(DecodeError):
        typed("osx", "en-t-k0-osx.xml", tap(ESCAPE))
    with pytest.raises(DecodeError):
        typed("windows", "en-t-k0-windows.xml", tap(0x89))  # JIS yen: no ISO position
    with pytest.raises(ValueError):
        typed("osx", "en-t-k0-osx.xml", tap(A), mac_keyboard_type="jis")
    with pytest.raises(ValueError):
        typed("windows", "en-t-k0-windows.xml", tap(A), mac_keyboard_type="iso")


# --- facts about each OS --------------------------------------------------------------------


@pytest.mark.parametrize("option", [MOD_LALT, MOD_RALT])
def test_macos_german_option_l_and_option_5(option: int) -> None:
    assert typed("osx", "de-t-k0-osx.xml", tap(L, option)) == "@"
    assert typed("osx", "de-t-k0-osx.xml", tap(DIGIT_5, option)) == "["


def test_macos_us_option_e_is_a_dead_acute() -> None:
    assert typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(E)) == "é"
    assert typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(E, MOD_LSHIFT)) == "É"
    assert typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(SPACE)) == "´"
    # No transform for ´x: the accent and the letter are both typed.
    assert typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(X)) == "´x"


@pytest.mark.parametrize("altgr", [MOD_RALT, MOD_LCTRL | MOD_RALT, MOD_LCTRL | MOD_LALT])
def test_windows_german_altgr_q(altgr: int) -> None:
    """Right Alt, Ctrl+Right Alt (what Windows sees for AltGr) and Ctrl+Alt all act as AltGr."""
    assert typed("windows", "de-t-k0-windows.xml", tap(Q, altgr)) == "@"


def test_windows_us_international_dead_keys() -> None:
    intl = "en-t-k0-windows-intl.xml"
    assert typed("windows", intl, tap(APOSTROPHE), tap(C)) == "ç"
    assert typed("windows", intl, tap(APOSTROPHE), tap(SPACE)) == "'"
    assert typed("windows", intl, tap(APOSTROPHE, MOD_LSHIFT), tap(E)) == "ë"
    assert typed("windows", intl, tap(APOSTROPHE), tap(X)) == "'x"


def test_windows_french_e09_is_c_cedilla() -> None:
    assert typed("windows", "fr-t-k0-windows.xml", tap(DIGIT_9)) == "ç"
    assert typed("windows", "fr-t-k0-windows.xml", tap(DIGIT_9, MOD_LSHIFT)) == "9"


def lowercase_letter_usages(kb: CldrKeyboard) -> dict[str, int]:
    """Letter -> usage for the keys whose base output is a-z."""
    found: dict[str, int] = {}
    for usage in usages_for(kb.os_name):
        try:
            iso = iso_position(kb, usage)
        except DecodeError:
            continue
        output = kb.base.keys.get(iso)
        if output is not None and output.to in string.ascii_lowercase:
            found[output.to] = usage
    return found


@pytest.mark.parametrize(("os_name", "file_name"), ALL_LAYOUTS)
def test_shift_or_caps_lock_uppercases_every_letter(os_name: str, file_name: str) -> None:
    kb = load_keyboard(os_name, file_name)
    letters = lowercase_letter_usages(kb)
    assert sorted(letters) == list(string.ascii_lowercase)
    for letter, usage in letters.items():
        assert decode(tap(usage), kb) == letter
        assert decode(tap(usage, MOD_LSHIFT), kb) == letter.upper()
        assert decode(tap(usage, MOD_RSHIFT), kb) == letter.upper()
        assert decode(tap(usage), kb, caps_lock=True) == letter.upper()


# --- shortcuts are never typing --------------------------------------------------------------


@pytest.mark.parametrize(
    "modifiers", [MOD_LGUI, MOD_RGUI, MOD_LCTRL, MOD_RCTRL, MOD_LCTRL | MOD_LALT]
)
def test_macos_cmd_or_control_is_a_shortcut(modifiers: int) -> None:
    with pytest.raises(ShortcutError):
        typed("osx", "en-t-k0-osx.xml", tap(C, modifiers))


@pytest.mark.parametrize("modifiers", [MOD_LCTRL, MOD_RCTRL, MOD_LALT, MOD_LGUI, MOD_RGUI])
def test_windows_ctrl_alt_or_win_is_a_shortcut(modifiers: int) -> None:
    with pytest.raises(ShortcutError):
        typed("windows", "de-t-k0-windows.xml", tap(C, modifiers))


def test_windows_right_alt_is_a_shortcut_without_altgr_layout() -> None:
    """US has no AltGr keyMap, so Right Alt is plain Alt there."""
    with pytest.raises(ShortcutError):
        typed("windows", "en-t-k0-windows.xml", tap(Q, MOD_RALT))


def test_windows_altgr_key_without_output() -> None:
    with pytest.raises(NoOutputError):
        typed("windows", "de-t-k0-windows.xml", tap(A, MOD_RALT))


# --- report handling --------------------------------------------------------------------------


def test_a_key_types_once_per_key_down() -> None:
    held = [report(0, A), report(0, A), report(MOD_LSHIFT, A), UP]
    assert typed("osx", "en-t-k0-osx.xml", held) == "a"
    rolled = [report(0, A), report(0, A, C), report(0, C), UP]
    assert typed("osx", "en-t-k0-osx.xml", rolled) == "ac"
    assert typed("osx", "en-t-k0-osx.xml", tap(A), tap(A)) == "aa"


def test_two_keys_down_in_one_report_is_refused() -> None:
    with pytest.raises(DecodeError):
        typed("osx", "en-t-k0-osx.xml", [report(0, A, C), UP])


def test_caps_lock_toggles_on_key_down() -> None:
    text = typed("windows", "en-t-k0-windows.xml", tap(A), tap(CAPS_LOCK), tap(A), tap(CAPS_LOCK))
    assert text == "aA"
    assert typed("windows", "en-t-k0-windows.xml", tap(CAPS_LOCK), tap(A), caps_lock=True) == "a"


def test_enter_tab_backspace() -> None:
    text = typed("osx", "en-t-k0-osx.xml", tap(A), tap(TAB), tap(C), tap(BACKSPACE), tap(ENTER))
    assert text == "a\t\n"
    with pytest.raises(DecodeError):
        typed("osx", "en-t-k0-osx.xml", tap(BACKSPACE))


def test_dead_key_edge_cases_are_refused() -> None:
    with pytest.raises(DecodeError):  # the reports end while the host waits
        typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT))
    with pytest.raises(DecodeError):  # Enter after a dead key differs between hosts
        typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(ENTER))
    with pytest.raises(DecodeError):  # dead ´ then dead ¨: Windows and macOS differ
        typed("osx", "en-t-k0-osx.xml", tap(E, MOD_LALT), tap(U, MOD_LALT))


def test_malformed_reports_are_refused() -> None:
    kb = load_keyboard("osx", "en-t-k0-osx.xml")
    with pytest.raises(DecodeError):
        decode([bytes(7)], kb)
    with pytest.raises(DecodeError):
        decode([report(0, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01)], kb)  # ErrorRollOver
