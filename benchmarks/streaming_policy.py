"""What the streaming rules cost in accuracy, without threads or real time (repeatable).

Every English recording (a half of the set, or all; clean or in noise, see speech_sets.py)
goes through the VAD block by block. Every ``--step`` seconds of audio, and when the
speaker pauses, the open segment is decoded (``SegmentStream.update``), and each closed
segment is finished (``SegmentStream.finish``): the session's schedule with a CPU that
always keeps up. Prints, per condition, the WER of the final text against faster-whisper's
``transcribe()`` defaults on the same audio, the recordings with more than 2 word errors
beyond the baseline's, and how often a segment was decoded again by the checks. Usage:

    .venv/bin/python benchmarks/streaming_policy.py --split dev --conditions clean,white10
        [--set asr.beam_size=1 --set vad.min_silence_ms=700] [--no-streaming] [--show]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from speech_sets import Item, english_items, in_condition, word_errors

import appliance.streaming as streaming
from appliance.audio import iter_blocks, load_audio
from appliance.bench import wer
from appliance.config import Config, with_overrides
from appliance.pipeline import Pipeline, heard_in
from appliance.streaming import FinalText, SegmentStream
from appliance.vad import SpeechSegment, VadSegmenter

HOLD_BACK = [1.5]
CACHE = Path.home() / ".cache" / "stt-keyboard" / "bench"


def transcribe(
    pipeline: Pipeline, audio: np.ndarray, step: int
) -> tuple[str, list[FinalText], list[float]]:
    """The recording's text, each segment's result, and how long each last decode took."""
    vad = VadSegmenter(pipeline.cfg.vad, pipeline.vad_model)
    streams: dict[int, SegmentStream] = {}
    results: list[FinalText] = []
    times: list[float] = []

    def stream(start: int) -> SegmentStream:
        if start not in streams:
            streams[start] = SegmentStream(pipeline.transcriber, "en", hold_back_s=HOLD_BACK[0])
        return streams[start]

    def close(segment: SpeechSegment) -> None:
        t0 = time.perf_counter()
        results.append(stream(segment.span[0]).finish(segment.audio, heard_in(segment)))
        times.append(time.perf_counter() - t0)
        del streams[segment.span[0]]

    last = 0
    for block in iter_blocks(audio, 512):
        closed = vad.feed(block)
        for segment in closed:
            close(segment)
        open_segment = vad.open_segment()
        if closed or open_segment is None:
            continue
        grown = open_segment.span[1] - last >= step
        paused = vad.tentative() is not None and last < open_segment.span[1] - 512
        if grown or paused:
            last = open_segment.span[1]
            stream(open_segment.span[0]).update(open_segment.audio)
    open_segment = vad.open_segment()
    if open_segment is not None and step < 10**12:  # the release: its end decoded at once
        stream(open_segment.span[0]).prepare_end(open_segment.audio)
    for segment in vad.flush():
        close(segment)
    return " ".join(r.text for r in results if r.text), results, times


def baseline_texts(
    model_dir: Path, items: list[Item], conditions: list[str], audio_of: Callable
) -> dict[str, str]:
    """faster-whisper's transcribe() defaults on each (item, condition), cached on disk."""
    CACHE.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256((model_dir / "model.bin").read_bytes()[: 1 << 20]).hexdigest()[:12]
    path = CACHE / f"baseline-{digest}.json"
    cache: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    model = None
    for item in items:
        for condition in conditions:
            key = f"{item.name}|{condition}"
            if key in cache:
                continue
            if model is None:
                from faster_whisper import WhisperModel

                model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                     cpu_threads=1, local_files_only=True)  # fmt: skip
            segments, _ = model.transcribe(audio_of(item, condition), language="en")
            cache[key] = " ".join(s.text.strip() for s in segments)
            path.write_text(json.dumps(cache, indent=0))
    return cache


