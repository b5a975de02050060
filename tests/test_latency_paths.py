"""Speed must not change what is typed: the pipelined path (VAD segments transcribed while
recording, words committed and typed while speaking, sized encoder input) against the
baseline path (record everything, then faster-whisper's transcribe() with its defaults), on
real speech with several pauses."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.audio import SAMPLE_RATE, load_audio
from appliance.bench import run_baseline, run_pipeline, wer
from appliance.samples import room_noise

pytestmark = pytest.mark.model


def test_pipelined_and_baseline_paths_type_the_same_text(fresh_pipeline, english_items):
    chosen = [i for i in english_items if "ljspeech" in str(i.path)][:4]
    assert len(chosen) == 4
    parts = []
    for n, item in enumerate(chosen):
        parts.append(load_audio(item.path))
        parts.append(room_noise(1.5 + n, level_db=-55.0, seed=n))  # pauses of 1.5 to 4.5 s
    audio = np.concatenate(parts)
    reference = " ".join(i.reference for i in chosen)
    cfg = fresh_pipeline.cfg

    # Fed at twice speaking speed, so the streaming decodes run while "speaking" and
    # committed words are typed before the release, as on the device.
    ours = run_pipeline(
        fresh_pipeline, audio, cfg, realtime=2.0, interval_s=0.0, type_while_speaking=True
    )
    theirs = run_baseline(fresh_pipeline.transcriber.model, audio, "en", cfg, interval_s=0.0)

    assert len(audio) / SAMPLE_RATE > 30  # longer than one Whisper window
    ours_wer, theirs_wer = wer([reference], [ours.typed]), wer([reference], [theirs.typed])
    print(f"\npipelined WER {ours_wer:.2%}, baseline WER {theirs_wer:.2%}")
    assert ours_wer <= theirs_wer + 0.003
    # And against each other: at most a word or two apart in about 90 words.
    assert wer([theirs.typed], [ours.typed]) <= 0.03
    assert ours.stages["decodes"] > len(chosen)  # the open segments were decoded while spoken
