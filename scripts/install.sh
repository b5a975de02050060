#!/bin/sh
# Install STT Keyboard on Raspberry Pi OS (Bookworm, 64-bit) on a Pi 4 or Pi 5.
#
#   sudo sh scripts/install.sh [--model NAME] [--oled] [--read-only-root] [--bluetooth]
#                              [--no-model] [--no-venv] [--no-apt]
#   sh scripts/install.sh --root DIR ...   # into a scratch root: no apt, no systemctl, no
#                                          # useradd; what would run goes to DIR/var/lib/
#                                          # stt-keyboard-install/plan.txt
#
# Safe to run again: config.txt and /etc/modules get one marked block (replaced, never
# duplicated), an existing /etc/stt-keyboard/config.yaml is never overwritten (--model NAME
# changes its asr.model line only).
#
# --read-only-root: from the next boot the root file system is read-only and writes go to RAM
# (Debian's overlayroot), so a power cut cannot corrupt it; the settings move to the boot
# partition (/boot/firmware/stt-keyboard.yaml), which the service then reads.
# --bluetooth: BlueZ set up for the Bluetooth LE keyboard (hid.output bluetooth or both):
# bluetoothd runs with the device's settings file (LE only, pairable only in pairing mode).
set -eu

PROG=stt-keyboard-install
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
MODEL=""
MODEL_GIVEN=0
DO_VENV=1
DO_MODEL=1
DO_APT=1
WANT_OLED=0
READ_ONLY_ROOT=0
BLUETOOTH=0
BEGIN="# >>> stt-keyboard (managed by scripts/install.sh; remove with scripts/uninstall.sh)"
END="# <<< stt-keyboard"
# libxkbcommon-dev: PyPI has no wheel of the xkbcommon binding; pip builds it against the headers
APT_PACKAGES="python3-venv python3-dev portaudio19-dev libsndfile1 libxkbcommon0 libxkbcommon-dev xkb-data i2c-tools swig"

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

die() {
    echo "$PROG: $*" >&2
    exit 1
}

say() {
    echo "==> $*"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
        --root=*) ROOT=${1#--root=} ;;
        --model) [ $# -ge 2 ] || die "--model needs a name"; MODEL=$2; MODEL_GIVEN=1; shift ;;
        --model=*) MODEL=${1#--model=}; MODEL_GIVEN=1 ;;
        --oled) WANT_OLED=1 ;;
        --read-only-root) READ_ONLY_ROOT=1 ;;
        --bluetooth) BLUETOOTH=1 ;;
        --no-model) DO_MODEL=0 ;;
        --no-venv) DO_VENV=0 ;;
        --no-apt) DO_APT=0 ;;
        -h | --help) usage 0 ;;
        *) echo "$PROG: unknown option $1" >&2; usage 2 ;;
    esac
    shift
done

if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    DO_APT=0
fi
PLAN_DIR="$ROOT/var/lib/stt-keyboard-install"
PLAN="$PLAN_DIR/plan.txt"

# Run a system command, or with --root write it to the plan instead.
act() {
    if [ -n "$ROOT" ]; then
        echo "$*" >>"$PLAN"
    else
        "$@"
    fi
}

[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root: sudo sh $0 $*"
# On a read-only root (overlayroot) every change here would be gone at the next boot.
if [ -z "$ROOT" ] && awk '$1 == "overlayroot" && $2 == "/" {f=1} END {exit !f}' /proc/mounts; then
    die "the root file system is read-only (overlayroot): what this installs would be lost at the next boot. Run it in the real root instead: sudo overlayroot-chroot sh $SRC/scripts/install.sh $* (docs/appliance.md: updating)"
fi
mkdir -p "$PLAN_DIR"
: >"$PLAN"

# ---------------------------------------------------------------- the machine
MODEL_FILE="$ROOT/proc/device-tree/model"
[ -r "$MODEL_FILE" ] || MODEL_FILE=/proc/device-tree/model
BOARD=$({ tr -d '\000' <"$MODEL_FILE"; } 2>/dev/null || true)
case "$BOARD" in
    "Raspberry Pi 5"* | "Raspberry Pi Compute Module 5"*) PI=5 ;;
    "Raspberry Pi 4"* | "Raspberry Pi Compute Module 4"*) PI=4 ;;
    *) PI="" ;;
