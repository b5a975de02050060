"""Text -> 8-byte boot keyboard reports for one host layout.

Rules every report stream follows (hosts drop or double characters otherwise):

- a modifier is pressed in a report of its own before the key that needs it, kept pressed
  across consecutive characters that need the same modifiers, and released (in a report of its
  own) before a character that needs other modifiers;
- every key is released right after it is pressed, so a repeated letter is two presses and no
  key can auto-repeat on the host;
- the stream ends with an all-keys-up report.

Text items are typed as characters only: control characters inside them (newline, tab, ...)
are dropped and logged. Enter, Tab and Backspace reach the host only as :class:`SpecialKey`
items. A character the layout cannot type is entered by its code point where the
configuration enables it (:mod:`appliance.hid.unicode_input`), else transliterated
(``anyascii``: ``ü`` -> ``u``, ``—`` -> ``-``) or skipped, per the ``unknown`` policy; either
way it is logged.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from appliance.hid.keys import KEY_TEXT, SpecialKey, TypedItem
from appliance.hid.layout import Layout, Recipe, Stroke
from appliance.hid.unicode_input import takes_option, unicode_recipe

log = logging.getLogger(__name__)

UnknownPolicy = Literal["transliterate", "skip"]
ALL_UP = bytes(8)


def report(modifiers: int = 0, *usages: int) -> bytes:
    """One boot keyboard report: modifiers, reserved byte, up to six key usages."""
    if len(usages) > 6:
        raise ValueError("a boot keyboard report holds at most 6 keys")
    return bytes([modifiers & 0xFF, 0, *usages, *([0] * (6 - len(usages)))])


@dataclass(frozen=True)
class Unit:
    """One source character (or special key) and the strokes that type it.

    ``text`` is what it stands for in the source (``"\\n"`` for Enter); ``strokes`` is empty
    when the character is skipped.
    """

    item: TypedItem
    text: str
    strokes: Recipe
    shown: str | None = None
    """What the host shows for it when that is not ``text``: a transliteration (``->`` for
    ``→``). Undo counts these characters."""

    @property
    def host_text(self) -> str:
        return "" if not self.strokes else (self.text if self.shown is None else self.shown)


@dataclass
class Plan:
    units: list[Unit]
    skipped: list[str]


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029"


def plan_items(
    items: Sequence[TypedItem] | str,
    layout: Layout,
    unknown: UnknownPolicy = "transliterate",
    *,
    caps: bool = False,
    unicode_input: bool = False,
) -> Plan:
    """Resolve text and special keys to strokes, applying the unknown-character policy
    (after the host OS's code-point entry, with ``unicode_input``)."""
    if unknown not in ("transliterate", "skip"):
        raise ValueError(f"unknown-character policy must be transliterate or skip: {unknown!r}")
    if isinstance(items, str):
        items = [items]
    units: list[Unit] = []
    skipped: list[str] = []
    logged: set[str] = set()
    for item in items:
        if isinstance(item, SpecialKey):
            units.append(Unit(item, KEY_TEXT[item], (layout.special(item),)))
            continue
        if not isinstance(item, str):
            raise TypeError(f"not text or a SpecialKey: {item!r}")
        for ch in unicodedata.normalize("NFC", item):
            recipe = layout.recipe(ch, caps=caps)
            if recipe is not None and unicode_input and takes_option(recipe, layout):
                recipe = None
            if recipe is not None:
                units.append(Unit(ch, ch, recipe))
                continue
            if _is_control(ch):
                if ch not in logged:
                    log.info("dropping control character %r (only SpecialKey types keys)", ch)
                    logged.add(ch)
                skipped.append(ch)
                units.append(Unit(ch, ch, ()))
                continue
            if unicode_input:
                entry = unicode_recipe(ch, layout)
                if entry is not None:
                    units.append(Unit(ch, ch, entry))
                    continue
            typed = _transliterate(ch, layout, caps) if unknown == "transliterate" else None
            strokes, shown = typed if typed is not None else (None, "")
            if strokes is None:
                if ch not in logged:
                    log.warning("layout %s cannot type %r (U+%04X): skipped", layout.name, ch,
                                ord(ch))  # fmt: skip
                    logged.add(ch)
                skipped.append(ch)
                units.append(Unit(ch, ch, ()))
            else:
                if ch not in logged:
                    log.info("layout %s cannot type %r: transliterated", layout.name, ch)
                    logged.add(ch)
                units.append(Unit(ch, ch, strokes, shown))
    return Plan(units, skipped)


def _transliterate(ch: str, layout: Layout, caps: bool) -> tuple[Recipe, str] | None:
    """The strokes of ``ch``'s ASCII spelling, and the characters they type."""
    from anyascii import anyascii  # small, pure Python; imported only when needed

    replacement = anyascii(ch)
    if len(replacement) > 2 and replacement[0] == replacement[-1] == ":":
        return None  # anyascii spells symbols and emoji as ":name:": not text to type
    strokes: list[Stroke] = []
    shown = ""
    for c in replacement:
        recipe = layout.recipe(c, caps=caps)
        if recipe is not None:
            strokes.extend(recipe)
            shown += c
    return (tuple(strokes), shown) if strokes else None


class ReportBuilder:
    """Turns strokes into reports, remembering which modifiers are held between characters."""

    def __init__(self) -> None:
        self.modifiers = 0

    def stroke(self, stroke: Stroke) -> list[bytes]:
        out: list[bytes] = []
        if stroke.usage == 0:  # unicode_input.RELEASE: only the modifiers go up
            if self.modifiers:
                self.modifiers = 0
                out.append(report(0))
            return out
        if stroke.modifiers != self.modifiers:
            self.modifiers = stroke.modifiers
            out.append(report(self.modifiers))
        out.append(report(self.modifiers, stroke.usage))
        out.append(report(self.modifiers))
        return out

    def strokes(self, strokes: Iterable[Stroke]) -> list[bytes]:
        out: list[bytes] = []
        for s in strokes:
            out.extend(self.stroke(s))
        return out

    def release(self) -> list[bytes]:
        """Reports that leave nothing pressed (nothing if that is already the case)."""
        if self.modifiers:
            self.modifiers = 0
            return [ALL_UP]
        return []


def encode_items(
    items: Sequence[TypedItem] | str,
    layout: Layout,
    unknown: UnknownPolicy = "transliterate",
) -> list[bytes]:
    """All reports that type ``items`` on a host with ``layout``; ends with an all-up report."""
    plan = plan_items(items, layout, unknown)
    builder = ReportBuilder()
    out: list[bytes] = []
    for unit in plan.units:
        out.extend(builder.strokes(unit.strokes))
    out.extend(builder.release())
    if not out or out[-1] != ALL_UP:
        out.append(ALL_UP)
    return out
