"""`stt-keyboard doctor`: checks every part of the appliance and says what to do in plain words.

Each check gives ok / warn / fail, one sentence about what it found, and what to do about it.
Paths under /sys, /dev and /proc are taken relative to ``root`` so tests can fake a machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from appliance.config import Config

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    fix: str = ""


class Machine:
    """Where the doctor looks; a test points it at a fake tree."""

    def __init__(self, root: str | Path = "/", *, config_path: str | Path | None = None):
        self.root = Path(root)
        self.config_path = Path(config_path) if config_path else None

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        try:
            return self.path(absolute).read_text(errors="replace").strip().strip("\x00")
        except OSError:
            return None


# --------------------------------------------------------------------------- checks


def check_config(cfg: Config, m: Machine) -> Check:
    where = str(m.config_path) if m.config_path else "built-in defaults"
    if m.config_path and not m.config_path.exists():
        return Check(
            "config",
            "warn",
            f"{m.config_path} does not exist; running with the defaults",
            "Copy config/config.example.yaml there (the installer does) and edit it.",
        )
    return Check("config", "ok", f"valid ({where}); button {cfg.button.mode}, host layout "
                 f"{cfg.hid.layout}, model {cfg.asr.model}")  # fmt: skip


def check_gadget(cfg: Config, m: Machine) -> list[Check]:
    udcs = sorted(p.name for p in m.path("/sys/class/udc").glob("*"))
    if not udcs:
        return [
            Check(
                "usb gadget",
                "fail",
                "This machine has no USB device controller: the Pi cannot act as a keyboard yet.",
                "Add dtoverlay=dwc2,dr_mode=peripheral to /boot/firmware/config.txt "
                "(scripts/install.sh does) and reboot.",
            )
        ]
    gadget_udc = None
    for udc_file in m.path("/sys/kernel/config/usb_gadget").glob("*/UDC"):
        value = udc_file.read_text().strip() if udc_file.is_file() else ""
        if value:
            gadget_udc = value
    checks = []
    if gadget_udc is None:
        checks.append(
            Check(
                "usb gadget",
                "fail",
                f"USB controller {udcs[0]} is there, but no keyboard gadget is bound to it.",
                "sudo systemctl restart stt-keyboard-gadget; "
                "then: journalctl -u stt-keyboard-gadget",
            )
        )
    else:
        checks.append(Check("usb gadget", "ok", f"keyboard gadget bound to {gadget_udc}"))
    state = m.read(f"/sys/class/udc/{gadget_udc or udcs[0]}/state") or "unknown"
    if state == "configured":
        checks.append(Check("usb host", "ok", "a computer is connected and uses the keyboard"))
    else:
        checks.append(
            Check(
                "usb host",
                "warn",
                f"no computer is using the keyboard (USB state: {state}).",
                "Connect the Pi's USB-C port to the computer with a data cable (not a "
                "charge-only one); a sleeping computer also shows this.",
            )
        )
    return checks


def check_hidg(cfg: Config, m: Machine) -> Check:
    dev = m.path(cfg.hid.device)
    if not dev.exists():
        return Check(
            "keyboard device",
            "fail",
            f"{cfg.hid.device} does not exist: the USB gadget is not up.",
            "sudo systemctl restart stt-keyboard-gadget",
        )
    if not os.access(dev, os.W_OK):
        return Check(
            "keyboard device",
            "fail",
            f"{cfg.hid.device} exists but this user cannot write to it.",
            "The service user must be in group stt-hid (udev rule 99-stt-keyboard.rules): "
            "sudo udevadm trigger --subsystem-match=hidg; run the doctor as that user or root.",
        )
    return Check("keyboard device", "ok", f"{cfg.hid.device} is writable")


def check_microphone(cfg: Config, listen_s: float = 1.0) -> Check:
    try:
        from appliance.audio import Microphone
        from appliance.errors import MicrophoneError
    except ImportError as exc:  # pragma: no cover - dependencies missing
        return Check("microphone", "fail", f"audio libraries missing: {exc}", "Reinstall.")
    levels: list[float] = []
    mic = Microphone(cfg.audio, level_callback=levels.append)
    try:
        mic.start()
        mic.wait_open()
    except MicrophoneError as exc:
        mic.close()
        return Check(
            "microphone",
            "fail",
            str(exc),
            "Plug in a USB microphone (or set audio.device); list them with: arecord -l",
        )
    except Exception as exc:
        mic.close()
        return Check("microphone", "fail", f"cannot open the microphone: {exc}", "arecord -l")
    try:
        time.sleep(listen_s)
    finally:
        mic.close()
    if not levels:
        return Check(
            "microphone",
            "fail",
            f"'{mic.device_name}' opened but delivered no audio.",
            "Unplug and replug it; check: arecord -d 3 test.wav",
        )
    peak = max(levels)
    bar = "#" * int(peak * 20)
    if peak < 0.1:
        return Check(
            "microphone",
            "warn",
            f"'{mic.device_name}' works but is nearly silent (level {peak:.2f} |{bar:<20}|).",
            "Speak while the doctor listens; raise the gain with alsamixer.",
        )
    return Check("microphone", "ok", f"'{mic.device_name}', level {peak:.2f} |{bar:<20}|")


def check_model(cfg: Config, *, load: bool = False) -> Check:
    from appliance.errors import ModelError
    from appliance.models import model_cache_dir, resolve_model

    try:
        path = resolve_model(cfg.asr.model, model_cache_dir(cfg.asr.model_cache))
    except ModelError as exc:
        return Check("model", "fail", str(exc), f"stt-keyboard model fetch {cfg.asr.model}")
    if not load:
        return Check("model", "ok", f"{cfg.asr.model} present at {path} (--load-model loads it)")
    t0 = time.perf_counter()
    try:
        from appliance.asr import Transcriber

        Transcriber(cfg.asr, path)
    except Exception as exc:
        return Check(
            "model",
            "fail",
            f"{path} is there but does not load: {exc}",
            f"stt-keyboard model fetch {cfg.asr.model} --force",
        )
    return Check("model", "ok", f"{cfg.asr.model} loads in {time.perf_counter() - t0:.1f} s")


def check_gpio(cfg: Config, m: Machine) -> Check:
    from appliance.ui.button import GPIOZERO_DEFAULT, factory_choice, pi_model

    board = m.read("/proc/device-tree/model") or ""
    if m.root == Path("/"):
        board = pi_model()
    chosen = factory_choice(cfg.button.pin_factory, board)
    if chosen == "mock":
        return Check(
            "gpio",
            "warn" if cfg.button.pin_factory == "auto" else "ok",
            f"no GPIO ({board or 'not a Raspberry Pi'}): the button is simulated.",
            "" if cfg.button.pin_factory == "mock" else "Run on a Raspberry Pi 4 or 5.",
        )
    chips = sorted(p.name for p in m.path("/dev").glob("gpiochip*"))
    if not chips:
        return Check("gpio", "fail", f"{board}: no /dev/gpiochip*", "Reboot; check the kernel.")
    if m.root == Path("/"):
        try:
            from appliance.ui.button import pin_factory

            factory = pin_factory(cfg.button.pin_factory)
        except Exception as exc:
            return Check(
                "gpio",
                "fail",
                f"{board}: no GPIO library works: {exc}",
                "On a Pi 5 lgpio is needed: pip install 'stt-keyboard[pi]' (the installer does).",
            )
        name = type(factory).__name__
    else:
        name = GPIOZERO_DEFAULT if chosen == "auto" else chosen
    return Check("gpio", "ok", f"{board}: {name}; button on GPIO{cfg.button.pin}")


def check_i2c(cfg: Config, m: Machine) -> Check:
    if not cfg.oled.enabled:
        return Check("i2c / oled", "ok", "no OLED configured (oled.enabled: false)")
    dev = f"/dev/i2c-{cfg.oled.i2c_port}"
    if not m.path(dev).exists():
        return Check(
            "i2c / oled",
            "fail",
            f"{dev} does not exist: I²C is off.",
            "Add dtparam=i2c_arm=on to /boot/firmware/config.txt and i2c-dev to "
            "/etc/modules (the installer does when an OLED is configured), then reboot.",
        )
    if m.root != Path("/"):
        return Check("i2c / oled", "ok", f"{dev} present")
    try:
        from appliance.ui.oled import open_device

        open_device(cfg.oled)
    except Exception as exc:
        return Check(
            "i2c / oled",
            "fail",
            f"{cfg.oled.driver} at 0x{cfg.oled.i2c_address:02X} on {dev} does not answer: {exc}",
            f"Check the wiring (SDA GPIO2, SCL GPIO3) and the address: i2cdetect -y "
            f"{cfg.oled.i2c_port}",
        )
    return Check("i2c / oled", "ok", f"{cfg.oled.driver} answers at 0x{cfg.oled.i2c_address:02X}")


THROTTLE_BITS = {
    0x1: "under-voltage now",
    0x2: "ARM frequency capped now",
    0x4: "throttled now",
    0x8: "soft temperature limit now",
    0x10000: "under-voltage has occurred",
    0x20000: "frequency capping has occurred",
    0x40000: "throttling has occurred",
    0x80000: "soft temperature limit has occurred",
}


def check_temperature(
    m: Machine, run: Callable[[list[str]], str | None] | None = None
) -> list[Check]:
    checks = []
    raw = m.read("/sys/class/thermal/thermal_zone0/temp")
    if raw and raw.lstrip("-").isdigit():
        c = int(raw) / 1000.0
        if c >= 80:
            checks.append(
                Check(
                    "temperature",
                    "fail",
                    f"CPU at {c:.0f} °C: it slows down.",
                    "Add a heatsink or fan (the Pi 5 active cooler); give the case air.",
                )
            )
        elif c >= 70:
            checks.append(
                Check("temperature", "warn", f"CPU at {c:.0f} °C (throttles at 80 °C)", "Cool it.")
            )
        else:
            checks.append(Check("temperature", "ok", f"CPU at {c:.0f} °C"))
    run = run or _run
    out = run(["vcgencmd", "get_throttled"])
    if out and "=" in out:
        try:
            value = int(out.split("=", 1)[1].strip(), 16)
        except ValueError:
            value = -1
        if value == 0:
            checks.append(Check("throttling", "ok", "never throttled, power supply fine"))
        elif value > 0:
            what = ", ".join(t for bit, t in THROTTLE_BITS.items() if value & bit)
            now = value & 0xF
            power = value & 0x10001
            checks.append(
                Check(
                    "throttling",
                    "fail" if now else "warn",
                    f"get_throttled=0x{value:x}: {what}.",
                    "Under-voltage: the computer's USB port may not give enough power; use a "
                    "port with more current or a powered hub."
                    if power
                    else "Improve cooling.",
                )
            )
    return checks


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def check_remote(cfg: Config, m: Machine) -> list[Check]:
    """The remote engine's server answers, and the service is allowed to reach it."""
    from appliance.remote_servers import RemoteFailed, open_server
    from appliance.service_network import DROP_IN, allowed_addresses

    if cfg.asr.engine == "local":
        return []
    name = f"{cfg.asr.engine} server"
    checks = []
    try:
        server = open_server(cfg.remote, cfg.asr.engine)
        try:
            said = server.check()
        finally:
            server.close()
        checks.append(Check(name, "ok", f"{cfg.remote.url} answers; {said}"))
    except RemoteFailed as exc:
        fallback = "dictations are transcribed on the device meanwhile"
        checks.append(
            Check(
                name,
                "fail",
                f"{exc}; {fallback}",
                "Start the server, or fix remote.* in the config (docs/remote.md)",
            )
        )
    drop_in = m.read(str(DROP_IN)) or ""
    try:
        wanted = allowed_addresses(cfg)
    except OSError as exc:
        wanted = []
        checks.append(Check("service network", "warn", f"cannot resolve the server: {exc}"))
    allowed = drop_in.rsplit("IPAddressAllow=", 1)[-1].split() if drop_in else []
    if not drop_in or not set(wanted) <= set(allowed):
        checks.append(
            Check(
                "service network",
                "warn",
                f"the service may not reach {cfg.remote.url} (no or an old {DROP_IN})",
                "sudo stt-keyboard config network && sudo systemctl daemon-reload "
                "&& sudo systemctl restart stt-keyboard",
            )
        )
    elif wanted:
        checks.append(
            Check("service network", "ok", f"the service may reach {' '.join(allowed)} only")
        )
    return checks


