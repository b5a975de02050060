"""The device against a real Wyoming server (wyoming-faster-whisper, as Home Assistant runs
it) on loopback, with the same whisper-base model: real speech in, typed text out; and the
faults a home server has (killed mid-dictation, too slow, not there), each of which must give
the local engine's text and lose nothing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from appliance.audio import SAMPLE_RATE, load_audio
from appliance.pipeline import run_blocks
from appliance.plausibility import Heard
from appliance.remote_engine import checked_remote_text
from appliance.remote_servers import RemoteFailed, RemoteText, WyomingServer
from appliance.samples import room_noise, with_pause
from tests.remote_servers import (
    dictate,
    remote_config,
    remote_engine,
    start_wyoming,
    typed,
)
from tests.test_pipeline_speech import wer

pytestmark = pytest.mark.model

# Three kinds of English speech (VCTK, LJSpeech, LibriVox), a few seconds each.
RECORDINGS = (
    "vctk_autovc/p226_003.wav",
    "ljspeech_coqui/LJ001-0004.wav",
    "librivox_pocketsphinx/sense_and_sensibility_01_austen_64kb-0870.wav",
)
# The server decodes greedily, the device with beam 5: the same model, so the texts may
# differ by a word here and there, not more.
WER_BUDGET = 0.10


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    proc = start_wyoming(model_dir, tmp_path_factory.mktemp("wyoming"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def recordings(speech_items):
    by_path = {str(i.path.relative_to(i.path.parents[1])): i for i in speech_items}
    return [by_path[p] for p in RECORDINGS]


def url(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def test_typed_text_through_the_server_equals_the_local_engines(
    server, pipeline, base_config, recordings
):
    engine, statuses = remote_engine(
        remote_config(base_config, "wyoming", url(server.port)), pipeline
    )
    remote, local, refs = [], [], []
    for item in recordings:
        audio = load_audio(item.path)
        result = dictate(engine, audio)
        assert result.timings["remote_segments"] >= 1, item.path
        assert result.timings["local_segments"] == 0, item.path  # the server typed it all
        # The audio went out while it was spoken, not after the release.
        assert result.timings["streamed_s"] > 0.5 * item.duration_s, result.timings
        remote.append(typed(result))
        local.append(typed(run_blocks(pipeline, [audio])))
        refs.append(item.reference)
    between = wer(local, remote)
    print(
        f"\nWER vs reference: server {wer(refs, remote):.2%}, local {wer(refs, local):.2%}; "
        f"server vs local {between:.2%}"
    )
    assert between <= WER_BUDGET
    assert wer(refs, remote) <= wer(refs, local) + WER_BUDGET
    assert [s.value for s in statuses] == ["wyoming"] * len(recordings)
    assert not any(s.extra["fallback"] for s in statuses)


def two_sentences(recordings) -> tuple[np.ndarray, np.ndarray, str]:
    first, second = (load_audio(recordings[i].path) for i in (0, 1))
    reference = recordings[0].reference + " " + recordings[1].reference
    return first, second, reference


def test_server_killed_mid_dictation_loses_nothing(
    model_dir, pipeline, base_config, recordings, tmp_path
):
    """The first sentence is transcribed by the server; it is killed while the second is
    being spoken (its audio streaming to it): the device transcribes the second itself."""
    own = start_wyoming(model_dir, tmp_path)
    try:
        engine, statuses = remote_engine(
            remote_config(base_config, "wyoming", url(own.port)), pipeline
        )
        first, second, reference = two_sentences(recordings)
        audio = with_pause(first, second, 2.5)
        half = len(audio) - len(second) // 2 - int(0.5 * SAMPLE_RATE)
        got_first = threading.Event()
        session = engine.start(on_piece=lambda piece: got_first.set())
        for start in range(0, half, 512):
            session.feed(audio[start : min(start + 512, half)])
        assert got_first.wait(30), "the server did not transcribe the first sentence"
        own.kill()
        for start in range(half, len(audio), 512):
            session.feed(audio[start : start + 512])
        session.release()
        result = session.finish()
    finally:
        own.stop()
    assert result.timings["remote_segments"] == 1
    assert result.timings["local_segments"] == 1
    local = typed(run_blocks(pipeline, [audio]))
    assert wer([local], [typed(result)]) <= WER_BUDGET
    assert wer([reference], [typed(result)]) <= wer([reference], [local]) + WER_BUDGET
    assert statuses[-1].value == "wyoming+local"
    assert statuses[-1].extra["fallback"] is True
    assert "server closed" in statuses[-1].message or "reach" in statuses[-1].message


def test_too_slow_server_gives_the_local_text_and_is_left_alone_a_while(
    server, pipeline, base_config, recordings
):
    """A deadline shorter than the server's decode: the device does not wait longer, types
    its own text, and skips the server for remote.retry_after_s."""
    cfg = remote_config(
        base_config, "wyoming", url(server.port), deadline_s=0.2, retry_after_s=600.0
    )
    engine, statuses = remote_engine(cfg, pipeline)
    audio = load_audio(recordings[0].path)
    result = dictate(engine, audio)
    assert result.timings["local_segments"] == 1 and result.timings["remote_segments"] == 0
    local = typed(run_blocks(pipeline, [audio]))
    assert typed(result) == local
    assert statuses[-1].value == "local"
    assert "did not answer in time" in statuses[-1].message
    # The next dictation does not ask the server at all (no wait on a server known slow).
    t0 = time.perf_counter()
    again = dictate(engine, audio)
    assert again.timings["remote_s"] == 0.0 and again.timings["local_segments"] == 1
    assert typed(again) == local
    print(f"\nsecond dictation, server skipped: {time.perf_counter() - t0:.2f} s")


def test_no_server_at_the_address_gives_the_local_text(pipeline, base_config, recordings):
    from tests.remote_servers import free_port

    engine, statuses = remote_engine(
        remote_config(base_config, "wyoming", url(free_port())), pipeline
    )
    audio = load_audio(recordings[1].path)
    result = dictate(engine, audio)
    assert typed(result) == typed(run_blocks(pipeline, [audio]))
    assert "connection refused" in statuses[-1].message
    with pytest.raises(RemoteFailed, match="connection refused"):
        engine.server.check()


def test_doctor_style_check_names_the_servers_model(server, base_config, model_dir):
    cfg = remote_config(base_config, "wyoming", url(server.port))
    wyoming = WyomingServer(cfg.remote)
    try:
        assert model_dir.name in wyoming.check()
    finally:
        wyoming.close()


def test_guards_drop_what_the_server_invents_on_noise(server, base_config):
    """Noise sent straight to the server (past the VAD, which would not send it): whatever
    it makes of it is not typed."""
    # Whisper can loop on noise until its token cap: give the server time to say it all.
    cfg = remote_config(base_config, "wyoming", url(server.port), deadline_s=60.0)
    wyoming = WyomingServer(cfg.remote)
    rng = np.random.default_rng(1)
    noises = [
        room_noise(8.0, level_db=-40.0, seed=1),
        rng.normal(0, 0.05, 8 * SAMPLE_RATE).astype(np.float32),
        np.zeros(5 * SAMPLE_RATE, np.float32),
    ]
    try:
        for noise in noises:
            upload = wyoming.begin("en")
            upload.add(noise)
            said = upload.result()
            checked = checked_remote_text(cfg.asr, said, Heard(speech_s=0.5, speech_end_s=0.5))
            print(f"\nserver on noise: {said.text!r} -> typed {checked.text!r}")
            assert checked.text == ""
    finally:
        wyoming.close()


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        (RemoteText("Thank you."), ""),  # a phantom phrase, no scores: dropped
        (RemoteText("Thank you.", no_speech_prob=0.01, avg_logprob=-0.1), "Thank you."),
        (RemoteText("♪ ♪"), ""),  # no words
        (RemoteText("It rains. " * 6), "It rains."),  # a loop collapses
        (RemoteText("Please send the report."), "Please send the report."),
    ],
)
def test_guards_on_remote_text(base_config, said, kept):
    checked = checked_remote_text(base_config.asr, said, Heard(speech_s=2.0, speech_end_s=2.0))
    assert checked.text == kept
    assert bool(checked.dropped) == (kept == "" and said.text != "")


def test_benchmark_reports_the_wait_through_the_server_beside_the_local_one(
    server, base_config, speech_items, capsys
):
    from appliance.bench import benchmark, print_table
    from appliance.cli import main

    manifest = speech_items[0].path.parents[1] / "manifest.tsv"
    cfg = remote_config(base_config, "wyoming", url(server.port))
    out = benchmark(cfg, manifest, limit=1, realtime=False, progress=False, measure_process=False)
    through = out["remote"]
    assert through["engine"] == "wyoming" and through["remote_segments"] >= 1
    assert through["local_segments"] == 0
    assert through["release_to_last_key_median_s"] > 0.0 and through["wer"] < 0.3
    print_table(out)
    assert "through the wyoming server" in capsys.readouterr().out
    assert main(["bench", "--manifest", str(manifest), "--engine", "openai"]) == 2


@pytest.mark.parametrize("server_there", [True, False])
def test_the_daemon_types_through_the_server_or_without_it(
    server, pipeline, base_config, server_there
):
    """The service's own loop (button, microphone stand-in, typist into a virtual host) with
    the remote engine: the recording is typed whether the server answers or not."""
    from jiwer import wer as raw_wer
    from whisper_normalizer.english import EnglishTextNormalizer

    from appliance.status import State
    from tests.remote_servers import free_port
    from tests.test_daemon import Rig, wait_for
    from tests.test_daemon_real import REFERENCE, SpeechMic

    port = server.port if server_there else free_port()
    engine, statuses = remote_engine(remote_config(base_config, "wyoming", url(port)), pipeline)
    rig = Rig(
        "push_to_talk",
        hold_s=5.0,
        open_timeout_s=5.0,
        load_engine=lambda progress: engine,
        mic=SpeechMic,
    )
    rig.start()
    try:
        rig.wait(State.READY, 30)
        rig.press()
        time.sleep(3.88 / 4 + 0.6)  # the recording plus a bit of silence
        rig.release()
        wait_for(lambda: State.TYPING in rig.entered(), 60, "typing")
        rig.wait(State.READY, 60)
        norm = EnglishTextNormalizer()
        assert raw_wer(norm(REFERENCE), norm(rig.host.text)) <= 0.25, rig.host.text
        assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down
    finally:
        rig.close()
    assert statuses[-1].value == ("wyoming" if server_there else "local")
    assert statuses[-1].extra["fallback"] is not server_there
