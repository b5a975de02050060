#!/bin/bash -e
# Put the project's source into the image and run its installer inside the chroot: the same
# steps a user runs on a Pi (package in a virtual environment, service user, units, udev rule).
# shellcheck source=SCRIPTDIR/../stt-keyboard.env
. "$(dirname "$0")/../stt-keyboard.env"

src_tar=${STT_SRC_TARBALL:-$(dirname "$0")/files/stt-keyboard-src.tar}
if [ ! -f "$src_tar" ]; then
	echo "stt-keyboard: $src_tar is missing; build the image with image-build/build.sh" >&2
	exit 1
fi

dest="${ROOTFS_DIR}${STT_SRC_DIR}"
rm -rf "$dest"
mkdir -p "$dest"
tar -xf "$src_tar" -C "$dest"
if [ ! -f "$dest/scripts/install.sh" ]; then
	echo "stt-keyboard: scripts/install.sh is not in $src_tar" >&2
	exit 1
fi

on_chroot <<CHROOT
set -e
cd "${STT_SRC_DIR}"
STT_KEYBOARD_IMAGE_BUILD=1 sh scripts/install.sh ${STT_INSTALL_ARGS}
test -x "${STT_BIN}"
# The chroot has no /proc/device-tree, so the installer cannot see it is on a Pi: add the Pi
# extras (lgpio; RPi.GPIO replacement) that the Pi 5's GPIO needs.
"${STT_PREFIX}/venv/bin/pip" install -q "${STT_SRC_DIR}[pi]"
"${STT_BIN}" --version
CHROOT
