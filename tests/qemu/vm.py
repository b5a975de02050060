"""Boot Debian's kernel in QEMU (TCG) as a USB host + gadget, and run commands in it.

Everything it needs is installed or fetched here (Debian, root): qemu-system-x86, busybox-static,
kmod, alsa-utils (``aplay`` feeds the appliance test's loopback microphone), and the kernel
package named by ``apt-cache depends linux-image-amd64`` (fetched with ``apt-get download`` into
``$STT_KEYBOARD_CACHE/qemu``, default ``~/.cache/stt-keyboard/qemu``).
A missing piece that cannot be installed raises :class:`VMError`: the tests fail loudly.

The guest: a busybox initramfs loads virtio/9p/overlay, mounts the host's ``/`` read-only over
9p (``multidevs=remap``) with a tmpfs overlay, switch_roots into it, and runs an agent that
executes shell scripts dropped into a shared writable directory (the control channel), writing
their output and exit status back. So the guest runs the project's own files and venv.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile  # noqa: F401  (kept for readers: the deb is unpacked with dpkg-deb)
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]
GUEST_MODULES = [
    "dummy_hcd",
    "libcomposite",
    "usb_f_hid",
    "usbhid",
    "hid-generic",
    "evdev",
    # Bluetooth: two virtual LE controllers (btvirt over /dev/vhci); BlueZ's HOGP client
    # makes the keyboard through uhid.
    "bluetooth",
    "hci_vhci",
    "uhid",
]


class VMError(RuntimeError):
    pass


def cache_dir() -> Path:
    base = os.environ.get("STT_KEYBOARD_CACHE") or str(Path.home() / ".cache" / "stt-keyboard")
    d = Path(base) / "qemu"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def _installed(pkg: str) -> bool:
    r = _run(["dpkg-query", "-W", "-f=${Status}", pkg])
    return r.returncode == 0 and "ok installed" in r.stdout


_apt_updated = False


def _apt_update() -> None:
    global _apt_updated
    if not _apt_updated:
        _run(["apt-get", "update", "-q"])
        _apt_updated = True


def ensure_packages(pkgs: list[str]) -> None:
    missing = [p for p in pkgs if not _installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise VMError(f"QEMU tests need these Debian packages (run as root or install): {missing}")
    _apt_update()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    if r.returncode != 0:
        raise VMError(f"apt-get install {missing} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def kernel_package() -> str:
    r = _run(["apt-cache", "depends", "linux-image-amd64"])
    if r.returncode != 0 or "Depends:" not in r.stdout:
        _apt_update()
        r = _run(["apt-cache", "depends", "linux-image-amd64"])
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[-1]
    raise VMError(f"cannot find the kernel package behind linux-image-amd64:\n{r.stdout}")


def ensure_kernel() -> tuple[Path, Path, str]:
    """(vmlinuz, modules dir, kernel version), extracted into the cache once."""
    cache = cache_dir()
    pkg = kernel_package()
    kver = pkg.removeprefix("linux-image-")
    root = cache / f"kernel-{kver}"
    vmlinuz = root / "boot" / f"vmlinuz-{kver}"
    moddir = root / "lib" / "modules" / kver
    if vmlinuz.exists() and (moddir / "modules.dep").exists():
        return vmlinuz, moddir, kver
    debs = sorted(cache.glob(f"{pkg}_*.deb"))
    if not debs:
        r = _run(["apt-get", "download", pkg], cwd=cache)
        debs = sorted(cache.glob(f"{pkg}_*.deb"))
        if not debs:
            raise VMError(f"apt-get download {pkg} failed: {r.stderr[-2000:]}")
    tmp = cache / f"kernel-{kver}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    r = _run(["dpkg-deb", "-x", str(debs[-1]), str(tmp)])
    if r.returncode != 0:
        raise VMError(f"dpkg-deb -x failed: {r.stderr}")
    r = _run(["depmod", "-b", str(tmp), kver])
    if r.returncode != 0:
        raise VMError(f"depmod failed: {r.stderr}")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return vmlinuz, moddir, kver


def _module_order(moddir: Path, names: list[str]) -> list[str]:
    """Relative .ko paths for ``names`` and their dependencies, dependencies first."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[Path(path).name.split(".ko")[0].replace("-", "_")] = path
    order: list[str] = []

    def visit(p: str) -> None:
        if p in order:
            return
        for d in deps.get(p, []):
            visit(d)
        order.append(p)

    for n in names:
        p = by_name.get(n.replace("-", "_"))
        if p is None:
            raise VMError(f"kernel module {n} not found in {moddir}")
        visit(p)
    return order


INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /mnt/host /mnt/rw /newroot /bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() { echo "INIT FAILED: $*" > /dev/console; poweroff -f; }
for m in $(cat /modules.order); do insmod "/modules/$m" || echo "insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /mnt/host \
  || fail "9p host"
mount -t tmpfs -o size=768m tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
  /newroot || fail overlay
mkdir -p "/newroot/lib/modules/@KVER@" /newroot/mnt/stt-work
mount --bind "/newroot@MODDIR@" "/newroot/lib/modules/@KVER@" || fail "modules bind"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 work /newroot/mnt/stt-work \
  || fail "9p work"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh /mnt/stt-work/agent.sh
"""

AGENT = r"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
W=/mnt/stt-work
# /tmp stays the host's (read-only below, writable through the overlay): a checkout under
# /tmp (CI clones there) must be visible in the guest.
mount -t configfs none /sys/kernel/config 2>/dev/null
modprobe -a @MODULES@ > $W/modprobe.log 2>&1
echo $? > $W/ready
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
"""


