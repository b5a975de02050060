"""A Debian bookworm disk image with systemd as PID 1 and STT Keyboard installed by its installer.

Test support for ``test_systemd_boot.py``. Two layers, cached under
``$STT_KEYBOARD_CACHE/systemd-image`` (default ``~/.cache/stt-keyboard/systemd-image``):

* the **base** (``base-<key>/root``), keyed by a hash of what it is made of (the package list
  below, ``scripts/install.sh``, ``pyproject.toml``, ``requirements/``, ``systemd/``, ``gadget/``,
  ``udev/``, and ``BASE_RECIPE`` here): ``mmdebstrap`` bookworm from Debian's archive (systemd,
  udev, Debian's own kernel ``linux-image-amd64`` and its initramfs), then the project's own
  ``scripts/install.sh --model base`` run in the chroot as a user runs it on Raspberry Pi OS Lite
  (its apt step, the venv with every dependency, the model fetched by ``stt-keyboard model
  fetch``). Network is used here only (Debian's archive, PyPI), once.
* per test run, the **top**: the base under an overlayfs (no copy), the current checkout copied
  in, ``scripts/install.sh --no-apt --no-model`` run again in the chroot (pip finds every
  dependency satisfied and reinstalls only the project; ``PIP_NO_INDEX`` proves it needs no
  network), the test-only additions written, and the tree turned into an ext4 disk image with
  ``mkfs.ext4 -d`` (no loop mount).

Why a disk and not a 9p root: the guest then boots as a Pi does, from a block device with an ext4
root that systemd remounts, with real ownership and modes (the installer's ``stt-keyboard`` user
and groups, ``0750`` state directory) and no 9p quirks for systemd (inode numbers, xattrs,
``ProtectSystem=`` bind mounts). ``mkfs.ext4 -d`` needs no loop device and no mount, and writes a
1.5 GB tree in well under a minute here.

Everything the test adds to the guest is TEST-ONLY and written here, never by the product's
installer; each file says so in its first line: the control agent's unit, the 9p mount of the
shared directory, ``modules-load.d`` for ``dummy_hcd`` (the Pi's ``dwc2`` stand-in) and
``snd-aloop`` (the microphone stand-in), the test config, and a drop-in for
``stt-keyboard.service`` that runs the daemon through the button FIFO hook.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .vm import ROOT, GuestVM, VMError, ensure_packages, wait_for_agent

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Debian's pieces of a Raspberry Pi OS Lite stand-in. The installer installs its own apt
# packages (python3-venv, portaudio19-dev, ...) in the base layer; gcc/libc6-dev are on Pi OS
# Lite and PyAudio has no x86_64 wheel, so it is built from source; alsa-utils gives ``aplay``
# (the test feeds the loopback microphone with it) and is on Pi OS Lite too.
PACKAGES = [
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "linux-image-amd64",
    "initramfs-tools",
    "ca-certificates",
    "python3",
    "gcc",
    "libc6-dev",
    "alsa-utils",
    "procps",
    # what `install.sh --read-only-root` installs with apt (the per-run installer is offline)
    "overlayroot",
    "busybox",
    # Pi OS has it: the boot partition's fsck at boot (fstab pass 2)
    "dosfstools",
]
# The project files a user's checkout has that the installer reads.
SOURCE_PARTS = [
    "pyproject.toml",
    "README.md",
    "appliance",
    "config",
    "docs",
    "gadget",
    "requirements",
    "scripts",
    "systemd",
    "udev",
]
KEY_PARTS = [
    "scripts/install.sh",
    "pyproject.toml",
    "requirements",
    "systemd",
    "gadget",
    "udev",
]
# Bump when the base recipe here (build_base, PACKAGES aside) changes.
BASE_RECIPE = 1
SRC_IN_GUEST = "/root/stt-keyboard"  # where the user cloned the project
WHEELHOUSE = "/var/cache/stt-keyboard-test/wheelhouse"  # TEST-ONLY: build backend, offline
PIP_CACHE = "/var/cache/stt-keyboard-test/pip"  # TEST-ONLY: bind-mounted from the host cache
# pip in the guest must never install torch (an x86 torch from PyPI is a multi-GB CUDA build).
CONSTRAINTS = "torch<0\n"


def cache_root() -> Path:
    base = os.environ.get("STT_KEYBOARD_CACHE") or str(Path.home() / ".cache" / "stt-keyboard")
    d = Path(base) / "systemd-image"
    d.mkdir(parents=True, exist_ok=True)
    return d


def base_key() -> str:
    h = hashlib.sha256()
    h.update(repr((SUITE, MIRROR, PACKAGES, BASE_RECIPE)).encode())
    for part in KEY_PARTS:
        p = ROOT / part
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _sh(cmd: list[str], what: str, timeout: float = 3600, **kw: object) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if r.returncode != 0:
        raise VMError(f"{what} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return str(r.stdout)


@contextlib.contextmanager
def chroot_mounts(root: Path, pip_cache: Path) -> Iterator[None]:
    """/proc, /dev, /sys and the pip cache in the chroot (unmounted afterwards, in reverse)."""
    mounts: list[Path] = []
    try:
        for src, dst, args in [
            ("proc", "proc", ["-t", "proc"]),
            ("/dev", "dev", ["--rbind"]),
            ("/sys", "sys", ["--rbind"]),
            (str(pip_cache), PIP_CACHE.lstrip("/"), ["--bind"]),
        ]:
            target = root / dst
            target.mkdir(parents=True, exist_ok=True)
            _sh(["mount", *args, src, str(target)], f"mount {dst}")
            mounts.append(target)
        yield
    finally:
        for target in reversed(mounts):
            subprocess.run(["umount", "-R", "-l", str(target)], capture_output=True)


def safe_rmtree(path: Path) -> None:
    """rmtree, never through a mount (a chroot's /dev or /proc left mounted by a crash)."""
    if not path.exists():
        return
    real = str(path.resolve())
    for _ in range(2):
        mounted = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1] == real or line.split()[1].startswith(real + "/")
        ]
        if not mounted:
            shutil.rmtree(path, ignore_errors=True)
            return
        for m in sorted(mounted, reverse=True):
            subprocess.run(["umount", "-R", "-l", m], capture_output=True)
    raise VMError(f"refusing to delete {path}: still mounted: {mounted}")