esac
if [ -z "$ROOT" ]; then
    [ -n "$PI" ] || echo "$PROG: warning: not a Raspberry Pi 4/5 ('${BOARD:-unknown}'); continuing" >&2
    if [ -r /etc/os-release ] && ! grep -q 'VERSION_CODENAME=bookworm' /etc/os-release; then
        echo "$PROG: warning: made for Raspberry Pi OS Bookworm; this is not it" >&2
    fi
fi

# ---------------------------------------------------------------- system packages
# busybox: overlayroot's boot script needs grep in the initramfs, which initramfs-tools gets
# from busybox (without it the overlay fails at boot and the root is left as it was).
[ "$READ_ONLY_ROOT" = 1 ] && APT_PACKAGES="$APT_PACKAGES overlayroot busybox"
[ "$BLUETOOTH" = 1 ] && APT_PACKAGES="$APT_PACKAGES bluez"
if [ "$DO_APT" = 1 ]; then
    say "system packages: $APT_PACKAGES"
    apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $APT_PACKAGES
else
    echo "apt-get install -y $APT_PACKAGES" >>"$PLAN"
fi

# ---------------------------------------------------------------- config file first (OLED?)
ETC="$ROOT/etc/stt-keyboard"
mkdir -p "$ETC"
if [ -f "$ETC/config.yaml" ]; then
    say "keeping the existing $ETC/config.yaml"
else
    say "config: $ETC/config.yaml (commented; every key at its default)"
    install -m 0644 "$SRC/config/config.example.yaml" "$ETC/config.yaml"
fi
if [ -f "$SRC/gadget/gadget.env.example" ] && [ ! -f "$ETC/gadget.env" ]; then
    install -m 0644 "$SRC/gadget/gadget.env.example" "$ETC/gadget.env"
fi
# The settings the service reads: the boot partition's file when there is one (the image's,
# or --read-only-root's), else $ETC/config.yaml (appliance/config.py: config_path_from).
BOOT_SETTINGS=/boot/firmware/stt-keyboard.yaml
if [ "$READ_ONLY_ROOT" = 1 ] && [ ! -f "$ROOT$BOOT_SETTINGS" ]; then
    if [ -d "$ROOT/boot/firmware" ]; then
        say "settings: $BOOT_SETTINGS (a copy of /etc/stt-keyboard/config.yaml; the root will be read-only)"
        install -m 0644 "$ETC/config.yaml" "$ROOT$BOOT_SETTINGS"
    else
        echo "$PROG: warning: no /boot/firmware: the settings stay on the read-only root; change them with sudo overlayroot-chroot" >&2
    fi
fi
SETTINGS=/etc/stt-keyboard/config.yaml
[ -f "$ROOT$BOOT_SETTINGS" ] && SETTINGS=$BOOT_SETTINGS
# An OLED in the config (oled: enabled: true) turns I²C on.
if awk '/^oled:/{s=1;next} /^[^ #]/{s=0} s && /^[ ]+enabled:[ ]*true/{f=1} END{exit !f}' "$ROOT$SETTINGS"; then
    WANT_OLED=1
fi
if [ -z "$MODEL" ]; then
    MODEL=$(awk '/^asr:/{s=1;next} /^[^ #]/{s=0} s && /^[ ]+model:/{sub(/^[ ]+model:[ ]*/,""); gsub(/["\047]/,""); print; exit}' "$ROOT$SETTINGS")
    MODEL=${MODEL:-small}
fi

