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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The systemd modules boot their own guests (module fixtures): run them before the tests that
    use the session guest, so its QEMU has stopped before that one starts (one QEMU at a time:
    a session fixture lives until the end of the run)."""
    own_guest = ("test_systemd_boot.py", "test_systemd_day_one.py")
    mine = [i for i in items if i.path.name in own_guest]
    if not mine:
        return
    others = [i for i in items if i.path.name not in own_guest]
    first_qemu = next(
        (n for n, i in enumerate(others) if i.path.parent == Path(__file__).parent), len(others)
    )
    items[:] = others[:first_qemu] + mine + others[first_qemu:]
