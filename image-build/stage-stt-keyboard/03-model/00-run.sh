#!/bin/bash -e
# Bake the Whisper model into the image, so the device works offline from the first boot.
#   STT_MODEL      model name (default: small); the directory name in the model cache
#   STT_MODEL_DIR  a CTranslate2 model directory prepared on the build machine (offline
#                  builds: `stt-keyboard model fetch small --cache DIR` there, then
#                  build.sh --model-dir DIR/small); default: files/model if build.sh put one
#                  there, otherwise the model is fetched inside the image with
#                  `stt-keyboard model fetch` (needs network at build time).
# shellcheck source=SCRIPTDIR/../stt-keyboard.env
. "$(dirname "$0")/../stt-keyboard.env"

cache="${ROOTFS_DIR}${STT_MODEL_CACHE}"
target="$cache/$STT_MODEL"
model_dir=${STT_MODEL_DIR:-}
if [ -z "$model_dir" ] && [ -d "$(dirname "$0")/files/model" ]; then
	model_dir="$(dirname "$0")/files/model"
fi

mkdir -p "$cache"
if [ -n "$model_dir" ]; then
	for f in model.bin config.json; do
		if [ ! -f "$model_dir/$f" ]; then
			echo "stt-keyboard: $model_dir is not a CTranslate2 Whisper model ($f missing)" >&2
			exit 1
		fi
	done
	echo "stt-keyboard: copying model $model_dir -> ${STT_MODEL_CACHE}/$STT_MODEL"
	rm -rf "$target"
	mkdir -p "$target"
	cp -R "$model_dir/." "$target/"
else
	echo "stt-keyboard: fetching model '$STT_MODEL' inside the image (network needed)"
	on_chroot <<CHROOT
set -e
"${STT_BIN}" model fetch "${STT_MODEL}" --cache "${STT_MODEL_CACHE}"
CHROOT
fi

if [ ! -f "$target/model.bin" ]; then
	echo "stt-keyboard: no model in ${STT_MODEL_CACHE}/$STT_MODEL after this step" >&2
	exit 1
fi
# Owned by root, readable by the service: the service never writes its model.
chmod -R u=rwX,go=rX "$cache"

# The settings file on the boot partition names the model that was baked in (02-boot-config
# put it there with the default "small"): a --model base image must not start asking for small.
echo "stt-keyboard: ${BOOT_CONFIG}: asr.model: ${STT_MODEL}"
on_chroot <<CHROOT
set -e
"${STT_BIN}" --config "${BOOT_CONFIG}" config set asr.model "${STT_MODEL}"
CHROOT
