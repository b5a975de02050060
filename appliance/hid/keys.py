"""Keys the text shaper may ask for explicitly.

Transcribed text is typed as characters only; control characters inside it are dropped.
A key such as Enter reaches the host only when the shaper puts a ``SpecialKey`` in the
output, which it does only for features the configuration enables (spoken commands,
paragraph breaks).
"""

from __future__ import annotations

from enum import Enum


class SpecialKey(Enum):
    """Not a str subclass on purpose: ``isinstance(item, str)`` means literal text."""

    ENTER = "enter"
    TAB = "tab"
    BACKSPACE = "backspace"


TypedItem = str | SpecialKey
"""One piece of what should be typed: literal text, or an explicitly requested key."""
