#!/bin/bash -e
# No network by default: no SSH server, no Wi-Fi network, no mDNS responder, no Bluetooth.
# pi-gen's ENABLE_SSH=0 already leaves SSH off; this step makes sure of it whatever the config,
# and removes anything that would join a network or answer on one.
# shellcheck source=SCRIPTDIR/../stt-keyboard.env
. "$(dirname "$0")/../stt-keyboard.env"

for unit in ssh.service ssh.socket sshd.service avahi-daemon.service avahi-daemon.socket \
	bluetooth.service hciuart.service; do
	disable_unit "$unit"
done
# Files that would turn SSH on at boot, or carry Wi-Fi credentials / first-boot settings.
rm -f "${ROOTFS_DIR}${BOOT_DIR}/ssh" "${ROOTFS_DIR}${BOOT_DIR}/ssh.txt" \
	"${ROOTFS_DIR}${BOOT_DIR}/wpa_supplicant.conf" "${ROOTFS_DIR}${BOOT_DIR}/userconf.txt"
# Wi-Fi unconfigured: no NetworkManager connection and no wpa_supplicant network.
if [ -d "${ROOTFS_DIR}/etc/NetworkManager/system-connections" ]; then
	find "${ROOTFS_DIR}/etc/NetworkManager/system-connections" -type f -print -delete
fi
wpa="${ROOTFS_DIR}/etc/wpa_supplicant/wpa_supplicant.conf"
if [ -f "$wpa" ] && grep -q 'network=' "$wpa"; then
	echo "stt-keyboard: removing Wi-Fi networks from /etc/wpa_supplicant/wpa_supplicant.conf"
	sed -i '/^network=/,/^}/d' "$wpa"
fi