def parse_sets(values: list[str]) -> dict[str, dict[str, object]]:
    sections: dict[str, dict[str, object]] = {}
    for value in values:
        key, raw = value.split("=", 1)
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = (
            json.loads(raw) if raw[:1] in "0123456789-[{tf" else raw
        )
    return sections


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--split", default="dev", choices=["dev", "held", "all"])
    parser.add_argument("--conditions", default="clean")
    parser.add_argument("--step", type=float, default=0.5, help="seconds between decodes")
    parser.add_argument("--set", action="append", default=[], help="section.key=value")
    parser.add_argument("--no-streaming", action="store_true", help="decode segments whole")
    parser.add_argument("--agree", type=int, default=streaming.AGREEING_DECODES)
    parser.add_argument("--overlap-words", type=int, default=streaming.OVERLAP_WORDS)
    parser.add_argument("--hold-back", type=float, default=1.5)
    parser.add_argument("--min-commit-audio", type=float, default=streaming.MIN_COMMIT_AUDIO_S)
    parser.add_argument(
        "--update-beam", type=int, help="beam size of the growing segment's decodes"
    )
    parser.add_argument("--limit", type=int)
    parser.add_argument("--show", action="store_true", help="print every recording")
    args = parser.parse_args()
    streaming.AGREEING_DECODES = args.agree
    streaming.OVERLAP_WORDS = args.overlap_words
    streaming.UPDATE_BEAM_SIZE = args.update_beam
    HOLD_BACK[0] = args.hold_back
    streaming.MIN_COMMIT_AUDIO_S = args.min_commit_audio
    overrides = parse_sets(args.set)
    overrides.setdefault("asr", {}).update(
        {"model": args.model, "threads": args.threads, "parallel_decodes": 1}
    )
    cfg = with_overrides(Config(), **overrides)  # type: ignore[arg-type]
    pipeline = Pipeline.load(cfg)
    items = english_items(split=args.split)[: args.limit]
    conditions = args.conditions.split(",")
    audio_cache: dict[str, np.ndarray] = {}

    def audio_of(item: Item, condition: str) -> np.ndarray:
        if item.name not in audio_cache:
            audio_cache[item.name] = load_audio(item.path)
        seed = int(hashlib.sha256(f"{item.name}|{condition}".encode()).hexdigest()[:8], 16)
        return in_condition(audio_cache[item.name], condition, seed)

    base = baseline_texts(pipeline.model_dir, items, conditions, audio_of)
    step = int(args.step * 16000) if not args.no_streaming else 10**12
    for condition in conditions:
        refs, hyps, base_hyps, last_decode_s = [], [], [], []
        worse, redone, segments = [], 0, 0
        for item in items:
            text, results, times = transcribe(pipeline, audio_of(item, condition), step)
            last_decode_s += times
            redone += sum(bool(r.redone) for r in results)
            segments += len(results)
            theirs = base[f"{item.name}|{condition}"]
            refs.append(item.reference)
            hyps.append(text)
            base_hyps.append(theirs)
            extra = word_errors(item.reference, text) - word_errors(item.reference, theirs)
            if extra > 2:
                worse.append(f"  +{extra} {item.name}: {text!r} (baseline {theirs!r})")
            if args.show:
                print(f"{condition:9} {item.name:45} {extra:+d} {text}", flush=True)
        print(
            f"{args.split} {condition}: WER {wer(refs, hyps):.2%} "
            f"(baseline {wer(refs, base_hyps):.2%}),"
            f" {len(worse)} of {len(items)} with >2 errors beyond the baseline's, "
            f"{redone} of {segments} segments decoded again; last decode median "
            f"{statistics.median(last_decode_s):.3f} s",
            flush=True,
        )
        print("\n".join(worse), flush=True)
    print(
        f"settings: {overrides}, step {args.step} s, streaming {not args.no_streaming}, "
        f"agree {args.agree}, overlap {args.overlap_words} words, hold back {args.hold_back} s, "
        f"commit from {args.min_commit_audio} s"
    )


if __name__ == "__main__":
    main()
