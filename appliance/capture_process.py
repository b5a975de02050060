"""The microphone's capture, in a child process of its own: ``-m appliance.capture_process``.

PortAudio cannot let go of a device that vanished under an open stream: closing the stream
crashes the process, and its device list stays stale until the library is reloaded (both
measured with snd-aloop unbound in QEMU). So PortAudio lives here, in a process that may
crash or be killed; the daemon (:class:`appliance.audio.Microphone`) reads the audio from this
process's stdout and starts a new one when the microphone returns.

The request is one JSON argument (``device``, ``rate``, ``channels``, ``block_ms``). Messages on
stdout are framed as a kind byte and a 4-byte big-endian length:

- ``I`` (JSON): the device opened: ``name``, ``rate``, ``channels``;
- ``A``: raw 16-bit little-endian interleaved samples, one block;
- ``E`` (JSON): ``detail`` of a :class:`~appliance.errors.MicrophoneError`; the process ends.

The process ends by itself when its stdin closes (the daemon is gone, even by SIGKILL).
Only PortAudio and the standard library are imported here: it starts fast and small.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from appliance.errors import MicrophoneError

HEADER = struct.Struct(">cI")
INFO, AUDIO, ERROR = b"I", b"A", b"E"
DEFAULT_RATE = 16000


def find_input_device(pa: Any, wanted: str | int | None) -> dict[str, Any]:
    """The PyAudio device info for a name substring, an index, or the default input."""
    inputs = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        if int(info.get("maxInputChannels", 0)) > 0:
            inputs.append(info)
    if not inputs:
        raise MicrophoneError("the system lists no audio input device")
    names = ", ".join(f"{i['index']}: {i['name']}" for i in inputs)
    if wanted is None or wanted == "":
        try:
            return dict(pa.get_default_input_device_info())
        except OSError:
            return dict(inputs[0])
    if isinstance(wanted, int):
        for info in inputs:
            if int(info["index"]) == wanted:
                return dict(info)
        raise MicrophoneError(f"none with index {wanted}; inputs are: {names}")
    for info in inputs:
        if str(wanted).lower() in str(info["name"]).lower():
            return dict(info)
    raise MicrophoneError(f"none matching '{wanted}'; inputs are: {names}")


_ALSA_HW = re.compile(r"\(hw:(\d+),(\d+)\)")


def alsa_capture_present(device_name: str, proc_asound: str = "/proc/asound") -> bool:
    """Whether the ALSA capture device behind a PortAudio name ("… (hw:1,0)") still exists.

    PortAudio keeps the device list it read at start-up, and opening a card that has since
    disappeared aborts the process inside PortAudio (measured), so a vanished card is
    checked for first. Names without an ALSA hw address (PulseAudio, "default") pass.
    """
    match = _ALSA_HW.search(device_name)
    if match is None or not Path(proc_asound).is_dir():
        return True
    card, device = match.groups()
    return Path(proc_asound, f"card{card}", f"pcm{device}c").exists()


def send(out: BinaryIO, kind: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(kind, len(payload)) + payload)
    out.flush()


def _end_when_the_parent_goes() -> None:
    """stdin reaches EOF when the daemon closes it or dies: nobody reads the audio then."""
    while os.read(0, 4096):
        pass
    os._exit(0)


def capture(request: dict[str, Any], out: BinaryIO) -> int:
    import pyaudio

    pa = pyaudio.PyAudio()
    try:
        info = find_input_device(pa, request.get("device"))
        name = str(info["name"])
        if not alsa_capture_present(name):
            raise MicrophoneError(f"'{name}' is gone (unplugged?)")
        rate = int(request.get("rate") or info.get("defaultSampleRate") or DEFAULT_RATE)
        channels = min(int(request.get("channels") or 1), int(info["maxInputChannels"]))
        frames = max(1, rate * int(request.get("block_ms") or 32) // 1000)
        try:
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=channels,
                rate=rate,
                input=True,
                input_device_index=int(info["index"]),
                frames_per_buffer=frames,
            )
        except (OSError, ValueError) as exc:
            raise MicrophoneError(f"cannot open '{name}': {exc}") from exc
    except MicrophoneError as exc:
        send(out, ERROR, json.dumps({"detail": exc.detail}).encode())
        return 1
    send(out, INFO, json.dumps({"name": name, "rate": rate, "channels": channels}).encode())
    while True:
        try:
            raw = stream.read(frames, exception_on_overflow=False)
        except Exception as exc:  # unplugged: PortAudio raises OSError
            send(out, ERROR, json.dumps({"detail": f"capture failed ({exc})"}).encode())
            return 1
        send(out, AUDIO, raw)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    request = json.loads(args[0]) if args else {}
    threading.Thread(target=_end_when_the_parent_goes, daemon=True).start()
    try:
        return capture(request, sys.stdout.buffer)
    except BrokenPipeError:  # the daemon stopped reading
        return 0


if __name__ == "__main__":
    sys.exit(main())
