"""hid.host_os: the layout data a macOS or Windows host uses for the same-named layout.

These tests check the encoder's choices (which XKB variant, which usages, which dead keys);
``test_host_os_cldr.py`` checks the typed text against the OSes' own layout data (CLDR).
"""

from __future__ import annotations

import logging

import pytest

from appliance.config import parse_config
from appliance.hid.layout import Layout, LayoutError, Stroke, load_layout
from appliance.hid.typist import Typist
from appliance.hid.usages import MOD_RALT, USAGE_CAPS_LOCK
from appliance.hid.virtual_host import VirtualHost


def test_linux_is_the_default_and_unchanged() -> None:
    assert load_layout("de").host_os == "linux"
    assert load_layout("de").keymap_name == "de"
    assert load_layout("de", "linux").recipe("@") == load_layout("de").recipe("@")


@pytest.mark.parametrize(
    ("name", "mac"),
    [("de", "de(mac)"), ("fr", "fr(mac)"), ("gb", "gb(mac)"), ("ch", "ch(de_mac)"),
     ("ch(fr)", "ch(fr_mac)"), ("us", "us(mac)"), ("de(nodeadkeys)", "de(nodeadkeys)")],
)  # fmt: skip
def test_macos_uses_the_macintosh_variant(name: str, mac: str) -> None:
    assert load_layout(name, "macos").keymap_name == mac


def test_macos_without_a_mac_variant_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        layout = Layout("pl", "macos")
    assert layout.keymap_name == "pl"
    assert "no Macintosh variant of 'pl'" in caplog.text


def test_macos_option_is_right_alt_on_the_mac_layout() -> None:
    """A German Mac types @ with Option+L (the PC layout: AltGr+Q)."""
    assert load_layout("de", "macos").recipe("@") == (Stroke(MOD_RALT, 0x0F),)
    assert load_layout("de", "linux").recipe("@") == (Stroke(MOD_RALT, 0x14),)


def test_macos_iso_keyboard_type_swaps_the_two_keys() -> None:
    ansi = load_layout("de", "macos", "ansi")
    iso = load_layout("de", "macos", "iso")
    swapped = {0x35: 0x64, 0x64: 0x35}
    moved = 0
    for ch in ansi.characters:
        a, i = ansi.recipe(ch), iso.recipe(ch)
        assert a is not None and i is not None
        expected = tuple(Stroke(s.modifiers, swapped.get(s.usage, s.usage)) for s in a)
        assert i == expected, ch
        moved += any(s.usage in swapped for s in a)
    assert moved >= 4  # ^ ° < > at least
    assert load_layout("de", "linux", "iso").recipe("<") == load_layout("de").recipe("<")


def test_only_linux_toggles_caps_lock_for_a_character() -> None:
    assert load_layout("fr", "linux").recipe("Ç")[0] == Stroke(0, USAGE_CAPS_LOCK)  # type: ignore[index]
    for host_os in ("windows", "macos"):
        recipe = load_layout("fr", host_os).recipe("Ç")  # type: ignore[arg-type]
        assert recipe is None or all(s.usage != USAGE_CAPS_LOCK for s in recipe), host_os


def test_dead_keys_on_windows_and_macos_only_where_unicode_composes_the_same() -> None:
    """Linux's Compose table has combinations macOS and Windows do not have: away from Linux
    a dead key is followed by a letter that Unicode composes with its accent, or by space."""
    import unicodedata

    for host_os in ("windows", "macos"):
        for name in ("us(intl)", "de", "fr", "es", "pt"):
            linux, other = load_layout(name, "linux"), load_layout(name, host_os)  # type: ignore[arg-type]
            assert len(other.characters) < len(linux.characters), (host_os, name)
            for ch in other.characters:
                recipe = other.recipe(ch)
                assert recipe is not None
                if len(recipe) != 2:
                    continue
                base = next(c for c in other.characters if other.recipe(c) == recipe[1:])
                nfd = unicodedata.normalize("NFD", ch)
                assert base == " " or nfd.startswith(unicodedata.normalize("NFD", base)), ch
    for ch in "éèêëáàâäóòôöúùûüíìîïñ":
        assert load_layout("us(intl)", "windows").recipe(ch) is not None, ch


def test_unknown_host_os_is_refused() -> None:
    with pytest.raises(LayoutError, match="unknown host OS"):
        Layout("us", "beos")  # type: ignore[arg-type]


def test_config_reaches_the_typist() -> None:
    cfg = parse_config("hid:\n  layout: de\n  host_os: macos\n  mac_keyboard_type: iso\n")
    typist = Typist.from_config(cfg.hid, VirtualHost("de"))
    assert typist.layout.host_os == "macos" and typist.layout.keymap_name == "de(mac)"
    assert typist.layout.recipe("@") == (Stroke(MOD_RALT, 0x0F),)