def copy_source(root: Path) -> None:
    dest = root / SRC_IN_GUEST.lstrip("/")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for part in SOURCE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)


def run_installer(root: Path, args: list[str], env: dict[str, str], log: Path) -> float:
    """``sh scripts/install.sh ARGS`` in the chroot, as root, as a user runs it; seconds."""
    pip_cache = cache_root() / "pip-cache"
    pip_cache.mkdir(exist_ok=True)
    full_env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_CACHE_DIR": PIP_CACHE,
        "PIP_CONSTRAINT": "/var/cache/stt-keyboard-test/constraints.txt",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **env,
    }
    (root / "var/cache/stt-keyboard-test").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/stt-keyboard-test/constraints.txt").write_text(CONSTRAINTS)
    host_ca = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    if Path(host_ca).is_file():  # this machine's network may need its own CA bundle
        shutil.copy(host_ca, root / "var/cache/stt-keyboard-test/ca.crt")
        full_env["PIP_CERT"] = "/var/cache/stt-keyboard-test/ca.crt"
    t0 = time.monotonic()
    with chroot_mounts(root, pip_cache):
        r = subprocess.run(
            ["chroot", str(root), "sh", f"{SRC_IN_GUEST}/scripts/install.sh", *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
    log.write_text(f"$ install.sh {' '.join(args)}\n{r.stdout}\n--- stderr ---\n{r.stderr}")
    if r.returncode != 0:
        raise VMError(f"install.sh {args} failed in the chroot ({r.returncode}); see {log}:\n"
                      f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")  # fmt: skip
    return time.monotonic() - t0


def _mmdebstrap(root: Path) -> None:
    _sh(
        [
            "mmdebstrap",
            "--mode=root",
            "--variant=minbase",
            "--include=" + ",".join(PACKAGES),
            "--components=main",
            SUITE,
            str(root),
            f"deb {MIRROR} {SUITE} main",
            f"deb {MIRROR} {SUITE}-updates main",
            "deb http://deb.debian.org/debian-security bookworm-security main",
        ],
        "mmdebstrap",
    )


def build_base(key: str, out: Path) -> Path:
    """Debian + kernel + the installer's first run (apt, venv with the deps, model)."""
    ensure_packages(["mmdebstrap", "e2fsprogs", "qemu-system-x86"])
    tmp = out.with_name(out.name + ".tmp")
    root = tmp / "root"
    stamp = tmp / "mmdebstrap.done"  # an interrupted build resumes after mmdebstrap
    if not stamp.exists():
        safe_rmtree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t0 = time.monotonic()
    if not stamp.exists():
        _mmdebstrap(root)
        stamp.write_text("")
    times["mmdebstrap"] = time.monotonic() - t0
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")  # the installer's apt and pip
    copy_source(root)
    times["install.sh (apt, venv, model)"] = run_installer(
        root, ["--model", "base"], {}, tmp / "install-base.log"
    )
    # The build backend for the per-run reinstall, so it needs no index (test-only).
    wheelhouse = root / WHEELHOUSE.lstrip("/")
    wheelhouse.mkdir(parents=True, exist_ok=True)
    pip_cache = cache_root() / "pip-cache"
    with chroot_mounts(root, pip_cache):
        _sh(
            ["chroot", str(root), "/opt/stt-keyboard/venv/bin/pip", "download", "-q",
             "--dest", WHEELHOUSE, "setuptools>=68", "wheel"],
            "pip download setuptools wheel",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                 "PIP_CACHE_DIR": PIP_CACHE, "PIP_CERT": "/var/cache/stt-keyboard-test/ca.crt"},
        )  # fmt: skip
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    times["total"] = time.monotonic() - t0
    (tmp / "times.txt").write_text("".join(f"{k}: {v:.0f} s\n" for k, v in times.items()))
    safe_rmtree(out)
    tmp.rename(out)
    return out


def ensure_base() -> tuple[Path, bool]:
    """The cached base layer's directory; and whether it was built now."""
    key = base_key()
    out = cache_root() / f"base-{key}"
    if (out / "times.txt").exists():
        return out, False
    for old in cache_root().glob("base-*"):
        if old.name not in (out.name, out.name + ".tmp"):
            safe_rmtree(old)
    return build_base(key, out), True


# ---------------------------------------------------------------- test-only additions
TEST_MARK = "# TEST-ONLY (tests/qemu/systemd_image.py): not part of the product; the product's\n"
TEST_DIR = "/opt/stt-keyboard-test"  # the test's wrapper scripts in the guest
FIFO = "/run/stt-keyboard-test/button"
SHARED = "/mnt/stt-work"  # the 9p directory shared with the test (control channel)

AGENT = r"""#!/bin/sh
# TEST-ONLY: runs shell scripts the test drops into the shared directory (control channel).
W=@SHARED@
i=0
until mountpoint -q $W; do  # the 9p mount (fstab, nofail) may come after this unit starts
  i=$((i + 1)); [ $i -lt 600 ] || { echo "agent: $W not mounted" > /dev/console; exit 1; }
  sleep 0.2
done
mkdir -p $W/cmd
echo "agent: ready" > /dev/console
echo 0 > $W/ready
while :; do
  for f in "$W"/cmd/*.sh; do
    [ -e "$f" ] || continue
    b=${f%.sh}
    mv "$f" "$b.run"
    sh "$b.run" > "$b.out" 2>&1
    echo $? > "$b.rc.tmp"
    mv "$b.rc.tmp" "$b.rc"
  done
  sleep 0.05
done
""".replace("@SHARED@", SHARED)

TEST_FILES = {
    "etc/systemd/system/stt-keyboard-test-agent.service": TEST_MARK
    + """# the test's control channel: runs scripts from the 9p directory the test shares.
[Unit]
Description=TEST-ONLY control agent for tests/qemu/test_systemd_boot.py
RequiresMountsFor=@SHARED@

[Service]
Type=simple
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
Environment=LANG=C.UTF-8
ExecStart=/bin/sh @TEST_DIR@/agent.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
""".replace("@TEST_DIR@", TEST_DIR).replace("@SHARED@", SHARED),
    # the Pi's UDC comes from dwc2 (in /etc/modules by the installer; amd64 has no dwc2):
    # dummy_hcd is the UDC and the USB host here; snd-aloop is the microphone.
    "etc/modules-load.d/stt-keyboard-test.conf": TEST_MARK
    + "# dummy_hcd stands in for the Pi's dwc2, snd-aloop for a USB microphone.\n"
    "dummy_hcd\nsnd-aloop\nevdev\n",
    "etc/tmpfiles.d/stt-keyboard-test.conf": TEST_MARK
    + "# the button FIFO the test writes press/release to.\n"
    "d /run/stt-keyboard-test 0755 root root -\n"
    f"p {FIFO} 0666 root root -\n",
}
FSTAB_LINE = (
    "# TEST-ONLY (tests/qemu/systemd_image.py): the directory the test shares (control channel)\n"
    f"work {SHARED} 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0\n"
)


def dropin(*, bridge: bool, watchdog_s: int | None) -> str:
    """The test's drop-in for stt-keyboard.service: the daemon through the button FIFO hook
    (and, with ``bridge``, the speech engine answered by the host); the product's WatchdogSec
    unless ``watchdog_s``."""
    args = f"--bridge {SHARED}/bridge " if bridge else ""
    rw = f"ReadWritePaths={SHARED}/bridge\n" if bridge else ""
    return (
        TEST_MARK + "# the product's ExecStart, wrapped so the test presses the (mock) button.\n"
        "[Service]\n"
        "ExecStart=\n"
        f"ExecStart=/opt/stt-keyboard/venv/bin/python {TEST_DIR}/systemd_daemon.py {args}run\n"
        f"Environment=STT_KEYBOARD_TEST_BUTTON_FIFO={FIFO}\n"
        + (f"WatchdogSec={watchdog_s}\n" if watchdog_s else "")
        + rw
    )


def with_test_settings(installed: str, settings: dict[str, str]) -> str:
    """The installer's config with the test's settings set in it (``config set``'s code):
    asr.model stays what ``install.sh --model base`` wrote."""
    from appliance.config_edit import set_option

    text = installed
    for key, value in settings.items():
        text = set_option(text, key, value, "the installer's config.yaml")
    return TEST_MARK + "# settings set by the test: " + ", ".join(settings) + "\n" + text


def write_test_files(
    root: Path, settings: dict[str, str], *, bridge: bool, watchdog_s: int | None = None
) -> None:
    for rel, text in TEST_FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "stt-keyboard-test-agent.service"
    link.unlink(missing_ok=True)
    link.symlink_to("/etc/systemd/system/stt-keyboard-test-agent.service")
    # TEST-ONLY: Debian's ext4 snapshot clean-up ran 50 s of the guest's boot under TCG.
    masked = root / "etc/systemd/system/e2scrub_reap.service"
    masked.unlink(missing_ok=True)
    masked.symlink_to("/dev/null")
    (root / SHARED.lstrip("/")).mkdir(parents=True, exist_ok=True)
    fstab = root / "etc/fstab"
    old = fstab.read_text() if fstab.exists() else ""
    if FSTAB_LINE not in old:
        fstab.write_text(old + FSTAB_LINE)
    d = root / "etc/systemd/system/stt-keyboard.service.d"
    d.mkdir(parents=True, exist_ok=True)
    (d / "50-test-only.conf").write_text(dropin(bridge=bridge, watchdog_s=watchdog_s))
    t = root / TEST_DIR.lstrip("/")
    t.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).parent
    for name in ("systemd_daemon.py", "button_fifo.py", "guest_daemon.py"):
        shutil.copy2(here / name, t / name)
    (t / "agent.sh").write_text(AGENT)
    # The test's settings (TEST-ONLY) in the installer's config.yaml, which the installer
    # run again keeps.
    config = root / "etc/stt-keyboard/config.yaml"
    config.write_text(with_test_settings(config.read_text(), settings))


BOOT_LABEL = "BOOTFS"
# TEST-ONLY stand-ins for Raspberry Pi OS's own fstab lines: the ext4 root (mkfs.ext4 -L root)
# and the FAT boot partition.
PI_FSTAB_LINES = (
    "# TEST-ONLY (tests/qemu/systemd_image.py): the root and the FAT boot partition, as Pi OS\n"
    "LABEL=root / ext4 defaults,noatime 0 1\n"
    f"LABEL={BOOT_LABEL} /boot/firmware vfat defaults 0 2\n"
)


def fat_image(tree: Path, out: Path, size_mb: int = 64) -> None:
    """A FAT boot partition holding ``tree``, as pi-gen makes one from the root's
    ``/boot/firmware`` (mkfs.vfat and mcopy: no loop mount)."""
    ensure_packages(["dosfstools", "mtools"])
    out.unlink(missing_ok=True)
    _sh(["mkfs.vfat", "-C", "-n", BOOT_LABEL, str(out), str(size_mb * 1024)], "mkfs.vfat")
    items = sorted(tree.iterdir())
    if items:
        _sh(["mcopy", "-s", "-p", "-i", str(out), *map(str, items), "::/"], "mcopy",
            env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})  # fmt: skip


