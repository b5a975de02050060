"""The image build: pi-gen stage scripts run against a scratch root file system.

pi-gen runs each ``NN-run.sh`` of a stage with the sub-stage as working directory, with
``ROOTFS_DIR`` pointing at the image's root and ``on_chroot`` (a shell function reading a
script on stdin) to run commands inside it. Here ``ROOTFS_DIR`` is a temporary directory laid
out like Raspberry Pi OS Bookworm and ``on_chroot`` records what would run in the chroot: no
real chroot, no root, no network. Nothing here clones pi-gen.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from appliance.config import Config, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "image-build"
STAGE = IMAGE / "stage-stt-keyboard"
BOOT_FILES = STAGE / "02-boot-config" / "files"
CLI = Path(sys.executable).with_name("stt-keyboard")

# /boot/firmware/config.txt as pi-gen's stage1 writes it for Bookworm (abridged).
CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=i2s=on
#dtparam=spi=on

# Enable audio (loads snd_bcm2835)
dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2

# Run in 64-bit mode
arm_64bit=1

# Disable compensation for displays with overscan
disable_overscan=1

# Run as fast as firmware / board allows
arm_boost=1

[cm4]
# Enable host mode on the 2711 built-in XHCI USB controller.
# This line should be removed if the legacy DWC2 controller is required
# (e.g. for USB device mode) or if USB support is not required.
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
"""

NETWORK_UNITS = {
    "multi-user.target.wants/ssh.service": "/lib/systemd/system/ssh.service",
    "sshd.service": "/lib/systemd/system/ssh.service",
    "multi-user.target.wants/avahi-daemon.service": "/lib/systemd/system/avahi-daemon.service",
    "sockets.target.wants/avahi-daemon.socket": "/lib/systemd/system/avahi-daemon.socket",
    "dbus-org.freedesktop.Avahi.service": "/lib/systemd/system/avahi-daemon.service",
    "bluetooth.target.wants/bluetooth.service": "/lib/systemd/system/bluetooth.service",
    "multi-user.target.wants/hciuart.service": "/lib/systemd/system/hciuart.service",
}
KEPT_UNITS = {
    "multi-user.target.wants/cron.service": "/lib/systemd/system/cron.service",
    "multi-user.target.wants/NetworkManager.service": "/lib/systemd/system/NetworkManager.service",
}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """A scratch root file system shaped like pi-gen's stage2 output (Bookworm Lite)."""
    root = tmp_path / "rootfs"
    boot = root / "boot" / "firmware"
    boot.mkdir(parents=True)
    (boot / "config.txt").write_text(CONFIG_TXT)
    (boot / "cmdline.txt").write_text("console=serial0,115200 root=PARTUUID=x-02 rootwait\n")
    (boot / "ssh").write_text("")
    system = root / "etc" / "systemd" / "system"
    for link, target in {**NETWORK_UNITS, **KEPT_UNITS}.items():
        (system / link).parent.mkdir(parents=True, exist_ok=True)
        (system / link).symlink_to(target)
    nm = root / "etc" / "NetworkManager" / "system-connections"
    nm.mkdir(parents=True)
    (nm / "preconfigured.nmconnection").write_text("[wifi]\nssid=home\n")
    wpa = root / "etc" / "wpa_supplicant"
    wpa.mkdir(parents=True)
    (wpa / "wpa_supplicant.conf").write_text(
        "ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\nupdate_config=1\n"
        'network={\n  ssid="home"\n  psk="secret"\n}\n'
    )
    return root


