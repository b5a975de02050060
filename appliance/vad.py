"""Streaming voice activity detection with Silero VAD.

Frames go through the model as they arrive, so a segment is complete (and can be
transcribed) as soon as the speaker pauses, not when the button is released. Whisper never
sees long silences, which is where it invents text.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.audio import SAMPLE_RATE
from appliance.config import VadConfig

log = logging.getLogger(__name__)

FRAME = 512  # Silero's window at 16 kHz (32 ms)
MAX_SEGMENT_S = 25.0  # stay inside Whisper's 30 s window
_model_lock = threading.Lock()
_shared_model: SileroVad | None = None


def silero_model_path(name: str = "silero_vad.onnx") -> Path:
    """The model file inside the installed silero-vad package.

    Found without importing the package: its __init__ imports torch (about 200 MB of
    memory), which the device does not need to run the ONNX model.
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero-vad package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise RuntimeError(f"silero-vad has no {name} at {path}")
    return path


class SileroVad:
    """Silero VAD (the silero-vad package's ONNX model) run with onnxruntime, one stream.

    Mirrors the package's own OnnxWrapper: 512-sample frames with 64 samples of context
    and a recurrent state carried from frame to frame.
    """

    CONTEXT = 64

    def __init__(self, path: Path | None = None):
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(path or silero_model_path()),
            sess_options=opts,
            providers=["CPUExecutionProvider"],
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset_states()

    def reset_states(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros((1, self.CONTEXT), np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample frame."""
        x = np.concatenate([self._context, frame.reshape(1, -1).astype(np.float32)], axis=1)
        out, self._state = self.session.run(
            None, {"input": x, "state": self._state, "sr": self._sr}
        )
        self._context = x[:, -self.CONTEXT :]
        return float(out[0][0])


def load_vad_model() -> SileroVad:
    """The VAD model, loaded once per process (sessions reset its state)."""
    global _shared_model
    with _model_lock:
        if _shared_model is None:
            _shared_model = SileroVad()
        return _shared_model


QUIET_BELOW_DB = 20.0  # this far below the speech's level, a sound is not speech
MIN_QUIET_S = 0.064  # judged over at least two frames


def quiet_after(audio: np.ndarray, start: int, below_db: float = QUIET_BELOW_DB) -> bool:
    """Whether everything in ``audio`` from sample ``start`` on is far quieter than the
    speech before it (at least ``MIN_QUIET_S`` of it).

    Silero's recurrent state keeps its speech probability up for 60-200 ms after a voice
    stops (measured on the speech set), so right after a release the VAD cannot yet say
    the speaker has stopped; the level can. It only answers yes when the sound is
    ``below_db`` under the loud part of the speech, so a soft word ending or a noisy room
    leaves the decision to the VAD.
    """
    before, after = audio[:start], audio[start:]
    if len(after) < MIN_QUIET_S * SAMPLE_RATE or len(before) < FRAME:
        return False
    speech = np.sqrt(np.mean(before[: len(before) // FRAME * FRAME].reshape(-1, FRAME) ** 2, 1))
    rest = after[: len(after) // FRAME * FRAME].reshape(-1, FRAME)
    loudest_after = float(np.max(np.sqrt(np.mean(rest**2, axis=1))))
    return loudest_after < float(np.percentile(speech, 90)) * 10 ** (-below_db / 20)


@dataclass(frozen=True)
class SpeechSegment:
    audio: np.ndarray
    start_s: float  # where speech starts in the recording (before padding)
    end_s: float
    pause_before_s: float  # silence since the previous segment (or the recording start)
    span: tuple[int, int] = (0, 0)  # sample range in the recording
    speech: tuple[int, int] = (0, 0)  # speech start and end frame: the segment's identity

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class VadSegmenter:
    """Feed 16 kHz mono blocks of any size; get back speech segments as pauses close them."""

    def __init__(self, cfg: VadConfig, model: Any | None = None):
        self.cfg = cfg
        self.model = model if model is not None else load_vad_model()
        self.model.reset_states()
        self._neg_threshold = max(cfg.threshold - 0.15, 0.01)
        self._min_silence = max(1, round(cfg.min_silence_ms * SAMPLE_RATE / 1000 / FRAME))
        self._min_speech = max(1, round(cfg.min_speech_ms * SAMPLE_RATE / 1000 / FRAME))
        self._pad = round(cfg.speech_pad_ms * SAMPLE_RATE / 1000)
        self._max_frames = int(MAX_SEGMENT_S * SAMPLE_RATE / FRAME)
        self._pending = np.zeros(0, np.float32)
        self._frames: list[np.ndarray] = []  # audio kept, frame-aligned
        self._probs: list[float] = []
        self._first = 0  # index of self._frames[0]
        self._n = 0  # frames seen
        self._triggered = False
        self._start = 0
        self._temp_end: int | None = None
        self._last_end_sample = 0
        self._prev_speech_end = 0
        self.seconds_in_model = 0.0

    def feed(self, block: np.ndarray) -> list[SpeechSegment]:
        import time

        out: list[SpeechSegment] = []
        data = np.concatenate([self._pending, block.astype(np.float32, copy=False)])
        usable = len(data) - len(data) % FRAME
        self._pending = data[usable:]
        t0 = time.perf_counter()
        for offset in range(0, usable, FRAME):
            frame = data[offset : offset + FRAME]
            prob = self.model(frame)
            self._step(frame, prob, out)
        self.seconds_in_model += time.perf_counter() - t0
        return out

    def flush(self) -> list[SpeechSegment]:
        """End of recording: close an open segment (the speaker may not have paused)."""
        out: list[SpeechSegment] = []
        if len(self._pending):
            frame = np.zeros(FRAME, np.float32)
            frame[: len(self._pending)] = self._pending
            self._pending = np.zeros(0, np.float32)
            self._frames.append(frame)
            self._probs.append(0.0)
            self._n += 1
        if self._triggered:
            end = self._temp_end if self._temp_end is not None else self._n
            self._close(end, out)
        self.model.reset_states()
        return out

    # -- internals
    def _step(self, frame: np.ndarray, prob: float, out: list[SpeechSegment]) -> None:
        self._frames.append(frame)
        self._probs.append(prob)
        index = self._n
        self._n += 1
        if prob >= self.cfg.threshold:
            if not self._triggered:
                self._triggered = True
                self._start = index
            self._temp_end = None
        elif self._triggered and prob < self._neg_threshold:
            if self._temp_end is None:
                self._temp_end = index
            if self._n - self._temp_end >= self._min_silence:
                self._close(self._temp_end, out)
        if self._triggered and self._n - self._start >= self._max_frames:
            self._split_long(out)
        if not self._triggered:
            self._trim()

    def _split_long(self, out: list[SpeechSegment]) -> None:
        """A segment about to outgrow Whisper's window ends at its quietest recent frame."""
        window = 3 * SAMPLE_RATE // FRAME
        lo = max(self._start + 1, self._n - window)
        probs = self._probs[lo - self._first : self._n - self._first]
        cut = lo + int(np.argmin(probs))
        self._close(cut, out, pad_after=False)
        self._triggered = True
        self._start = cut
        self._temp_end = None

    def quiet_s(self) -> float:
        """How long the speaker has been quiet (inf if no speech is in progress)."""
        if not self._triggered:
            return float("inf")
        if self._temp_end is None:
            return 0.0
        return (self._n - self._temp_end) * FRAME / SAMPLE_RATE

    def tentative(self, min_pause_s: float = 0.12) -> SpeechSegment | None:
        """The segment that will close if the speaker stays silent (None while speaking).

        Available once the speaker has been quiet for ``min_pause_s``; it has the same
        speech frames as the segment that closes if no more speech follows (only its
        trailing padding may be shorter), so a transcription started now can stand for it.
        """
        end = self._temp_end
        if not self._triggered or end is None or end - self._start < self._min_speech:
            return None
        if (self._n - end) * FRAME < min_pause_s * SAMPLE_RATE:
            return None
        return self._segment(self._start, end, pad_after=True)

    def open_segment(self) -> SpeechSegment | None:
        """The segment being spoken, from its start up to now (None between segments).

        Its first sample (``span[0]``) is the same as that of the segment it closes into,
        so work done on it can be carried over.
        """
        if not self._triggered or self._n - self._start < self._min_speech:
            return None
        end = self._temp_end if self._temp_end is not None else self._n
        segment = self._segment(self._start, self._n, pad_after=False)
        return SpeechSegment(
            audio=segment.audio,
            start_s=segment.start_s,
            end_s=end * FRAME / SAMPLE_RATE,
            pause_before_s=segment.pause_before_s,
            span=segment.span,
            speech=(self._start, end),
        )

    def _segment(self, start: int, end: int, *, pad_after: bool) -> SpeechSegment:
        s0 = max(start * FRAME - self._pad, self._last_end_sample, self._first * FRAME)
        s1 = min(end * FRAME + (self._pad if pad_after else 0), self._n * FRAME)
        audio = np.concatenate(self._frames)[s0 - self._first * FRAME : s1 - self._first * FRAME]
        pause = (start * FRAME - self._prev_speech_end) / SAMPLE_RATE
        return SpeechSegment(
            audio=audio,
            start_s=start * FRAME / SAMPLE_RATE,
            end_s=end * FRAME / SAMPLE_RATE,
            pause_before_s=max(0.0, pause),
            span=(s0, s1),
            speech=(start, end),
        )

    def _close(self, end: int, out: list[SpeechSegment], *, pad_after: bool = True) -> None:
        start = self._start
        self._triggered = False
        self._temp_end = None
        if end - start < self._min_speech:
            return
        segment = self._segment(start, end, pad_after=pad_after)
        out.append(segment)
        self._last_end_sample = segment.span[1]
        self._prev_speech_end = end * FRAME

    def _trim(self) -> None:
        """Forget audio that can no longer be part of a segment (keeps memory flat)."""
        keep_from = max(self._n - (self._pad // FRAME + 2), self._first)
        drop = keep_from - self._first
        if drop > 64:
            del self._frames[:drop]
            del self._probs[:drop]
            self._first = keep_from
