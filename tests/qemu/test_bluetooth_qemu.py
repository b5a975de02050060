"""The Bluetooth keyboard against real stacks on both sides (QEMU, Debian's kernel, BlueZ).

In the guest, ``hci_vhci`` and BlueZ's ``btvirt -L -l2`` make two linked LE controllers and
one bluetoothd (trixie's BlueZ: ``bluez_root.py`` says why; started with the settings file the
installer installs) serves both. The
product's :class:`BluetoothKeyboard` serves HID over GATT on hci0; the computer's side on
hci1 (``bt_host.py``) discovers, pairs and connects over D-Bus as desktop settings do;
BlueZ's own HOGP client makes the keyboard through uhid, and its evdev events are decoded
here with libxkbcommon, as in the USB tests.

Two runs of the appliance's side: the first pairs (pairing mode) and types; the second is
the appliance restarted, which the host reconnects to by itself, without pairing again,
and which types, loses its host in the middle of a text and finishes it on its return.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.hid.layout import load_layout

from .bluez_root import bluez_root, bluez_up_script
from .decode import decode
from .test_hid_qemu import ASCII, LAYOUT_TEXTS
from .vm import ROOT, GuestVM, ensure_packages

pytestmark = pytest.mark.qemu

NAME = "STT Keyboard"
MAIN_CONF = ROOT / "systemd" / "bluetooth" / "main.conf"
FIRST = [  # paired in pairing mode, then typed
    {"name": "ascii", "layout": "us", "text": ASCII},
    {"name": "layout-de", "layout": "de", "text": LAYOUT_TEXTS["de"]},
    {"name": "layout-fr", "layout": "fr", "text": LAYOUT_TEXTS["fr"]},
]
LONG = " ".join(f"wort{i:03d} Grüße;" for i in range(60))
SECOND = [  # the appliance restarted: no pairing
    {"name": "again-gb", "layout": "gb", "text": LAYOUT_TEXTS["gb"]},
    {"name": "gone", "kind": "gone", "layout": "de", "text": LONG, "after_s": 1.0},
]


def _run_side(vm: GuestVM, up: str, out: Path, spec: dict[str, Any], host_cmd: str | None) -> None:
    (out / f"{spec['results']}.spec").write_text(json.dumps(spec, ensure_ascii=False))
    g = f"/mnt/stt-work/{out.name}"
    py = sys.executable
    host = (
        f"sleep 1; {py} tests/qemu/bt_host.py {host_cmd} '{NAME}' > {g}/host-{host_cmd}.json"
        " || { kill $app; exit 3; }"
        if host_cmd
        else ""
    )
    rc, log = vm.run(
        f"{up}\ncd {ROOT}\n"
        f"{py} tests/qemu/guest_bluetooth.py {g}/{spec['results']}.spec {g} "
        f"> {g}/{spec['results']}.log 2>&1 & app=$!\n"
        f"{host}\nwait $app",
        timeout_s=600,
    )
    side = out / f"{spec['results']}.log"
    side_log = side.read_text(errors="replace") if side.exists() else "(not started)"
    assert rc == 0, f"{log}\n--- appliance side ---\n{side_log}"


@pytest.fixture(scope="module")
def bt(vm: GuestVM) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    ensure_packages(["bluez", "bluez-test-tools"])  # btvirt, btmgmt
    up = bluez_up_script(bluez_root(), MAIN_CONF)
    rc, log = vm.run(up, timeout_s=60)
    assert rc == 0, f"btvirt/bluetoothd did not come up in the guest: {log}"
    out = vm.workdir / "bluetooth"
    out.mkdir(exist_ok=True)
    for job in FIRST + SECOND:
        layout = load_layout(job["layout"])
        assert all(layout.can_type(c) for c in job["text"]), job["name"]
    first = {"name": NAME, "pair": True, "jobs": FIRST, "results": "first.json"}
    _run_side(vm, up, out, first, "pair")
    second = {"name": NAME, "pair": False, "jobs": SECOND, "results": "second.json"}
    _run_side(vm, up, out, second, None)
    return (
        out,
        json.loads((out / "first.json").read_text()),
        json.loads((out / "second.json").read_text()),
    )


def _decoded(out: Path, name: str, layout: str) -> str:
    d = decode((out / f"{name}.ev").read_bytes(), layout)
    assert not d.reader_dropped, "the test's evdev reader was starved (SYN_DROPPED)"
    assert d.repeats == 0 and not d.held_at_end, "a key stayed down"
    assert not d.caps_at_end
    return d.text


def test_pairs_in_pairing_mode_and_types_exact(bt: tuple[Path, dict, dict]) -> None:  # type: ignore[type-arg]
    out, first, _ = bt
    host = json.loads((out / "host-pair.json").read_text())
    assert host["Paired"] and host["Connected"] and host["Trusted"]
    assert "00001812-0000-1000-8000-00805f9b34fb" in host["UUIDs"]  # HID service
    assert first["paired"] == ["00:AA:01:01:00:01"], "the appliance bonded hci1"
    assert first["pairing_after"] is False, "pairing mode ends once a host paired"
    for job in FIRST:
        assert _decoded(out, job["name"], job["layout"]) == job["text"], job["name"]
        assert first[job["name"]]["typed"] == job["text"]


def test_host_led_report_reaches_the_keyboard(bt: tuple[Path, dict, dict]) -> None:  # type: ignore[type-arg]
    """The host's LED output report (Caps Lock...) arrives over GATT, through the output
    Report characteristic BlueZ's HoG client found by its Report Reference; the typist reads
    it as it reads the USB gadget's (proven for Caps Lock in test_hid_qemu.py)."""
    _, first, _ = bt
    assert first["leds_at_start"] == 0


def test_reconnects_after_restart_without_pairing(bt: tuple[Path, dict, dict]) -> None:  # type: ignore[type-arg]
    out, _, second = bt
    assert second["paired"] == ["00:AA:01:01:00:01"], "the bond survived the restart"
    job = SECOND[0]
    assert _decoded(out, job["name"], job["layout"]) == job["text"]
    print(f"\nreconnected {second['connect_s']:.1f} s after the appliance's start")


def test_host_gone_and_back_resumes_in_order(bt: tuple[Path, dict, dict]) -> None:  # type: ignore[type-arg]
    """The host leaves mid-text: the rest is kept and typed, in order, when it is back.

    BLE notifications are not acknowledged: reports BlueZ had queued when the link went down
    are lost without the device knowing (see docs/bluetooth.md). So the host gets a prefix of
    the text, then (after its return) exactly what the typist still held; what fell between
    is measured and reported, never typed twice."""
    out, _, second = bt
    gone = second["gone"]
    assert gone["first"]["host_absent"], "the host left before the text was typed"
    assert gone["first"]["pending"], "the rest was kept"
    before = decode((out / "gone-1.ev").read_bytes(), "de")
    after = decode((out / "gone-2.ev").read_bytes(), "de")
    assert not before.reader_dropped and not after.reader_dropped, "the test's reader was slow"
    assert not before.held_at_end and not after.held_at_end, "no key stays down"
    assert after.text == gone["second"]["typed"] == gone["first"]["pending"]
    assert LONG.startswith(before.text) and LONG.endswith(after.text)
    lost = len(LONG) - len(before.text) - len(after.text)
    print(
        f"\nhost gone: {len(before.text)} characters before, {len(after.text)} after its "
        f"return, {lost} lost in flight; back in {gone['back_s']:.1f} s"
    )
    assert lost >= 0, "nothing typed twice"
