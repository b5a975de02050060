"""Find the encoder-input sizing rule by measuring WER and time on real speech.

For every English recording in the manifest: the pipeline's VAD segments, each decoded with
the full 30 s window (faster-whisper's behaviour) and with windows sized to the audio plus
several margins. Prints WER and encoder+decoder time per rule. Usage:

    .venv/bin/python benchmarks/encoder_window.py [--manifest ../shared/speech/manifest.tsv]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import jiwer
from speech_sets import MANIFEST
from whisper_normalizer.english import EnglishTextNormalizer

from appliance.asr import FULL_WINDOW, HOP, Transcriber
from appliance.audio import iter_blocks, load_audio
from appliance.config import AsrConfig, VadConfig
from appliance.models import model_cache_dir, resolve_model
from appliance.vad import VadSegmenter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", default=str(MANIFEST))
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    manifest = Path(args.manifest)
    rows = [r for r in csv.DictReader(manifest.open(), delimiter="\t") if r["language"] == "en"]
    transcriber = Transcriber(
        AsrConfig(threads=args.threads), resolve_model(args.model, model_cache_dir())
    )
    items = []
    for row in rows:
        vad = VadSegmenter(VadConfig())
        segs = []
        for block in iter_blocks(load_audio(manifest.parent / row["path"]), 512):
            segs += vad.feed(block)
        segs += vad.flush()
        items.append((row["reference_text"], [s.audio for s in segs]))
    print(f"{len(items)} recordings, {sum(len(s) for _, s in items)} VAD segments")

    rules = {"full 30 s": lambda n: FULL_WINDOW}
    for margin in (0.5, 1.0, 2.0, 3.0, 5.0):
        rules[f"fit +{margin:g} s"] = lambda n, m=margin: min(FULL_WINDOW, n + int(m * 100))
    for floor in (5.0, 10.0, 15.0):
        rules[f"fit +3 s, min {floor:g} s"] = lambda n, f=floor: min(
            FULL_WINDOW, max(int(f * 100), n + 300)
        )
    norm = EnglishTextNormalizer()
    refs = [norm(ref) for ref, _ in items]
    print(f"{'rule':24} {'WER':>7} {'seconds':>8} {'speed-up':>8}")
    base_time = None
    for name, rule in rules.items():
        hyps = []
        t0 = time.perf_counter()
        for _, segments in items:
            texts = []
            for audio in segments:
                frames = rule(len(audio) // HOP)
                text = transcriber.decode_window(audio, "en", frames=frames).text
                texts.append(text)
            hyps.append(norm(" ".join(texts)))
        seconds = time.perf_counter() - t0
        base_time = base_time or seconds
        print(f"{name:24} {jiwer.wer(refs, hyps):7.2%} {seconds:8.1f} {base_time / seconds:7.2f}x")


if __name__ == "__main__":
    main()
