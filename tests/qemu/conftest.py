"""Session fixture: one QEMU guest for the whole run (boot once; TCG is slow)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .vm import ROOT, GuestVM, VMError

GADGET = ROOT / "gadget" / "stt-keyboard-gadget"


@pytest.fixture(scope="session")
def vm() -> Iterator[GuestVM]:
    workdir = Path(tempfile.mkdtemp(prefix="stt-qemu-"))
    guest = GuestVM(workdir)
    try:
        guest.start()
    except VMError as exc:
        guest.stop()
        pytest.fail(f"QEMU guest did not start: {exc}", pytrace=False)
    rc, out = guest.run(f"sh {GADGET} up")
    if rc != 0:
        guest.stop()
        pytest.fail(f"gadget up failed in the guest ({rc}): {out}", pytrace=False)
    yield guest
    guest.stop()
    shutil.rmtree(workdir, ignore_errors=True)
