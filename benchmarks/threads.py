"""Encoder and decoder time per CPU-thread count, for choosing how to spend the threads.

Loads the model once per thread count, encodes one recording with the sized window and with
a 5 s window, and decodes it greedily; prints medians of 4 runs. Usage:

    .venv/bin/python benchmarks/threads.py [--model base] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens
from speech_sets import SPEECH_DIR

from appliance.audio import load_audio
from appliance.models import model_cache_dir, resolve_model

RECORDING = SPEECH_DIR / "vctk_autovc" / "p225_008.wav"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--audio", default=str(RECORDING))
    args = parser.parse_args()
    model_dir = str(resolve_model(args.model, model_cache_dir()))
    audio = load_audio(args.audio)
    for threads in args.threads:
        model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        features = model.feature_extractor(audio)[:, :-1]
        sized = features.shape[-1] + 300
        for frames in (sized, 500):
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                encoded = model.encode(pad_or_trim(features, frames))
                t1 = time.perf_counter()
                result = model.model.generate(
                    encoded,
                    [prompt],
                    beam_size=1,
                    max_length=200,
                    suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
                )[0]
                runs.append((t1 - t0, time.perf_counter() - t1))
            runs = runs[1:]  # the first warms up
            tokens = len(result.sequences_ids[0])
            encode_s = statistics.median(r[0] for r in runs)
            decode_s = statistics.median(r[1] for r in runs)
            print(
                f"{threads} thread(s), encoder input {frames / 100:.1f} s: encoder "
                f"{encode_s * 1000:.0f} ms, decoder {decode_s * 1000:.0f} ms for {tokens} "
                f"tokens ({decode_s / tokens * 1000:.1f} ms per token)",
                flush=True,
            )


if __name__ == "__main__":
    main()
