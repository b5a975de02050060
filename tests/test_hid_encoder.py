"""Encoder and layouts, round-tripped through the virtual host (no hardware, no QEMU)."""

from __future__ import annotations

import random

import pytest

from appliance.hid import SpecialKey, VirtualHost, encode_items, load_layout
from appliance.hid.encoder import ALL_UP
from appliance.hid.layout import LayoutError

LAYOUTS = ["us", "gb", "de", "fr", "es", "it", "ch", "ch(fr)", "se", "no", "dk", "fi", "pt",
           "br", "pl", "us(intl)", "us(dvorak)", "us(colemak)", "cz", "tr", "be", "jp"]  # fmt: skip
ASCII = "".join(chr(c) for c in range(32, 127))


def roundtrip(items, layout: str, unknown: str = "transliterate") -> tuple[str, list[bytes]]:
    host = VirtualHost(layout)
    reports = encode_items(items, load_layout(layout), unknown)  # type: ignore[arg-type]
    for r in reports:
        host.write(r)
    assert not host.keys_down
    return host.text, reports


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_typeable_character_round_trips(layout: str) -> None:
    chars = sorted(load_layout(layout).characters)
    text = "".join(chars)
    assert roundtrip(text, layout)[0] == text


@pytest.mark.parametrize("layout", LAYOUTS)
def test_random_texts_round_trip(layout: str) -> None:
    rng = random.Random(f"seed-{layout}")
    chars = sorted(load_layout(layout).characters)
    for _ in range(20):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(1, 60)))
        assert roundtrip(text, layout)[0] == text


@pytest.mark.parametrize("layout", ["us", "gb", "de", "fr", "us(dvorak)", "us(colemak)", "br"])
def test_all_ascii_on_latin_layouts(layout: str) -> None:
    layout_obj = load_layout(layout)
    text = "".join(c for c in ASCII if layout_obj.can_type(c))
    if layout in ("us", "gb", "de", "us(dvorak)", "us(colemak)", "br"):
        assert text == ASCII
    assert roundtrip(text, layout)[0] == text


def test_layout_specific_characters() -> None:
    expect = {
        "de": "äöüßÄÖÜ€@µ{}", "fr": "àéèùç€", "es": "ñÑ¿¡", "gb": "£€",
        "ch": "äöüéàè", "it": "èéàòù", "se": "åäö", "pl": "ąęłńóśźż", "br": "ç/?",
    }  # fmt: skip
    for layout, chars in expect.items():
        lay = load_layout(layout)
        assert all(lay.can_type(c) for c in chars), (
            layout,
            [c for c in chars if not lay.can_type(c)],
        )


def test_dead_keys_used_where_needed() -> None:
    de = load_layout("de")
    recipe = de.recipe("ê")
    assert recipe is not None and len(recipe) == 2  # dead circumflex + e
    assert len(de.recipe("ä") or ()) == 1
    assert roundtrip("ê â ô û ^ `", "de")[0] == "ê â ô û ^ `"


def test_altgr_and_iso_key_and_abnt2() -> None:
    de = load_layout("de")
    at = de.recipe("@")
    assert at is not None and at[0].modifiers == 0x40  # AltGr
    bar = de.recipe("|")
    assert bar is not None and bar[0].usage == 0x64  # the ISO key left of Y
    slash = load_layout("br").recipe("/")
    assert slash is not None and slash[0].usage == 0x87
    assert roundtrip("a|b@c<d>", "de")[0] == "a|b@c<d>"


def test_modifier_in_its_own_report_and_kept() -> None:
    _, reports = roundtrip("AB", "us")
    shift = 0x02
    assert reports[0] == bytes([shift, 0, 0, 0, 0, 0, 0, 0])  # modifier alone first
    assert reports[1][0] == shift and reports[1][2] == 0x04
    assert reports[2] == bytes([shift, 0, 0, 0, 0, 0, 0, 0])  # key released, shift kept
    assert reports[3][0] == shift and reports[3][2] == 0x05  # no shift release between A, B
    assert reports[-1] == ALL_UP
    # A key is never pressed in the same report where a modifier changes.
    prev = ALL_UP
    for layout, text in [("us", "aBcD!x"), ("de", "a@B€c|Ä")]:
        for r in encode_items(text, load_layout(layout)):
            if r[2]:
                assert r[0] == prev[0], (layout, r, prev)
            prev = r


def test_every_key_released_right_after_press() -> None:
    _, reports = roundtrip("aab", "us")
    keys = [r[2] for r in reports]
    assert keys == [0x04, 0, 0x04, 0, 0x05, 0]  # a, up, a, up, b, up
    for r in reports:
        assert r[3:] == bytes(5)


def test_always_ends_with_all_up() -> None:
    for items in ["", "A", "x", [SpecialKey.ENTER], ["ß", SpecialKey.TAB]]:
        reports = encode_items(items, load_layout("de"))  # type: ignore[arg-type]
        assert reports[-1] == ALL_UP


def test_control_chars_dropped_special_keys_typed() -> None:
    text, _ = roundtrip(["a\nb\tc\x1bd\r", SpecialKey.ENTER, "e", SpecialKey.TAB, "fx",
                         SpecialKey.BACKSPACE], "us")  # fmt: skip
    assert text == "abcd\ne\tf"


def test_unknown_characters_policy() -> None:
    assert roundtrip("Grüße — “ok” ☃", "us", "transliterate")[0] == 'Grusse - "ok" '
    assert roundtrip("Grüße — ok", "us", "skip")[0] == "Gre  ok"
    assert roundtrip("ü", "de", "skip")[0] == "ü"


def test_bad_layout_and_policy() -> None:
    with pytest.raises(LayoutError):
        load_layout("xx")
    with pytest.raises(LayoutError):
        load_layout("us(nonsense)")
    with pytest.raises(ValueError):
        encode_items("a", load_layout("us"), "guess")  # type: ignore[arg-type]


def test_decomposed_input_is_normalised() -> None:
    assert roundtrip("e\u0301", "fr")[0] == "é"
