"""Runs INSIDE the QEMU guest: the appliance's side of the Bluetooth link, on hci0.

    python guest_bluetooth.py JOBS.json OUTDIR

Starts the product's :class:`BluetoothKeyboard` (pairing mode if the jobs say so), waits
until a paired host is connected and listening, then runs the jobs: ``type`` (the typist
types the text; the keyboard BlueZ's HID-over-GATT client made on the host side is
captured from evdev, as in guest_type.py), ``gone`` (the host disconnects in the middle of
a text, comes back, and the typist resumes). Writes results.json and one .ev per job.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from decode import dropped_events  # tests/qemu/decode.py (this script's directory)
from guest_type import Capture, set_caps_led

from appliance.bluetooth.keyboard import BluetoothKeyboard
from appliance.hid.device import HostAbsent
from appliance.hid.typist import Typist

HERE = Path(__file__).resolve().parent
LED_NUML = 0


def find_bt_event(name: str, timeout_s: float = 30.0) -> str:
    """The host-side keyboard BlueZ made through uhid (bus 0005: Bluetooth)."""
    t0 = time.monotonic()
    while True:
        for block in Path("/proc/bus/input/devices").read_text().split("\n\n"):
            if "Bus=0005" in block and f'Name="{name}"' in block:
                m = re.search(r"Handlers=.*?(event\d+)", block)
                if m and os.path.exists(f"/dev/input/{m.group(1)}"):
                    return f"/dev/input/{m.group(1)}"
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit(f"no Bluetooth input device {name!r} on the host side")
        time.sleep(0.1)


def wait_connected(kb: BluetoothKeyboard, timeout_s: float) -> float:
    t0 = time.monotonic()
    while not kb.connected():
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit(f"no paired host connected in {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def host_led_report(kb: BluetoothKeyboard, name: str) -> int | None:
    """The host's LED output report over GATT: Num Lock on then off through its evdev node,
    until a report has arrived (in this guest a change does not always leave the host)."""
    event = find_bt_event(name)
    for _try in range(5):
        set_caps_led(event, True, led=LED_NUML)
        set_caps_led(event, False, led=LED_NUML)
        leds = kb.read_leds(2.0)
        if leds is not None:
            return leds
    return None


def host(cmd: str, name: str) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "bt_host.py"), cmd, name], check=True, capture_output=True
    )


def run_type(job: dict[str, Any], out: Path, kb: BluetoothKeyboard, name: str) -> dict[str, Any]:
    event = find_bt_event(name)
    typist = Typist(kb, job["layout"])
    for _try in range(3):
        cap = Capture(event, out / f"{job['name']}.ev")
        t0 = time.monotonic()
        result = typist.type(job["text"])
        elapsed = time.monotonic() - t0
        cap.stop(settle_s=1.0)
        if not dropped_events(cap.path.read_bytes()):
            break
    return {"typed": result.typed, "reports": result.reports, "elapsed_s": elapsed,
            "leds": kb.read_leds()}  # fmt: skip


def run_gone(job: dict[str, Any], out: Path, kb: BluetoothKeyboard, name: str) -> dict[str, Any]:
    """The host disconnects mid-text; the typist keeps the rest and types it on its return."""
    event = find_bt_event(name)
    typist = Typist(kb, job["layout"])
    cap = Capture(event, out / f"{job['name']}-1.ev")
    leave = threading.Thread(target=lambda: (time.sleep(job["after_s"]), host("disconnect", name)))
    leave.start()
    try:
        typist.type(job["text"])
        first: dict[str, Any] = {"host_absent": False}
    except HostAbsent as exc:
        first = {"host_absent": True, "typed": exc.typed, "pending": exc.pending}
    leave.join()
    cap.stop(settle_s=1.0)
    host("connect", name)
    back_s = wait_connected(kb, 30)
    event = find_bt_event(name)
    cap2 = Capture(event, out / f"{job['name']}-2.ev")
    second = typist.resume()
    cap2.stop(settle_s=1.0)
    return {"first": first, "back_s": back_s, "second": {"typed": second.typed}}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    kb = BluetoothKeyboard("hci0", spec["name"])
    t0 = time.monotonic()
    kb.start()
    if spec.get("pair"):
        kb.set_pairing(True)
    results: dict[str, Any] = {"connect_s": wait_connected(kb, 60) + (time.monotonic() - t0)}
    results["leds_at_start"] = host_led_report(kb, spec["name"])
    results["paired"] = [h.address for h in kb.paired_hosts()]
    results["pairing_after"] = kb.pairing
    for job in spec["jobs"]:
        fn = run_gone if job.get("kind") == "gone" else run_type
        results[job["name"]] = fn(job, out, kb, spec["name"])
    kb.close()
    (out / spec["results"]).write_text(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
