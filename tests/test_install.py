"""scripts/install.sh and uninstall.sh against a scratch root, twice; shellcheck-clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.config import Config, parse_config

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "scripts" / "install.sh"
UNINSTALL = ROOT / "scripts" / "uninstall.sh"

PI_OS_CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
#dtparam=i2c_arm=on
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
"""


HEADER = """\
# STT Keyboard configuration (/etc/stt-keyboard/config.yaml).
#
# Every key is shown with its default value. Change what you need, then check the file and
# restart the service:
#     stt-keyboard config check /etc/stt-keyboard/config.yaml
#     sudo systemctl restart stt-keyboard
# A mistake is reported with the line and key (also on the OLED: "Config error: audio.rate").
"""


def render_example() -> str:
    """config/config.example.yaml from the schema: every key, its default, its doc."""
    import dataclasses
    import textwrap

    import yaml

    from appliance.config import iter_options

    docs = {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(Config)}
    out = [HEADER]
    current = None
    for path, default, _type, meta in iter_options():
        section, key = path.split(".", 1)
        if section != current:
            if current is not None:
                out.append("")
            out += [f"# ---- {docs[section]}", f"{section}:"]
            current = section
        extra = []
        if "choices" in meta:
            extra.append("one of: " + ", ".join(str(c) for c in meta["choices"]))
        if "min" in meta:
            extra.append(f"{meta['min']} to {meta['max']}")
        line = meta.get("doc", "") + (f" ({'; '.join(extra)})" if extra else "")
        out += [f"  # {part}" for part in textwrap.wrap(line, 94)]
        if default is None:
            value = "null"
        elif key == "i2c_address":
            value = f"0x{default:02X}"
        else:
            dumped = yaml.safe_dump(
                default, default_flow_style=True, allow_unicode=True, width=1000
            ).strip()
            value = dumped.removesuffix("\n...").strip()
        out.append(f"  {key}: {value}")
    return "\n".join(out) + "\n"


def ensure_tool(tool: str, package: str) -> str:
    """The tool's path; installed with apt-get when missing. Never skips: fails loudly."""
    path = shutil.which(tool)
    if path:
        return path
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode:
            pytest.fail(f"{tool} is missing and `{' '.join(cmd)}` failed:\n{proc.stderr[-2000:]}")
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} still missing after installing {package}")
    return path


def scratch_root(tmp_path: Path, model: str = "Raspberry Pi 5 Model B Rev 1.0") -> Path:
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text(PI_OS_CONFIG_TXT)
    (root / "etc").mkdir()
    (root / "etc" / "modules").write_text("# /etc/modules\ni2c-dev\n")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\naudio:x:29:\n")
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(model.encode() + b"\x00")
    return root


