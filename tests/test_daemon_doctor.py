"""`stt-keyboard doctor` against a fake machine tree (a Pi 5 with a gadget and a host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import appliance.audio
from appliance.config import Config, with_overrides
from appliance.doctor import (
    Machine,
    check_gadget,
    check_gpio,
    check_hidg,
    check_i2c,
    check_microphone,
    check_temperature,
    format_checks,
)

ROOT = Path(__file__).resolve().parent.parent


def fake_pi(tmp_path: Path, *, host: str = "configured", temp_mc: int = 52000) -> Machine:
    r = tmp_path / "pi"
    udc = r / "sys/class/udc/1000480000.usb"
    udc.mkdir(parents=True)
    (udc / "state").write_text(host + "\n")
    g = r / "sys/kernel/config/usb_gadget/stt-keyboard"
    g.mkdir(parents=True)
    (g / "UDC").write_text("1000480000.usb\n")
    (r / "dev").mkdir()
    (r / "dev/hidg0").write_bytes(b"")
    (r / "dev/gpiochip0").write_bytes(b"")
    (r / "dev/i2c-1").write_bytes(b"")
    (r / "proc/device-tree").mkdir(parents=True)
    (r / "proc/device-tree/model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    (r / "sys/class/thermal/thermal_zone0").mkdir(parents=True)
    (r / "sys/class/thermal/thermal_zone0/temp").write_text(f"{temp_mc}\n")
    return Machine(r)


def test_a_healthy_pi(tmp_path):
    m = fake_pi(tmp_path)
    cfg = with_overrides(Config(), hid={"device": "/dev/hidg0"}, oled={"enabled": True})
    checks = [*check_gadget(cfg, m), check_hidg(cfg, m), check_gpio(cfg, m), check_i2c(cfg, m)]
    checks += check_temperature(m, run=lambda cmd: "throttled=0x0")
    assert [c.status for c in checks] == ["ok"] * len(checks), format_checks(checks)
    assert "lgpio" in checks[3].summary  # a Pi 5 needs lgpio
    assert "all good" in format_checks(checks)


def test_problems_are_explained_with_what_to_do(tmp_path):
    m = fake_pi(tmp_path, host="not attached", temp_mc=83000)
    (m.path("/dev/hidg0")).unlink()
    (m.path("/dev/i2c-1")).unlink()
    cfg = with_overrides(Config(), oled={"enabled": True})
    host = check_gadget(cfg, m)[1]
    assert host.status == "warn" and "USB-C" in host.fix
    hid = check_hidg(cfg, m)
    assert hid.status == "fail" and "stt-keyboard-gadget" in hid.fix
    i2c = check_i2c(cfg, m)
    assert i2c.status == "fail" and "dtparam=i2c_arm=on" in i2c.fix
    temp, throttle = check_temperature(m, run=lambda cmd: "throttled=0x50005")
    assert temp.status == "fail" and "83" in temp.summary
    assert throttle.status == "fail" and "under-voltage now" in throttle.summary
    assert "power" in throttle.fix
    text = format_checks([host, hid, i2c, temp, throttle])
    assert "FAIL" in text and "->" in text


def test_no_usb_controller_means_dwc2_is_missing(tmp_path):
    m = Machine(tmp_path)
    (gadget,) = check_gadget(Config(), m)
    assert gadget.status == "fail" and "dtoverlay=dwc2,dr_mode=peripheral" in gadget.fix


def test_microphone_level_is_measured(monkeypatch):
    class Mic:
        def __init__(self, cfg, level_callback):
            self.cb = level_callback
            self.device_name = "USB PnP Sound Device"

        def start(self):
            for lv in (0.2, 0.6, 0.4):
                self.cb(lv)

        def wait_open(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(appliance.audio, "Microphone", Mic)
    check = check_microphone(Config(), listen_s=0.0)
    assert check.status == "ok" and "0.60" in check.summary


def test_doctor_command_runs_and_fails_on_this_non_pi(tmp_path):
    env = dict(os.environ, STT_KEYBOARD_CACHE=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "doctor", "--no-mic", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    import json

    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert proc.returncode == 1  # no model in an empty cache, no gadget here
    assert checks["model"]["status"] == "fail" and "model fetch" in checks["model"]["fix"]
