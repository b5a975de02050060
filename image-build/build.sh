#!/bin/bash
# Build the flashable STT Keyboard image: Raspberry Pi OS Lite (Bookworm, arm64) for Pi 4 and
# Pi 5, with the appliance installed, the USB gadget mode on, the Whisper model baked in and
# the user's configuration on the boot partition. Uses pi-gen at the release pinned in
# image-build/pi-gen.ref; the clone happens here, when you build, and nowhere else.
#
#   sudo image-build/build.sh                    # pi-gen natively (Debian/Ubuntu build host)
#   image-build/build.sh --docker                # pi-gen's build-docker.sh (any Linux + Docker)
#   sudo image-build/build.sh --model-dir ~/models/small   # offline: model prepared beforehand
#   image-build/build.sh --dry-run               # prepare the pi-gen tree and config, print the
#                                                # command, build nothing (no network, no root)
#
# Options:
#   --model NAME      Whisper model baked into the image (default: small)
#   --model-dir DIR   use this CTranslate2 model directory instead of fetching NAME
#   --work DIR        work directory (default: image-build/work); the image ends up in
#                     DIR/pi-gen/deploy/
#   --docker          build with pi-gen's Docker wrapper
#   --dry-run         stop before cloning/running pi-gen
# Environment: FIRST_USER_PASS (the maintenance account "admin"; default: random, written to
# WORK/admin-password.txt), PIGEN_DIR (use an existing pi-gen checkout at the pinned ref).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
STAGE_NAME="stage-stt-keyboard"

model=small
model_dir=""
work="$HERE/work"
docker=0
dry_run=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() {
	echo "build.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--model) model=${2:?--model needs a name}; shift 2 ;;
	--model-dir) model_dir=${2:?--model-dir needs a directory}; shift 2 ;;
	--work) work=${2:?--work needs a directory}; shift 2 ;;
	--docker) docker=1; shift ;;
	--dry-run) dry_run=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done

# --- the pinned pi-gen release
PIGEN_REPO="" PIGEN_REF=""
# shellcheck source=pi-gen.ref
. "$HERE/pi-gen.ref"
if [ -z "$PIGEN_REPO" ] || [ -z "$PIGEN_REF" ]; then
	die "pi-gen.ref must set PIGEN_REPO and PIGEN_REF"
fi

# --- refuse settings that would put the device on a network
for var in WPA_ESSID WPA_PASSWORD PUBKEY_SSH_FIRST_USER; do
	[ -z "${!var:-}" ] || die "$var is set: the image is built without network access on purpose"
done
[ "${ENABLE_SSH:-0}" = 0 ] || die "ENABLE_SSH=1: the image keeps SSH off (see docs/security.md)"

if [ -n "$model_dir" ]; then
	model_dir="$(cd "$model_dir" && pwd)" || die "no such directory: $model_dir"
	if [ ! -f "$model_dir/model.bin" ] || [ ! -f "$model_dir/config.json" ]; then
		die "$model_dir is not a CTranslate2 Whisper model (model.bin, config.json)"
	fi
fi
case "$model" in
*/* | "" | .*) die "--model takes a name (small, base, ...); use --model-dir for a directory" ;;
esac

mkdir -p "$work"
work="$(cd "$work" && pwd)"
pigen=${PIGEN_DIR:-$work/pi-gen}

# --- pi-gen itself (only when building for real)
if [ "$dry_run" = 0 ]; then
	if [ "$docker" = 0 ] && [ "$(id -u)" != 0 ]; then
		die "pi-gen must run as root: sudo $0 $* (or use --docker)"
	fi
	if [ ! -d "$pigen/.git" ]; then
		echo "build.sh: cloning pi-gen $PIGEN_REF"
		git clone --depth 1 --branch "$PIGEN_REF" "$PIGEN_REPO" "$pigen"
	fi
	head=$(git -C "$pigen" rev-parse HEAD)
	pinned=$(git -C "$pigen" rev-parse "refs/tags/$PIGEN_REF^{commit}" 2>/dev/null) ||
		die "$pigen has no tag $PIGEN_REF (delete it to clone again)"
	[ "$head" = "$pinned" ] || die "$pigen is at $head, not at $PIGEN_REF ($pinned)"
else
	mkdir -p "$pigen"
fi

# --- our stage, copied into the pi-gen tree (build-docker.sh only sees that tree)
stage="$pigen/$STAGE_NAME"
rm -rf "$stage"
cp -R "$HERE/$STAGE_NAME" "$stage"
mkdir -p "$stage/00-project/files"
# The project as committed (git archive): what is in the image is what is in git.
if [ -d "$REPO/.git" ] && git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
	if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		echo "build.sh: note: uncommitted changes are NOT in the image (it packs git HEAD)"
	fi
	git -C "$REPO" archive --format=tar -o "$stage/00-project/files/stt-keyboard-src.tar" HEAD
else
	tar -C "$REPO" --exclude=./.venv --exclude=./image-build/work --exclude=./.git \
		-cf "$stage/00-project/files/stt-keyboard-src.tar" .
fi
if [ -n "$model_dir" ]; then
	mkdir -p "$stage/03-model/files"
	cp -R "$model_dir" "$stage/03-model/files/model"
fi
# Only our stage exports an image (not the plain Lite image of stage2).
if [ -d "$pigen/stage2" ]; then
	touch "$pigen/stage2/SKIP_IMAGES"
fi

# --- pi-gen's config: ours, plus the stage list, the model and the admin password
if [ -z "${FIRST_USER_PASS:-}" ]; then
	FIRST_USER_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	umask 077
	printf 'admin password of the STT Keyboard image (console login only; SSH is off): %s\n' \
		"$FIRST_USER_PASS" >"$work/admin-password.txt"
	umask 022
	echo "build.sh: random password of the admin account written to $work/admin-password.txt"
fi
{
	cat "$HERE/config.base"
	echo
	echo "# added by image-build/build.sh"
	echo "STAGE_LIST=\"stage0 stage1 stage2 $STAGE_NAME\""
	printf 'FIRST_USER_PASS=%q\n' "$FIRST_USER_PASS"
	printf 'export STT_MODEL=%q\n' "$model"
} >"$pigen/config"
chmod 600 "$pigen/config"

if [ "$docker" = 1 ]; then
	cmd=(./build-docker.sh)
else
	cmd=(./build.sh)
fi
echo "build.sh: pi-gen $PIGEN_REF in $pigen, stage $STAGE_NAME, model $model${model_dir:+ from $model_dir}"
if [ "$dry_run" = 1 ]; then
	echo "build.sh: dry run; would run: (cd $pigen && ${cmd[*]})"
	exit 0
fi
cd "$pigen"
"${cmd[@]}"
echo "build.sh: done; the image is in $pigen/deploy/ (flash it with Raspberry Pi Imager: 'Use custom')"
