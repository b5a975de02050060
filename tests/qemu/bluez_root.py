"""A Debian trixie root with BlueZ 5.8x, for the Bluetooth tests' guest (built once, cached).

Why not the machine's own BlueZ: this machine is Debian bookworm, BlueZ 5.66. Its HID-over-GATT
client (the computer's side in the test) ignores input reports a BlueZ server sends as
"multiple handle value notifications", which BlueZ servers do for every client that says it
supports them, BlueZ clients included. Fixed in BlueZ 5.67 (commit 2f4c576, "hog-lib: Fix not
handling BT_ATT_OP_HANDLE_NFY_MULT", bluez/bluez#71). So a Linux computer needs BlueZ 5.67 or
newer to take keystrokes from the device, and the test's computer runs trixie's BlueZ. One
bluetoothd serves both virtual controllers, so the device side runs it too; the device's
Python (this venv) talks to it over D-Bus, which is the same API on 5.66.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .vm import VMError, ensure_packages

SUITE = "trixie"
PACKAGES = ["bluez", "dbus"]


def bluez_root() -> Path:
    """The root directory (``usr/libexec/bluetooth/bluetoothd`` inside); built if missing."""
    base = os.environ.get("STT_KEYBOARD_CACHE") or str(Path.home() / ".cache" / "stt-keyboard")
    root = Path(base) / "bluez-root" / SUITE
    if (root / "usr/libexec/bluetooth/bluetoothd").exists():
        return root
    ensure_packages(["mmdebstrap"])
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [
            "mmdebstrap",
            "--mode=root",
            "--variant=essential",
            "--include=" + ",".join(PACKAGES),
            SUITE,
            str(tmp),
            "http://deb.debian.org/debian",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise VMError(f"mmdebstrap of a {SUITE} root with BlueZ failed:\n{r.stderr[-3000:]}")
    tmp.rename(root)
    return root


def bluez_up_script(root: Path, main_conf: Path) -> str:
    """Guest shell: D-Bus and bluetoothd from ``root`` (with ``main_conf``), two LE controllers.

    Prints the system bus address the guest's processes must use."""
    return f"""
set -e
R={root}
W=/mnt/stt-work
for d in proc sys dev; do mountpoint -q $R/$d || mount --bind /$d $R/$d; done
mkdir -p $R/run/dbus $R/var/lib/bluetooth
cp {main_conf} $R/etc/bluetooth/stt-keyboard-main.conf
# The controllers first (bluetoothd started beside a btvirt still making them once saw only
# one), and btvirt again if it made only one (seen once in a few dozen starts).
controllers() {{ btmgmt info 2>/dev/null | grep -c 'Primary controller' || true; }}
for try in 1 2 3; do
  [ "$(controllers)" = 2 ] && break
  pkill -x btvirt || true
  (btvirt -L -l2 > $W/btvirt.log 2>&1 &)
  for i in $(seq 50); do [ "$(controllers)" = 2 ] && break; sleep 0.2; done
done
[ "$(controllers)" = 2 ] || {{ btmgmt info; exit 1; }}
pgrep -x dbus-daemon >/dev/null || chroot $R dbus-daemon --system --fork
pgrep -x bluetoothd >/dev/null || (chroot $R /usr/libexec/bluetooth/bluetoothd -n \
  -f /etc/bluetooth/stt-keyboard-main.conf > $W/bluetoothd.log 2>&1 &)
for i in $(seq 100); do
  n=$(chroot $R dbus-send --system --print-reply --dest=org.bluez / \
      org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>/dev/null \
      | grep -c 'object path "/org/bluez/hci[01]"' || true)
  [ "${{n:-0}}" -ge 2 ] && break
  sleep 0.2
done
[ "${{n:-0}}" -ge 2 ] || {{ echo "bluetoothd does not have both adapters"; exit 1; }}
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$R/run/dbus/system_bus_socket
"""
