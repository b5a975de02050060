"""Power cuts on a device installed with a read-only root, booted under systemd.

The Pi is powered by the host's USB port: a laptop that sleeps or shuts down cuts it off at
any moment. ``scripts/install.sh --read-only-root`` (the image's default) puts the root file
system under Debian's ``overlayroot`` (writes go to RAM), so a power cut cannot corrupt it;
the settings live on the FAT boot partition (``/boot/firmware/stt-keyboard.yaml``), which any
computer can edit, and which ``stt-keyboard config set`` writes atomically and synced.

The guest is the one ``test_systemd_boot.py`` boots (``systemd_image.py``), installed with
``--read-only-root`` and given a FAT boot partition built as pi-gen builds one (the contents
of the root's ``/boot/firmware``, here with ``mkfs.vfat`` and ``mcopy``). Its power is cut by
killing QEMU (SIGKILL: nothing in the guest runs after it), once right after a settings change
and once in the middle of a dictation; after each cut the host checks both file systems
(``e2fsck -fn``, ``fsck.fat -n``) before the guest boots again, and the next boot must reach
READY with the settings intact and type a dictation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .systemd_image import RunImage, SystemdVM
from .test_systemd_boot import SETTINGS, TIMES, Guest, start_host_engine
from .test_whole_appliance_qemu import FIRST, MAX_WER, SECOND, SPEECH, HostEngine, reference, wer
from .vm import VMError

pytestmark = pytest.mark.qemu

BOOT_CONFIG = "/boot/firmware/stt-keyboard.yaml"


class PowerCutGuest(Guest):
    def __init__(self, vm: SystemdVM, image: RunImage, engine: HostEngine) -> None:
        super().__init__(vm, engine)
        self.image = image

    def cut_power_and_boot_again(self, what: str) -> str:
        """SIGKILL to QEMU (the guest's disks keep exactly what it had written); both file
        systems checked from the host; the next boot to READY. The settings file then."""
        assert self.vm.proc is not None
        self.vm.proc.kill()
        self.vm.proc.wait(10)
        fs = filesystems_after_the_cut(self.image)
        print(what, {k: v for k, v in fs.items() if "rc" in k or "state" in k})
        assert_clean(fs)
        t0 = time.monotonic()
        try:
            self.vm.boot(self.image)
        except VMError as exc:
            pytest.fail(f"the guest did not boot again: {exc}", pytrace=False)
        self.wait_active(timeout_s=600)
        TIMES[f"{what}: boot to READY"] = time.monotonic() - t0
        return self.sh(f"cat {BOOT_CONFIG}")


def filesystems_after_the_cut(image: RunImage) -> dict[str, str]:
    """What fsck says about the two disks, read-only (nothing is repaired here)."""
    root = subprocess.run(["e2fsck", "-fn", str(image.disk)], capture_output=True, text=True)
    state = subprocess.run(["dumpe2fs", "-h", str(image.disk)], capture_output=True, text=True)
    assert image.boot_disk is not None
    fat = subprocess.run(["fsck.fat", "-n", str(image.boot_disk)], capture_output=True, text=True)
    out = {
        "e2fsck rc": str(root.returncode),
        "e2fsck": root.stdout + root.stderr,
        "root state": re.search(r"Filesystem state:\s*(.*)", state.stdout).group(1),  # type: ignore[union-attr]
        "root features": re.search(r"Filesystem features:\s*(.*)", state.stdout).group(1),  # type: ignore[union-attr]
        "fsck.fat rc": str(fat.returncode),
        "fsck.fat": fat.stdout + fat.stderr,
    }
    return out


def assert_clean(fs: dict[str, str]) -> None:
    # The read-only root was never written: no journal to replay, nothing to repair.
    assert fs["e2fsck rc"] == "0", fs
    assert fs["root state"].strip() == "clean", fs
    assert "needs_recovery" not in fs["root features"], fs
    # FAT: Linux marks a mounted volume dirty and clears the mark when it unmounts it, so a cut
    # leaves the mark (Pi OS's boot-time fsck clears it); nothing else may be wrong.
    problems = [
        ln
        for ln in fs["fsck.fat"].splitlines()
        if ln.strip()
        and not ln.startswith(("fsck.fat ", "/", "There are differences between boot sector"))
        and "Dirty bit is set" not in ln
        and "Leaving filesystem unchanged" not in ln
        and "Automatically removing dirty bit" not in ln
        and not re.match(r"\s*(1\)|2\)|\*)", ln)
    ]
    assert not problems, fs


@pytest.fixture(scope="module")
def guest() -> Iterator[PowerCutGuest]:
    workdir = Path(tempfile.mkdtemp(prefix="stt-day-one-"))
    image = RunImage(workdir)
    vm = SystemdVM(workdir)
    engine = start_host_engine(workdir)
    g = PowerCutGuest(vm, image, engine)
    try:
        try:
            image.build(SETTINGS, bridge=True, installer_args=("--read-only-root",),
                        boot_partition=True)  # fmt: skip
            vm.boot(image)
        except VMError as exc:
            pytest.fail(f"the read-only guest did not boot: {exc}", pytrace=False)
        TIMES["read-only image, boot to agent"] = vm.boot_s
        yield g
    finally:
        vm.stop()
        engine.stop()
        print(f"\nday-one times (s): { {k: round(v, 1) for k, v in TIMES.items()} }")
        shutil.rmtree(workdir, ignore_errors=True)


def test_root_is_read_only_and_settings_are_on_the_boot_partition(guest: PowerCutGuest) -> None:
    guest.wait_active(timeout_s=600)
    out = guest.sh(
        "findmnt -no FSTYPE /; findmnt -no OPTIONS /media/root-ro; "
        "findmnt -no FSTYPE,OPTIONS /boot/firmware"
    ).splitlines()
    assert out[0] == "overlay", out
    assert out[1].split(",")[0] == "ro", out
    fstype, options = out[2].split()
    assert fstype == "vfat" and options.split(",")[0] == "rw", out
    # The installer copied its settings there; the service and every command read them.
    config = guest.sh(f"cat {BOOT_CONFIG}")
    assert "\n  model: base\n" in config and "report_delay_ms: 4" in config, config
    rc, doctor = guest.vm.run(
        "env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
        "stt-keyboard doctor --no-mic",
        timeout_s=120,
    )
    assert f"valid ({BOOT_CONFIG})" in doctor, doctor
    # The state, on the FAT partition, for a device with no screen (written at most every 10 s)
    status = guest.boot_status("state: ready")
    assert "state: ready" in status, status
    # An update must go to the read-only layer, not the RAM one: the installer says how.
    rc, out2 = guest.vm.run("sh /root/stt-keyboard/scripts/install.sh --no-apt --no-model")
    assert rc != 0 and "overlayroot-chroot" in out2, out2


def test_power_cut_right_after_a_settings_change(guest: PowerCutGuest) -> None:
    guest.wait_active(timeout_s=60)
    guest.sh("stt-keyboard config set hid.report_delay_ms 6")
    config = guest.cut_power_and_boot_again("cut after a settings change")
    assert "report_delay_ms: 6" in config, config
    assert "\n  model: base\n" in config, config


def test_power_cut_during_a_dictation(guest: PowerCutGuest) -> None:
    """The cord pulled while the user speaks: what was said is lost with the RAM (nothing was
    typed yet), but the device comes back whole and the next dictation is typed."""
    guest.wait_active(timeout_s=60)
    mark = len(guest.journal())
    shutil.copy(SPEECH / FIRST, guest.out / "cut.wav")
    guest.button("press")
    guest.wait_journal(r"state: recording", after=mark, timeout_s=30)
    guest.sh("(nohup aplay -q -D plughw:Loopback,0,0 /mnt/stt-work/cut.wav >/dev/null 2>&1 &)")
    time.sleep(2.5)  # mid-sentence
    config = guest.cut_power_and_boot_again("cut mid-dictation")
    assert "report_delay_ms: 6" in config, config
    d = guest.dictate("after-cut", SECOND)
    print(f"typed after the cut: {d.text!r}")
    assert wer(reference(SECOND), d.text) <= MAX_WER, (reference(SECOND), d.text)


def test_a_broken_setting_on_the_boot_partition_is_reported_there(guest: PowerCutGuest) -> None:
    """A user with no screen edits the file on another computer and makes a mistake: the
    service does not start, and the status file next to the settings says why. Last: it leaves
    the service failed."""
    guest.wait_active(timeout_s=60)
    guest.sh(f"sed -i 's/report_delay_ms: 6/report_delay_ms: fast/' {BOOT_CONFIG}; sync")
    rc, out = guest.vm.run("systemctl restart stt-keyboard.service", timeout_s=300)
    assert rc != 0, f"the service started with a broken setting: {out}"
    copy = guest.boot_status("config error")
    assert "state: not running: config error" in copy, copy
    assert "stt-keyboard.yaml:" in copy and "hid.report_delay_ms" in copy, copy
