"""Transcribing a segment while it is spoken (local agreement, cut audio), on real speech
with the real whisper-base model; plus the agreement rules on their own."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from appliance.asr import WordTime, normalise_words
from appliance.audio import SAMPLE_RATE, iter_blocks, load_audio
from appliance.bench import wer
from appliance.pipeline import heard_in
from appliance.plausibility import Heard
from appliance.streaming import SegmentStream, agreed_length, spoken_words, transcribe_whole
from appliance.vad import VadSegmenter


def test_punctuation_belongs_to_the_word_before_it() -> None:
    words = [
        WordTime(" arch", [1], 0.0, 0.4),
        WordTime(",", [2], 0.4, 0.45),
        WordTime(" with", [3, 4], 0.5, 0.7),
    ]
    spoken = spoken_words(words)
    assert [u.key for u in spoken] == ["arch", "with"]
    assert [u.end_token for u in spoken] == [2, 4]
    assert spoken[0].end_s == 0.4  # the comma's time is not the word's


def test_agreement_is_the_common_start() -> None:
    assert agreed_length(["a", "b", "c"], ["a", "b", "d", "e"]) == 2
    assert agreed_length([], ["a"]) == 0
    assert agreed_length(["a", "b"], ["a", "b"]) == 2


def heard_all(audio: np.ndarray) -> Heard:
    """The whole audio taken as speech."""
    return Heard(speech_s=len(audio) / SAMPLE_RATE, speech_end_s=len(audio) / SAMPLE_RATE)


def _stream_through(pipeline, audio: np.ndarray, every_s: float = 0.5):
    """Feed audio as the session does: decode the open segment each every_s of audio."""
    vad = VadSegmenter(pipeline.cfg.vad, pipeline.vad_model)
    transcriber = pipeline.transcriber
    streams: dict[int, SegmentStream] = {}
    commits: list[tuple[float, str]] = []  # (seconds of audio heard, committed text)
    texts: list[str] = []
    fed = last = 0

    def stream(start: int) -> SegmentStream:
        return streams.setdefault(start, SegmentStream(transcriber, "en"))

    def close(segment) -> None:
        texts.append(stream(segment.span[0]).finish(segment.audio, heard_in(segment)).text)
        del streams[segment.span[0]]

    for block in iter_blocks(audio, 480):
        fed += len(block)
        for segment in vad.feed(block):
            close(segment)
        if fed - last >= every_s * SAMPLE_RATE and (seg := vad.open_segment()) is not None:
            last = fed
            s = stream(seg.span[0])
            if s.update(seg.audio):
                commits.append((fed / SAMPLE_RATE, s.committed_text))
    for segment in vad.flush():
        close(segment)
    return commits, texts


@pytest.mark.model
def test_words_are_committed_while_speaking_and_the_final_text_extends_them(
    fresh_pipeline, english_items
) -> None:
    item = max(
        (i for i in english_items if "ljspeech" in str(i.path)),
        key=lambda i: len(i.reference),
    )
    audio = load_audio(item.path)
    whole = transcribe_whole(fresh_pipeline.transcriber, audio, heard_all(audio)).text
    commits, texts = _stream_through(fresh_pipeline, audio)
    final = " ".join(texts)
    duration = len(audio) / SAMPLE_RATE
    print(f"\n{duration:.1f} s; commits: {commits}\nfinal: {final}\nwhole: {whole}")
    # Most of the sentence was committed before its end (it can be typed while speaking)...
    assert commits and commits[0][0] < duration - 2.0
    committed = commits[-1][1]
    assert len(normalise_words(committed)) > 0.5 * len(normalise_words(final))
    # ...committed words never change: each commit extends the one before, and the final
    # text starts with them...
    for (_, earlier), (_, later) in itertools.pairwise(commits):
        assert later.startswith(earlier)
    assert final.startswith(committed)
    # ...and it is as good as decoding the whole sentence at once.
    assert wer([item.reference], [final]) <= wer([item.reference], [whole]) + 0.05


@pytest.mark.model
def test_a_decode_that_heard_the_pause_is_the_final_one(fresh_pipeline, english_items):
    """Speech, then a pause heard before the release: nothing is left to decode at the end."""
    item = next(i for i in english_items if "ljspeech" in str(i.path))
    audio = np.concatenate([load_audio(item.path), np.zeros(SAMPLE_RATE // 4, np.float32)])
    vad = VadSegmenter(fresh_pipeline.cfg.vad, fresh_pipeline.vad_model)
    for block in iter_blocks(audio, 480):
        assert not vad.feed(block)  # a quarter second of quiet does not close the segment
    open_segment = vad.open_segment()
    assert open_segment is not None and vad.tentative() is not None
    stream = SegmentStream(fresh_pipeline.transcriber, "en")
    stream.update(open_segment.audio)
    (closed,) = vad.flush()
    final = stream.finish(closed.audio, heard_in(closed))
    assert stream.reused and stream.decodes == 1
    assert wer([item.reference], [final.text]) < 0.2


@pytest.mark.model
def test_at_the_release_only_the_end_is_decoded(fresh_pipeline, english_items) -> None:
    """The last decode covers the end of the segment, not all of it, and the text is whole."""
    item = max(
        (i for i in english_items if "ljspeech" in str(i.path)),
        key=lambda i: len(i.reference),
    )
    audio = load_audio(item.path)
    transcriber = fresh_pipeline.transcriber
    calls: list[tuple[float, int]] = []  # (seconds of audio, tokens forced)
    original = transcriber.decode_window

    def spy(window, *args, **kwargs):
        calls.append((len(window) / SAMPLE_RATE, len(kwargs.get("prefix") or [])))
        return original(window, *args, **kwargs)

    transcriber.decode_window = spy  # type: ignore[method-assign]
    try:
        commits, texts = _stream_through(fresh_pipeline, audio)
    finally:
        del transcriber.decode_window
    final_audio_s, forced = calls[-1]
    print(f"\nlast decode: {final_audio_s:.1f} s of {len(audio) / SAMPLE_RATE:.1f} s, {forced=}")
    assert commits and forced > 0
    assert final_audio_s < 0.6 * len(audio) / SAMPLE_RATE
    assert " ".join(texts).startswith(commits[-1][1])
    assert wer([item.reference], [" ".join(texts)]) < 0.15


EXIT_MID_DECODE = """
import sys
from appliance.audio import iter_blocks, load_audio, paced
from appliance.config import Config, with_overrides
from appliance.pipeline import Pipeline, run_blocks
cfg = with_overrides(Config(), asr={"model": sys.argv[1], "threads": 2})
pipeline = Pipeline.load(cfg)
blocks = paced(iter_blocks(load_audio(sys.argv[2])), 2.0)  # twice speaking speed: the open
result = run_blocks(pipeline, blocks)  # segment is being decoded when the process ends
print(" ".join(piece.text for piece in result.pieces))
"""


def test_the_process_can_end_while_a_decode_of_the_open_segment_runs(model_dir, english_items):
    """finish() does not wait for a decode of the open segment; exiting under it once made
    CTranslate2 abort the process (SIGABRT), which systemd would log as a crash."""
    import subprocess
    import sys

    item = next(i for i in english_items if i.path.name == "LJ001-0001.wav")
    for _ in range(4):
        proc = subprocess.run(
            [sys.executable, "-c", EXIT_MID_DECODE, str(model_dir), str(item.path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "terminate called" not in proc.stderr
        assert proc.stdout.strip()
