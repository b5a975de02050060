"""Every `stt-keyboard COMMAND [SUBCOMMAND]` the user docs mention exists in the CLI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from appliance.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
MINE = [
    "getting-started.md",
    "troubleshooting.md",
    "host-notes.md",
    "fine-tuned-models.md",
    "hardware.md",
    "security.md",
    "remote.md",
    "bluetooth.md",
]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("name", MINE)
def test_documented_commands_exist(name: str):
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    top = subcommands(build_parser())
    found = re.findall(r"stt-keyboard(?: --config \S+)? ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text)
    assert found or name in ("hardware.md", "security.md")
    for cmd, sub in found:
        if cmd in ("yaml", "gadget", "boot", "service", "install", "user"):
            continue  # file and unit names (stt-keyboard.yaml, stt-keyboard-gadget, ...)
        assert cmd in top, f"{name}: stt-keyboard {cmd} is not a command"
        nested = subcommands(top[cmd])
        if nested and sub:
            assert sub in nested, f"{name}: stt-keyboard {cmd} {sub} is not a command"


@pytest.mark.parametrize("name", MINE)
def test_documented_options_exist(name: str):
    """`stt-keyboard doctor --load-model` etc.: the option is known to that command."""
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    top = subcommands(build_parser())
    for cmd, options in re.findall(r"stt-keyboard ([a-z]+)((?: --[a-z-]+)+)", text):
        if cmd not in top:
            continue
        known = {s for a in top[cmd]._actions for s in a.option_strings}
        for option in options.split():
            assert option in known, f"{name}: stt-keyboard {cmd} has no {option}"
