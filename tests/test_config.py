"""Config loading: defaults, and every kind of mistake located by file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.config import (
    CONFIG_ENV_VAR,
    Config,
    ConfigError,
    iter_options,
    load_config,
    parse_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg == Config()
    assert cfg.asr.compute_type == "int8" and cfg.asr.language == "en"
    assert cfg.text.spoken_commands is False
    assert cfg.audio.preroll_s == 0.5 and cfg.audio.tail_s == 0.3
    assert cfg.vad.threshold == 0.5 and cfg.vad.min_speech_ms == 250


def test_every_option_is_documented() -> None:
    options = list(iter_options())
    assert len(options) > 40
    for key, _default, _type, meta in options:
        assert meta.get("doc"), f"{key} has no doc"


def test_values_are_read_and_ints_accepted_for_floats(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "audio:\n  device: USB\n  preroll_s: 1\nhid:\n  layout: de\n")
    )
    assert cfg.audio.device == "USB"
    assert cfg.audio.preroll_s == 1.0 and isinstance(cfg.audio.preroll_s, float)
    assert cfg.hid.layout == "de"


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ("audio:\n  rat: 44100\n", 2, "audio.rat", "unknown key (did you mean 'rate'?)"),
        ("adio: {}\n", 1, "adio", "unknown key (did you mean 'audio'?)"),
        ("audio:\n  rate: fast\n", 2, "audio.rate", "expected an integer or empty, got 'fast'"),
        (
            "vad:\n  threshold: 1.5\n",
            2,
            "vad.threshold",
            "1.5 is out of range; allowed: 0.05 to 0.95",
        ),
        ("text:\n  capitalize: 'yes'\n", 2, "text.capitalize", "expected true or false, got 'yes'"),
        (
            "button:\n  mode: toggel\n",
            2,
            "button.mode",
            "'toggel' is not allowed (did you mean 'toggle'?)",
        ),
        ("asr:\n  languages: en\n", 2, "asr.languages", "expected a list of strings, got 'en'"),
        ("hid: 3\n", 1, "hid", "expected a mapping of keys"),
        ("asr:\n  beam_size: 2\n  beam_size: 3\n", 3, "asr.beam_size", "key given twice"),
    ],
)
def test_each_mistake_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: {key}: ")
    assert message in str(err.value)


def test_broken_yaml_gives_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("audio:\n  rate: 1\n bad: [\n", "c.yaml")
    assert "not valid YAML" in str(err.value)
    assert err.value.line is not None


def test_named_file_must_exist_default_may_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml")
    assert load_config(tmp_path / "missing.yaml", required=False) == Config()


def test_cli_config_check_ok_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "asr:\n  model: base\n")
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("oled:\n  height: 48\n")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: oled.height: 48 is not allowed" in err


def test_config_show_uses_env_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "hid:\n  layout: fr\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "layout: fr" in out and "compute_type: int8" in out


def test_broken_config_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad config stops `simulate` before any model is loaded, with exit code 2."""
    import appliance.pipeline

    def no_load(*_a: object, **_k: object) -> None:
        raise AssertionError("the model must not be loaded with a broken config")

    monkeypatch.setattr(appliance.pipeline.Pipeline, "load", no_load)
    bad = write(tmp_path, "vad:\n  min_silence_ms: -1\n")
    code = main(["--config", str(bad), "simulate", "--audio", "x.wav"])
    assert code == 2


def test_cli_process_exit_code_and_stderr(tmp_path: Path) -> None:
    bad = write(tmp_path, "audio:\n  tail_s: 10\n")
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "--config", str(bad), "config", "show"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{bad}:2: audio.tail_s: 10.0 is out of range" in proc.stderr


def test_empty_value_means_the_default(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "audio:\n  device:\n  rate:\nasr:\n  languages: [en, de]\n"))
    assert cfg.audio.device is None and cfg.audio.rate is None
    assert cfg.asr.languages == ["en", "de"]
