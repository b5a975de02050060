"""Day one: the model a user chose is the model the service runs, and the commands a user runs
with sudo look where the service looks."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance import models
from appliance.cli import main
from appliance.config import ConfigError, load_config
from appliance.config_edit import set_option, set_option_in_file
from tests.conftest import ROOT
from tests.test_install import install, scratch_root

EXAMPLE = ROOT / "config" / "config.example.yaml"
CLI = Path(sys.executable).parent / "stt-keyboard"


# --------------------------------------------------------------------------- config set


def test_set_changes_one_value_and_keeps_every_comment() -> None:
    text = EXAMPLE.read_text()
    new = set_option(text, "asr.model", "base")
    old_lines, new_lines = text.splitlines(), new.splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [("  model: small", "  model: base")]


def test_set_keeps_a_trailing_comment_and_types_the_value() -> None:
    text = "hid:\n  report_delay_ms: 0   # slow hosts: more\n"
    new = set_option(text, "hid.report_delay_ms", "4")
    assert new == "hid:\n  report_delay_ms: 4   # slow hosts: more\n"
    assert set_option("asr:\n  model: x\n", "asr.model", "/models/my model") == (
        "asr:\n  model: /models/my model\n"
    )
    assert set_option("asr:\n  model: x\n", "asr.prompt", "Dr. Nguyen: Grafana") == (
        "asr:\n  prompt: 'Dr. Nguyen: Grafana'\n  model: x\n"
    )


def test_set_adds_a_missing_key_or_section() -> None:
    assert set_option("", "asr.model", "base") == "asr:\n  model: base\n"
    assert set_option("hid:\n  layout: de\n", "asr.model", "base") == (
        "hid:\n  layout: de\nasr:\n  model: base\n"
    )
    assert set_option("asr:\nhid:\n  layout: de\n", "asr.model", "base") == (
        "asr:\n  model: base\nhid:\n  layout: de\n"
    )
    assert set_option("asr: ~\n", "asr.model", "base") == "asr:\n  model: base\n"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("asr.modle", "base", "asr.modle: no such setting"),
        ("hid.report_delay_ms", "fast", "hid.report_delay_ms"),
        ("hid.report_delay_ms", "{a: b}", "is not a single value"),
    ],
)
def test_a_wrong_setting_is_refused_and_the_file_is_untouched(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=message):
        set_option_in_file(path, key, value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"], "a temporary file was left"


def test_config_set_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    os.chmod(path, 0o640)
    assert main(["--config", str(path), "config", "set", "asr.model", "base"]) == 0
    assert load_config(path).asr.model == "base"
    assert oct(path.stat().st_mode & 0o777) == "0o640", "the file's mode is kept"
    assert main(["--config", str(path), "config", "set", "audio.rate", "5"]) == 2
    assert "audio.rate" in capsys.readouterr().err
    assert load_config(path).audio.rate is None


def test_the_boot_partition_file_is_the_config_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a read-only root the settings live on the boot partition: `sudo stt-keyboard config
    set` must change that file (the one the service reads), not /etc's copy."""
    etc, boot = tmp_path / "etc.yaml", tmp_path / "boot" / "stt-keyboard.yaml"
    etc.write_text("hid:\n  report_delay_ms: 1\n")
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", etc)
    monkeypatch.setattr(config_module, "BOOT_CONFIG_PATH", boot)
    monkeypatch.delenv(config_module.CONFIG_ENV_VAR, raising=False)
    assert config_module.config_path_from(None) == (etc, False), "no boot file: /etc's"
    boot.parent.mkdir()
    boot.write_text("hid:\n  report_delay_ms: 2\n")
    assert config_module.config_path_from(None) == (boot, False)
    assert main(["config", "set", "hid.report_delay_ms", "6"]) == 0
    assert load_config(boot).hid.report_delay_ms == 6
    assert load_config(etc).hid.report_delay_ms == 1, "the file the service does not read"
    monkeypatch.setenv(config_module.CONFIG_ENV_VAR, str(etc))
    assert config_module.config_path_from(None) == (etc, True), "the environment still wins"
    assert config_module.config_path_from(str(boot)) == (boot, True)