# ---------------------------------------------------------------- a marked block, replaced
# set_block FILE LINES...: FILE ends with exactly one stt-keyboard block holding LINES.
set_block() {
    file=$1
    shift
    mkdir -p "$(dirname "$file")"
    [ -f "$file" ] || : >"$file"
    tmp="$file.stt-keyboard.tmp"
    awk -v b="$BEGIN" -v e="$END" '$0==b{skip=1;next} skip&&$0==e{skip=0;next} !skip' "$file" >"$tmp"
    # drop trailing blank lines left by an earlier block
    awk '{l[NR]=$0} END{n=NR; while(n>0 && l[n]=="") n--; for(i=1;i<=n;i++) print l[i]}' "$tmp" >"$tmp.2"
    {
        cat "$tmp.2"
        echo ""
        echo "$BEGIN"
        for line in "$@"; do echo "$line"; done
        echo "$END"
    } >"$tmp"
    rm -f "$tmp.2"
    if cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
    else
        cat "$tmp" >"$file"
        rm -f "$tmp"
    fi
}

# ---------------------------------------------------------------- USB peripheral mode, I²C
BOOT="$ROOT/boot/firmware/config.txt"
if [ ! -f "$BOOT" ] && [ -f "$ROOT/boot/config.txt" ]; then
    BOOT="$ROOT/boot/config.txt"
fi
say "USB device mode: dtoverlay=dwc2,dr_mode=peripheral in $BOOT"
# modules the user's own /etc/modules lines (outside our block) do not load already
missing_modules() {
    for m in "$@"; do
        if [ -f "$ROOT/etc/modules" ] && awk -v b="$BEGIN" -v e="$END" -v m="$m" \
            '$0==b{s=1;next} s&&$0==e{s=0;next} !s && $1==m{f=1} END{exit !f}' "$ROOT/etc/modules"; then
            continue
        fi
        echo "$m"
    done
}
if [ "$WANT_OLED" = 1 ]; then
    say "I²C on for the OLED: dtparam=i2c_arm=on"
    set_block "$BOOT" "[all]" "dtoverlay=dwc2,dr_mode=peripheral" "dtparam=i2c_arm=on"
    # shellcheck disable=SC2046
    set_block "$ROOT/etc/modules" $(missing_modules dwc2 libcomposite i2c-dev)
else
    set_block "$BOOT" "[all]" "dtoverlay=dwc2,dr_mode=peripheral"
    # shellcheck disable=SC2046
    set_block "$ROOT/etc/modules" $(missing_modules dwc2 libcomposite)
fi

# ---------------------------------------------------------------- user and groups
# add_record FILE NAME LINE: an /etc/passwd-style record, once (scratch roots only).
add_record() {
    mkdir -p "$(dirname "$1")"
    [ -f "$1" ] || : >"$1"
    grep -q "^$2:" "$1" || echo "$3" >>"$1"
}
say "user stt-keyboard (groups audio gpio i2c stt-hid)"
if [ -n "$ROOT" ]; then
    for g in audio:29 gpio:997 i2c:998 stt-hid:990 stt-keyboard:991; do
        add_record "$ROOT/etc/group" "${g%%:*}" "${g%%:*}:x:${g#*:}:"
    done
    add_record "$ROOT/etc/passwd" stt-keyboard \
        "stt-keyboard:x:991:991:STT Keyboard:/var/lib/stt-keyboard:/usr/sbin/nologin"
    for g in audio gpio i2c stt-hid; do
        echo "usermod -aG $g stt-keyboard" >>"$PLAN"
    done
    [ "$BLUETOOTH" = 1 ] && echo "usermod -aG bluetooth stt-keyboard" >>"$PLAN"
else
    for g in gpio i2c stt-hid; do
        getent group "$g" >/dev/null || groupadd --system "$g"
    done
    if ! id stt-keyboard >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/stt-keyboard --no-create-home \
            --shell /usr/sbin/nologin --comment "STT Keyboard" stt-keyboard
    fi
    usermod -aG audio,gpio,i2c,stt-hid stt-keyboard
    # BlueZ's D-Bus policy lets the bluetooth group talk to bluetoothd
    [ "$BLUETOOTH" = 1 ] && usermod -aG bluetooth stt-keyboard
fi
mkdir -p "$ROOT/var/lib/stt-keyboard"
act chown -R stt-keyboard:stt-keyboard /var/lib/stt-keyboard
act chmod 0750 /var/lib/stt-keyboard

