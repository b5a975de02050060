"""Check the rule `stt-keyboard bench --cpu-budget NAME` calibrates with: time = CPU / fraction.

The benchmark resolves a named budget by measuring its baseline's CPU time per phrase at full
speed and limiting the CPU to ``cpu / target`` of a core. This script checks that rule: the
baseline (faster-whisper ``transcribe()`` defaults, the same model and threads) is timed on
the English 1-10 s phrases of the manifest at full speed (CPU time) and, each fraction in a
process of its own, inside a cgroup limited to a fraction of one core; it prints the median
time per phrase measured and predicted, and the fraction a fit of ``t = a / fraction + b``
gives for each named budget. Needs root (cgroup v1 cpu controller). Usage:

    .venv/bin/python benchmarks/calibrate_cpu_budget.py [--fractions 0.1,0.15,0.25] [--every 4]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from speech_sets import MANIFEST

from appliance.bench import read_manifest
from appliance.cpu_budget import BUDGETS, limited_cpu


def phrases(manifest: Path, every: int) -> list[Path]:
    import soundfile as sf

    paths = [i["path"] for i in read_manifest(manifest, "en")]
    return [p for p in paths if 1.0 <= sf.info(str(p)).duration <= 10.0][::every]


def child(fraction: float, model: str, threads: int, paths: list[str]) -> None:
    """Runs in its own process: load, warm, then time transcribe() under the budget."""
    from faster_whisper import WhisperModel

    from appliance.audio import load_audio

    wm = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=threads,
                      local_files_only=True)  # fmt: skip
    list(wm.transcribe(np.zeros(16000, np.float32), language="en")[0])
    audios = [load_audio(p) for p in paths]
    full_speed = fraction >= 1.0  # then the CPU time per phrase, else the wall time
    clock = time.process_time if full_speed else time.perf_counter
    times = []
    with contextlib.nullcontext() if full_speed else limited_cpu(fraction):
        for audio in audios:
            t0 = clock()
            list(wm.transcribe(audio, language="en")[0])
            times.append(clock() - t0)
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", default=str(MANIFEST))
    parser.add_argument("--model", default=None, help="model directory (default: cached base)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fractions", default="0.1,0.15,0.25")
    parser.add_argument("--every", type=int, default=4, help="every Nth phrase")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from appliance.models import fetch_model, model_cache_dir

        args.model = str(fetch_model("base", model_cache_dir(), quiet=True))
    if args.child:
        child(float(args.child), args.model, args.threads, sys.argv[sys.argv.index("--") + 1 :])
        return
    paths = [str(p) for p in phrases(Path(args.manifest), args.every)]
    fractions = [float(f) for f in args.fractions.split(",")]
    medians = []
    cpu_s = None
    for fraction in [1.0, *fractions]:
        out = subprocess.run(
            [sys.executable, __file__, "--model", args.model, "--threads", str(args.threads),
             "--child", str(fraction), "--", *paths],
            check=True, stdout=subprocess.PIPE, text=True,
        ).stdout  # fmt: skip
        times = json.loads(out.strip().splitlines()[-1])
        if cpu_s is None:
            cpu_s = statistics.median(times)
            print(f"full speed: baseline CPU time median {cpu_s:.2f} s per phrase", flush=True)
            continue
        medians.append(statistics.median(times))
        spread = f"{len(times)} phrases, {min(times):.2f}-{max(times):.2f} s"
        predicted = cpu_s / fraction
        print(
            f"fraction {fraction:5.3f}: baseline median {medians[-1]:6.2f} s per phrase, "
            f"CPU / fraction predicts {predicted:6.2f} s ({spread})",
            flush=True,
        )
    a, b = np.polyfit(1 / np.array(fractions), np.array(medians), 1)
    print(f"fit: t = {a:.3f} / fraction + {b:.3f}")
    for name, budget in BUDGETS.items():
        fraction = a / (budget.target_s - b)
        print(f"{name}: baseline {budget.target_s} s -> fit fraction {fraction:.3f}, "
              f"CPU / target {cpu_s / budget.target_s:.3f} ({budget.basis})")  # fmt: skip


if __name__ == "__main__":
    main()
