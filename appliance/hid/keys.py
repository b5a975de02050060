"""Keys the text shaper may ask for explicitly.

Transcribed text is typed as characters only; control characters inside it are dropped.
A key such as Enter reaches the host only when the shaper puts a ``SpecialKey`` in the
output, which it does only for features the configuration enables (spoken commands,
paragraph breaks).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class SpecialKey(Enum):
    """Not a str subclass on purpose: ``isinstance(item, str)`` means literal text."""

    ENTER = "enter"
    TAB = "tab"
    BACKSPACE = "backspace"


TypedItem = str | SpecialKey
"""One piece of what should be typed: literal text, or an explicitly requested key."""


KEY_TEXT: dict[SpecialKey, str] = {
    SpecialKey.ENTER: "\n",
    SpecialKey.TAB: "\t",
    SpecialKey.BACKSPACE: "\b",
}
"""The character each key stands for in logs, results and the pending-text store."""


def keystroke_text(items: Iterable[TypedItem]) -> str:
    """The items as one string of what is pressed (Backspace as ``\\b``): kept, logged, compared."""
    return "".join(KEY_TEXT[i] if isinstance(i, SpecialKey) else i for i in items)


def shown_text(items: Iterable[TypedItem]) -> str:
    """The text a host shows after the items are typed (Backspace deletes the character before)."""
    out: list[str] = []
    for char in keystroke_text(items):
        if char == "\b":
            if out:
                out.pop()
        else:
            out.append(char)
    return "".join(out)


def keystroke_items(text: str) -> list[TypedItem]:
    """The inverse of :func:`keystroke_text`: a kept text typed again (retype)."""
    keys = {v: k for k, v in KEY_TEXT.items()}
    items: list[TypedItem] = []
    for char in text:
        if char in keys:
            items.append(keys[char])
        elif items and isinstance(items[-1], str):
            items[-1] += char
        else:
            items.append(char)
    return items
