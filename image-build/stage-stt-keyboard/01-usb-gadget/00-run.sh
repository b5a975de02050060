#!/bin/bash -e
# USB peripheral mode and I²C, on the boot partition and in the module list. Idempotent: the
# lines are added once, whatever ran before (the installer writes the same settings).
# shellcheck source=SCRIPTDIR/../stt-keyboard.env
. "$(dirname "$0")/../stt-keyboard.env"

config_txt="${ROOTFS_DIR}${BOOT_DIR}/config.txt"
if [ ! -f "$config_txt" ]; then
	echo "stt-keyboard: $config_txt not found (is this a Bookworm root file system?)" >&2
	exit 1
fi

# add_setting LINE: append LINE to config.txt (in an [all] section) unless it is already active.
add_setting() {
	if grep -qxF "$1" "$config_txt"; then
		return
	fi
	if ! grep -qF "# STT Keyboard" "$config_txt"; then
		printf '\n[all]\n# STT Keyboard: USB-C port as a USB device (keyboard); I2C for the OLED\n' \
			>>"$config_txt"
	fi
	printf '%s\n' "$1" >>"$config_txt"
}

# The USB-C port becomes a USB device port (Pi 4 and Pi 5: the only OTG-capable port).
add_setting "dtoverlay=dwc2,dr_mode=peripheral"
# I²C for an optional OLED (enabled later in stt-keyboard.yaml, without touching config.txt).
add_setting "dtparam=i2c_arm=on"

mkdir -p "${ROOTFS_DIR}/etc/modules-load.d"
cat >"${ROOTFS_DIR}/etc/modules-load.d/stt-keyboard.conf" <<'CONF'
# STT Keyboard: USB device controller, the gadget framework, and I2C for the OLED.
dwc2
libcomposite
i2c-dev
CONF
