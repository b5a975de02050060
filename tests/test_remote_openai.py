"""The device against a real OpenAI-compatible server (faster-whisper-server, whisper-base)
on loopback over TLS with an API key: the typed text equals the local engine's within the
WER budget; a wrong key and a certificate the device does not trust each give a clear
message and the local text."""

from __future__ import annotations

import pytest

from appliance.audio import load_audio
from appliance.pipeline import run_blocks
from appliance.remote_servers import OpenAIServer, RemoteFailed
from tests.remote_servers import (
    dictate,
    make_certificates,
    remote_config,
    remote_engine,
    start_openai,
    typed,
)
from tests.test_pipeline_speech import wer
from tests.test_remote_wyoming import RECORDINGS, WER_BUDGET

pytestmark = pytest.mark.model

KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    where = tmp_path_factory.mktemp("tls")
    certs = make_certificates(where)
    key_file = where / "api-key"
    key_file.write_text(KEY + "\n")
    return certs, key_file


@pytest.fixture(scope="module")
def server(model_dir, tls, tmp_path_factory):
    certs, key_file = tls
    proc = start_openai(
        model_dir,
        tmp_path_factory.mktemp("openai"),
        cert=certs.cert,
        key=certs.key,
        api_key_file=key_file,
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def recordings(speech_items):
    by_path = {str(i.path.relative_to(i.path.parents[1])): i for i in speech_items}
    return [by_path[p] for p in RECORDINGS]


def url(port: int) -> str:
    return f"https://127.0.0.1:{port}/v1"


def test_typed_text_through_the_server_equals_the_local_engines(
    server, tls, pipeline, base_config, recordings
):
    certs, key_file = tls
    cfg = remote_config(
        base_config,
        "openai",
        url(server.port),
        ca_file=str(certs.ca),
        api_key_file=str(key_file),
        deadline_s=30.0,
    )
    engine, statuses = remote_engine(cfg, pipeline)
    remote, local, refs = [], [], []
    for item in recordings:
        audio = load_audio(item.path)
        result = dictate(engine, audio)
        assert result.timings["remote_segments"] >= 1, item.path
        assert result.timings["local_segments"] == 0, (item.path, statuses[-1].message)
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
    assert [s.value for s in statuses] == ["openai"] * len(recordings)


def test_wrong_api_key_gives_a_clear_error_and_the_local_text(
    server, tls, pipeline, base_config, recordings, tmp_path
):
    certs, _key_file = tls
    wrong = tmp_path / "wrong-key"
    wrong.write_text("sk-not-the-key\n")
    cfg = remote_config(
        base_config, "openai", url(server.port), ca_file=str(certs.ca), api_key_file=str(wrong)
    )
    engine, statuses = remote_engine(cfg, pipeline)
    audio = load_audio(recordings[2].path)
    result = dictate(engine, audio)
    assert typed(result) == typed(run_blocks(pipeline, [audio]))
    assert result.timings["local_segments"] >= 1
    assert statuses[-1].extra["fallback"] is True
    assert "refused the API key (HTTP 401)" in statuses[-1].message
    with pytest.raises(RemoteFailed, match="API key"):
        OpenAIServer(cfg.remote).check()


def test_untrusted_certificate_gives_a_clear_error_and_the_local_text(
    server, tls, pipeline, base_config, recordings
):
    """The server's certificate is signed by a CA the device was not given: it never talks
    to it (the audio is not sent), and says how to trust it."""
    _certs, key_file = tls
    cfg = remote_config(base_config, "openai", url(server.port), api_key_file=str(key_file))
    engine, statuses = remote_engine(cfg, pipeline)
    audio = load_audio(recordings[0].path)
    result = dictate(engine, audio)
    assert typed(result) == typed(run_blocks(pipeline, [audio]))
    assert result.timings["remote_segments"] == 0
    assert "certificate is not trusted" in statuses[-1].message
    assert "remote.ca_file" in statuses[-1].message


def test_check_passes_with_the_right_ca_and_key(server, tls, base_config):
    certs, key_file = tls
    cfg = remote_config(
        base_config,
        "openai",
        url(server.port),
        ca_file=str(certs.ca),
        api_key_file=str(key_file),
        deadline_s=30.0,
    )
    assert "/audio/transcriptions" in OpenAIServer(cfg.remote).check()
