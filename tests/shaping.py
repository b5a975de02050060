"""Test support: what a dictation result becomes on the host, as the daemon shapes it.

The engine returns pieces; the text shaper (owned in the product by dictation_typer) turns
them into typed items. A fresh shaper per result: no earlier dictation to continue.
"""

from __future__ import annotations

from appliance.config import TextConfig
from appliance.engine import DictationResult
from appliance.hid.keys import TypedItem, shown_text
from appliance.text import TextShaper


def shaped_items(result: DictationResult, cfg: TextConfig | None = None) -> list[TypedItem]:
    return TextShaper(cfg or TextConfig()).shape(result.pieces)


def shaped_text(result: DictationResult, cfg: TextConfig | None = None) -> str:
    return shown_text(shaped_items(result, cfg))