def build_initramfs(moddir: Path, kver: str, dest: Path) -> None:
    """A gzip'd newc cpio: static busybox, the boot modules, /init."""
    order = _module_order(moddir, BOOT_MODULES)
    busybox = Path("/bin/busybox")
    files: list[tuple[str, bytes, int]] = [
        ("bin/busybox", busybox.read_bytes(), 0o755),
        ("modules.order", "\n".join(Path(p).name for p in order).encode() + b"\n", 0o644),
        (
            "init",
            INIT.replace("@KVER@", kver).replace("@MODDIR@", str(moddir)).encode(),
            0o755,
        ),
    ]
    for rel in order:
        files.append((f"modules/{Path(rel).name}", (moddir / rel).read_bytes(), 0o644))
    buf = io.BytesIO()
    ino = 1
    dirs = sorted({str(Path(n).parent) for n, _, _ in files if str(Path(n).parent) != "."})
    for d in dirs:
        _cpio_entry(buf, d, b"", stat.S_IFDIR | 0o755, ino)
        ino += 1
    for name, data, mode in files:
        _cpio_entry(buf, name, data, stat.S_IFREG | mode, ino)
        ino += 1
    _cpio_entry(buf, "TRAILER!!!", b"", 0, 0)
    dest.write_bytes(gzip.compress(buf.getvalue(), compresslevel=1))


def _cpio_entry(buf: io.BytesIO, name: str, data: bytes, mode: int, ino: int) -> None:
    nameb = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(nameb), 0]
    buf.write(b"070701" + b"".join(b"%08X" % f for f in fields))
    buf.write(nameb)
    buf.write(b"\0" * ((4 - (110 + len(nameb)) % 4) % 4))
    buf.write(data)
    buf.write(b"\0" * ((4 - len(data) % 4) % 4))


def wait_for_agent(
    proc: subprocess.Popen[bytes],
    ready: Path,
    *,
    timeout_s: float,
    console: Callable[[], str],
    stop: Callable[[], None],
    what: str,
    poll_s: float = 0.1,
) -> None:
    """Until the guest's control agent writes ``ready``; QEMU's exit or the timeout raise."""
    t0 = time.monotonic()
    while not ready.exists():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise VMError(f"QEMU exited: {err}\n--- console ---\n{console()[-3000:]}")
        if time.monotonic() - t0 > timeout_s:
            stop()
            raise VMError(f"{what} in {timeout_s}s\n{console()[-3000:]}")
        time.sleep(poll_s)


def wait_for_line(
    lines: Callable[[], list[str]], pattern: str, *, after: int, timeout_s: float, poll_s: float
) -> tuple[int | None, list[str]]:
    """The index of the first line from ``after`` on matching ``pattern`` (None at the
    timeout), and the lines last read."""
    rx = re.compile(pattern)
    t0 = time.monotonic()
    while True:
        got = lines()
        for i in range(after, len(got)):
            if rx.search(got[i]):
                return i, got
        if time.monotonic() - t0 > timeout_s:
            return None, got
        time.sleep(poll_s)


class GuestVM:
    """A running guest and its control channel (a shared directory)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self._n = 0
        self.boot_s = 0.0

    @property
    def console(self) -> str:
        p = self.workdir / "console.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def start(self, timeout_s: float = 240.0) -> None:
        ensure_packages(["qemu-system-x86", "busybox-static", "kmod", "alsa-utils"])
        vmlinuz, moddir, kver = ensure_kernel()
        cache = cache_dir()
        initrd = cache / f"initrd-{kver}.gz"
        build_initramfs(moddir, kver, initrd)
        (self.workdir / "cmd").mkdir(parents=True, exist_ok=True)
        (self.workdir / "agent.sh").write_text(AGENT.replace("@MODULES@", " ".join(GUEST_MODULES)))
        cmd = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-smp",
            "2",
            "-m",
            "1536",
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            f"file:{self.workdir / 'console.log'}",
            "-kernel",
            str(vmlinuz),
            "-initrd",
            str(initrd),
            "-append",
            "console=ttyS0 panic=-1 loglevel=4 rdinit=/init",
            "-virtfs",
            "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={self.workdir},mount_tag=work,security_model=none,multidevs=remap",
        ]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        ready = self.workdir / "ready"
        wait_for_agent(
            self.proc,
            ready,
            timeout_s=timeout_s,
            console=lambda: self.console,
            stop=self.stop,
            what="guest not ready",
        )
        time.sleep(0.05)
        if ready.read_text().strip() != "0":
            log = (self.workdir / "modprobe.log").read_text()
            raise VMError(f"modprobe {GUEST_MODULES} failed in the guest: {log}")
        self.boot_s = time.monotonic() - t0

    def run(self, script: str, timeout_s: float = 180.0) -> tuple[int, str]:
        """Run a shell script in the guest; (exit status, stdout+stderr)."""
        assert self.proc is not None
        self._n += 1
        base = self.workdir / "cmd" / f"c{self._n:04d}"
        tmp = base.with_suffix(".tmp")
        tmp.write_text(script)
        tmp.rename(base.with_suffix(".sh"))
        rc_file = base.with_suffix(".rc")
        t0 = time.monotonic()
        while not rc_file.exists():
            if self.proc.poll() is not None:
                raise VMError(f"the guest died\n{self.console[-3000:]}")
            if time.monotonic() - t0 > timeout_s:
                raise VMError(f"guest command timed out after {timeout_s}s:\n{script}")
            time.sleep(0.05)
        rc = int(rc_file.read_text().strip() or "255")
        out = base.with_suffix(".out").read_text(errors="replace")
        return rc, out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
