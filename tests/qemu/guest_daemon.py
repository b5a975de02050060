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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import appliance.daemon as daemon_mod
from appliance.cli import main
from appliance.config import Config
from appliance.engine import DictationResult, PieceFn
from appliance.parts import Parts
from appliance.text import Piece


class BridgeSession:
    """An engine session whose transcription is done by the host's real pipeline."""

    def __init__(self, engine: BridgeEngine, on_piece: PieceFn | None) -> None:
        self.engine = engine
        self.on_piece = on_piece
        self.blocks: list[np.ndarray] = []
        self.cancelled = threading.Event()

    def feed(self, block: np.ndarray) -> None:
        self.blocks.append(np.asarray(block, dtype=np.float32))

    def cancel(self) -> None:
        self.cancelled.set()

    def release(self) -> None:
        """The host's engine hears the whole recording, tail included: nothing to do here."""

    def heard_enough(self) -> bool:
        return False  # the microphone ends the tail after audio.tail_s

    def finish(self) -> DictationResult:
        if self.cancelled.is_set():
            return DictationResult(pieces=[], cancelled=True)
        n = self.engine.next_id()
        audio = np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)
        tmp = self.engine.dir / f"req-{n}.tmp"
        tmp.write_bytes(audio.astype("<f4").tobytes())
        tmp.rename(self.engine.dir / f"req-{n}.f32")
        resp = self.engine.dir / f"resp-{n}.json"
        t0 = time.monotonic()
        while not resp.exists():
            if self.cancelled.is_set():
                return DictationResult(pieces=[], cancelled=True)
            if time.monotonic() - t0 > 120:
                raise RuntimeError("the host's speech engine did not answer")
            time.sleep(0.05)
        pieces = [Piece(p["text"], p["pause_before_s"]) for p in json.loads(resp.read_text())]
        for piece in pieces:  # the engine contract: every final piece goes to on_piece
            if self.on_piece is not None:
                self.on_piece(piece)
        return DictationResult(pieces=pieces, audio_s=len(audio) / 16000)


class BridgeEngine:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._n = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def set_language(self, code: str) -> None:
        raise NotImplementedError("the test bridge transcribes in the host's configured language")

    def start(self, on_piece: PieceFn | None = None) -> BridgeSession:
        return BridgeSession(self, on_piece)


def install_bridge(directory: Path) -> None:
    """The daemon's real parts, but the engine is the bridge to the host."""
    real_parts = daemon_mod.real_parts

    def parts(cfg: Config, bus: Any = None, *, listener: Any = None) -> Parts:
        real = real_parts(cfg, bus, listener=listener)
        return replace(real, load_engine=lambda progress: BridgeEngine(directory))

    daemon_mod.real_parts = parts


if __name__ == "__main__":
    bridge = Path(sys.argv[1])
    bridge.mkdir(parents=True, exist_ok=True)
    install_bridge(bridge)
    faulthandler.register(signal.SIGUSR1)  # the test dumps the threads when a step hangs
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from button_fifo import serve_for_daemon  # beside this script: the test's button

    serve_for_daemon(sys.argv[2:])
    sys.exit(main(sys.argv[2:]))