# ---------------------------------------------------------------- program
OPT="$ROOT/opt/stt-keyboard"
mkdir -p "$OPT/docs"
for doc in "$SRC/docs/appliance.md" "$SRC/README.md"; do
    [ -f "$doc" ] && install -m 0644 "$doc" "$OPT/docs/"
done
if [ "$DO_VENV" = 1 ]; then
    say "virtual environment $OPT/venv (this takes a while on a Pi)"
    [ -x "$OPT/venv/bin/python" ] || python3 -m venv "$OPT/venv"
    # The VAD's model file without its torch requirement (requirements/vad.txt says why).
    "$OPT/venv/bin/pip" install -q --no-deps -r "$SRC/requirements/vad.txt"
    extras=""
    [ -n "$PI" ] && extras="[pi]"
    "$OPT/venv/bin/pip" install -q "$SRC$extras"
else
    echo "python3 -m venv /opt/stt-keyboard/venv && /opt/stt-keyboard/venv/bin/pip install --no-deps -r ${SRC}/requirements/vad.txt && /opt/stt-keyboard/venv/bin/pip install ${SRC}[pi]" >>"$PLAN"
fi
mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/local/sbin"
ln -sf /opt/stt-keyboard/venv/bin/stt-keyboard "$ROOT/usr/local/bin/stt-keyboard"
install -m 0755 "$SRC/gadget/stt-keyboard-gadget" "$ROOT/usr/local/sbin/stt-keyboard-gadget"
install -m 0755 "$SRC/systemd/stt-keyboard-publish-status" "$ROOT/usr/local/sbin/stt-keyboard-publish-status"

# --model NAME is the model the service runs, not only the one fetched: the config says so
# (one line changed, its comments kept; an existing config too, since the user asked).
if [ "$MODEL_GIVEN" = 1 ]; then
    say "config: asr.model: $MODEL"
    act /opt/stt-keyboard/venv/bin/stt-keyboard --config "$SETTINGS" config set asr.model "$MODEL"
fi

# ---------------------------------------------------------------- systemd and udev
say "systemd units and the udev rule for /dev/hidg0"
mkdir -p "$ROOT/etc/systemd/system" "$ROOT/etc/udev/rules.d"
install -m 0644 "$SRC/systemd/stt-keyboard-gadget.service" "$ROOT/etc/systemd/system/"
install -m 0644 "$SRC/systemd/stt-keyboard.service" "$ROOT/etc/systemd/system/"
install -m 0644 "$SRC/systemd/stt-keyboard-status.path" "$SRC/systemd/stt-keyboard-status.service" \
    "$ROOT/etc/systemd/system/"
install -m 0644 "$SRC/udev/99-stt-keyboard.rules" "$ROOT/etc/udev/rules.d/"
if [ -n "$ROOT" ]; then
    # what `systemctl enable` does, so the scratch root boots the same way
    mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
    ln -sf /etc/systemd/system/stt-keyboard-gadget.service \
        "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard-gadget.service"
    ln -sf /etc/systemd/system/stt-keyboard.service \
        "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard.service"
    ln -sf /etc/systemd/system/stt-keyboard-status.path \
        "$ROOT/etc/systemd/system/multi-user.target.wants/stt-keyboard-status.path"
fi
# The service has no network (PrivateNetwork=yes, IPAddressDeny=any) unless the config names a
# remote engine (asr.engine wyoming|openai): then a drop-in lets it reach that server only.
say "service network: only a configured remote engine's server (stt-keyboard config network)"
act /opt/stt-keyboard/venv/bin/stt-keyboard --config "$SETTINGS" config network --root "${ROOT:-/}"
# In a chroot or an image build no systemd or udevd runs (systemctl daemon-reload fails with
# "System has not been booted with systemd"): enabling the units works offline (symlinks),
# and the next boot reads the units and the rule.
if [ -n "$ROOT" ] || [ -d /run/systemd/system ]; then
    act systemctl daemon-reload
