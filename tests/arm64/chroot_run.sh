#!/bin/sh
# chroot_run.sh ROOT CMD [ARG...]: run CMD inside the arm64 ROOT (under qemu-user, through
# binfmt_misc), as root, with a clean environment and /proc, /sys, /dev mounted in a
# private mount namespace: they are gone when CMD ends, whatever happens. No systemd runs
# in there (systemctl and udevadm see the chroot and only do their offline work).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 ROOT CMD [ARG...]" >&2; exit 2; }
ROOT=$(cd "$1" && pwd)
shift
# name resolution for apt and pip (the build leaves no resolv.conf behind)
rm -f "$ROOT/etc/resolv.conf"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# shellcheck disable=SC2016 # expanded by the inner sh
exec unshare --mount --propagation private sh -eu -c '
    root=$1
    shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/run"
    exec chroot "$root" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
' sh "$ROOT" "$@"
