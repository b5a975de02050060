"""Test support: real speech-to-text servers on loopback, and TLS certificates for them.

Both servers run the whisper-base directory the tests already use, offline (never a hub):
``wyoming-faster-whisper`` (Home Assistant's Wyoming server) and ``faster-whisper-server``
(an OpenAI-compatible ``/v1/audio/transcriptions``), the latter through
``tests/openai_server_main.py`` so it can serve TLS and require an API key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.cli import type_into_virtual_host
from appliance.config import Config, with_overrides
from appliance.engine import DictationResult, Engine
from appliance.pipeline import Pipeline
from appliance.remote_engine import LocalFallback, RemoteEngine
from appliance.remote_servers import open_server
from appliance.status import Status, StatusBus, Topic
from tests.shaping import shaped_items, shaped_text

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """As a crash or a pulled cable would: no goodbye on open connections."""
        self.stop(signal.SIGKILL)


def _start(cmd: list[str], port: int, log: Path, ready: str) -> ServerProcess:
    out = log.open("wb")
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=offline_env())
    server = ServerProcess(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{cmd[2]} exited: {log.read_text(errors='replace')[-2000:]}")
        if ready in log.read_text(errors="replace"):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{cmd[2]} did not start: {log.read_text(errors='replace')[-2000:]}")


def start_wyoming(model_dir: Path, work: Path) -> ServerProcess:
    """wyoming-faster-whisper on the local model directory: greedy, int8, 2 threads."""
    port = free_port()
    (work / "data").mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "wyoming_faster_whisper",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--model",
        str(model_dir),
        "--data-dir",
        str(work / "data"),
        "--local-files-only",
        "--language",
        "en",
        "--beam-size",
        "1",
        "--compute-type",
        "int8",
        "--cpu-threads",
        "2",
    ]
    return _start(cmd, port, work / f"wyoming-{port}.log", "Ready")


def start_openai(
    model_dir: Path, work: Path, *, cert: Path, key: Path, api_key_file: Path
) -> ServerProcess:
    """faster-whisper-server over https, requiring the key in ``api_key_file``."""
    port = free_port()
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "openai_server_main.py"),
        str(model_dir),
        "--port",
        str(port),
        "--ssl-certfile",
        str(cert),
        "--ssl-keyfile",
        str(key),
        "--api-key-file",
        str(api_key_file),
    ]
    return _start(cmd, port, work / f"openai-{port}.log", "Uvicorn running")


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA the device is told to trust (remote.ca_file)
    cert: Path  # the server's certificate for 127.0.0.1, signed by the CA
    key: Path


def make_certificates(where: Path) -> Certificates:
    """A home CA and a server certificate for 127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "STT Keyboard test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    where.mkdir(parents=True, exist_ok=True)
    paths = Certificates(where / "ca.pem", where / "server.pem", where / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# --------------------------------------------------------------------------- dictating


@dataclass
class Dictated:
    result: DictationResult
    typed: str  # what the virtual host shows
    statuses: list[Status]


def remote_engine(cfg: Config, pipeline: Pipeline) -> tuple[RemoteEngine, list[Status]]:
    """The remote engine of ``cfg``, the session's warm pipeline as its fallback; and the
    ENGINE statuses it publishes."""
    bus = StatusBus()
    seen: list[Status] = []
    bus.subscribe(seen.append)
    engine = RemoteEngine(
        cfg,
        open_server(cfg.remote, cfg.asr.engine),
        LocalFallback(lambda: pipeline, warm=True),
        status=bus.publisher(Topic.ENGINE, "remote engine"),
    )
    return engine, seen


def dictate(engine: Engine, audio: np.ndarray, *, block: int = 512) -> DictationResult:
    session = engine.start()
    for start in range(0, len(audio), block):
        session.feed(audio[start : start + block])
    session.release()
    return session.finish()


def typed(result: DictationResult) -> str:
    text = type_into_virtual_host(shaped_items(result), "us")[0]
    assert text == shaped_text(result)  # the HID round trip is lossless
    return text


def remote_config(base: Config, engine: str, url: str, **remote: object) -> Config:
    return with_overrides(
        base, asr={"engine": engine}, remote={"url": url, "fallback": "warm", **remote}
    )
