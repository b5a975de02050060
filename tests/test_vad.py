"""Streaming Silero VAD on real and generated speech (the real silero-vad model)."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.audio import SAMPLE_RATE, iter_blocks, load_audio
from appliance.config import VadConfig
from appliance.samples import room_noise, speak, with_pause
from appliance.vad import MAX_SEGMENT_S, VadSegmenter


def segments_of(audio: np.ndarray, block: int = 512, cfg: VadConfig | None = None) -> list:
    vad = VadSegmenter(cfg or VadConfig())
    out = []
    for b in iter_blocks(audio, block):
        out += vad.feed(b)
    return out + vad.flush()


@pytest.fixture(scope="module")
def two_sentences() -> np.ndarray:
    return with_pause(speak("Good morning everyone."), speak("Let us begin the meeting."), 4.0)


def test_segments_close_at_pauses_while_streaming(two_sentences: np.ndarray) -> None:
    vad = VadSegmenter(VadConfig())
    emitted_at: list[float] = []  # seconds of audio fed when each segment came out
    segments = []
    fed = 0
    for block in iter_blocks(two_sentences, 512):
        fed += len(block)
        for seg in vad.feed(block):
            segments.append(seg)
            emitted_at.append(fed / SAMPLE_RATE)
    segments += vad.flush()
    assert len(segments) == 2
    first, second = segments
    # The first sentence came out during the pause, long before the second one started.
    assert emitted_at[0] < second.start_s - 2.0
    assert 3.5 <= second.pause_before_s <= 4.6
    assert first.duration_s < 3.5 and second.duration_s < 3.5


def test_the_open_segment_is_the_start_of_the_segment_it_closes_into(
    two_sentences: np.ndarray,
) -> None:
    """Streaming transcription keys its work on the open segment's first sample."""
    vad = VadSegmenter(VadConfig())
    snapshots: list = []
    closed: list = []
    for block in iter_blocks(two_sentences, 512):
        closed += vad.feed(block)
        if (snap := vad.open_segment()) is not None:
            snapshots.append(snap)
    closed += vad.flush()
    assert len(closed) == 2 and snapshots
    assert {s.span[0] for s in snapshots} == {c.span[0] for c in closed}
    for snap in snapshots:
        segment = next(c for c in closed if c.span[0] == snap.span[0])
        # The same samples (a snapshot taken in the pause may run past the padded end).
        n = min(len(snap.audio), len(segment.audio))
        assert n > 0 and np.array_equal(snap.audio[:n], segment.audio[:n])
        assert snap.speech[0] == segment.speech[0] and snap.speech[1] <= segment.speech[1]
    assert vad.open_segment() is None  # after the flush, nothing is open


def test_block_size_does_not_change_segments(two_sentences: np.ndarray) -> None:
    a = segments_of(two_sentences, 512)
    b = segments_of(two_sentences, 1234)
    assert [(s.start_s, s.end_s) for s in a] == [(s.start_s, s.end_s) for s in b]
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b, strict=True))


def test_short_pause_keeps_one_segment() -> None:
    audio = with_pause(speak("One two three."), speak("Four five six."), 0.3)
    assert len(segments_of(audio)) == 1


def test_min_silence_is_configurable() -> None:
    audio = with_pause(speak("One two three."), speak("Four five six."), 1.2)
    assert len(segments_of(audio, cfg=VadConfig(min_silence_ms=700))) == 2
    assert len(segments_of(audio, cfg=VadConfig(min_silence_ms=2000))) == 1


@pytest.mark.parametrize("seconds", [5.0, 25.0])
def test_no_speech_no_segments(seconds: float) -> None:
    assert segments_of(room_noise(seconds, level_db=-35.0)) == []
    assert segments_of(np.zeros(int(seconds * SAMPLE_RATE), np.float32)) == []


def test_padding_keeps_word_edges(two_sentences: np.ndarray) -> None:
    cfg = VadConfig(speech_pad_ms=300)
    seg = segments_of(two_sentences, cfg=cfg)[0]
    assert seg.duration_s >= (seg.end_s - seg.start_s) + 0.55


def test_long_monologue_is_split_inside_whisper_window(speech_items) -> None:
    """Speech without a long pause is cut before 30 s, at a quiet moment."""
    clips = [load_audio(i.path) for i in speech_items if i.language == "en"][:12]
    audio = np.concatenate(clips)  # the short gaps in the corpus are under min_silence
    segs = segments_of(audio, cfg=VadConfig(min_silence_ms=3000))
    assert segs
    assert max(s.duration_s for s in segs) <= MAX_SEGMENT_S + 1.0


def test_onnx_runner_matches_the_silero_package_own_model(two_sentences: np.ndarray) -> None:
    """Our torch-free runner of the package's ONNX file against silero-vad's own loader."""
    import torch
    from silero_vad import load_silero_vad

    from appliance.vad import FRAME, SileroVad

    reference = load_silero_vad(onnx=True)
    ours = SileroVad()
    frames = [two_sentences[i : i + FRAME] for i in range(0, len(two_sentences) - FRAME, FRAME)]
    theirs = [float(reference(torch.from_numpy(f.copy()), SAMPLE_RATE)) for f in frames]
    mine = [ours(f) for f in frames]
    assert max(abs(a - b) for a, b in zip(mine, theirs, strict=True)) < 1e-4
    assert max(mine) > 0.9 and min(mine) < 0.1  # it does see speech and silence


def test_the_device_never_imports_torch() -> None:
    """torch costs ~200 MB of RAM; the VAD and the pipeline must work without it."""
    import subprocess
    import sys

    code = (
        "import sys; import numpy as np\n"
        "from appliance.vad import VadSegmenter\n"
        "from appliance.config import VadConfig\n"
        "v = VadSegmenter(VadConfig()); v.feed(np.zeros(16000, np.float32)); v.flush()\n"
        "import appliance.pipeline, appliance.daemon, appliance.cli\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
