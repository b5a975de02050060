"""Is the benchmark's baseline handicapped by how the model is loaded?

`stt-keyboard bench` runs the baseline (faster-whisper's ``transcribe()`` with its defaults)
on the pipeline's own model object, which splits ``asr.threads`` into two decoders
(``asr.parallel_decodes: 2``, one thread each with 2 threads): one ``transcribe()`` call then
uses one thread. This times the baseline both ways on the same recordings, in one process:
the model as the benchmark loads it, and one decoder with all the threads. Usage:

    .venv/bin/python benchmarks/baseline_threads.py [--model base] [--threads 2] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from faster_whisper import WhisperModel
from speech_sets import MANIFEST

from appliance.audio import load_audio
from appliance.bench import read_manifest
from appliance.models import model_cache_dir, resolve_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    model_dir = str(resolve_model(args.model, model_cache_dir()))
    workers = 2
    models = {
        f"{workers} decoders x {args.threads // workers} thread (as in the benchmark)": (
            WhisperModel(
                model_dir,
                device="cpu",
                compute_type="int8",
                cpu_threads=max(1, args.threads // workers),
                num_workers=workers,
            )
        ),
        f"1 decoder x {args.threads} threads": WhisperModel(
            model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads
        ),
    }
    items = read_manifest(Path(MANIFEST), "en")[: args.limit]
    warm = load_audio(items[0]["path"])
    for model in models.values():
        list(model.transcribe(warm, language="en")[0])
    times: dict[str, list[float]] = {name: [] for name in models}
    for item in items:
        audio = load_audio(item["path"])
        for name, model in models.items():
            t0 = time.perf_counter()
            segments, _ = model.transcribe(audio, language="en")
            " ".join(s.text for s in segments)
            times[name].append(time.perf_counter() - t0)
    print(f"{len(items)} recordings, transcribe() with its defaults, model {args.model}")
    for name, values in times.items():
        print(
            f"{name:45} median {statistics.median(values):.3f} s, "
            f"mean {statistics.mean(values):.3f} s"
        )


if __name__ == "__main__":
    main()