# --------------------------------------------------------------------------- where models are


def test_as_root_on_a_device_the_service_directory_is_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = tmp_path / "var-lib-stt-keyboard"
    monkeypatch.setattr(models, "SERVICE_STATE_DIR", service)
    monkeypatch.delenv("STT_KEYBOARD_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert models.cache_root() == tmp_path / "home-cache" / "stt-keyboard", "no service here"
    service.mkdir()
    assert models.cache_root() == service  # sudo stt-keyboard doctor / model fetch
    assert models.model_cache_dir() == service / "models"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert models.cache_root() == tmp_path / "home-cache" / "stt-keyboard", "a user's own"
    monkeypatch.setenv("STT_KEYBOARD_CACHE", str(tmp_path / "given"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert models.cache_root() == tmp_path / "given", "the environment wins (the unit sets it)"


def test_model_fetch_use_names_it_in_the_config(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / "base").symlink_to(model_dir)
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    argv = ["--config", str(path), "model", "fetch", "base", "--cache", str(cache)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "uses 'small'" in err and "config set asr.model base" in err, err
    assert load_config(path).asr.model == "small", "without --use the config is not changed"
    assert main([*argv, "--use"]) == 0
    assert load_config(path).asr.model == "base"
    assert "uses" not in capsys.readouterr().err


# --------------------------------------------------------------------------- the installer


def test_install_with_model_sets_it_in_the_config(tmp_path: Path) -> None:
    """`install.sh --model base` used to fetch base and leave `model: small` in the config:
    the service's first start ended in "Model not loaded"."""
    root = scratch_root(tmp_path / "a")
    install(root, "--model", "base")
    plan = (root / "var/lib/stt-keyboard-install/plan.txt").read_text().splitlines()
    [line] = [ln for ln in plan if "config set asr.model" in ln]
    # what the installer runs, run with this checkout's CLI on the scratch root's config
    argv = shlex.split(line)
    assert argv[0] == "/opt/stt-keyboard/venv/bin/stt-keyboard"
    assert argv[1:3] == ["--config", "/etc/stt-keyboard/config.yaml"]
    config = root / "etc/stt-keyboard/config.yaml"
    subprocess.run([str(CLI), "--config", str(config), *argv[3:]], check=True, timeout=60)
    assert load_config(config).asr.model == "base"
    # without --model the config's own model is fetched and the config is left alone
    root2 = scratch_root(tmp_path / "b")
    install(root2)
    plan2 = (root2 / "var/lib/stt-keyboard-install/plan.txt").read_text()
    assert "config set" not in plan2
    assert "model fetch small" in plan2


# --------------------------------------------------------------------------- updating


def test_an_update_is_the_installer_again_and_keeps_settings_and_models(tmp_path: Path) -> None:
    """docs/appliance.md#updating: `git pull && sudo sh scripts/install.sh` over an installed
    device. The user's settings and the fetched models are untouched; the program is new."""
    root = scratch_root(tmp_path)
    install(root, "--model", "base")
    config = root / "etc/stt-keyboard/config.yaml"
    # (--root writes the config set to the plan: done here as it runs on a device)
    text = config.read_text().replace("  model: small", "  model: base")
    config.write_text(text.replace("  layout: us", "  layout: de") + "# mine\n")
    model = root / "var/lib/stt-keyboard/models/base"
    model.mkdir(parents=True)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        (model / name).write_bytes(name.encode() * 100)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in model.iterdir()}
    settings = config.read_bytes()
    unit = root / "etc/systemd/system/stt-keyboard.service"
    unit.write_text("# an old version of the unit\n")

    install(root)  # the update: no --model, as the docs say
    assert config.read_bytes() == settings
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in model.iterdir()} == before
    assert unit.read_text() == (ROOT / "systemd/stt-keyboard.service").read_text()
    plan = (root / "var/lib/stt-keyboard-install/plan.txt").read_text()
    assert "config set" not in plan, "an update does not change the model setting"
    assert "stt-keyboard model fetch base" in plan  # the configured one: present, so kept
