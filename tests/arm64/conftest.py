"""tests/arm64 runs only under `make test-arm64` (STT_KEYBOARD_ARM64=1; docs/arm64.md).

It builds a Debian arm64 root file system and installs the project into it under
qemu-user: root, network and tens of minutes. Without the variable pytest collects nothing
here, so `make test` neither runs nor lists (nor skips) these tests.
"""

import os

if os.environ.get("STT_KEYBOARD_ARM64") != "1":
    collect_ignore_glob = ["test_*.py"]
