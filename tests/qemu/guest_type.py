"""Runs INSIDE the QEMU guest: type jobs through our typist into /dev/hidg0, capture evdev.

    python guest_type.py JOBS.json OUTDIR

For each job it finds the gadget keyboard's /dev/input/eventN (the guest kernel's USB host side
enumerated it), drains it with ``cat`` into a file (a slow reader loses events), optionally
sets the host's Caps Lock LED through evdev, types with :class:`Typist` on a real
:class:`HidDevice`, and writes the raw events and the typist's result for the test to decode.
Job kinds: ``type``, ``unbind`` (unbind the UDC mid-text, rebind, resume) and ``undo`` (text
already there, a dictation typed while "spoken" through the product's DictationTyper, then
its undo).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from decode import dropped_events  # tests/qemu/decode.py (this script's directory)

from appliance.config import Config, with_overrides
from appliance.dictation_typer import DictationTyper
from appliance.engine import DictationResult
from appliance.hid.device import HidDevice, HostAbsent
from appliance.hid.typist import TypeResult, Typist
from appliance.text import Piece

GADGET = "/sys/kernel/config/usb_gadget/stt-keyboard/UDC"
EV_SYN, EV_LED, LED_CAPSL = 0, 0x11, 1


def find_event(timeout_s: float = 20.0) -> str:
    t0 = time.monotonic()
    while True:
        text = Path("/proc/bus/input/devices").read_text()
        for block in text.split("\n\n"):
            if "STT Keyboard" in block:
                m = re.search(r"Handlers=.*?(event\d+)", block)
                if m and os.path.exists(f"/dev/input/{m.group(1)}"):
                    return f"/dev/input/{m.group(1)}"
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit("gadget keyboard not enumerated by the guest's USB host")
        time.sleep(0.05)


class Capture:
    def __init__(self, event: str, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115
        # Real-time priority: evdev keeps only 64 events per reader; a starved reader loses some.
        self.proc = subprocess.Popen(["chrt", "-f", "90", "cat", event], stdout=self.fh)
        # Start typing only once cat has the device open (TCG on a busy machine is slow).
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            try:
                fds = os.listdir(f"/proc/{self.proc.pid}/fd")
                if any(os.readlink(f"/proc/{self.proc.pid}/fd/{fd}") == event for fd in fds):
                    break
            except OSError:
                pass
            time.sleep(0.01)
        time.sleep(0.05)

    def stop(self, settle_s: float = 0.3) -> None:
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < settle_s:
            size = self.path.stat().st_size
            if size != last:
                last, stable_since = size, time.monotonic()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.fh.close()


READER_TRIES = 3


def set_caps_led(event: str, on: bool, led: int = LED_CAPSL) -> None:
    fd = os.open(event, os.O_WRONLY)
    try:
        os.write(fd, struct.pack("llHHi", 0, 0, EV_LED, led, int(on)))
        os.write(fd, struct.pack("llHHi", 0, 0, EV_SYN, 0, 0))
    finally:
        os.close(fd)


def result_dict(r: TypeResult) -> dict[str, object]:
    return {
        "typed": r.typed,
        "pending": "",
        "host_absent": False,
        "skipped": r.skipped,
        "reports": r.reports,
    }


def gone_dict(exc: HostAbsent) -> dict[str, object]:
    return {"typed": exc.typed, "pending": exc.pending, "host_absent": True, "lost": exc.lost}


def run_type(job: dict, out: Path, device: HidDevice) -> dict:  # type: ignore[type-arg]
    event = find_event()
    if job.get("caps"):
        set_caps_led(event, True)
        time.sleep(0.3)  # the LED output report travels to the gadget
    typist = Typist(device, job["layout"], report_delay_s=job.get("delay_s", 0.0))
    for _try in range(READER_TRIES):
        cap = Capture(event, out / f"{job['name']}.ev")
        t0 = time.monotonic()
        result = typist.type(job["text"])
        elapsed = time.monotonic() - t0
        cap.stop()
        # Our reader (cat under TCG) was starved and lost events: a miss of the test's, not
        # the typist's; type the job again rather than judge a partial capture.
        if not dropped_events(cap.path.read_bytes()):
            break
    if job.get("caps"):
        set_caps_led(event, False)
        time.sleep(0.1)
        device.read_leds()
    return {
        "result": result_dict(result),
        "elapsed_s": elapsed,
        "caps_seen": typist.caps_lock or bool(job.get("caps")),
    }


def run_unbind(job: dict, out: Path, device: HidDevice) -> dict:  # type: ignore[type-arg]
    udc = Path(GADGET).read_text().strip()
    event = find_event()
    cap = Capture(event, out / f"{job['name']}-1.ev")
    typist = Typist(device, job["layout"], on_host_return=job["on_host_return"])

    def unbind() -> None:
        time.sleep(job["unbind_after_s"])
        Path(GADGET).write_text("\n")

    th = threading.Thread(target=unbind)
    th.start()
    try:
        first = result_dict(typist.type(job["text"]))
    except HostAbsent as exc:
        first = gone_dict(exc)
    th.join()
    cap.stop()
    pending_kept = typist.pending
    Path(GADGET).write_text(udc + "\n")
    time.sleep(0.5)
    event = find_event()
    cap2 = Capture(event, out / f"{job['name']}-2.ev")
    second = typist.resume()
    cap2.stop()
    return {
        "first": first,
        "pending_kept": pending_kept,
        "second": result_dict(second),
    }


def run_undo(job: dict, out: Path, device: HidDevice) -> dict:  # type: ignore[type-arg]
    """What is there, a dictation typed while it is spoken (provisional pieces, then the
    last words), and the undo gesture's job: the product's own path, on the real device."""
    event = find_event()
    cfg = with_overrides(Config(), hid={"layout": job["layout"]})
    for _try in range(READER_TRIES):
        typist = Typist(device, job["layout"])
        typer = DictationTyper(cfg)
        cap = Capture(event, out / f"{job['name']}.ev")
        typist.type(job["before"])
        typer.shaper.typed_before = True  # an earlier dictation typed what is there
        dictation = typer.begin(typist)
        assert dictation.on_piece is not None, "type while speaking is the default"
        words = job["said"].split(" ")
        for n in range(1, len(words)):
            dictation.on_piece(Piece(" ".join(words[:n]), provisional=True))
        dictation.on_piece(Piece(job["said"]))
        dictation.type_rest(DictationResult(pieces=[Piece(job["said"])]))
        entry = typer.history.last()
        assert entry is not None
        typer.undo(typist, entry.shown, entry.before).type_rest(None)
        cap.stop()
        if not dropped_events(cap.path.read_bytes()):
            break
    return {"typed": entry.text, "shown": entry.shown}


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    device = HidDevice("/dev/hidg0", write_timeout_s=1.0)
    results = {}
    for job in jobs:
        fn = {"unbind": run_unbind, "undo": run_undo}.get(job.get("kind", ""), run_type)
        results[job["name"]] = fn(job, out, device)
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
