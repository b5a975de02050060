#!/bin/sh
# Remove STT Keyboard: units, udev rule, program, config.txt/modules blocks, user.
#
#   sudo sh scripts/uninstall.sh [--purge] [--keep-user]
#   sh scripts/uninstall.sh --root DIR [--purge]   # a scratch root, as scripts/install.sh
#
# Keeps /etc/stt-keyboard and /boot/firmware/stt-keyboard.yaml (your settings) and
# /var/lib/stt-keyboard (models) unless --purge. Turns the read-only root of
# install.sh --read-only-root off again (from the next boot).
set -eu

PROG=stt-keyboard-uninstall
ROOT=""
PURGE=0
KEEP_USER=0
BEGIN="# >>> stt-keyboard (managed by scripts/install.sh; remove with scripts/uninstall.sh)"
END="# <<< stt-keyboard"

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || { echo "$PROG: --root needs a directory" >&2; exit 2; }; ROOT=$2; shift ;;
        --root=*) ROOT=${1#--root=} ;;
        --purge) PURGE=1 ;;
        --keep-user) KEEP_USER=1 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "$PROG: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$ROOT" ]; then
    ROOT=$(cd "$ROOT" && pwd)
else
    [ "$(id -u)" -eq 0 ] || { echo "$PROG: run as root" >&2; exit 1; }
    if awk '$1 == "overlayroot" && $2 == "/" {f=1} END {exit !f}' /proc/mounts; then
        echo "$PROG: the root file system is read-only (overlayroot): run it in the real root: sudo overlayroot-chroot sh $0 $*" >&2
        exit 1
    fi
fi
PLAN="$ROOT/var/lib/stt-keyboard-install/uninstall-plan.txt"
mkdir -p "$(dirname "$PLAN")"
: >"$PLAN"

act() {
    if [ -n "$ROOT" ]; then
        echo "$*" >>"$PLAN"
    else
        "$@" || true
    fi
}

drop_block() {
    [ -f "$1" ] || return 0
    tmp="$1.stt-keyboard.tmp"
    awk -v b="$BEGIN" -v e="$END" '$0==b{skip=1;next} skip&&$0==e{skip=0;next} !skip' "$1" |
        awk '{l[NR]=$0} END{n=NR; while(n>0 && l[n]=="") n--; for(i=1;i<=n;i++) print l[i]}' >"$tmp"
    cat "$tmp" >"$1"
    rm -f "$tmp"
}

echo "==> stopping and disabling the services"
act systemctl disable --now stt-keyboard.service stt-keyboard-gadget.service stt-keyboard-status.path
rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard.service" \
    "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard-gadget.service" \
    "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard-status.path" \
    "$ROOT/etc/systemd/system/stt-keyboard.service" \
    "$ROOT/etc/systemd/system/stt-keyboard-gadget.service" \
    "$ROOT/etc/systemd/system/stt-keyboard-status.path" \
    "$ROOT/etc/systemd/system/stt-keyboard-status.service" \
    "$ROOT/usr/local/sbin/stt-keyboard-publish-status" \
    "$ROOT/etc/udev/rules.d/99-stt-keyboard.rules" \
    "$ROOT/usr/local/sbin/stt-keyboard-gadget" \
    "$ROOT/usr/local/bin/stt-keyboard"
# install.sh --bluetooth: bluetoothd back to the system's own settings
if [ -f "$ROOT/etc/systemd/system/bluetooth.service.d/stt-keyboard.conf" ]; then
    rm -f "$ROOT/etc/systemd/system/bluetooth.service.d/stt-keyboard.conf" \
        "$ROOT/etc/stt-keyboard/bluetooth-main.conf"
    rmdir "$ROOT/etc/systemd/system/bluetooth.service.d" 2>/dev/null || true
    if [ -n "$ROOT" ] || [ -d /run/systemd/system ]; then
        act systemctl daemon-reload
        act systemctl restart bluetooth.service
    fi
fi
# the remote engine's network drop-in (stt-keyboard config network), if one was written
rm -f "$ROOT/etc/systemd/system/stt-keyboard.service.d/remote-engine.conf"
rmdir "$ROOT/etc/systemd/system/stt-keyboard.service.d" 2>/dev/null || true
act systemctl daemon-reload
act udevadm control --reload-rules

echo "==> removing /opt/stt-keyboard"
rm -rf "$ROOT/opt/stt-keyboard"

echo "==> USB device mode and I²C lines out of config.txt and /etc/modules"
for boot in "$ROOT/boot/firmware/config.txt" "$ROOT/boot/config.txt"; do
    drop_block "$boot"
done
drop_block "$ROOT/etc/modules"

OVERLAYROOT_CONF="$ROOT/etc/overlayroot.local.conf"
if [ -f "$OVERLAYROOT_CONF" ] && grep -q "managed by scripts/install.sh --read-only-root" "$OVERLAYROOT_CONF"; then
    echo "==> read-only root off from the next boot ($OVERLAYROOT_CONF removed)"
    rm -f "$OVERLAYROOT_CONF"
    act update-initramfs -u -k all
fi

if [ "$KEEP_USER" = 0 ]; then
    echo "==> user stt-keyboard and group stt-hid"
    if [ -n "$ROOT" ]; then
        for f in "$ROOT/etc/passwd" "$ROOT/etc/group"; do
            [ -f "$f" ] || continue
            grep -v -e '^stt-keyboard:' -e '^stt-hid:' "$f" >"$f.tmp" || true
            cat "$f.tmp" >"$f"
            rm -f "$f.tmp"
        done
    else
        id stt-keyboard >/dev/null 2>&1 && userdel stt-keyboard
        getent group stt-hid >/dev/null && groupdel stt-hid
        getent group stt-keyboard >/dev/null && groupdel stt-keyboard
    fi
fi

if [ "$PURGE" = 1 ]; then
    echo "==> purging /etc/stt-keyboard and /var/lib/stt-keyboard"
    rm -rf "$ROOT/etc/stt-keyboard" "$ROOT/var/lib/stt-keyboard" "$ROOT/boot/firmware/stt-keyboard.yaml"
else
    echo "kept: /etc/stt-keyboard, /boot/firmware/stt-keyboard.yaml (settings) and /var/lib/stt-keyboard (models); --purge removes them"
fi
echo "STT Keyboard removed. Reboot to leave USB device mode."
