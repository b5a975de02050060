"""Audio in: a microphone (PyAudio) or a file (soundfile), always out as 16 kHz mono float32.

Real microphones seldom give 16 kHz mono, so both sources down-mix and resample with soxr.
The microphone runs continuously into a pre-roll ring buffer, so a recording that starts at
the button press still holds the half second before it (people start speaking as they press).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from appliance.config import AudioConfig
from appliance.errors import AudioFileError, MicrophoneError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_ABANDONED: list[tuple[Any, Any]] = []  # streams of vanished devices (see Microphone.close)


def to_mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    return block.mean(axis=1, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """A whole file as 16 kHz mono float32 (any rate, channel count, WAV/FLAC/OGG)."""
    import soundfile  # only the file paths need libsndfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"cannot read audio file {path}: {exc}") from exc
    mono = to_mono(data)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return mono


def iter_blocks(audio: np.ndarray, block: int = 512) -> Iterator[np.ndarray]:
    for start in range(0, len(audio), block):
        yield audio[start : start + block]


def paced(blocks: Iterable[np.ndarray], speed: float = 1.0) -> Iterator[np.ndarray]:
    """Each block no sooner than it would be heard from a microphone, at ``speed`` times
    real time (0: as fast as possible): a recording played as if it were being spoken.

    The next block is taken from ``blocks`` before the wait, so a source that decides
    whether there is one more block decides at the block's start, as a microphone loop does.
    """
    if speed <= 0:
        yield from blocks
        return
    start = time.perf_counter()
    heard = 0
    for block in blocks:
        heard += len(block)
        delay = start + heard / SAMPLE_RATE / speed - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield block


class FileSource:
    """Feeds a recording through the pipeline in blocks, in real time or as fast as possible."""

    def __init__(self, path: str | Path, *, realtime: bool = False, block_ms: int = 32):
        self.path = Path(path)
        self.audio = load_audio(self.path)
        self.realtime = realtime
        self.block = max(1, SAMPLE_RATE * block_ms // 1000)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def blocks(self) -> Iterator[np.ndarray]:
        return paced(iter_blocks(self.audio, self.block), 1.0 if self.realtime else 0.0)


class Resampler:
    """Streaming down-mix + resample of one capture stream to 16 kHz mono."""

    def __init__(self, in_rate: int, channels: int):
        self.in_rate = in_rate
        self.channels = channels
        self._stream = (
            soxr.ResampleStream(in_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            if in_rate != SAMPLE_RATE
            else None
        )

    def __call__(self, raw: bytes, *, last: bool = False) -> np.ndarray:
        samples = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)


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


class Recording:
    """One button press worth of audio: pre-roll, live blocks, then the tail; bounded."""

    def __init__(self, preroll: np.ndarray, max_samples: int):
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._max = max_samples
        self.samples = 0
        self.truncated = False
        self.closed = False
        self.error: Exception | None = None
        if len(preroll):
            self._push(preroll)

    def _push(self, block: np.ndarray) -> None:
        if self.closed:
            return
        room = self._max - self.samples
        if room <= 0:
            self.truncated = True
            self.close()
            return
        block = block[:room]
        self.samples += len(block)
        self._queue.put(block)

    def close(self, error: Exception | None = None) -> None:
        if not self.closed:
            self.error = error
            self.closed = True
            self._queue.put(None)

    def blocks(self, timeout_s: float = 5.0) -> Iterator[np.ndarray]:
        """Blocks until the recording ends; a capture that stalls raises MicrophoneError."""
        while True:
            try:
                block = self._queue.get(timeout=timeout_s)
            except queue.Empty:
                raise MicrophoneError("no audio arrived (device stalled)") from None
            if block is None:
                if self.error is not None:
                    raise self.error
                return
            yield block


class Microphone:
    """Continuous capture into a pre-roll ring; recordings tap into the live stream."""

    def __init__(self, cfg: AudioConfig, *, level_callback: Callable[[float], None] | None = None):
        self.cfg = cfg
        self._level_callback = level_callback
        self._pa: Any = None
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._preroll: collections.deque[np.ndarray] = collections.deque()
        self._preroll_samples = 0
        self._recording: Recording | None = None
        self._tail_deadline: float | None = None
        self.device_name = ""
        self.error: Exception | None = None
        self.abandoned = False  # a vanished device's stream was left open (see close)
        self._last_block = 0.0

    # -- lifecycle
    def start(self) -> None:
        import pyaudio  # only the microphone path needs PortAudio

        self._pa = pyaudio.PyAudio()
        try:
            info = find_input_device(self._pa, self.cfg.device)
            rate = int(self.cfg.rate or info.get("defaultSampleRate") or SAMPLE_RATE)
            channels = min(self.cfg.channels or 1, int(info["maxInputChannels"]))
            frames = max(1, rate * self.cfg.block_ms // 1000)
            self.device_name = str(info["name"])
            if not alsa_capture_present(self.device_name):
                raise MicrophoneError(f"'{self.device_name}' is gone (unplugged?)")
            self._resampler = Resampler(rate, channels)
            try:
                self._stream = self._pa.open(
                    format=pyaudio.paInt16,
                    channels=channels,
                    rate=rate,
                    input=True,
                    input_device_index=int(info["index"]),
                    frames_per_buffer=frames,
                )
            except (OSError, ValueError) as exc:
                raise MicrophoneError(f"cannot open '{info['name']}': {exc}") from exc
        except Exception:
            self.close()
            raise
        self._frames = frames
        self._running.set()
        self._last_block = time.monotonic()
        self._thread = threading.Thread(target=self._capture, name="microphone", daemon=True)
        self._thread.start()
        log.info("microphone '%s' at %d Hz, %d channel(s)", self.device_name, rate, channels)

    def close(self) -> None:
        self._running.clear()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        stalled = self._thread is not None and self._thread.is_alive()
        if (self.error is not None or stalled) and self._stream is not None:
            # The device vanished under the stream (the read failed, or it still hangs).
            # Closing it makes PortAudio/ALSA crash the whole process (measured: snd-aloop
            # disconnected in the QEMU test), so the dead stream is kept, never closed; a
            # new Microphone opens the device again.
            _ABANDONED.append((self._stream, self._pa))
            self._stream = self._pa = None
            self.abandoned = True
        for closer in (
            lambda: self._stream and self._stream.stop_stream(),
            lambda: self._stream and self._stream.close(),
            lambda: self._pa and self._pa.terminate(),
        ):
            with contextlib.suppress(Exception):  # a vanished device may fail to close
                closer()
        self._stream = self._pa = None
        with self._lock:
            if self._recording is not None:
                self._recording.close(self.error)

    @property
    def alive(self) -> bool:
        """Capturing, and a block arrived recently (a stalled USB microphone is not alive)."""
        return (
            self._running.is_set()
            and self.error is None
            and time.monotonic() - self._last_block < self.cfg.open_timeout_s
        )

    # -- recordings
    def begin(self) -> Recording:
        max_samples = int(self.cfg.max_recording_s * SAMPLE_RATE)
        with self._lock:
            preroll = (
                np.concatenate(list(self._preroll)) if self._preroll else np.zeros(0, np.float32)
            )
            self._recording = Recording(preroll, max_samples)
            self._tail_deadline = None
            return self._recording

    def end(self) -> None:
        """Stop the current recording after the configured tail."""
        with self._lock:
            if self._recording is not None:
                self._tail_deadline = time.monotonic() + self.cfg.tail_s

    def stop(self) -> None:
        """End the current recording now: the rest of its tail is not needed."""
        with self._lock:
            if self._recording is not None:
                self._recording.close()
                self._recording = None
                self._tail_deadline = None

    def cancel(self) -> None:
        """Nothing more of the current recording is wanted."""
        self.stop()

    # -- capture thread
    def _capture(self) -> None:
        keep = int(self.cfg.preroll_s * SAMPLE_RATE)
        while self._running.is_set():
            try:
                raw = self._stream.read(self._frames, exception_on_overflow=False)
            except Exception as exc:  # unplugged: PortAudio raises OSError
                self.error = MicrophoneError(f"capture failed ({exc})")
                log.error("%s", self.error)
                self._running.clear()
                with self._lock:
                    if self._recording is not None:
                        self._recording.close(self.error)
                        self._recording = None
                return
            self._last_block = time.monotonic()
            block = self._resampler(raw)
            if not len(block):
                continue
            if self._level_callback is not None:
                self._level_callback(level_of(block))
            with self._lock:
                rec = self._recording
                if rec is not None:
                    rec._push(block)
                    if self._tail_deadline is not None and time.monotonic() >= self._tail_deadline:
                        rec.close()
                        self._recording = None
                        self._tail_deadline = None
                self._preroll.append(block)
                self._preroll_samples += len(block)
                while self._preroll and self._preroll_samples - len(self._preroll[0]) >= keep:
                    self._preroll_samples -= len(self._preroll.popleft())


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


def level_of(block: np.ndarray) -> float:
    """Input level 0..1 on a dB scale (-60 dBFS .. 0 dBFS), for the OLED meter."""
    if not len(block):
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
    if rms <= 1e-6:
        return 0.0
    db = 20.0 * np.log10(rms)
    return float(min(1.0, max(0.0, (db + 60.0) / 60.0)))
