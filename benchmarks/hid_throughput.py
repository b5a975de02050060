"""HID typing throughput through a real gadget + host loopback (run on a Pi or in the QEMU guest).

    python benchmarks/hid_throughput.py [--device /dev/hidg0] [--layout us] [--chars 2000]

Needs the gadget up (gadget/stt-keyboard-gadget up) and the host side on the same machine
(dummy_hcd in the QEMU guest, or a Pi's USB cable looped into itself is not possible: on a Pi
pass --no-verify and check the host). It drains the keyboard's /dev/input/eventN with ``cat``,
types mixed-case text with punctuation through the typist, decodes the events with the
package's VirtualHost decoder and prints characters per second delivered with zero loss and
the report rate against the full-speed interrupt endpoint limit (1 report per 1 ms frame).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.hid.device import HidDevice
from appliance.hid.typist import Typist
from appliance.hid.virtual_host import VirtualHost

FULL_SPEED_REPORTS_PER_S = 1000.0  # bInterval 1 ms at full speed: at most one report a frame


def find_event() -> str:
    for block in Path("/proc/bus/input/devices").read_text().split("\n\n"):
        if "STT Keyboard" in block:
            m = re.search(r"Handlers=.*?(event\d+)", block)
            if m:
                return f"/dev/input/{m.group(1)}"
    raise SystemExit("the gadget keyboard is not an input device here (no local host side)")


def sample_text(n: int) -> str:
    rng = random.Random(42)
    words = ["Hello", "world", "typing", "Fast", "USB", "keyboard", "test,", "done.", "x=1;"]
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < n:
        out.append(rng.choice(words))
    return " ".join(out)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="/dev/hidg0")
    ap.add_argument("--layout", default="us")
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    text = sample_text(args.chars)
    cap_path = Path("/tmp/hid_bench.ev")
    cat = None
    if not args.no_verify:
        fh = open(cap_path, "wb")  # noqa: SIM115
        event = find_event()
        cat = subprocess.Popen(["chrt", "-f", "90", "cat", event], stdout=fh)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:  # type only once cat has the device open
            fd_dir = f"/proc/{cat.pid}/fd"
            try:
                if any(os.readlink(f"{fd_dir}/{fd}") == event for fd in os.listdir(fd_dir)):
                    break
            except OSError:
                pass
            time.sleep(0.01)
    typist = Typist(HidDevice(args.device), args.layout, report_delay_s=args.delay_ms / 1000)
    t0 = time.monotonic()
    result = typist.type(text)
    elapsed = time.monotonic() - t0
    decoded = ""
    if cat is not None:
        last, stable = -1, time.monotonic()
        while time.monotonic() - stable < 0.5:
            size = os.path.getsize(cap_path)
            if size != last:
                last, stable = size, time.monotonic()
            time.sleep(0.05)
        cat.terminate()
        cat.wait()
        host = VirtualHost(args.layout)
        raw = cap_path.read_bytes()
        ev = struct.Struct("llHHi")
        for off in range(0, len(raw) - ev.size + 1, ev.size):
            _s, _u, etype, code, value = ev.unpack_from(raw, off)
            if etype == 1 and value in (0, 1):
                host.feed_evdev(code, bool(value))
        decoded = host.text
    lost = sum(1 for a, b in zip(text, decoded, strict=False) if a != b) + abs(
        len(text) - len(decoded)
    )
    rate = result.reports / elapsed if elapsed else 0.0
    summary = (
        f"{len(result.typed)} chars in {elapsed:.2f} s = "
        f"{len(result.typed) / elapsed:.0f} chars/s, "
        f"{result.reports} reports = {rate:.0f} reports/s "
        f"({rate / FULL_SPEED_REPORTS_PER_S:.0%} of the 1000/s full-speed limit, "
        f"{result.reports / max(1, len(result.typed)):.2f} reports/char), "
        + ("not verified" if args.no_verify else f"lost {lost}")
    )
    out = {
        "chars": len(result.typed),
        "elapsed_s": elapsed,
        "chars_per_s": len(result.typed) / elapsed,
        "reports": result.reports,
        "reports_per_s": rate,
        "full_speed_fraction": rate / FULL_SPEED_REPORTS_PER_S,
        "lost": lost if not args.no_verify else None,
        "decoded_ok": args.no_verify or decoded == text,
        "summary": summary,
    }
    print(summary)
    if args.json:
        print(json.dumps(out))
    return 0 if out["decoded_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