class RunImage:
    """One test run's disk: the base under an overlay, the installer run again, mkfs.ext4 -d;
    with ``boot_partition``, a FAT boot partition as on a Pi."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.disk = workdir / "disk.img"
        self.boot_disk: Path | None = None
        self.root_mode = "rw"
        self.vmlinuz = workdir / "vmlinuz"
        self.initrd = workdir / "initrd.img"
        self.times: dict[str, float] = {}
        self.base_built = False

    def build(
        self,
        settings: dict[str, str],
        *,
        bridge: bool,
        watchdog_s: int | None = None,
        size_gb: int = 6,
        installer_args: tuple[str, ...] = (),
        boot_partition: bool = False,
    ) -> None:
        t0 = time.monotonic()
        base, self.base_built = ensure_base()
        self.times["base layer (cold build)" if self.base_built else "base layer (cached)"] = (
            time.monotonic() - t0
        )
        self.base_times = (base / "times.txt").read_text()
        ov = self.workdir / "overlay"
        merged = ov / "merged"
        for d in ("upper", "work", "merged"):
            (ov / d).mkdir(parents=True, exist_ok=True)
        _sh(
            ["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={base / 'root'},upperdir={ov / 'upper'},workdir={ov / 'work'}",
             str(merged)],
            "overlay mount",
        )  # fmt: skip
        try:
            t1 = time.monotonic()
            copy_source(merged)
            write_test_files(merged, settings, bridge=bridge, watchdog_s=watchdog_s)
            if boot_partition:
                (merged / "boot/firmware").mkdir(parents=True, exist_ok=True)  # its mount point
                fstab = merged / "etc/fstab"
                fstab.write_text(fstab.read_text() + PI_FSTAB_LINES)
                # as on Pi OS: the initramfs mounts the root read-only, systemd decides after
                self.root_mode = "ro"
            self.times["installer again (project only)"] = run_installer(
                merged,
                ["--no-apt", "--no-model", *installer_args],
                {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": WHEELHOUSE},
                self.workdir / "install-run.log",
            )
            self._check_installed(merged)
            t2 = time.monotonic()
            kernels = sorted((merged / "boot").glob("vmlinuz-*"))
            if not kernels:
                raise VMError("no /boot/vmlinuz-* in the image")
            kver = kernels[-1].name.removeprefix("vmlinuz-")
            shutil.copy(kernels[-1], self.vmlinuz)
            shutil.copy(merged / "boot" / f"initrd.img-{kver}", self.initrd)
            self.kver = kver
            if boot_partition:
                self.boot_disk = self.workdir / "boot.img"
                fat_image(merged / "boot/firmware", self.boot_disk)
                for item in (merged / "boot/firmware").iterdir():  # on the FAT only
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
            self.disk.unlink(missing_ok=True)
            _sh(
                ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(merged), str(self.disk),
                 f"{size_gb}G"],
                "mkfs.ext4 -d",
            )  # fmt: skip
            self.times["mkfs.ext4 -d"] = time.monotonic() - t2
            self.times["top layer total"] = time.monotonic() - t1
        finally:
            subprocess.run(["umount", str(merged)], capture_output=True)
            safe_rmtree(ov)

    def _check_installed(self, root: Path) -> None:
        """The venv runs this checkout's code (pip reinstalled the project), and has no torch."""
        site = sorted((root / "opt/stt-keyboard/venv/lib").glob("python3*/site-packages"))[-1]
        mine = (ROOT / "appliance" / "controller.py").read_bytes()
        theirs = (site / "appliance" / "controller.py").read_bytes()
        if mine != theirs:
            raise VMError("the image's venv does not hold this checkout's appliance package")
        if (site / "torch").exists():
            raise VMError("torch is installed in the image's venv")


