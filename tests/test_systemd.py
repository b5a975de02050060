"""The units pass `systemd-analyze verify`, installed the way scripts/install.sh installs them."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from tests.test_install import ensure_tool, install, scratch_root

ROOT = Path(__file__).resolve().parent.parent
UNITS = ["stt-keyboard.service", "stt-keyboard-gadget.service"]
IGNORABLE = ("Failed to parse system call, ignoring",)  # newer syscalls in @system-service


def prepared_root(tmp_path: Path) -> Path:
    root = scratch_root(tmp_path)
    install(root)
    # the daemon's venv is not built here (--no-venv): a stand-in executable for ExecStart
    exe = root / "opt/stt-keyboard/venv/bin/stt-keyboard"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    # the distribution's own units (sysinit.target, sound.target, ...) inside the root
    for lib in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if Path(lib).is_dir():
            shutil.copytree(lib, root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
            break
    return root


def verify(root: Path, units: list[str]) -> subprocess.CompletedProcess[str]:
    tool = ensure_tool("systemd-analyze", "systemd")
    return subprocess.run(
        [tool, "verify", f"--root={root}", *[str(root / "etc/systemd/system" / u) for u in units]],
        capture_output=True,
        text=True,
        timeout=120,
    )


def complaints(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if "stt-keyboard" in line and not any(ok in line for ok in IGNORABLE)
    ]


def test_units_pass_systemd_analyze_verify(tmp_path):
    root = prepared_root(tmp_path)
    proc = verify(root, UNITS)
    assert proc.returncode == 0, proc.stderr
    assert complaints(proc) == [], "\n".join(complaints(proc))


def test_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a typo in the unit makes systemd-analyze complain."""
    root = prepared_root(tmp_path)
    unit = root / "etc/systemd/system/stt-keyboard.service"
    unit.write_text(unit.read_text().replace("Type=notify", "Type=notifyy"))
    proc = verify(root, ["stt-keyboard.service"])
    assert complaints(proc), proc.stderr


def test_daemon_unit_is_hardened_and_notifies():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "systemd" / "stt-keyboard.service")
    s = parser["Service"]
    assert s["Type"] == "notify" and int(s["WatchdogSec"]) > 0
    assert s["Restart"] == "on-failure"
    assert s["ExecStart"] == "/opt/stt-keyboard/venv/bin/stt-keyboard run"
    assert s["User"] == "stt-keyboard"
    assert set(s["SupplementaryGroups"].split()) == {"audio", "gpio", "i2c", "stt-hid"}
    for key, value in {
        "ProtectSystem": "strict",
        "PrivateNetwork": "yes",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
    }.items():
        assert s[key] == value, key
    g = configparser.ConfigParser(strict=False, interpolation=None)
    g.optionxform = str  # type: ignore[assignment,method-assign]
    g.read(ROOT / "systemd" / "stt-keyboard-gadget.service")
    assert g["Service"]["Type"] == "oneshot" and g["Service"]["RemainAfterExit"] == "yes"
    assert g["Service"]["ExecStart"] == "/usr/local/sbin/stt-keyboard-gadget up"
    rule = (ROOT / "udev" / "99-stt-keyboard.rules").read_text()
    assert 'KERNEL=="hidg[0-9]*"' in rule and 'GROUP="stt-hid"' in rule
