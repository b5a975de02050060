"""The configuration reference is generated from the schema and cannot drift from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from appliance import config_doc
from appliance.config import Config, iter_options, parse_config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"


def test_committed_reference_equals_generator_output():
    expected = config_doc.render()
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is out of date: run "
        "`python -m appliance.config_doc > docs/configuration.md`"
    )


def test_generator_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "appliance.config_doc"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == config_doc.render()


def test_every_option_is_documented_with_its_doc_text():
    text = DOC.read_text(encoding="utf-8")
    for key, _default, _type, meta in iter_options():
        assert f"| `{key}` |" in text, key
        assert meta.get("doc"), f"{key} has no doc text in appliance/config.py"
        assert config_doc.cell(meta["doc"]) in text, key


def test_yaml_examples_in_the_reference_are_the_defaults():
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == len({k.split(".")[0] for k, *_ in iter_options()})
    assert parse_config("".join(blocks), "configuration.md") == Config()


def test_limits_and_choices_are_shown():
    text = DOC.read_text(encoding="utf-8")
    assert "| `button.pin` | `17` | an integer | 0 to 53 |" in text
    assert "`push_to_talk`, `toggle`" in text
    assert "`oled.i2c_address` | `0x3C`" in text
