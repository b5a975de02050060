"""Audio input: resampling and down-mixing, pre-roll, tail, bounded recordings, and a
microphone that is missing or pulled out (PortAudio replaced by a fake behind its API)."""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from appliance.audio import (
    SAMPLE_RATE,
    FileSource,
    Microphone,
    Recording,
    Resampler,
    find_input_device,
    iter_blocks,
    level_of,
    load_audio,
    paced,
)
from appliance.config import AudioConfig
from appliance.errors import AudioFileError, MicrophoneError


def dominant_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(audio))


def test_file_any_rate_and_channels_to_16k_mono(tmp_path: Path) -> None:
    import soundfile

    t = np.arange(44100 * 2) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, left], axis=1).astype(np.float32)
    path = tmp_path / "tone.flac"
    soundfile.write(str(path), stereo, 44100)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(2 * SAMPLE_RATE, abs=2)
    assert dominant_hz(audio) == pytest.approx(440, abs=2)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioFileError, match="cannot read audio file"):
        load_audio(bad)


def test_file_source_realtime_paces_blocks(tmp_path: Path) -> None:
    import soundfile

    path = tmp_path / "half.wav"
    soundfile.write(str(path), np.zeros(SAMPLE_RATE // 2, np.float32), SAMPLE_RATE)
    t0 = time.monotonic()
    blocks = list(FileSource(path, realtime=True).blocks())
    assert time.monotonic() - t0 >= 0.45
    assert sum(len(b) for b in blocks) == SAMPLE_RATE // 2


def test_paced_plays_blocks_at_a_speed_up_or_at_once() -> None:
    half_second = list(iter_blocks(np.zeros(SAMPLE_RATE // 2, np.float32), 512))
    t0 = time.perf_counter()
    assert sum(len(b) for b in paced(half_second, 2.0)) == SAMPLE_RATE // 2
    assert 0.24 <= time.perf_counter() - t0 < 0.45
    t0 = time.perf_counter()
    assert len(list(paced(half_second, 0.0))) == len(half_second)
    assert time.perf_counter() - t0 < 0.05


def test_streaming_resampler_matches_frequency_and_length() -> None:
    rate, channels = 48000, 2
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    interleaved = np.repeat(tone, channels)
    resample = Resampler(rate, channels)
    out = [resample(interleaved[i : i + 2048].tobytes()) for i in range(0, len(interleaved), 2048)]
    audio = np.concatenate([*out, resample(b"", last=True)])
    assert len(audio) == pytest.approx(SAMPLE_RATE, abs=40)
    assert dominant_hz(audio) == pytest.approx(1000, abs=3)


def test_recording_is_bounded() -> None:
    rec = Recording(np.zeros(100, np.float32), max_samples=1000)
    for _ in range(20):
        rec._push(np.ones(100, np.float32))
    assert rec.samples == 1000 and rec.truncated and rec.closed
    assert sum(len(b) for b in rec.blocks(timeout_s=0.1)) == 1000


def test_level_meter_grows_with_input() -> None:
    quiet = level_of(np.full(512, 0.001, np.float32))
    loud = level_of(np.full(512, 0.3, np.float32))
    assert 0.0 <= quiet < loud <= 1.0
    assert level_of(np.zeros(512, np.float32)) == 0.0


# ---------------------------------------------------------------- fake PortAudio


class FakeStream:
    def __init__(self, rate: int, channels: int, fail_after: int | None):
        self.rate, self.channels, self.fail_after = rate, channels, fail_after
        self.reads = 0
        self.t = 0

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        time.sleep(frames / self.rate)
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError(-9999, "Unanticipated host error")
        n = np.arange(self.t, self.t + frames)
        self.t += frames
        tone = (0.3 * np.sin(2 * np.pi * 300 * n / self.rate) * 32767).astype(np.int16)
        return np.repeat(tone, self.channels).tobytes()

    def stop_stream(self) -> None: ...

    def close(self) -> None: ...


def fake_pyaudio(devices: list[dict], fail_after: int | None = None) -> types.ModuleType:
    mod = types.ModuleType("pyaudio")
    mod.paInt16 = 8  # type: ignore[attr-defined]

    class PyAudio:
        def get_device_count(self) -> int:
            return len(devices)

        def get_device_info_by_index(self, i: int) -> dict:
            return devices[i]

        def get_default_input_device_info(self) -> dict:
            if not devices:
                raise OSError("no default input")
            return next(d for d in devices if d["maxInputChannels"] > 0)

        def open(self, *, rate: int, channels: int, **_kw: object) -> FakeStream:
            return FakeStream(rate, channels, fail_after)

        def terminate(self) -> None: ...

    mod.PyAudio = PyAudio  # type: ignore[attr-defined]
    return mod


USB_MIC = {
    "index": 1,
    "name": "USB PnP Sound Device: Audio (hw:2,0)",
    "maxInputChannels": 2,
    "defaultSampleRate": 48000.0,
}
HDMI = {"index": 0, "name": "vc4-hdmi-0", "maxInputChannels": 0, "defaultSampleRate": 48000.0}


def test_device_chosen_by_name_substring_or_index() -> None:
    pa = fake_pyaudio([HDMI, USB_MIC]).PyAudio()  # type: ignore[attr-defined]
    assert find_input_device(pa, "usb pnp")["index"] == 1
    assert find_input_device(pa, 1)["index"] == 1
    assert find_input_device(pa, None)["index"] == 1
    with pytest.raises(MicrophoneError, match=r"No microphone: none matching 'ReSpeaker'.*USB PnP"):
        find_input_device(pa, "ReSpeaker")
    with pytest.raises(MicrophoneError, match="No microphone: none with index 0"):
        find_input_device(pa, 0)


def test_no_input_device_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", fake_pyaudio([HDMI]))
    with pytest.raises(MicrophoneError, match="lists no audio input device"):
        Microphone(AudioConfig()).start()


def test_preroll_recording_and_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", fake_pyaudio([USB_MIC]))
    mic = Microphone(AudioConfig(preroll_s=0.5, tail_s=0.3, block_ms=20))
    mic.start()
    try:
        time.sleep(0.8)  # the microphone runs before the button is pressed
        rec = mic.begin()
        assert rec.samples >= int(0.45 * SAMPLE_RATE)  # the pre-roll is in the recording
        time.sleep(0.5)
        t_release = time.monotonic()
        mic.end()
        audio = np.concatenate(list(rec.blocks(timeout_s=2)))
        assert time.monotonic() - t_release >= 0.28  # the tail was recorded
        assert 1.2 * SAMPLE_RATE <= len(audio) <= 1.8 * SAMPLE_RATE
        assert dominant_hz(audio[:SAMPLE_RATE]) == pytest.approx(300, abs=3)
    finally:
        mic.close()


def test_unplugged_microphone_ends_the_recording_with_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", fake_pyaudio([USB_MIC], fail_after=10))
    mic = Microphone(AudioConfig(block_ms=20))
    mic.start()
    try:
        rec = mic.begin()
        got: list[Exception] = []

        def consume() -> None:
            try:
                for _ in rec.blocks(timeout_s=2):
                    pass
            except MicrophoneError as exc:
                got.append(exc)

        worker = threading.Thread(target=consume)
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive(), "a pulled microphone must never hang the recording"
        assert got and "capture failed" in str(got[0])
        assert not mic.alive
    finally:
        mic.close()


def test_vanished_alsa_card_is_detected_before_portaudio_opens_it(tmp_path: Path) -> None:
    from appliance.audio import alsa_capture_present

    (tmp_path / "card1" / "pcm0c").mkdir(parents=True)
    assert alsa_capture_present("USB PnP Sound Device: Audio (hw:1,0)", str(tmp_path))
    assert not alsa_capture_present("Loopback: PCM (hw:2,1)", str(tmp_path))
    assert alsa_capture_present("pulse", str(tmp_path))  # not an ALSA hw device
