#!/bin/bash -e
# The user-editable configuration on the FAT boot partition, its check at boot, and the
# service pointed at it.
# shellcheck source=SCRIPTDIR/../stt-keyboard.env
. "$(dirname "$0")/../stt-keyboard.env"
files="$(dirname "$0")/files"

install -D -m 644 "$files/stt-keyboard.yaml" "${ROOTFS_DIR}${BOOT_CONFIG}"
install -D -m 755 "$files/stt-keyboard-boot-config" \
	"${ROOTFS_DIR}${STT_LIBEXEC}/stt-keyboard-boot-config"
install -D -m 755 "$files/stt-keyboard-show-error" \
	"${ROOTFS_DIR}${STT_LIBEXEC}/stt-keyboard-show-error"
install -D -m 644 "$files/stt-keyboard-boot-config.service" \
	"${ROOTFS_DIR}/etc/systemd/system/stt-keyboard-boot-config.service"
install -D -m 644 "$files/10-boot-config.conf" \
	"${ROOTFS_DIR}/etc/systemd/system/${STT_SERVICE}.d/10-boot-config.conf"
enable_unit stt-keyboard-boot-config.service multi-user.target
