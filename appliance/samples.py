"""Speech samples made on the machine (espeak-ng), for the demo and the tests.

The demo sample has a long "thinking pause" filled with quiet room noise between two
sentences: exactly where Whisper alone tends to invent text, and where the device must
type nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from appliance.audio import SAMPLE_RATE, load_audio

DEMO_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "After a long pause, the keyboard types only what was said.",
)


def speak(text: str, *, voice: str = "en-us", words_per_minute: int = 150) -> np.ndarray:
    """Text to 16 kHz mono speech with espeak-ng (installed by scripts/setup.sh)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (run: make setup)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        return load_audio(wav)


def room_noise(seconds: float, *, level_db: float = -50.0, seed: int = 0) -> np.ndarray:
    """Quiet pink-ish noise like a room (fan hum, hiss), at an RMS level in dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    white = rng.normal(0.0, 1.0, n + 64)
    pinkish = np.convolve(white, np.ones(16) / 16, mode="same")[:n]
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(n) / SAMPLE_RATE)
    noise = pinkish + hum
    noise *= 10 ** (level_db / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-9)
    return noise.astype(np.float32)


def with_pause(first: np.ndarray, second: np.ndarray, pause_s: float) -> np.ndarray:
    """first + pause of room noise + second, with a little noise around, as one recording."""
    parts = [
        room_noise(0.5, seed=1),
        first,
        room_noise(pause_s, seed=2),
        second,
        room_noise(0.5, seed=3),
    ]
    noise_bed = room_noise(sum(len(p) for p in parts) / SAMPLE_RATE, level_db=-60.0, seed=4)
    audio = np.concatenate(parts)
    return (audio + noise_bed[: len(audio)]).astype(np.float32)


def demo_sample(path: Path, *, pause_s: float = 12.0) -> Path:
    """Write the demo recording (two sentences, a long pause between) to path."""
    import soundfile

    audio = with_pause(speak(DEMO_SENTENCES[0]), speak(DEMO_SENTENCES[1]), pause_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return path
