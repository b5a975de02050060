#!/bin/sh
# install_in_chroot.sh BASE: a copy of the arm64 rootfs BASE (build_rootfs.sh) with STT
# Keyboard installed by its own installer, as on a Pi:
#
#   sh scripts/install.sh --model base        # as root, inside the chroot
#
# then `pip install <src>[pi]` (the installer adds the [pi] extra only on a board whose
# device tree says Raspberry Pi 4/5; a chroot on x86 has no device tree). Cached in
# $STT_KEYBOARD_CACHE/arm64/installed-<key>, <key> = the base rootfs, this script and the
# project files the installer reads; prints that directory on its last line. Beside the
# installed tree: install.log (each line with the epoch second it appeared), install.env
# (exit status and durations), pip-cache.txt (the wheels pip built from source).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BASE=$(cd "$1" && pwd)
CACHE=${STT_KEYBOARD_CACHE:-$HOME/.cache/stt-keyboard}/arm64
# what the installer and `pip install <src>` read
SRC_FILES="pyproject.toml README.md appliance config gadget systemd udev scripts/install.sh requirements docs/appliance.md"

say() { echo "==> $*" >&2; }

KEY=$(
    cd "$SRC"
    {
        basename "$BASE"
        cat "$HERE/install_in_chroot.sh"
        # shellcheck disable=SC2086
        find $SRC_FILES -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-16
)
DEST="$CACHE/installed-$KEY"
if [ -f "$DEST.env" ] && grep -q '^install_rc=0$' "$DEST.env"; then
    say "cached arm64 install: $DEST"
    echo "$DEST"
    exit 0
fi

rm -rf "$DEST" "$DEST.log" "$DEST.env" "$DEST.pip-cache.txt"
TMP="$CACHE/.installed-$KEY.tmp"
rm -rf "$TMP"
say "copying the base rootfs"
cp -a --reflink=auto "$BASE" "$TMP"
mkdir -p "$TMP/usr/src/stt-keyboard"
# shellcheck disable=SC2086
(cd "$SRC" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' $SRC_FILES) |
    tar -xf - -C "$TMP/usr/src/stt-keyboard"

stamp() {
    while IFS= read -r line; do
        echo "$(date +%s) $line"
    done
}

say "running scripts/install.sh --model base in the arm64 chroot (tens of minutes under qemu-user)"
start=$(date +%s)
{
    rc=0
    sh "$HERE/chroot_run.sh" "$TMP" sh /usr/src/stt-keyboard/scripts/install.sh --model base 2>&1 || rc=$?
    echo "$rc" >"$TMP.rc"
} | stamp >"$TMP.log"
mid=$(date +%s)
install_rc=$(cat "$TMP.rc")
pi_rc=skipped
if [ "$install_rc" = 0 ]; then
    say "pip install /usr/src/stt-keyboard[pi] (what the installer adds on a Pi)"
    {
        rc=0
        sh "$HERE/chroot_run.sh" "$TMP" /opt/stt-keyboard/venv/bin/pip install -q \
            "/usr/src/stt-keyboard[pi]" 2>&1 || rc=$?
        echo "$rc" >"$TMP.rc"
    } | stamp >>"$TMP.log"
    pi_rc=$(cat "$TMP.rc")
    sh "$HERE/chroot_run.sh" "$TMP" /opt/stt-keyboard/venv/bin/pip cache list >"$TMP.pip-cache.txt" 2>&1 || true
fi
end=$(date +%s)
rm -f "$TMP.rc"
mv "$TMP.log" "$DEST.log"
[ -f "$TMP.pip-cache.txt" ] && mv "$TMP.pip-cache.txt" "$DEST.pip-cache.txt"
mv "$TMP" "$DEST"
{
    echo "install_rc=$install_rc"
    echo "pi_rc=$pi_rc"
    echo "install_s=$((mid - start))"
    echo "pi_extra_s=$((end - mid))"
    echo "start=$start"
} >"$DEST.env"
say "install: exit $install_rc in $((mid - start)) s; [pi] extra: $pi_rc in $((end - mid)) s"
echo "$DEST"
