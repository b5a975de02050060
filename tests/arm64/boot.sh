#!/bin/sh
# boot.sh INSTALLED: boot the installed arm64 tree (install_in_chroot.sh) with
# qemu-system-aarch64 -M virt -cpu max (TCG) and Debian's arm64 kernel and initrd from its
# /boot; a oneshot unit added to the disk image (after basic.target) waits for
# multi-user.target and the end of the daemon's start (READY or failed), then prints the
# state of our units on the serial console (lines "STT-ARM64 ...") and powers off. Prints the serial console log. The disk image is made from INSTALLED
# (mke2fs -d), kept in $STT_KEYBOARD_CACHE/arm64/boot-<key>.img, with two additions for
# a board that is not a Pi: modules-load.d loads dummy_hcd (the UDC in place of the Pi's
# dwc2) and snd-aloop (a sound card in place of the USB microphone). The config is the
# installer's (install.sh --model base sets asr.model: base in it).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "$1" && pwd)
CACHE=${STT_KEYBOARD_CACHE:-$HOME/.cache/stt-keyboard}/arm64
TIMEOUT=${ARM64_BOOT_TIMEOUT:-2400}

say() { echo "==> $*" >&2; }

if ! command -v qemu-system-aarch64 >/dev/null; then
    say "apt: qemu-system-arm"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-arm >&2
fi

KEY=$({ basename "$TREE"; cat "$HERE/boot.sh"; } | sha256sum | cut -c1-16)
IMG="$CACHE/boot-$KEY.img"
KERNEL=$(find "$TREE/boot" -name 'vmlinuz-*' | sort | tail -n 1)
INITRD=$(find "$TREE/boot" -name 'initrd.img-*' | sort | tail -n 1)
if [ -z "$KERNEL" ] || [ -z "$INITRD" ]; then
    echo "boot.sh: no kernel or initrd in $TREE/boot" >&2
    exit 1
fi

if [ ! -f "$IMG" ]; then
    say "disk image $IMG (mke2fs -d)"
    work=$(mktemp -d)
    cat >"$work/report.service" <<'UNIT'
[Unit]
Description=make test-arm64: our units' state on the serial console, then power off
# Not After=multi-user.target: that target waits for stt-keyboard.service (Type=notify),
# whose READY comes only after the model has loaded, which under TCG can take longer than
# the boot's timeout (seen: nothing printed in 1200 s). The script itself waits for both.
DefaultDependencies=no
After=basic.target

[Service]
Type=oneshot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyAMA0
ExecStart=/bin/sh /usr/local/sbin/stt-arm64-report

[Install]
WantedBy=multi-user.target
UNIT
    cat >"$work/report.sh" <<'SCRIPT'
#!/bin/sh
# /dev/kmsg, not the tty: the serial getty starting meanwhile hangs the tty up (lines written
# after that were lost); kernel messages always reach the console (printk.devkmsg=on: no
# rate limit).
r() { echo "STT-ARM64 $*" >/dev/kmsg; }
# the daemon loads its model under TCG: wait until it is up or has given up, and for
# multi-user.target (reached once the daemon's start job has ended, READY or not)
up=$(cut -d' ' -f1 /proc/uptime)
r "report_started_uptime_s=$up"
i=0
while [ $i -lt ${WAIT_STEPS:-200} ]; do
    s=$(systemctl is-active stt-keyboard.service)
    m=$(systemctl is-active multi-user.target)
    if [ "$m" = active ] && { [ "$s" = active ] || [ "$s" = failed ]; }; then break; fi
    sleep 5
    i=$((i + 1))
done
r "waited_s=$((i * 5))"
r "uptime_s=$(cut -d' ' -f1 /proc/uptime)"
r "stt-keyboard_ready_after_s=$(systemctl show -p ExecMainStartTimestampMonotonic \
    -p ActiveEnterTimestampMonotonic stt-keyboard.service | tr '\n' ' ')"
r "uname=$(uname -m) $(uname -r)"
r "multi-user.target=$(systemctl is-active multi-user.target)"
r "system=$(systemctl is-system-running)"
for u in stt-keyboard-gadget stt-keyboard; do
    r "$u=$(systemctl is-active "$u.service") enabled=$(systemctl is-enabled "$u.service")" \
        "$(systemctl show -p Result -p NRestarts -p ExecMainStatus "$u.service" | tr '\n' ' ')"
done
r "failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
r "dummy_hcd=$(modinfo -n dummy_hcd 2>&1)"
r "libcomposite=$(modinfo -n libcomposite 2>&1)"
r "udc=$(ls /sys/class/udc 2>&1 | tr '\n' ' ')"
r "hidg0=$(ls -l /dev/hidg0 2>&1)"
r "snd=$(cat /proc/asound/cards 2>&1 | head -n 1)"
for u in stt-keyboard-gadget stt-keyboard; do
    journalctl -b -u "$u.service" --no-pager -o cat | tail -n 8 | while IFS= read -r l; do
        echo "STT-ARM64-LOG $u: $l" >/dev/kmsg # one write per line: one kernel message
    done
done
r "end"
systemctl poweroff
SCRIPT
    printf 'dummy_hcd\nsnd-aloop\n' >"$work/modules.conf"
    # install.sh --model base names the model in the config itself (it once left "small")
    if ! grep -q '^  model: base$' "$TREE/etc/stt-keyboard/config.yaml"; then
        echo "boot.sh: the installer's config does not say asr.model: base" >&2
        exit 1
    fi
    rm -f "$IMG.tmp"
    mke2fs -q -t ext4 -L root -d "$TREE" "$IMG.tmp" 6G
    debugfs -w "$IMG.tmp" >/dev/null <<DEBUGFS
write $work/modules.conf /etc/modules-load.d/stt-arm64.conf
write $work/report.service /etc/systemd/system/stt-arm64-report.service
write $work/report.sh /usr/local/sbin/stt-arm64-report
symlink /etc/systemd/system/multi-user.target.wants/stt-arm64-report.service /etc/systemd/system/stt-arm64-report.service
DEBUGFS
    rm -rf "$work"
    mv "$IMG.tmp" "$IMG"
fi

say "booting $(basename "$KERNEL") on qemu-system-aarch64 -M virt -cpu max (TCG; minutes)"
start=$(date +%s)
rc=0
timeout "$TIMEOUT" qemu-system-aarch64 -M virt -cpu max -smp 2 -m 2048 \
    -accel tcg,thread=multi -nographic -no-reboot -monitor none -serial stdio \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -append "root=/dev/vda rw console=ttyAMA0 panic=-1 systemd.show_status=1 printk.devkmsg=on" \
    -drive "file=$IMG,format=raw,if=virtio,snapshot=on" </dev/null || rc=$?
echo "STT-ARM64 qemu_rc=$rc boot_s=$(($(date +%s) - start))"
