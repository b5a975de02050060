# The two commands a new user needs: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export STT_KEYBOARD_CACHE ?= $(HOME)/.cache/stt-keyboard

.PHONY: setup demo test lint bench clean

setup:
	sh scripts/setup.sh

demo: setup
	$(BIN)/stt-keyboard demo

test: setup
	$(BIN)/ruff check appliance tests
	$(BIN)/ruff format --check appliance tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The speech set beside the project (as for the tests): $STT_KEYBOARD_SPEECH or ../shared/speech.
SPEECH ?= $(or $(STT_KEYBOARD_SPEECH),../shared/speech)
bench: setup
	$(BIN)/stt-keyboard bench --manifest $(SPEECH)/manifest.tsv --model base --threads 2

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Opt-in, not part of `make test` (docs/arm64.md): Debian bookworm arm64 under qemu-user
# (root, network, tens of minutes cold), the project installed there by scripts/install.sh,
# and `stt-keyboard simulate` typing there what it types here.
.PHONY: test-arm64
test-arm64: setup
	STT_KEYBOARD_ARM64=1 $(BIN)/python -m pytest -s tests/arm64