def install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["sh", str(INSTALL), "--root", str(root), "--no-venv", "--no-model", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_scripts_are_shellcheck_clean():
    shellcheck = ensure_tool("shellcheck", "shellcheck")
    proc = subprocess.run(
        [shellcheck, "-s", "sh", str(INSTALL), str(UNINSTALL)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_config_parses_to_the_defaults_and_documents_every_key():
    text = (ROOT / "config" / "config.example.yaml").read_text()
    assert text == render_example(), (
        "config/config.example.yaml is out of date with appliance/config.py; "
        "regenerate it: python tests/test_install.py"
    )
    assert parse_config(text, "config.example.yaml") == Config()
    from appliance.config import iter_options

    for path, *_ in iter_options():
        _section, key = path.split(".", 1)
        assert f"\n  {key}:" in text, f"{path} missing from config.example.yaml"


def test_install_twice_into_a_scratch_root_is_idempotent(tmp_path):
    root = scratch_root(tmp_path)
    first = install(root)
    assert "Reboot" in first.stdout and "USB-C" in first.stdout and "Pi 5" in first.stdout
    after_first = snapshot(root)
    install(root)
    assert snapshot(root) == after_first  # nothing changes on a second run

    boot = (root / "boot" / "firmware" / "config.txt").read_text()
    assert boot.startswith(PI_OS_CONFIG_TXT.rstrip("\n"))  # the user's lines untouched
    assert boot.count("dtoverlay=dwc2,dr_mode=peripheral") == 1
    block = boot.split("# >>> stt-keyboard", 1)[1]
    assert block.lstrip().split("\n", 2)[1] == "[all]"  # applies to every board
    assert "i2c_arm=on\n" not in block  # no OLED configured
    modules = (root / "etc" / "modules").read_text().splitlines()
    assert modules.count("dwc2") == 1 and modules.count("libcomposite") == 1
    assert modules.count("i2c-dev") == 1  # the user's own line kept, not duplicated

    passwd = (root / "etc" / "passwd").read_text()
    users = [line.split(":")[0] for line in passwd.splitlines()]
    assert users.count("stt-keyboard") == 1 and "/usr/sbin/nologin" in passwd
    assert "stt-hid:" in (root / "etc" / "group").read_text()
    plan = (root / "var" / "lib" / "stt-keyboard-install" / "plan.txt").read_text()
    assert "systemctl enable stt-keyboard-gadget.service stt-keyboard.service" in plan
    assert "usermod -aG stt-hid stt-keyboard" in plan
    assert "apt-get install" in plan

    for rel, mode in [
        ("etc/systemd/system/stt-keyboard.service", 0o644),
        ("etc/systemd/system/stt-keyboard-gadget.service", 0o644),
        ("etc/udev/rules.d/99-stt-keyboard.rules", 0o644),
        ("usr/local/sbin/stt-keyboard-gadget", 0o755),
        ("etc/stt-keyboard/config.yaml", 0o644),
    ]:
        p = root / rel
        assert p.is_file(), rel
        assert p.stat().st_mode & 0o777 == mode, rel
    assert (root / "etc/systemd/system/multi-user.target.wants/stt-keyboard.service").is_symlink()
    installed = (root / "etc/stt-keyboard/config.yaml").read_text()
    assert installed == (ROOT / "config" / "config.example.yaml").read_text()


def test_existing_config_is_kept_and_an_oled_turns_i2c_on(tmp_path):
    root = scratch_root(tmp_path, "Raspberry Pi 4 Model B Rev 1.5")
    install(root)
    cfg = root / "etc" / "stt-keyboard" / "config.yaml"
    mine = "# mine\nasr:\n  model: base\noled:\n  enabled: true\n  driver: sh1106\n"
    cfg.write_text(mine)
    out = install(root)
    assert cfg.read_text() == mine  # never overwritten
    assert "Pi 4" in out.stdout
    boot = (root / "boot" / "firmware" / "config.txt").read_text()
    assert boot.count("dtoverlay=dwc2,dr_mode=peripheral") == 1
    assert boot.count("\ndtparam=i2c_arm=on") == 1  # our block; the commented one untouched
    assert "#dtparam=i2c_arm=on" in boot
    plan = (root / "var" / "lib" / "stt-keyboard-install" / "plan.txt").read_text()
    assert "stt-keyboard model fetch base" in plan  # the configured model
    modules = (root / "etc" / "modules").read_text().splitlines()
    assert modules.count("i2c-dev") == 1  # already the user's: not added twice
    install(root)
    assert (root / "boot" / "firmware" / "config.txt").read_text() == boot


def test_uninstall_reverses_the_install(tmp_path):
    root = scratch_root(tmp_path)
    before = (root / "boot" / "firmware" / "config.txt").read_text()
    modules_before = (root / "etc" / "modules").read_text()
    install(root)
    proc = subprocess.run(
        ["sh", str(UNINSTALL), "--root", str(root)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert (root / "boot" / "firmware" / "config.txt").read_text().rstrip("\n") == before.rstrip(
        "\n"
    )
    assert (root / "etc" / "modules").read_text().rstrip("\n") == modules_before.rstrip("\n")
    for rel in (
        "etc/systemd/system/stt-keyboard.service",
        "etc/systemd/system/stt-keyboard-gadget.service",
        "etc/udev/rules.d/99-stt-keyboard.rules",
        "usr/local/sbin/stt-keyboard-gadget",
        "opt/stt-keyboard",
    ):
        assert not (root / rel).exists(), rel
    assert "\nstt-keyboard:" not in (root / "etc" / "passwd").read_text()
    assert (root / "etc" / "stt-keyboard" / "config.yaml").exists()  # kept without --purge
    plan = (root / "var/lib/stt-keyboard-install/uninstall-plan.txt").read_text()
    assert "systemctl disable --now" in plan


def test_read_only_root_moves_the_settings_to_the_boot_partition_and_back(tmp_path):
    """--read-only-root: overlayroot from the next boot (its own config file, the initramfs
    rebuilt), the settings copied to the FAT boot partition, which every later step (the
    model line, the next run) then uses; uninstall turns the overlay off and keeps them."""
    root = scratch_root(tmp_path)
    out = install(root, "--read-only-root", "--model", "base")
    conf = (root / "etc" / "overlayroot.local.conf").read_text()
    assert 'overlayroot="tmpfs:recurse=0"' in conf.splitlines(), conf
    boot_settings = root / "boot" / "firmware" / "stt-keyboard.yaml"
    assert boot_settings.read_text() == (root / "etc/stt-keyboard/config.yaml").read_text()
    plan = (root / "var" / "lib" / "stt-keyboard-install" / "plan.txt").read_text()
    assert "overlayroot" in plan.splitlines()[0], plan  # the apt line
    assert "update-initramfs -u -k all" in plan
    # --model NAME changes the file the service will read: the boot partition's
    assert (
        "stt-keyboard --config /boot/firmware/stt-keyboard.yaml config set asr.model base" in plan
    )
    assert "overlayroot-chroot" in out.stdout  # how to update from now on
    mine = boot_settings.read_text() + "# edited on the boot partition\n"
    boot_settings.write_text(mine)
    install(root, "--read-only-root")
    assert boot_settings.read_text() == mine, "the installer run again keeps the user's file"

    proc = subprocess.run(
        ["sh", str(UNINSTALL), "--root", str(root)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not (root / "etc" / "overlayroot.local.conf").exists()
    assert (
        "update-initramfs -u -k all"
        in (root / "var/lib/stt-keyboard-install/uninstall-plan.txt").read_text()
    )
    assert boot_settings.read_text() == mine, "settings are kept without --purge"


def test_without_the_option_nothing_becomes_read_only(tmp_path):
    root = scratch_root(tmp_path)
    install(root)
    assert not (root / "etc" / "overlayroot.local.conf").exists()
    assert not (root / "boot" / "firmware" / "stt-keyboard.yaml").exists()
    plan = (root / "var" / "lib" / "stt-keyboard-install" / "plan.txt").read_text()
    assert "overlayroot" not in plan and "update-initramfs" not in plan


def test_bluetooth_option_points_bluetoothd_at_our_settings_and_uninstall_reverts(tmp_path):
    """--bluetooth (issue 15, item 4): the device's BlueZ settings (LE only, pairable only in
    pairing mode) through a drop-in, the system's main.conf untouched, the service user in
    the bluetooth group; uninstall removes both files and restarts bluetoothd."""
    root = scratch_root(tmp_path)
    install(root, "--bluetooth")
    dropin = root / "etc/systemd/system/bluetooth.service.d/stt-keyboard.conf"
    lines = dropin.read_text().splitlines()
    assert "ExecStart=" in lines
    assert (
        "ExecStart=/usr/libexec/bluetooth/bluetoothd -f /etc/stt-keyboard/bluetooth-main.conf"
        in lines
    )
    conf = (root / "etc/stt-keyboard/bluetooth-main.conf").read_text()
    assert "ControllerMode = le" in conf and "AlwaysPairable = false" in conf
    assert conf == (ROOT / "systemd/bluetooth/main.conf").read_text(), "the file the QEMU test ran"
    assert not (root / "etc/bluetooth/main.conf").exists()
    plan = (root / "var/lib/stt-keyboard-install/plan.txt").read_text()
    assert "usermod -aG bluetooth stt-keyboard" in plan
    assert "systemctl restart bluetooth.service" in plan

    proc = subprocess.run(
        ["sh", str(UNINSTALL), "--root", str(root)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not dropin.exists() and not (root / "etc/stt-keyboard/bluetooth-main.conf").exists()
    undo = (root / "var/lib/stt-keyboard-install/uninstall-plan.txt").read_text()
    assert "systemctl restart bluetooth.service" in undo


def test_without_bluetooth_bluez_is_left_alone(tmp_path):
    root = scratch_root(tmp_path)
    install(root)
    assert not (root / "etc/systemd/system/bluetooth.service.d").exists()
    plan = (root / "var/lib/stt-keyboard-install/plan.txt").read_text()
    assert "bluetooth.service" not in plan and "-aG bluetooth" not in plan


if __name__ == "__main__":
    (ROOT / "config" / "config.example.yaml").write_text(render_example())
    print("wrote config/config.example.yaml")