def run_doctor(
    cfg: Config,
    *,
    machine: Machine | None = None,
    microphone: bool = True,
    load_model: bool = False,
    listen_s: float = 1.0,
) -> list[Check]:
    m = machine or Machine()
    checks = [check_config(cfg, m)]
    checks += check_gadget(cfg, m)
    checks.append(check_hidg(cfg, m))
    if microphone:
        checks.append(check_microphone(cfg, listen_s))
    checks.append(check_model(cfg, load=load_model))
    checks += check_remote(cfg, m)
    checks.append(check_gpio(cfg, m))
    checks.append(check_i2c(cfg, m))
    checks += check_temperature(m)
    return checks


# --------------------------------------------------------------------------- CLI

MARK = {"ok": "  ok ", "warn": " warn", "fail": " FAIL"}


def format_checks(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"[{MARK[c.status]}] {c.name}: {c.summary}")
        if c.fix and c.status != "ok":
            lines.append(f"         -> {c.fix}")
    fails = sum(c.status == "fail" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    lines.append(
        "all good" if not fails and not warns else f"{fails} problem(s), {warns} warning(s)"
    )
    return "\n".join(lines)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check the USB gadget, microphone, model, GPIO, I²C, temperature"
    )
    p.add_argument("--no-mic", action="store_true", help="skip the microphone check")
    p.add_argument("--load-model", action="store_true", help="also load the model (slow)")
    p.add_argument("--listen", type=float, default=1.0, help="seconds to listen to the mic")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    return p


def run(args: argparse.Namespace, cfg: Config) -> int:
    from appliance.config import config_path_from

    path, _ = config_path_from(getattr(args, "config", None))
    checks = run_doctor(
        cfg,
        machine=Machine("/", config_path=path),
        microphone=not args.no_mic,
        load_model=args.load_model,
        listen_s=args.listen,
    )
    if args.json:
        print(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=1))
    else:
        print(format_checks(checks))
    sys.stdout.flush()
    return 1 if any(c.status == "fail" for c in checks) else 0
