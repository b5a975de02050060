"""The wake word's cutoff, chosen on a development half and checked on a held-out half.

    .venv/bin/python benchmarks/wake_word.py [--models okay_nabu,alexa,...]

Positives: each model's phrase said by espeak-ng voices at two speeds (tests/wake_audio.py;
dev voices and held-out voices are different voices). Negatives, about 30 minutes per half:
the real speech of ../shared/speech (alternate recordings per half), everyday sentences and
near misses ("okay now", "okay boomer") in that half's voices, each after 2.5 s of room noise,
and generated noise.

For each model the averaged outputs of the detector are computed once per recording, and the
trigger rule (output above the cutoff, then deaf for the cooldown) is replayed for every
cutoff of a grid. The rule: the lowest cutoff, not below the model's own, with no false
trigger on the dev negatives. Then the product's own detector (appliance.wake_word) is run at
that cutoff on the held-out half: detections and false triggers per hour are what is
reported (docs/wake-word.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance.audio import SAMPLE_RATE, iter_blocks, load_audio  # noqa: E402
from appliance.config import BUILTIN_WAKE_WORDS, WakeWordConfig  # noqa: E402
from appliance.samples import speak  # noqa: E402
from appliance.wake_word import WakeWordDetector, model_files  # noqa: E402
from benchmarks.speech_sets import MANIFEST  # noqa: E402
from tests.conftest import read_manifest  # noqa: E402
from tests.wake_audio import (  # noqa: E402
    DEV_VOICES,
    HELD_VOICES,
    NEAR_MISS,
    ORDINARY,
    SPEEDS,
    noise_hour_part,
    padded,
    wake_word,
    with_pauses,
)

GRID = [round(0.5 + 0.01 * i, 2) for i in range(50)]
COOLDOWN_S = WakeWordConfig().cooldown_s
BLOCK = 512


def outputs(model: str, audio: np.ndarray) -> np.ndarray:
    """The detector's averaged output after each block (a cutoff of 1: it never fires)."""
    det = WakeWordDetector(WakeWordConfig(model=model, probability_cutoff=1.0))
    out = []
    for block in iter_blocks(audio, BLOCK):
        det.max_probability = 0.0
        det.feed(block)
        out.append(det.max_probability)
    det.close()
    return np.array(out)


def triggers(probs: np.ndarray, cutoff: float) -> int:
    """The trigger rule replayed: above the cutoff fires, then deaf for the cooldown."""
    deaf_blocks = int(COOLDOWN_S * SAMPLE_RATE / BLOCK)
    count, i = 0, 0
    while i < len(probs):
        if probs[i] > cutoff:
            count += 1
            i += deaf_blocks
        i += 1
    return count


def negatives(half: str) -> dict[str, np.ndarray]:
    items = read_manifest(MANIFEST)
    mine = items[0::2] if half == "dev" else items[1::2]
    real = with_pauses([load_audio(i.path) for i in mine])
    voices = DEV_VOICES if half == "dev" else HELD_VOICES
    said = {}
    for kind, sentences in (("ordinary", ORDINARY), ("near_miss", NEAR_MISS)):
        talk = [
            speak(s, voice=v, words_per_minute=w) for v in voices for w in SPEEDS for s in sentences
        ]
        said[kind] = with_pauses(talk)
    spoken = (len(real) + sum(len(a) for a in said.values())) / SAMPLE_RATE
    noise = noise_hour_part(max(60.0, 1800 - spoken), seed=1 if half == "dev" else 2)
    return {"real_speech": real, **said, "noise": noise}


def positives(model: str, half: str) -> list[np.ndarray]:
    voices = DEV_VOICES if half == "dev" else HELD_VOICES
    return [padded(wake_word(model, v, w)) for v in voices for w in SPEEDS]


def calibrate(model: str, neg: dict[str, dict[str, np.ndarray]]) -> dict[str, object]:
    own = model_files(model).probability_cutoff  # its .json's (not MEASURED_CUTOFFS)
    dev_pos = [float(outputs(model, a).max()) for a in positives(model, "dev")]
    dev_neg = {k: outputs(model, a) for k, a in neg["dev"].items()}
    table = []
    for c in GRID:
        table.append(
            {
                "cutoff": c,
                "dev_detected": sum(p > c for p in dev_pos) / len(dev_pos),
                "dev_false": {k: triggers(p, c) for k, p in dev_neg.items()},
            }
        )
    clean = [r for r in table if r["cutoff"] >= own and not sum(r["dev_false"].values())]
    chosen = float(clean[0]["cutoff"]) if clean else 0.999
    held = {}
    for c, name in ((own, "own"), (chosen, "chosen")):
        cfg = WakeWordConfig(model=model, probability_cutoff=c)
        detected = 0
        for audio in positives(model, "held"):
            det = WakeWordDetector(cfg)
            detected += any(det.feed(b) is not None for b in iter_blocks(audio, BLOCK))
        false = {}
        t0 = time.process_time()
        for kind, audio in neg["held"].items():
            det = WakeWordDetector(cfg)
            false[kind] = sum(det.feed(b) is not None for b in iter_blocks(audio, BLOCK))
        held_s = sum(len(a) for a in neg["held"].values()) / SAMPLE_RATE
        held[name] = {
            "cutoff": c,
            "detected": detected / len(positives(model, "held")),
            "false_triggers": false,
            "false_per_hour": sum(false.values()) / (held_s / 3600),
            "cpu_s_per_audio_s": (time.process_time() - t0) / held_s,
        }
    dev_s = sum(len(a) for a in neg["dev"].values()) / SAMPLE_RATE
    at = next(r for r in table if r["cutoff"] == chosen) if clean else None
    return {
        "model": model,
        "own_cutoff": own,
        "chosen_cutoff": chosen,
        "dev_detected_at_chosen": at["dev_detected"] if at else 0.0,
        "dev_negatives_min": dev_s / 60,
        "dev_false_at_own": next(r for r in table if r["cutoff"] >= own)["dev_false"],
        "held_negatives_min": sum(len(a) for a in neg["held"].values()) / SAMPLE_RATE / 60,
        "held": held,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(BUILTIN_WAKE_WORDS))
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    neg = {half: negatives(half) for half in ("dev", "held")}
    results = []
    for model in args.models.split(","):
        r = calibrate(model, neg)
        results.append(r)
        h_own, h_ch = r["held"]["own"], r["held"]["chosen"]
        print(
            f"{model:12s} own cutoff {r['own_cutoff']:.2f}: dev false {r['dev_false_at_own']}; "
            f"chosen {r['chosen_cutoff']:.2f} (dev detected {r['dev_detected_at_chosen']:.0%})"
        )
        for name, h in (("own", h_own), ("chosen", h_ch)):
            print(
                f"    held-out at {name} {h['cutoff']:.2f}: detected {h['detected']:.0%}, "
                f"false {h['false_triggers']} = {h['false_per_hour']:.1f}/h "
                f"({r['held_negatives_min']:.0f} min), {h['cpu_s_per_audio_s']:.4f} CPU s/s"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
