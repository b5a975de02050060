"""A fake PortAudio (``pyaudio``) behind its API, and the capture process running on it.

``python tests/fake_portaudio.py SPEC REQUEST`` runs :mod:`appliance.capture_process` with
this fake installed as ``pyaudio``: SPEC (JSON) lists the devices and how the stream fails
(``fail_after`` reads: PortAudio's read error; ``crash_after``: the process aborts, as
PortAudio does on a vanished card; ``hang_after``: the read never returns, a stalled driver;
``wav``: a 16-bit mono WAV at the device's rate is what the microphone hears, then silence;
``speed``: that many times real time).
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from typing import Any

import numpy as np

USB_MIC = {
    "index": 1,
    "name": "USB PnP Sound Device: Audio (hw:2,0)",
    "maxInputChannels": 2,
    "defaultSampleRate": 48000.0,
}
HDMI = {"index": 0, "name": "vc4-hdmi-0", "maxInputChannels": 0, "defaultSampleRate": 48000.0}


class FakeStream:
    """A 300 Hz tone at the device's rate, in real time (or the ``wav`` file's samples)."""

    def __init__(self, rate: int, channels: int, spec: dict[str, Any]):
        self.rate, self.channels, self.spec = rate, channels, spec
        self.reads = 0
        self.t = 0
        self.wav: np.ndarray | None = None
        if "wav" in spec:
            import soundfile

            self.wav, _ = soundfile.read(spec["wav"], dtype="int16")

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        time.sleep(frames / self.rate / float(self.spec.get("speed", 1.0)))
        self.reads += 1
        if self.reads > self.spec.get("fail_after", float("inf")):
            raise OSError(-9999, "Unanticipated host error")
        if self.reads > self.spec.get("crash_after", float("inf")):
            os.abort()
        if self.reads > self.spec.get("hang_after", float("inf")):
            time.sleep(3600)
        n = np.arange(self.t, self.t + frames)
        self.t += frames
        if self.wav is not None:
            heard = np.zeros(frames, np.int16)
            part = self.wav[n[0] : n[0] + frames]
            heard[: len(part)] = part
            return np.repeat(heard, self.channels).tobytes()
        tone = (0.3 * np.sin(2 * np.pi * 300 * n / self.rate) * 32767).astype(np.int16)
        return np.repeat(tone, self.channels).tobytes()

    def stop_stream(self) -> None: ...

    def close(self) -> None: ...


def fake_pyaudio(devices: list[dict[str, Any]], **spec: Any) -> types.ModuleType:
    mod = types.ModuleType("pyaudio")
    mod.paInt16 = 8  # type: ignore[attr-defined]

    class PyAudio:
        def get_device_count(self) -> int:
            return len(devices)

        def get_device_info_by_index(self, i: int) -> dict[str, Any]:
            return devices[i]

        def get_default_input_device_info(self) -> dict[str, Any]:
            if not devices:
                raise OSError("no default input")
            return next(d for d in devices if d["maxInputChannels"] > 0)

        def open(self, *, rate: int, channels: int, **_kw: object) -> FakeStream:
            return FakeStream(rate, channels, spec)

        def terminate(self) -> None: ...

    mod.PyAudio = PyAudio  # type: ignore[attr-defined]
    return mod


def capture_command(devices: list[dict[str, Any]], **spec: Any) -> list[str]:
    """What :class:`appliance.audio.Microphone` runs instead of the real capture process."""
    return [sys.executable, __file__, json.dumps({"devices": devices, **spec})]


if __name__ == "__main__":
    from appliance import capture_process

    config = json.loads(sys.argv[1])
    sys.modules["pyaudio"] = fake_pyaudio(config.pop("devices"), **config)
    sys.exit(capture_process.main(sys.argv[2:]))