class SystemdVM(GuestVM):
    """The image booted by its own kernel and initramfs; systemd is PID 1 on /dev/vda."""

    def boot(self, image: RunImage, timeout_s: float = 400.0) -> None:
        self.workdir.chmod(0o755)  # the daemon's user reaches the bridge through it (9p)
        (self.workdir / "cmd").mkdir(parents=True, exist_ok=True)
        (self.workdir / "bridge").mkdir(exist_ok=True)
        (self.workdir / "bridge").chmod(0o777)
        (self.workdir / "ready").unlink(missing_ok=True)  # booted again after a power cut
        boot_drive = (
            ["-drive", f"file={image.boot_disk},format=raw,if=virtio,cache=unsafe"]
            if image.boot_disk
            else []
        )
        cmd = [
            "qemu-system-x86_64",
            "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "2048",
            "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", f"file:{self.workdir / 'console.log'}",
            "-kernel", str(image.vmlinuz),
            "-initrd", str(image.initrd),
            "-append", f"root=/dev/vda {image.root_mode} console=ttyS0 panic=-1 loglevel=4",
            "-drive", f"file={image.disk},format=raw,if=virtio,cache=unsafe",
            *boot_drive,
            "-virtfs",
            f"local,path={self.workdir},mount_tag=work,security_model=none,multidevs=remap",
        ]  # fmt: skip
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_agent(
            self.proc,
            self.workdir / "ready",
            timeout_s=timeout_s,
            console=lambda: self.console,
            stop=self.stop,
            what="no control agent",
            poll_s=0.2,
        )
        self.boot_s = time.monotonic() - t0
