"""Audio input: resampling and down-mixing, pre-roll, tail, bounded recordings, and a
microphone that is missing or pulled out (PortAudio replaced by a fake behind its API)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.audio import (
    SAMPLE_RATE,
    FileSource,
    Microphone,
    Recording,
    Resampler,
    iter_blocks,
    level_of,
    load_audio,
    paced,
)
from appliance.capture_process import alsa_capture_present, find_input_device
from appliance.config import AudioConfig
from appliance.errors import AudioFileError, MicrophoneError
from tests.fake_portaudio import HDMI, USB_MIC, capture_command, fake_pyaudio


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


# ---------------------------------------------------------------- the microphone
# The capture process runs on a fake PortAudio (tests/fake_portaudio.py).


def test_device_chosen_by_name_substring_or_index() -> None:
    pa = fake_pyaudio([HDMI, USB_MIC]).PyAudio()  # type: ignore[attr-defined]
    assert find_input_device(pa, "usb pnp")["index"] == 1
    assert find_input_device(pa, 1)["index"] == 1
    assert find_input_device(pa, None)["index"] == 1
    with pytest.raises(MicrophoneError, match=r"No microphone: none matching 'ReSpeaker'.*USB PnP"):
        find_input_device(pa, "ReSpeaker")
    with pytest.raises(MicrophoneError, match="No microphone: none with index 0"):
        find_input_device(pa, 0)


def test_no_input_device_at_all() -> None:
    mic = Microphone(AudioConfig(), command=capture_command([HDMI]))
    mic.start()  # returns at once: opening never blocks the daemon's loop
    try:
        with pytest.raises(MicrophoneError, match="lists no audio input device"):
            mic.wait_open()
        assert not mic.alive and not mic.opening
        assert isinstance(mic.error, MicrophoneError)
    finally:
        mic.close()


def test_preroll_recording_and_tail() -> None:
    mic = Microphone(
        AudioConfig(preroll_s=0.5, tail_s=0.3, block_ms=20), command=capture_command([USB_MIC])
    )
    mic.start()
    try:
        assert mic.opening and not mic.alive
        mic.wait_open()
        assert mic.alive and not mic.opening
        assert mic.device_name == USB_MIC["name"]
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


def _consume(rec: Recording) -> tuple[int, list[Exception]]:
    """Samples received and the error the recording ended with; never hangs."""
    got: list[Exception] = []
    samples = [0]

    def consume() -> None:
        try:
            for block in rec.blocks(timeout_s=2):
                samples[0] += len(block)
        except MicrophoneError as exc:
            got.append(exc)

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "a pulled microphone must never hang the recording"
    return samples[0], got


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ({"fail_after": 10}, r"capture failed \(.*Unanticipated host error"),
        ({"crash_after": 10}, r"capture failed \(the capture process ended: signal 6\)"),
    ],
    ids=["read error", "PortAudio crash"],
)
def test_unplugged_microphone_ends_the_recording_with_an_error(
    failure: dict[str, int], message: str
) -> None:
    """A read error or the crash PortAudio has on a vanished card: the recording ends with
    the error, what was heard before stays in it, and the daemon's process goes on."""
    mic = Microphone(AudioConfig(block_ms=20), command=capture_command([USB_MIC], **failure))
    mic.start()
    try:
        mic.wait_open()
        rec = mic.begin()
        samples, got = _consume(rec)
        assert got and re.search(message, str(got[0])), got
        assert samples >= 0.1 * SAMPLE_RATE  # the blocks before the failure were delivered
        assert not mic.alive
    finally:
        mic.close()
    again = Microphone(AudioConfig(block_ms=20), command=capture_command([USB_MIC]))
    again.start()  # a new capture process opens the device again
    try:
        again.wait_open()
        assert again.begin().samples >= 0 and again.alive
    finally:
        again.close()


def test_a_stalled_capture_is_not_alive_and_close_does_not_hang() -> None:
    mic = Microphone(
        AudioConfig(block_ms=20, open_timeout_s=0.5),
        command=capture_command([USB_MIC], hang_after=5),
    )
    mic.start()
    mic.wait_open()
    child = mic._child
    assert child is not None
    deadline = time.monotonic() + 5
    while mic.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mic.alive, "no block for open_timeout_s: the microphone is not alive"
    t0 = time.monotonic()
    mic.close()
    assert time.monotonic() - t0 < 4.0
    assert child.poll() is not None, "the hung capture process was killed"


def test_the_capture_process_ends_when_the_daemon_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the daemon closes the pipe: the capture process does not keep the card."""
    script = tmp_path / "daemon.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from fake_portaudio import USB_MIC, capture_command\n"
        "from appliance.audio import Microphone\n"
        "from appliance.config import AudioConfig\n"
        "mic = Microphone(AudioConfig(), command=capture_command([USB_MIC]))\n"
        "mic.start()\n"
        "mic.wait_open()\n"
        "print(mic._child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    daemon = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert daemon.stdout is not None
        child_pid = int(daemon.stdout.readline())
        daemon.kill()
        daemon.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _running(child_pid):
            time.sleep(0.05)
        assert not _running(child_pid), "the capture process outlived the daemon"
    finally:
        daemon.kill()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie is reaped by init, not by us)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_vanished_alsa_card_is_detected_before_portaudio_opens_it(tmp_path: Path) -> None:
    (tmp_path / "card1" / "pcm0c").mkdir(parents=True)
    assert alsa_capture_present("USB PnP Sound Device: Audio (hw:1,0)", str(tmp_path))
    assert not alsa_capture_present("Loopback: PCM (hw:2,1)", str(tmp_path))
    assert alsa_capture_present("pulse", str(tmp_path))  # not an ALSA hw device