fi
act systemctl enable stt-keyboard-gadget.service stt-keyboard.service stt-keyboard-status.path
if [ -n "$ROOT" ] || [ -d /run/systemd/system ]; then
    act udevadm control --reload-rules
    act udevadm trigger --subsystem-match=hidg
else
    say "systemd is not running here (a chroot?): the units and the rule take effect at boot"
fi

# ---------------------------------------------------------------- the model
if [ "$DO_MODEL" = 1 ]; then
    say "model $MODEL (with progress; whisper-small is about 250 MB)"
    act env STT_KEYBOARD_CACHE=/var/lib/stt-keyboard STT_KEYBOARD_CONFIG="$SETTINGS" \
        /opt/stt-keyboard/venv/bin/stt-keyboard model fetch "$MODEL"
    act chown -R stt-keyboard:stt-keyboard /var/lib/stt-keyboard
else
    echo "# model fetch skipped (--no-model): stt-keyboard model fetch $MODEL" >>"$PLAN"
fi

# ---------------------------------------------------------------- read-only root
OVERLAYROOT_CONF="$ROOT/etc/overlayroot.local.conf"
if [ "$READ_ONLY_ROOT" = 1 ]; then
    # recurse=0: only / is read-only; the boot partition stays writable (settings, status file).
    say "read-only root from the next boot: overlayroot (tmpfs) in $OVERLAYROOT_CONF"
    {
        echo "# managed by scripts/install.sh --read-only-root; scripts/uninstall.sh removes it"
        echo 'overlayroot="tmpfs:recurse=0"'
    } >"$OVERLAYROOT_CONF"
    act update-initramfs -u -k all
fi

# ---------------------------------------------------------------- Bluetooth
BT_DROPIN="$ROOT/etc/systemd/system/bluetooth.service.d/stt-keyboard.conf"
if [ "$BLUETOOTH" = 1 ]; then
    # The system's /etc/bluetooth/main.conf is left as it is: bluetoothd reads ours instead.
    say "Bluetooth: bluetoothd with /etc/stt-keyboard/bluetooth-main.conf (LE only; pairing: the gesture)"
    mkdir -p "$ETC"
    install -m 0644 "$SRC/systemd/bluetooth/main.conf" "$ETC/bluetooth-main.conf"
    mkdir -p "$(dirname "$BT_DROPIN")"
    {
        echo "# managed by scripts/install.sh --bluetooth; scripts/uninstall.sh removes it"
        echo "[Service]"
        echo "ExecStart="
        echo "ExecStart=/usr/libexec/bluetooth/bluetoothd -f /etc/stt-keyboard/bluetooth-main.conf"
    } >"$BT_DROPIN"
    act systemctl enable bluetooth.service
    if [ -n "$ROOT" ] || [ -d /run/systemd/system ]; then
        act systemctl daemon-reload
        act systemctl restart bluetooth.service
    fi
fi

# ---------------------------------------------------------------- what next
case "$PI" in
    5) PORT="the Pi 5's USB-C power port (it powers the Pi and carries the keyboard)" ;;
    4) PORT="the Pi 4's USB-C power port (it powers the Pi and carries the keyboard)" ;;
    *) PORT="the board's USB-C (OTG) port" ;;
esac
cat <<NEXT

STT Keyboard is installed${ROOT:+ into $ROOT}.

Next:
  1. Reboot, so the USB device mode (dwc2) is active:   sudo reboot
  2. Connect $PORT
     to the computer with a USB data cable. Nothing else powers the Pi then, so use a port
     that gives enough current (a Pi 5 may need a powered hub or a USB-C port with 3 A).
  3. Check it:    stt-keyboard doctor
     Follow it:   journalctl -u stt-keyboard -f
  4. Settings:    $SETTINGS (button pin, LEDs, OLED, model, host layout),
                  then: sudo systemctl restart stt-keyboard
NEXT
if [ "$READ_ONLY_ROOT" = 1 ]; then
    cat <<READONLY
  5. The root is read-only after the reboot: change settings in $BOOT_SETTINGS
     (also from any computer that reads the SD card); update with
     sudo overlayroot-chroot sh $SRC/scripts/install.sh
READONLY
fi
