#!/bin/sh
# Build (or reuse) a Debian bookworm arm64 root file system from Debian's archive, for
# `make test-arm64` (docs/arm64.md). Run as root on an x86_64 Debian host.
#
#   sh tests/arm64/build_rootfs.sh        # prints the rootfs directory on its last line
#
# The rootfs lands in ${STT_KEYBOARD_CACHE:-~/.cache/stt-keyboard}/arm64/base-<key>, where
# <key> is a hash of everything that goes into it (this script, suite, mirror, packages):
# it is rebuilt only when one of them changes. It is what a Pi's Raspberry Pi OS Lite has
# before our installer runs (python3, a C compiler, systemd, udev), plus Debian's arm64
# kernel for the boot check; the installer's own apt packages are NOT in it (it adds them).
set -eu

SUITE=${ARM64_SUITE:-bookworm}
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
# Raspberry Pi OS Lite's base has python3 and (pi-gen stage2) build-essential and pkg-config,
# which pip needs for the wheels it builds from source (PyAudio, xkbcommon).
PACKAGES="ca-certificates python3 build-essential pkg-config systemd-sysv udev kmod procps iproute2
initramfs-tools linux-image-arm64"
CACHE=${STT_KEYBOARD_CACHE:-$HOME/.cache/stt-keyboard}/arm64
HERE=$(cd "$(dirname "$0")" && pwd)

say() { echo "==> $*" >&2; }
die() { echo "build_rootfs: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap, chroot, binfmt_misc)"

# ---------------------------------------------------------------- qemu-user + binfmt_misc
ensure_binfmt() {
    if ! command -v mmdebstrap >/dev/null || ! command -v arch-test >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ]; then
        say "apt: mmdebstrap arch-test qemu-user-static binfmt-support"
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            mmdebstrap arch-test qemu-user-static binfmt-support >&2
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        # the package's registration (update-binfmts), or by hand with the F (fix binary) flag
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        say "registering the aarch64 binfmt_misc handler"
        printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
            >/proc/sys/fs/binfmt_misc/register
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "the qemu-aarch64 binfmt handler is disabled"
}

key() {
    {
        cat "$0"
        echo "$SUITE $MIRROR $PACKAGES"
    } | sha256sum | cut -c1-16
}

ensure_binfmt
KEY=$(key)
DEST="$CACHE/base-$KEY"
if [ -f "$DEST/.stt-keyboard-rootfs-done" ]; then
    say "cached arm64 rootfs: $DEST"
    echo "$DEST"
    exit 0
fi

mkdir -p "$CACHE"
TMP="$CACHE/.base-$KEY.tmp"
rm -rf "$TMP"
say "building a $SUITE arm64 rootfs from $MIRROR (a few minutes: its scripts run under qemu-user)"
start=$(date +%s)
# The initrd holds only what the QEMU boot check needs (virtio disk, ext4): with initramfs-
# tools' default MODULES=most, mkinitramfs under qemu-user alone takes more than half an hour.
# shellcheck disable=SC2016 # the hooks expand $1 in mmdebstrap, not here
mmdebstrap --arch=arm64 --variant=important --include="$(printf %s "$PACKAGES" | tr ' \n' ,,)" \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"' \
    --essential-hook='echo MODULES=list >"$1/etc/initramfs-tools/conf.d/stt-arm64"' \
    --essential-hook='printf "virtio_pci\nvirtio_mmio\nvirtio_blk\next4\ncrc32c_generic\n" >"$1/usr/share/initramfs-tools/modules.d/stt-arm64"' \
    --customize-hook='echo stt-arm64 >"$1/etc/hostname"' \
    --customize-hook='echo "root:root" | chroot "$1" chpasswd' \
    --customize-hook='printf "/dev/vda / ext4 defaults 0 1\n" >"$1/etc/fstab"' \
    "$SUITE" "$TMP" "$MIRROR" >&2
end=$(date +%s)
cp "$HERE/build_rootfs.sh" "$TMP/.stt-keyboard-rootfs-script"
echo "seconds=$((end - start)) key=$KEY suite=$SUITE" >"$TMP/.stt-keyboard-rootfs-done"
mv "$TMP" "$DEST"
say "arm64 rootfs built in $((end - start)) s: $DEST"
echo "$DEST"
