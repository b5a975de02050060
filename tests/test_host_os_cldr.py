"""hid.host_os checked against the OSes' own layout data: every printable ASCII character and
the language's letters, encoded by our typist for a macOS or Windows host, decoded with
Unicode CLDR's keyboard files for that OS (tests/cldr: a decoder written apart from the
encoder, fed from a second source; CLDR's files are old snapshots, OS X 10.4-10.9 and
Windows 7/8, see tests/cldr/data/README.md).

The layouts below are exact. The others differ from XKB's data in a few characters
(docs/host-notes.md lists them); ``test_report_the_rest`` prints them so a change shows.
"""

from __future__ import annotations

import pytest

from appliance.hid.encoder import ALL_UP, ReportBuilder
from appliance.hid.layout import load_layout
from tests.cldr.decoder import DecodeError, decode, load_keyboard

ASCII = "".join(chr(c) for c in range(32, 127))
LETTERS = {
    "gb": "£",
    "de": "äöüÄÖÜß",
    "pt": "ãõçáéíóúâêôàÃÕÇ",
    "br": "ãõçáéíóúâêôàÃÕÇ",
    "us(intl)": "áéíóúàèìòùäëïöüñçÁÉÍÓÚÑÇ",
    "se": "åäöÅÄÖ",
    "no": "æøåÆØÅ",
    "dk": "æøåÆØÅ",
    "fi": "åäöÅÄÖ",
    "pl": "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ",
    "ch": "äöüéàèç",
    "fr": "éèêàùçâîôûëïü",
    "es": "ñÑáéíóúü¿¡",
    "it": "àèéìòù",
    "nl": "éëïóáèàü",
}
EXACT = {
    ("windows", "us"): "en-t-k0-windows.xml",
    ("windows", "us(intl)"): "en-t-k0-windows-intl.xml",
    ("windows", "br"): "pt-t-k0-windows.xml",
    ("windows", "gb"): "en-GB-t-k0-windows.xml",
    ("windows", "de"): "de-t-k0-windows.xml",
    ("windows", "pt"): "pt-PT-t-k0-windows.xml",
    ("windows", "se"): "sv-t-k0-windows.xml",
    ("windows", "no"): "nb-t-k0-windows.xml",
    ("windows", "dk"): "da-t-k0-windows.xml",
    ("windows", "fi"): "fi-t-k0-windows.xml",
    ("macos", "us"): "en-t-k0-osx.xml",
    ("macos", "gb"): "en-GB-t-k0-osx.xml",
    ("macos", "ch"): "de-CH-t-k0-osx.xml",
    ("macos", "pl"): "pl-t-k0-osx-extended.xml",
}
REST = {
    ("windows", "fr"): "fr-t-k0-windows.xml",
    ("windows", "es"): "es-t-k0-windows.xml",
    ("windows", "it"): "it-t-k0-windows.xml",
    ("windows", "ch"): "de-CH-t-k0-windows.xml",
    ("windows", "nl"): "nl-t-k0-windows.xml",
    ("windows", "pl"): "pl-t-k0-windows-extended.xml",
    ("macos", "de"): "de-t-k0-osx.xml",
    ("macos", "fr"): "fr-t-k0-osx.xml",
    ("macos", "it"): "it-t-k0-osx.xml",
    ("macos", "se"): "sv-t-k0-osx.xml",
    ("macos", "no"): "nb-t-k0-osx.xml",
    ("macos", "dk"): "da-t-k0-osx.xml",
    ("macos", "fi"): "fi-t-k0-osx.xml",
    ("macos", "nl"): "nl-t-k0-osx.xml",
    ("macos", "es"): "es-t-k0-osx.xml",
}


def wrong_characters(host_os: str, layout: str, file: str, mac_type: str = "ansi") -> dict:
    """Each character whose strokes the host would not type as that character."""
    kb = load_keyboard("osx" if host_os == "macos" else "windows", file)
    lay = load_layout(layout, host_os, mac_type)  # type: ignore[arg-type]
    wrong: dict[str, str] = {}
    for ch in ASCII + LETTERS.get(layout, ""):
        recipe = lay.recipe(ch)
        if recipe is None:
            wrong[ch] = "(no keys)"
            continue
        builder = ReportBuilder()
        reports = [*builder.strokes(recipe), *builder.release(), ALL_UP]
        try:
            got = decode(reports, kb, mac_keyboard_type=mac_type)
        except DecodeError as exc:
            got = f"<{type(exc).__name__}>"
        if got != ch:
            wrong[ch] = got
    return wrong


@pytest.mark.parametrize(("host_os", "layout"), list(EXACT))
def test_exact_on_the_hosts_own_layout(host_os: str, layout: str) -> None:
    types = ("ansi", "iso") if host_os == "macos" else ("ansi",)
    for mac_type in types:
        assert wrong_characters(host_os, layout, EXACT[host_os, layout], mac_type) == {}


def test_the_issues_example_on_windows_us_international() -> None:
    """`It's "fine"` came out as `It´s ´fine´` on Windows: XKB has the plain apostrophe on
    AltGr+', which Windows types as ´; there ' and " are dead keys, and space after them."""
    from appliance.hid.encoder import encode_items

    kb = load_keyboard("windows", "en-t-k0-windows-intl.xml")
    text = 'It\'s "fine", ça va.'
    assert decode(encode_items(text, load_layout("us(intl)", "windows")), kb) == text


def test_the_mac_keyboard_type_matters() -> None:
    """Typed for the wrong keyboard type, a German Mac gets ^ for < (the keys left of 1 and
    left of Z change places)."""
    lay = load_layout("de", "macos", "ansi")
    kb = load_keyboard("osx", "de-t-k0-osx.xml")
    recipe = lay.recipe("<")
    assert recipe is not None
    reports = [*ReportBuilder().strokes(recipe), ALL_UP]
    assert decode(reports, kb, mac_keyboard_type="ansi") == "<"
    with pytest.raises(DecodeError):  # ^ is a dead key there: it waits for the next key
        decode(reports, kb, mac_keyboard_type="iso")


def test_report_the_rest() -> None:
    lines = []
    for (host_os, layout), file in REST.items():
        wrong = wrong_characters(host_os, layout, file)
        lines.append(f"{host_os:7} {layout:9} {len(wrong):2} differ: " + " ".join(
            f"{c}→{g}" for c, g in wrong.items()))  # fmt: skip
    print("\n" + "\n".join(lines))
    assert len(lines) == len(REST)