def run_step(
    script: Path, rootfs: Path, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run one pi-gen step the way pi-gen does; returns (result, what went to on_chroot)."""
    log = tmp_path / "on_chroot.log"
    log.write_text("")
    shell = (
        'on_chroot() { echo "--- on_chroot $*" >>"$ON_CHROOT_LOG"; cat >>"$ON_CHROOT_LOG"; }\n'
        'copy_previous() { echo "--- copy_previous" >>"$ON_CHROOT_LOG"; }\n'
        "export -f on_chroot copy_previous\n"
        f"./{script.name}\n"
    )
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ROOTFS_DIR": str(rootfs),
        "STAGE_DIR": str(STAGE),
        "ON_CHROOT_LOG": str(log),
        **env,
    }
    result = subprocess.run(
        ["bash", "-e", "-c", shell],
        cwd=script.parent,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, log.read_text()


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def fake_model(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        (directory / name).write_text(name)
    return directory


def stage_env() -> dict[str, str]:
    """The variables of stage-stt-keyboard/stt-keyboard.env, as the scripts see them."""
    out = subprocess.run(
        ["bash", "-c", ". ./stt-keyboard.env && env"],
        cwd=STAGE,
        env={"PATH": os.environ["PATH"], "ROOTFS_DIR": "/nonexistent"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(
        line.split("=", 1) for line in out.splitlines() if line.startswith(("STT_", "BOOT"))
    )


# --------------------------------------------------------------------------- pi-gen pin, layout


def test_pi_gen_is_pinned_to_a_bookworm_arm64_release():
    ref = dict(
        line.split("=", 1)
        for line in (IMAGE / "pi-gen.ref").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert ref["PIGEN_REPO"] == "https://github.com/RPi-Distro/pi-gen.git"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-raspios-bookworm-arm64", ref["PIGEN_REF"])


def test_stage_has_the_pi_gen_shape():
    assert (STAGE / "EXPORT_IMAGE").is_file()
    assert os.access(STAGE / "prerun.sh", os.X_OK)
    steps = sorted(STAGE.glob("[0-9][0-9]-*/[0-9][0-9]-run.sh"))
    assert [p.parent.name for p in steps] == [
        "00-project",
        "01-usb-gadget",
        "02-boot-config",
        "03-model",
        "04-offline",
    ]
    for step in steps:  # pi-gen skips a run.sh that is not executable, silently
        assert os.access(step, os.X_OK), step


def test_pi_gen_config_is_lite_bookworm_without_network():
    text = (IMAGE / "config.base").read_text()
    assert "RELEASE=bookworm" in text
    assert "ENABLE_SSH=0" in text
    for unwanted in ("WPA_ESSID", "WPA_PASSWORD", "FIRST_USER_PASS", "PUBKEY_SSH"):
        assert not re.search(rf"^{unwanted}=", text, re.M), unwanted


def test_prerun_copies_the_previous_stage_only_once(rootfs: Path, tmp_path: Path):
    missing = tmp_path / "new-rootfs"
    _, log = run_step(STAGE / "prerun.sh", missing, tmp_path)
    assert "--- copy_previous" in log
    _, log = run_step(STAGE / "prerun.sh", rootfs, tmp_path)
    assert "copy_previous" not in log


def test_steps_refuse_to_run_without_rootfs_dir(tmp_path: Path):
    result = subprocess.run(
        ["bash", "./00-run.sh"],
        cwd=STAGE / "01-usb-gadget",
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ROOTFS_DIR is not set" in result.stderr


# --------------------------------------------------------------------------- 00-project


def make_source_tarball(tmp_path: Path, with_installer: bool = True) -> Path:
    src = tmp_path / "src"
    (src / "scripts").mkdir(parents=True)
    (src / "appliance").mkdir()
    (src / "appliance" / "__init__.py").write_text("")
    if with_installer:
        (src / "scripts" / "install.sh").write_text("#!/bin/sh\necho installing\n")
    tar = tmp_path / "src.tar"
    with tarfile.open(tar, "w") as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(src)), recursive=False)
    return tar


def test_project_step_unpacks_the_source_and_runs_the_installer_in_the_chroot(
    rootfs: Path, tmp_path: Path
):
    tar = make_source_tarball(tmp_path)
    result, chroot = run_step(
        STAGE / "00-project" / "01-run.sh", rootfs, tmp_path, STT_SRC_TARBALL=str(tar)
    )
    ok(result)
    env = stage_env()
    assert (rootfs / env["STT_SRC_DIR"].lstrip("/") / "scripts" / "install.sh").is_file()
    assert f'cd "{env["STT_SRC_DIR"]}"' in chroot
    assert "sh scripts/install.sh --no-model --oled" in chroot
    assert f'pip" install -q "{env["STT_SRC_DIR"]}[pi]"' in chroot
    assert f'"{env["STT_BIN"]}" --version' in chroot


def test_project_step_fails_clearly_without_source_or_installer(rootfs: Path, tmp_path: Path):
    result, chroot = run_step(
        STAGE / "00-project" / "01-run.sh",
        rootfs,
        tmp_path,
        STT_SRC_TARBALL=str(tmp_path / "nope.tar"),
    )
    assert result.returncode != 0 and "build the image with image-build/build.sh" in result.stderr
    tar = make_source_tarball(tmp_path, with_installer=False)
    result, chroot = run_step(
        STAGE / "00-project" / "01-run.sh", rootfs, tmp_path, STT_SRC_TARBALL=str(tar)
    )
    assert result.returncode != 0 and "scripts/install.sh is not in" in result.stderr
    assert chroot == ""


# --------------------------------------------------------------------------- 01-usb-gadget


def test_usb_gadget_step_enables_peripheral_mode_once(rootfs: Path, tmp_path: Path):
    step = STAGE / "01-usb-gadget" / "00-run.sh"
    ok(run_step(step, rootfs, tmp_path)[0])
    config_txt = rootfs / "boot" / "firmware" / "config.txt"
    first = config_txt.read_text()
    assert first.startswith(CONFIG_TXT), "existing settings must stay as they were"
    added = first[len(CONFIG_TXT) :]
    assert "[all]" in added  # whatever section came last, ours applies to every board
    assert added.index("[all]") < added.index("dtoverlay=dwc2,dr_mode=peripheral")
    assert "dtparam=i2c_arm=on" in added.splitlines()
    ok(run_step(step, rootfs, tmp_path)[0])
    assert config_txt.read_text() == first, "running the step twice must change nothing"
    modules = (rootfs / "etc" / "modules-load.d" / "stt-keyboard.conf").read_text().split()
    assert {"dwc2", "libcomposite", "i2c-dev"} <= set(modules)


def test_usb_gadget_step_fails_without_config_txt(tmp_path: Path):
    root = tmp_path / "empty-root"
    root.mkdir()
    result, _ = run_step(STAGE / "01-usb-gadget" / "00-run.sh", root, tmp_path)
    assert result.returncode != 0 and "config.txt not found" in result.stderr


# --------------------------------------------------------------------------- 02-boot-config


def test_boot_config_step_installs_config_check_and_drop_in(rootfs: Path, tmp_path: Path):
    ok(run_step(STAGE / "02-boot-config" / "00-run.sh", rootfs, tmp_path)[0])
    boot_cfg = rootfs / "boot" / "firmware" / "stt-keyboard.yaml"
    assert boot_cfg.read_text() == (BOOT_FILES / "stt-keyboard.yaml").read_text()
    lib = rootfs / "usr" / "local" / "lib" / "stt-keyboard"
    for name in ("stt-keyboard-boot-config", "stt-keyboard-show-error"):
        assert stat.S_IMODE((lib / name).stat().st_mode) == 0o755
    system = rootfs / "etc" / "systemd" / "system"
    unit = system / "stt-keyboard-boot-config.service"
    assert "ExecStart=/usr/local/lib/stt-keyboard/stt-keyboard-boot-config" in unit.read_text()
    wants = system / "multi-user.target.wants" / "stt-keyboard-boot-config.service"
    assert os.readlink(wants) == "/etc/systemd/system/stt-keyboard-boot-config.service"
    drop_in = (system / "stt-keyboard.service.d" / "10-boot-config.conf").read_text()
    env = stage_env()
    assert f"EnvironmentFile=-{env['BOOT_CONFIG_ENV']}" in drop_in
    assert "Requires=stt-keyboard-boot-config.service" in drop_in
    assert "After=stt-keyboard-boot-config.service" in drop_in


def test_boot_partition_config_is_valid_and_sets_the_defaults():
    text = (BOOT_FILES / "stt-keyboard.yaml").read_text()
    cfg = parse_config(text, "stt-keyboard.yaml")
    assert cfg == Config(), "the shipped file shows the defaults; it must not change them"
    keys = yaml.safe_load(text)
    assert {"asr", "hid", "button"} <= set(keys)  # language, layout, model, button mode
    assert {"language", "model"} <= set(keys["asr"])
    assert "layout" in keys["hid"] and "mode" in keys["button"]


def test_boot_partition_config_commented_examples_are_valid():
    """The commented-out oled/leds examples work when uncommented."""
    text = (BOOT_FILES / "stt-keyboard.yaml").read_text()
    uncommented = re.sub(r"^# ?((?:oled|leds):|  \w+:)", r"\1", text, flags=re.M)
    assert uncommented != text
    cfg = parse_config(uncommented, "stt-keyboard.yaml")
    assert cfg.oled.enabled and cfg.leds.kind == "dual" and len(cfg.leds.pins) == 2


def check_script_env(tmp_path: Path, boot_config: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "BOOT_CONFIG": str(boot_config),
        "BOOT_CONFIG_ENV": str(tmp_path / "run" / "stt-keyboard-boot-config.env"),
        "STT_BIN": str(CLI),
        "STT_PYTHON": sys.executable,
        "SHOW_ERROR": str(BOOT_FILES / "stt-keyboard-show-error"),
        "PYTHONPATH": str(ROOT),
        "STATUS_DIR": str(tmp_path / "state"),
        **extra,
    }


def run_check(tmp_path: Path, boot_config: Path, **extra: str):
    assert CLI.exists(), f"{CLI} missing: install the project (make setup)"
    return subprocess.run(
        ["sh", str(BOOT_FILES / "stt-keyboard-boot-config")],
        env=check_script_env(tmp_path, boot_config, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_boot_check_points_the_service_at_a_valid_boot_config(tmp_path: Path):
    boot = tmp_path / "stt-keyboard.yaml"
    shutil.copy(BOOT_FILES / "stt-keyboard.yaml", boot)
    result = ok(run_check(tmp_path, boot))
    assert f"{boot}: OK" in result.stdout
    env_file = tmp_path / "run" / "stt-keyboard-boot-config.env"
    assert env_file.read_text() == f"STT_KEYBOARD_CONFIG={boot}\n"


def test_boot_check_without_a_boot_config_says_so_and_uses_the_defaults(tmp_path: Path):
    result = ok(run_check(tmp_path, tmp_path / "missing.yaml"))
    assert "missing.yaml not found: using /etc/stt-keyboard/config.yaml instead" in result.stdout
    assert (tmp_path / "run" / "stt-keyboard-boot-config.env").read_text() == ""


def test_boot_check_reports_a_bad_config_with_file_line_and_key(tmp_path: Path):
    boot = tmp_path / "stt-keyboard.yaml"
    boot.write_text("asr:\n  language: de\nhid:\n  layuot: de\n")
    result = run_check(tmp_path, boot)
    assert result.returncode == 1
    assert f"{boot}:4: hid.layuot: unknown key (did you mean 'layout'?)" in result.stderr
    assert result.stderr.startswith("<3>"), "errors go to the journal with error priority"
    assert "no OLED enabled" in result.stdout  # nothing to draw on, said once
    # ... and in the status file, which the boot partition gets a copy of
    status = (tmp_path / "state" / "status.txt").read_text()
    assert "state: not running: config error: " in status, status
    assert f"{boot}:4: hid.layuot: unknown key" in status, status


def test_boot_check_reports_a_bad_value_and_yaml_syntax(tmp_path: Path):
    boot = tmp_path / "stt-keyboard.yaml"
    boot.write_text("button:\n  mode: push_to_talk\n  pin: 99\n")
    result = run_check(tmp_path, boot)
    assert result.returncode == 1
    assert f"{boot}:3: button.pin: 99 is out of range; allowed: 0 to 53" in result.stderr
    boot.write_text("hid:\n  layout: [de\n")
    result = run_check(tmp_path, boot)
    assert result.returncode == 1
    assert f"{boot}:" in result.stderr and "not valid YAML" in result.stderr


def test_boot_check_tries_the_oled_and_says_when_it_cannot(tmp_path: Path):
    boot = tmp_path / "stt-keyboard.yaml"
    boot.write_text("oled:\n  enabled: true\n  i2c_port: 19\nasr:\n  modle: small\n")
    result = run_check(tmp_path, boot)
    assert result.returncode == 1
    assert f"{boot}:5: asr.modle: unknown key" in result.stderr
    # no I²C bus 19 here: the drawing fails, the journal still has the message
    assert "cannot draw on the OLED" in result.stderr
    assert "could not be shown on the OLED" in result.stderr


def load_show_error():
    path = BOOT_FILES / "stt-keyboard-show-error"
    loader = importlib.machinery.SourceFileLoader("stt_keyboard_show_error", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_oled_error_screen_names_the_key_and_line(tmp_path: Path):
    show = load_show_error()
    assert show.screen_text(
        "/boot/firmware/stt-keyboard.yaml:14: hid.layout: expected a string, got 5"
    ) == ("Config error: hid.layout", "stt-keyboard.yaml line 14: expected a string, got 5")
    assert show.screen_text("/boot/firmware/stt-keyboard.yaml:3: not valid YAML: x") == (
        "Config error",
        "stt-keyboard.yaml line 3: not valid YAML: x",
    )
    from PIL import Image

    from appliance.ui.screens import lit_pixels

    for height in (64, 32):
        png = tmp_path / f"error-{height}.png"
        assert (
            show.main(
                [
                    "x.yaml",
                    "/boot/firmware/stt-keyboard.yaml:14: hid.layout: expected a string, got 5",
                    "--png",
                    str(png),
                    "--height",
                    str(height),
                ]
            )
            == 0
        )
        img = Image.open(png)
        assert img.size == (128, height)
        assert lit_pixels(img.convert("1")) > 100


def test_oled_settings_are_read_leniently_from_a_broken_file(tmp_path: Path):
    show = load_show_error()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("oled:\n  enabled: true\n  driver: sh1106\n  height: 32\nasr:\n  bad: 1\n")
    oled = show.oled_settings(cfg)
    assert oled is not None and oled.driver == "sh1106" and oled.height == 32
    cfg.write_text("oled:\n  enabled: true\n  driver: nope\n")
    oled = show.oled_settings(cfg)
    assert oled is not None and oled.driver == "ssd1306"  # the default display
    cfg.write_text("oled:\n  enabled: false\n")
    assert show.oled_settings(cfg) is None
    cfg.write_text("hid: [\n")
    assert show.oled_settings(cfg) is None


# --------------------------------------------------------------------------- 03-model


def test_model_step_bakes_a_prepared_model_into_the_cache(rootfs: Path, tmp_path: Path):
    model = fake_model(tmp_path / "small")
    result, chroot = run_step(
        STAGE / "03-model" / "00-run.sh", rootfs, tmp_path, STT_MODEL_DIR=str(model)
    )
    ok(result)
    target = rootfs / "var" / "lib" / "stt-keyboard" / "models" / "small"
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in model.iterdir())
    assert stat.S_IMODE((target / "model.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    # no fetch (no network): the chroot only names the model in the boot partition's settings
    assert "model fetch" not in chroot
    assert 'config set asr.model "small"' in chroot


def test_model_step_names_the_baked_model_in_the_boot_config(rootfs: Path, tmp_path: Path):
    """A --model base image starts with asr.model: base (it asked for small and failed)."""
    ok(run_step(STAGE / "02-boot-config" / "00-run.sh", rootfs, tmp_path)[0])
    model = fake_model(tmp_path / "base")
    result, chroot = run_step(
        STAGE / "03-model" / "00-run.sh", rootfs, tmp_path, STT_MODEL="base",
        STT_MODEL_DIR=str(model),
    )  # fmt: skip
    ok(result)
    env = stage_env()
    command = chroot.split("--- on_chroot", 1)[1].split("\n", 1)[1]
    # what runs in the image's chroot, run here with this checkout's CLI on the step's file
    boot_config = rootfs / env["BOOT_CONFIG"].lstrip("/")
    command = command.replace(
        f'"{env["STT_BIN"]}"', str(Path(sys.executable).parent / "stt-keyboard")
    )
    command = command.replace(env["BOOT_CONFIG"], str(boot_config))
    ok(subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60))
    text = boot_config.read_text()
    assert load_config(boot_config).asr.model == "base"
    assert text.count("model: base") == 1 and "model: small" not in text
    # the rest of the user's file is as the image shipped it (comments included)
    shipped = (STAGE / "02-boot-config" / "files" / "stt-keyboard.yaml").read_text()
    assert text == shipped.replace("  model: small", "  model: base")


def test_model_step_fetches_in_the_chroot_and_checks_the_result(rootfs: Path, tmp_path: Path):
    result, chroot = run_step(STAGE / "03-model" / "00-run.sh", rootfs, tmp_path)
    env = stage_env()
    assert f'"{env["STT_BIN"]}" model fetch "small" --cache "/var/lib/stt-keyboard/models"' in (
        chroot
    )
    # the recording on_chroot fetched nothing: the step must notice, not ship an empty cache
    assert result.returncode != 0
    assert "no model in /var/lib/stt-keyboard/models/small" in result.stderr


def test_model_step_rejects_a_directory_that_is_not_a_model(rootfs: Path, tmp_path: Path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    result, _ = run_step(STAGE / "03-model" / "00-run.sh", rootfs, tmp_path, STT_MODEL_DIR=str(bad))
    assert result.returncode != 0 and "model.bin missing" in result.stderr


def test_model_cache_matches_the_config_doc_for_the_service():
    assert stage_env()["STT_MODEL_CACHE"] == "/var/lib/stt-keyboard/models"
    from appliance.config import AsrConfig

    doc = AsrConfig.__dataclass_fields__["model_cache"].metadata["doc"]
    assert "/var/lib/stt-keyboard/models" in doc
    assert Config().asr.model == stage_env()["STT_MODEL"] == "small"


# --------------------------------------------------------------------------- 04-offline


def test_offline_step_leaves_nothing_listening_or_joining_a_network(rootfs: Path, tmp_path: Path):
    ok(run_step(STAGE / "04-offline" / "00-run.sh", rootfs, tmp_path)[0])
    system = rootfs / "etc" / "systemd" / "system"
    for link in NETWORK_UNITS:
        assert not (system / link).is_symlink(), link
    for link in KEPT_UNITS:
        assert (system / link).is_symlink(), f"{link} must stay enabled"
    assert not (rootfs / "boot" / "firmware" / "ssh").exists()
    assert list((rootfs / "etc" / "NetworkManager" / "system-connections").iterdir()) == []
    wpa = (rootfs / "etc" / "wpa_supplicant" / "wpa_supplicant.conf").read_text()
    assert "network=" not in wpa and "secret" not in wpa and "update_config=1" in wpa
    ok(run_step(STAGE / "04-offline" / "00-run.sh", rootfs, tmp_path)[0])  # idempotent


# --------------------------------------------------------------------------- the whole stage


def test_stage_steps_in_order_give_a_bootable_configuration(rootfs: Path, tmp_path: Path):
    """All host-side steps in pi-gen's order on one root; then the boot check on its result."""
    env = {
        "STT_SRC_TARBALL": str(make_source_tarball(tmp_path)),
        "STT_MODEL_DIR": str(fake_model(tmp_path / "model")),
    }
    for step in sorted(STAGE.glob("[0-9][0-9]-*/[0-9][0-9]-run.sh")):
        ok(run_step(step, rootfs, tmp_path, **env)[0])
    installed_check = rootfs / "usr/local/lib/stt-keyboard/stt-keyboard-boot-config"
    result = subprocess.run(
        ["sh", str(installed_check)],
        env=check_script_env(tmp_path, rootfs / "boot/firmware/stt-keyboard.yaml"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    ok(result)
    assert (rootfs / "var/lib/stt-keyboard/models/small/model.bin").is_file()
    assert "dtoverlay=dwc2,dr_mode=peripheral" in (rootfs / "boot/firmware/config.txt").read_text()


def test_check_script_defaults_match_the_stage_paths():
    text = (BOOT_FILES / "stt-keyboard-boot-config").read_text()
    env = stage_env()
    for var in ("BOOT_CONFIG", "BOOT_CONFIG_ENV", "STT_BIN", "STT_PYTHON"):
        assert f"{var}=${{{var}:-{env[var]}}}" in text, var
    unit = (BOOT_FILES / "stt-keyboard-boot-config.service").read_text()
    assert f"ExecStart={env['STT_LIBEXEC']}/stt-keyboard-boot-config" in unit


# --------------------------------------------------------------------------- build.sh


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(IMAGE / "build.sh"), "--dry-run", "--work", str(tmp_path / "work"), *args],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_pigen_config(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", f"set -a; . {path}; env"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_build_dry_run_prepares_pi_gen_without_network(tmp_path: Path):
    model = fake_model(tmp_path / "small")
    result = ok(dry_run(tmp_path, "--model-dir", str(model)))
    pigen = tmp_path / "work" / "pi-gen"
    assert "would run: (cd" in result.stdout and "./build.sh)" in result.stdout
    assert not (pigen / ".git").exists(), "a dry run never clones"
    cfg = read_pigen_config(pigen / "config")
    assert cfg["STAGE_LIST"] == "stage0 stage1 stage2 stage-stt-keyboard"
    assert cfg["RELEASE"] == "bookworm"
    assert cfg["ENABLE_SSH"] == "0"
    assert cfg["STT_MODEL"] == "small"
    assert "WPA_ESSID" not in cfg
    password = cfg["FIRST_USER_PASS"]
    assert len(password) >= 16
    pw_file = tmp_path / "work" / "admin-password.txt"
    assert password in pw_file.read_text()
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((pigen / "config").stat().st_mode) == 0o600
    stage = pigen / "stage-stt-keyboard"
    assert (stage / "03-model" / "files" / "model" / "model.bin").is_file()
    with tarfile.open(stage / "00-project" / "files" / "stt-keyboard-src.tar") as tf:
        names = set(tf.getnames())
    assert "appliance/config.py" in names and "pyproject.toml" in names
    assert not any(n.startswith((".venv/", "image-build/work/")) for n in names)
    for step in stage.glob("[0-9][0-9]-*/[0-9][0-9]-run.sh"):
        assert os.access(step, os.X_OK), step


def test_build_uses_a_given_password_and_docker_when_asked(tmp_path: Path):
    result = ok(dry_run(tmp_path, "--docker", "--model", "base", FIRST_USER_PASS="a b'c$d"))
    assert "./build-docker.sh)" in result.stdout
    cfg = read_pigen_config(tmp_path / "work" / "pi-gen" / "config")
    assert cfg["FIRST_USER_PASS"] == "a b'c$d"
    assert cfg["STT_MODEL"] == "base"
    assert not (tmp_path / "work" / "admin-password.txt").exists()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"WPA_ESSID": "home"}, "WPA_ESSID is set"),
        ((), {"ENABLE_SSH": "1"}, "ENABLE_SSH=1"),
        (("--model", "../x"), {}, "--model takes a name"),
        (("--model-dir", "/nonexistent-dir"), {}, "no such directory"),
        (("--frobnicate",), {}, "unknown option"),
    ],
)
def test_build_refuses_bad_requests(tmp_path: Path, args, env, message):
    result = dry_run(tmp_path, *args, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_build_help_documents_the_options():
    out = ok(
        subprocess.run(["bash", str(IMAGE / "build.sh"), "--help"], capture_output=True, text=True)
    ).stdout
    for option in ("--model", "--model-dir", "--work", "--docker", "--dry-run"):
        assert option in out


# --------------------------------------------------------------------------- shellcheck


def ensure_shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=False)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "shellcheck"],
        env=env,
        check=False,
    )
    found = shutil.which("shellcheck")
    if not found:
        pytest.fail("shellcheck is not installed and `apt-get install shellcheck` failed")
    return found


