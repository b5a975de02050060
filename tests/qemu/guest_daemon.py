"""Runs INSIDE the QEMU guest: ``stt-keyboard run`` with the speech engine bridged to the host.

    python guest_daemon.py BRIDGE_DIR stt-keyboard-args...

Everything is the real daemon (``appliance.cli.main`` → ``appliance.daemon.run``: config file,
mock-pin button with its test FIFO, PyAudio microphone, HID typist, host probe, logging) except
the engine: under TCG, importing torch and loading whisper-base takes many minutes, so each
recording's 16 kHz audio (what the daemon's microphone captured) goes to ``BRIDGE_DIR`` as
``req-N.f32`` and the test on the host runs the project's real :class:`Pipeline` on it and
answers ``resp-N.json`` (the typed items). The test also keeps the audio to check it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

import appliance.daemon as daemon_mod
from appliance.cli import main
from appliance.hid.keys import SpecialKey


class BridgeSession:
    def __init__(self, engine: BridgeEngine) -> None:
        self.engine = engine
        self.blocks: list[np.ndarray] = []
        self.cancelled = threading.Event()

    def feed(self, block: Any) -> None:
        self.blocks.append(np.asarray(block, dtype=np.float32))

    def cancel(self) -> None:
        self.cancelled.set()

    def release(self) -> None:
        """The host's engine hears the whole recording, tail included: nothing to do here."""

    def heard_enough(self) -> bool:
        return False  # the microphone ends the tail after audio.tail_s

    def finish(self) -> Any:
        if self.cancelled.is_set():
            return SimpleNamespace(items=[], cancelled=True)
        n = self.engine.next_id()
        audio = np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)
        tmp = self.engine.dir / f"req-{n}.tmp"
        tmp.write_bytes(audio.astype("<f4").tobytes())
        tmp.rename(self.engine.dir / f"req-{n}.f32")
        resp = self.engine.dir / f"resp-{n}.json"
        t0 = time.monotonic()
        while not resp.exists():
            if self.cancelled.is_set():
                return SimpleNamespace(items=[], cancelled=True)
            if time.monotonic() - t0 > 120:
                raise RuntimeError("the host's speech engine did not answer")
            time.sleep(0.05)
        items = [
            SpecialKey(i["key"]) if "key" in i else str(i["text"])
            for i in json.loads(resp.read_text())
        ]
        return SimpleNamespace(items=items, cancelled=False)


class BridgeEngine:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._n = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def start(self, on_piece: Any = None) -> BridgeSession:
        return BridgeSession(self)


def install_bridge(directory: Path) -> None:
    real_build = daemon_mod.build

    def build(cfg: Any, bus: Any, notifier: Any) -> daemon_mod.Daemon:
        d = real_build(cfg, bus, notifier)
        d._load_engine = lambda progress: BridgeEngine(directory)  # type: ignore[assignment, return-value]
        return d

    daemon_mod.build = build  # type: ignore[assignment]


if __name__ == "__main__":
    bridge = Path(sys.argv[1])
    bridge.mkdir(parents=True, exist_ok=True)
    install_bridge(bridge)
    faulthandler.register(signal.SIGUSR1)  # the test dumps the threads when a step hangs
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from button_fifo import serve_for_daemon  # beside this script: the test's button

    serve_for_daemon(sys.argv[2:])
    sys.exit(main(sys.argv[2:]))
