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
# the host's trust store: a network that re-signs TLS (a proxy's own CA) reaches pip here too
if [ -d "$ROOT/etc/ssl/certs" ]; then
    cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
fi
# shellcheck disable=SC2016 # expanded by the inner sh
exec unshare --mount --propagation private sh -eu -c '
    root=$1
    shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/run"
    # qemu-user (7.2) shows the x86 host'"'"'s /proc/cpuinfo to arm64 programs: onnxruntime'"'"'s
    # cpuinfo finds no arm64 processor in it and `import onnxruntime` segfaults. A Pi 4'"'"'s
    # (Cortex-A72) lines instead, one per host CPU.
    if [ "$(uname -m)" != aarch64 ]; then
        i=0
        while [ "$i" -lt "$(nproc)" ]; do
            printf "processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n" "$i"
            printf "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n"
            i=$((i + 1))
        done >"$root/run/cpuinfo"
        printf "Revision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n" >>"$root/run/cpuinfo"
        mount --bind "$root/run/cpuinfo" "$root/proc/cpuinfo"
    fi
    exec chroot "$root" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
' sh "$ROOT" "$@"