def shell_scripts() -> list[tuple[Path, str]]:
    """(script, shell dialect) for every shell script in image-build/."""
    out = []
    for path in sorted(IMAGE.rglob("*")):
        if not path.is_file() or "work" in path.relative_to(IMAGE).parts:
            continue
        first = path.read_text(errors="replace").split("\n", 1)[0]
        if first.startswith("#!") and re.search(r"\b(ba)?sh\b", first):
            out.append((path, "bash" if "bash" in first else "sh"))
        elif path.suffix in (".sh", ".env") or path.name == "EXPORT_IMAGE":
            out.append((path, "bash"))  # sourced by pi-gen's bash
    return out


def test_every_shell_script_is_found():
    names = {p.relative_to(IMAGE).as_posix() for p, _ in shell_scripts()}
    assert {
        "build.sh",
        "stage-stt-keyboard/prerun.sh",
        "stage-stt-keyboard/EXPORT_IMAGE",
        "stage-stt-keyboard/stt-keyboard.env",
        "stage-stt-keyboard/02-boot-config/files/stt-keyboard-boot-config",
    } <= names
    assert sum(1 for n in names if n.endswith("-run.sh")) == 5


@pytest.mark.parametrize(
    ("script", "dialect"), shell_scripts(), ids=lambda v: getattr(v, "name", v)
)
def test_shellcheck(script: Path, dialect: str):
    shellcheck = ensure_shellcheck()
    result = subprocess.run(
        [shellcheck, "-x", "-s", dialect, script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_boot_check_is_posix_sh():
    """It runs before anything else on the Pi: /bin/sh (dash), no bashisms."""
    first = (BOOT_FILES / "stt-keyboard-boot-config").read_text().split("\n", 1)[0]
    assert first == "#!/bin/sh"
    if shutil.which("dash"):
        result = subprocess.run(
            ["dash", "-n", str(BOOT_FILES / "stt-keyboard-boot-config")], capture_output=True
        )
        assert result.returncode == 0


# --------------------------------------------------------------------------- with the installer


def test_stage_paths_match_the_installer_and_the_unit():
    env = stage_env()
    unit = (ROOT / "systemd" / env["STT_SERVICE"]).read_text()
    assert f"ExecStart={env['STT_BIN']} run" in unit
    cache = re.search(r"^Environment=STT_KEYBOARD_CACHE=(\S+)$", unit, re.M)
    assert cache and f"{cache.group(1)}/models" == env["STT_MODEL_CACHE"]
    # the file is picked by the rule every command uses (the boot partition's first)
    assert "Environment=STT_KEYBOARD_CONFIG=" not in unit
    installer = (ROOT / "scripts" / "install.sh").read_text()
    for option in env["STT_INSTALL_ARGS"].split():
        assert f"{option})" in installer, f"install.sh has no {option}"
    assert f'OPT="$ROOT{env["STT_PREFIX"]}"' in installer


def test_installer_then_stage_steps_leave_one_setting_each(rootfs: Path, tmp_path: Path):
    """The installer (scratch-root mode) and our steps both touch config.txt: no duplicates."""
    result = subprocess.run(
        [
            "sh",
            str(ROOT / "scripts" / "install.sh"),
            "--root",
            str(rootfs),
            "--no-model",
            "--no-venv",
            "--oled",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    ok(result)
    for step in ("01-usb-gadget", "02-boot-config", "04-offline"):
        ok(run_step(STAGE / step / "00-run.sh", rootfs, tmp_path)[0])
    lines = (rootfs / "boot/firmware/config.txt").read_text().splitlines()
    assert lines.count("dtoverlay=dwc2,dr_mode=peripheral") == 1
    assert lines.count("dtparam=i2c_arm=on") == 1
    system = rootfs / "etc/systemd/system"
    assert (system / "multi-user.target.wants/stt-keyboard.service").is_symlink()
    assert (system / "stt-keyboard.service.d/10-boot-config.conf").is_file()
    assert (system / "stt-keyboard.service").is_file()
