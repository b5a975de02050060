"""Audio in: a microphone (PyAudio) or a file (soundfile), always out as 16 kHz mono float32.

Real microphones seldom give 16 kHz mono, so both sources down-mix and resample with soxr.
The microphone runs continuously into a pre-roll ring buffer, so a recording that starts at
the button press still holds the half second before it (people start speaking as they press).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import soxr

from appliance import capture_process
from appliance.config import AudioConfig
from appliance.errors import AudioFileError, MicrophoneError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# A Pi starts the capture process in well under a second; QEMU's emulated CPU on a busy
# machine took over 10 s. Opening never blocks the daemon, so a generous bound costs nothing.
STARTUP_TIMEOUT_S = 30.0


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
    """Continuous capture into a pre-roll ring; recordings tap into the live stream.

    The capture itself runs in a child process (:mod:`appliance.capture_process`): a device
    that vanishes takes only that process down, and the next Microphone opens it again.
    Opening never blocks the caller: :meth:`start` returns at once, :attr:`opening` is true
    until the device answers, :attr:`error` says why it did not (or stopped).
    """

    def __init__(
        self,
        cfg: AudioConfig,
        *,
        level_callback: Callable[[float], None] | None = None,
        listener: Callable[[np.ndarray, int], None] | None = None,
        command: Sequence[str] | None = None,
    ):
        """``listener`` hears every block and the stream's sample count at its end, on the
        capture thread (the wake word's listener); ``command``: what runs the capture process
        (tests run it with a fake PortAudio)."""
        self.cfg = cfg
        self._level_callback = level_callback
        self._listener = listener
        self._command = list(command or [sys.executable, "-m", "appliance.capture_process"])
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._opened = threading.Event()
        self._ended = threading.Event()  # opened or failed: wait_open() returns
        self._lock = threading.Lock()
        self._preroll: collections.deque[np.ndarray] = collections.deque()
        self._preroll_samples = 0
        self._preroll_start = 0  # the stream's sample number of the pre-roll's first sample
        self._heard = 0  # samples of the stream so far
        self._recording: Recording | None = None
        self._tail_deadline: float | None = None
        self._resampler: Resampler | None = None
        self.device_name = ""
        self._error: Exception | None = None
        self._started = 0.0
        self._last_block = 0.0

    # -- lifecycle
    def start(self) -> None:
        """Start the capture process; returns before the device is open."""
        request = {
            "device": self.cfg.device,
            "rate": self.cfg.rate,
            "channels": self.cfg.channels,
            "block_ms": self.cfg.block_ms,
        }
        try:
            child = subprocess.Popen(
                [*self._command, json.dumps(request)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as exc:
            raise MicrophoneError(f"cannot start the capture process ({exc})") from exc
        self._child = child
        self._started = time.monotonic()
        self._running.set()
        self._thread = threading.Thread(
            target=self._capture, args=(child,), name="microphone", daemon=True
        )
        self._thread.start()

    def wait_open(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the device is open (for the command-line tools); raises why not."""
        self._ended.wait(timeout_s)
        if self.error is not None:
            raise self.error
        if not self._opened.is_set():
            raise MicrophoneError(f"the microphone did not open within {timeout_s:.0f} s")

    @property
    def opening(self) -> bool:
        """Started, and the device has not answered yet (nor failed)."""
        return self._running.is_set() and not self._opened.is_set() and self.error is None

    @property
    def error(self) -> Exception | None:
        """Why the microphone did not open or stopped; None while it works or opens."""
        late = time.monotonic() - self._started > STARTUP_TIMEOUT_S
        if self._error is None and self._running.is_set() and not self._opened.is_set() and late:
            return MicrophoneError(f"the microphone did not open within {STARTUP_TIMEOUT_S:.0f} s")
        return self._error

    def _child_error(
        self, child: subprocess.Popen[bytes], kind: bytes | None, payload: bytes
    ) -> MicrophoneError:
        if kind == capture_process.ERROR:
            return MicrophoneError(str(json.loads(payload)["detail"]))
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
        code = child.poll()
        how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        return MicrophoneError(f"capture failed (the capture process ended: {how})")

    def close(self) -> None:
        self._running.clear()
        child, self._child = self._child, None
        if child is not None:
            with contextlib.suppress(OSError):
                if child.stdin is not None:
                    child.stdin.close()  # the process ends by itself
            try:
                child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:  # hung in the driver
                child.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=2.0)
            if child.stdout is not None:
                child.stdout.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        with self._lock:
            if self._recording is not None:
                self._recording.close(self._error)
                self._recording = None

    @property
    def alive(self) -> bool:
        """Capturing, and a block arrived recently (a stalled USB microphone is not alive)."""
        return (
            self._running.is_set()
            and self._opened.is_set()
            and self._error is None
            and time.monotonic() - self._last_block < self.cfg.open_timeout_s
        )

    # -- recordings
    def begin(self, since: int | None = None) -> Recording:
        """A recording from the pre-roll on; with ``since`` (a sample number of the stream),
        only the part of it heard after that sample: a wake word's words stay out."""
        max_samples = int(self.cfg.max_recording_s * SAMPLE_RATE)
        with self._lock:
            preroll = (
                np.concatenate(list(self._preroll)) if self._preroll else np.zeros(0, np.float32)
            )
            if since is not None:
                preroll = preroll[max(0, since - self._preroll_start) :]
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
    def _capture(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        stdout = child.stdout
        while self._running.is_set():
            try:
                kind, payload = _read_message(stdout)
            except (OSError, ValueError):
                kind, payload = None, b""  # closed by close()
            if kind == capture_process.AUDIO and self._resampler is not None:
                self._last_block = time.monotonic()
                self._deliver(self._resampler(payload))
            elif kind == capture_process.INFO and self._resampler is None:
                self._opened_as(dict(json.loads(payload)))
            else:
                if self._running.is_set():  # not closed on purpose
                    self._failed(self._child_error(child, kind, payload))
                self._ended.set()
                return

    def _opened_as(self, info: dict[str, Any]) -> None:
        self.device_name = str(info["name"])
        rate, channels = int(info["rate"]), int(info["channels"])
        self._resampler = Resampler(rate, channels)
        self._last_block = time.monotonic()
        self._opened.set()
        self._ended.set()
        log.info("microphone '%s' at %d Hz, %d channel(s)", self.device_name, rate, channels)

    def _failed(self, error: MicrophoneError) -> None:
        self._error = error
        log.error("%s", error)
        self._running.clear()
        with self._lock:
            if self._recording is not None:
                self._recording.close(error)
                self._recording = None

    def _deliver(self, block: np.ndarray) -> None:
        if not len(block):
            return
        if self._level_callback is not None:
            self._level_callback(level_of(block))
        keep = int(self.cfg.preroll_s * SAMPLE_RATE)
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
            self._heard += len(block)
            heard = self._heard
            while self._preroll and self._preroll_samples - len(self._preroll[0]) >= keep:
                dropped = len(self._preroll.popleft())
                self._preroll_samples -= dropped
                self._preroll_start += dropped
        if self._listener is not None:
            try:
                self._listener(block, heard)
            except Exception:  # the listener's failure never stops the capture
                log.exception("audio listener failed")


def _read_message(stream: IO[bytes]) -> tuple[bytes | None, bytes]:
    """One framed message from the capture process; (None, b"") at its end."""
    header = stream.read(capture_process.HEADER.size)
    if len(header) < capture_process.HEADER.size:
        return None, b""
    kind, size = capture_process.HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None, b""
    return kind, payload


def level_of(block: np.ndarray) -> float:
    """Input level 0..1 on a dB scale (-60 dBFS .. 0 dBFS), for the OLED meter."""
    if not len(block):
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
    if rms <= 1e-6:
        return 0.0
    db = 20.0 * np.log10(rms)
    return float(min(1.0, max(0.0, (db + 60.0) / 60.0)))
