"""Measure what streaming transcription costs in accuracy, and how long the last decode takes.

Every English recording of the manifest goes through the VAD block by block; every
``--step`` seconds of audio the open segment is decoded (``SegmentStream.update``), and each
closed segment is finished (``SegmentStream.finish``). This is the session's schedule without
its threads and real time, so runs are repeatable. Prints the WER of the final text and the
median time of the decode at the end of each segment. Usage:

    .venv/bin/python benchmarks/streaming_policy.py [--hold-back 1.0] [--overlap-words 8]
        [--no-streaming] [--no-end-decode] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import appliance.streaming as streaming
from appliance.audio import iter_blocks, load_audio
from appliance.bench import DEFAULT_MANIFEST, read_manifest, wer
from appliance.config import Config, with_overrides
from appliance.pipeline import Pipeline
from appliance.streaming import SegmentStream
from appliance.vad import FRAME, SpeechSegment, VadSegmenter


def transcribe(
    pipeline: Pipeline, audio: np.ndarray, step: int, hold_back_s: float
) -> tuple[str, list[float]]:
    """The recording's text, and how long each segment's last decode took."""
    vad = VadSegmenter(pipeline.cfg.vad, pipeline.vad_model)
    streams: dict[int, SegmentStream] = {}
    texts: list[str] = []
    times: list[float] = []

    def stream(start: int) -> SegmentStream:
        if start not in streams:
            streams[start] = SegmentStream(pipeline.transcriber, "en", hold_back_s=hold_back_s)
        return streams[start]

    def close(segment: SpeechSegment) -> None:
        t0 = time.perf_counter()
        speech_end = segment.speech[1] * FRAME - segment.span[0]
        texts.append(stream(segment.span[0]).finish(segment.audio, speech_end).text)
        times.append(time.perf_counter() - t0)
        del streams[segment.span[0]]

    fed = last = 0
    for block in iter_blocks(audio, 480):
        fed += len(block)
        for segment in vad.feed(block):
            close(segment)
        if fed - last >= step and (open_segment := vad.open_segment()) is not None:
            last = fed
            stream(open_segment.span[0]).update(open_segment.audio)
    for segment in vad.flush():
        close(segment)
    return " ".join(texts), times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--step", type=float, default=0.5, help="seconds between decodes")
    parser.add_argument("--hold-back", type=float, default=1.0)
    parser.add_argument("--overlap-words", type=int, default=streaming.OVERLAP_WORDS)
    parser.add_argument("--overlap-margin", type=float, default=streaming.OVERLAP_MARGIN_S)
    parser.add_argument("--min-commit-audio", type=float, default=streaming.MIN_COMMIT_AUDIO_S)
    parser.add_argument("--no-streaming", action="store_true", help="decode segments whole")
    parser.add_argument("--no-end-decode", action="store_true", help="always decode it all")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    streaming.OVERLAP_WORDS = args.overlap_words
    streaming.OVERLAP_MARGIN_S = args.overlap_margin
    streaming.MIN_COMMIT_AUDIO_S = args.min_commit_audio
    if args.no_end_decode:
        SegmentStream._decode_rest = lambda *a, **k: None  # type: ignore[method-assign]
    cfg = with_overrides(Config(), asr={"model": args.model, "threads": args.threads})
    pipeline = Pipeline.load(cfg)
    items = read_manifest(Path(args.manifest), "en")[: args.limit]
    step = int(args.step * 16000) if not args.no_streaming else 10**12
    refs, hyps, last_decode_s = [], [], []
    for item in items:
        text, times = transcribe(pipeline, load_audio(item["path"]), step, args.hold_back)
        last_decode_s += times
        refs.append(item["reference"])
        hyps.append(text)
        print(f"{item['path'].name:40} {hyps[-1]}", flush=True)
    print(
        f"\n{len(items)} recordings, streaming {not args.no_streaming}, hold back "
        f"{args.hold_back} s, commits from {args.min_commit_audio} s of audio, end decoded "
        f"alone {not args.no_end_decode} (overlap "
        f"{args.overlap_words} words, {args.overlap_margin} s): WER {wer(refs, hyps):.2%}, "
        f"decode at the end of a segment: median {statistics.median(last_decode_s):.3f} s"
    )


if __name__ == "__main__":
    main()
