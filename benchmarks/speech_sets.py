"""The development and held-out halves of ../shared/speech, and the same speech in noise.

Every rule of the fast path is chosen on the ``dev`` half and checked on the ``held`` half
(docs/performance.md). The split is fixed: within each source folder, items sorted by the
sha256 of their path alternate between the halves, so both have every kind of speech.

Noise conditions (``white10``, ``pink5``, ``babble10`` …: kind and SNR in dB) add noise at
that SNR to the speech and band-limit it to 8 kHz like a telephone recording (the kind of
held-out recordings that exposed the earlier rules). Babble is six voices speaking other
languages or reversed English, so it adds no English words to the reference.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.audio import SAMPLE_RATE

# The speech set lives beside the project, not in it: $STT_KEYBOARD_SPEECH (as for the tests)
# or ../shared/speech.
SPEECH_DIR = Path(
    os.environ.get("STT_KEYBOARD_SPEECH", Path(__file__).resolve().parents[2] / "shared" / "speech")
)
MANIFEST = SPEECH_DIR / "manifest.tsv"


@dataclass(frozen=True)
class Item:
    path: Path
    name: str
    reference: str
    split: str  # dev | held
    folder: str


def english_items(manifest: Path = MANIFEST, split: str = "all") -> list[Item]:
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["language"] == "en"]
    by_folder: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_folder.setdefault(row["path"].split("/")[0], []).append(row)
    items = []
    for folder, folder_rows in sorted(by_folder.items()):
        folder_rows.sort(key=lambda r: hashlib.sha256(r["path"].encode()).hexdigest())
        for i, row in enumerate(folder_rows):
            half = "dev" if i % 2 == 0 else "held"
            if split in ("all", half):
                items.append(
                    Item(
                        manifest.parent / row["path"],
                        row["path"],
                        row["reference_text"],
                        half,
                        folder,
                    )
                )
    return items


def _coloured(kind: str, n: int, seed: int) -> np.ndarray:
    white = np.random.default_rng(seed).normal(0, 1, n).astype(np.float32)
    if kind == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.arange(len(spectrum)) + 1.0
    spectrum /= np.sqrt(f) if kind == "pink" else f  # pink or brown
    return np.fft.irfft(spectrum, n).astype(np.float32)


_babble: np.ndarray | None = None


def _babble_noise(n: int, seed: int, manifest: Path) -> np.ndarray:
    global _babble
    from appliance.audio import load_audio

    if _babble is None:
        with manifest.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        voices = [load_audio(manifest.parent / r["path"]) for r in rows if r["language"] != "en"]
        voices += [load_audio(manifest.parent / r["path"])[::-1] for r in rows
                   if r["path"].startswith("misc_en/")]  # fmt: skip
        length = max(len(v) for v in voices) * 2
        mix = np.zeros(length, np.float32)
        for i, voice in enumerate(voices):
            voice = voice / (np.sqrt(np.mean(voice**2)) + 1e-9)
            offset = (i * 7919) % (length - len(voice))
            mix[offset:] += np.tile(voice, 1 + length // len(voice))[: length - offset]
        _babble = mix
    start = int(np.random.default_rng(seed).integers(0, len(_babble) - 1))
    return np.tile(_babble, 2 + n // len(_babble))[start : start + n].astype(np.float32)


def in_condition(
    audio: np.ndarray, condition: str, seed: int, manifest: Path = MANIFEST
) -> np.ndarray:
    """``clean``, or noise of a kind (white, pink, brown, babble) at an SNR, 8 kHz band."""
    if condition == "clean":
        return audio
    import soxr

    kind = condition.rstrip("0123456789")
    snr_db = float(condition[len(kind) :] or 10)
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    energy = np.mean(frames**2, axis=1)
    speech_power = float(np.mean(energy[energy >= np.percentile(energy, 50)]))
    if kind == "babble":
        noise = _babble_noise(len(audio), seed, manifest)
    else:
        noise = _coloured(kind, len(audio), seed)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / (np.mean(noise**2) + 1e-12))
    mixed = soxr.resample(soxr.resample(audio + noise, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)
    mixed = mixed[: len(audio)]
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.99 if peak > 0.99 else mixed).astype(np.float32)


def word_errors(reference: str, hypothesis: str) -> int:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    ref, hyp = norm(reference), norm(hypothesis)
    if not ref.split():
        return len(hyp.split())
    out = jiwer.process_words(ref, hyp or "<nothing>")
    return int(out.substitutions + out.deletions + out.insertions)
