"""Speech-to-text servers the device can send its speech to: Wyoming and OpenAI-compatible.

Each speaks the server's own protocol through the library its field uses (``wyoming`` for
Home Assistant's voice stack, ``httpx`` for the OpenAI endpoint), so any server that speaks
it will do. A segment goes out as an :class:`Upload`: audio is added while the user speaks
it (Wyoming streams the chunks at once; the OpenAI endpoint takes one file, sent when the
segment closes), then :meth:`Upload.result` gives the text or raises :class:`RemoteFailed`.
Nothing here listens on a port: the device only connects out.
"""

from __future__ import annotations

import asyncio
import io
import logging
import ssl
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from appliance.config import RemoteConfig
from appliance.vad import SAMPLE_RATE

log = logging.getLogger(__name__)

CHUNK_SAMPLES = SAMPLE_RATE // 10  # Wyoming audio chunks of 100 ms


class RemoteFailed(Exception):
    """The server did not give a segment's text: away, refused, or too slow. The message
    says which, in plain words (the journal and the OLED show it)."""


@dataclass(frozen=True)
class RemoteText:
    """A server's text for one segment, with the decoder's scores when the server gives
    them (the OpenAI verbose answer does; Wyoming's transcript is text only)."""

    text: str
    no_speech_prob: float | None = None
    avg_logprob: float | None = None


class Upload(Protocol):
    """One segment on its way to the server."""

    def add(self, audio: np.ndarray) -> None:
        """More of the segment (16 kHz float32); never blocks on the network."""

    def result(self) -> RemoteText:
        """All audio is in: the server's text. Raises :class:`RemoteFailed`."""

    def abandon(self) -> None:
        """The text is not wanted (cancelled, or the audio is sent again)."""


class Server(Protocol):
    name: str  # the engine's name in the config, the journal and on the OLED

    def begin(self, language: str) -> Upload: ...
    def check(self) -> str:
        """What the server says about itself (doctor). Raises :class:`RemoteFailed`."""

    def close(self) -> None: ...


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def open_server(remote: RemoteConfig, engine: str) -> Server:
    if engine == "wyoming":
        return WyomingServer(remote)
    if engine == "openai":
        return OpenAIServer(remote)
    raise ValueError(f"no server for asr.engine {engine!r}")


# --------------------------------------------------------------------------- Wyoming


class _LoopThread:
    """An asyncio loop on its own thread: Wyoming's client is asyncio, the session's callers
    are plain threads that must not wait on the network."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wyoming", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class WyomingServer:
    """A Wyoming speech-to-text server (``tcp://host:port``): one connection per segment;
    the audio streams while the user speaks, so at the segment's end only the server's
    decode is left."""

    name = "wyoming"

    def __init__(self, cfg: RemoteConfig) -> None:
        self.cfg = cfg
        parts = urlsplit(cfg.url)
        self.host = parts.hostname or ""
        self.port = parts.port or 10300
        self._loop = _LoopThread()

    def begin(self, language: str) -> Upload:
        return WyomingUpload(self, language)

    def check(self) -> str:
        from wyoming.info import Describe, Info

        async def describe() -> str:
            async with self._client() as client:
                await client.write_event(Describe().event())
                while True:
                    event = await client.read_event()
                    if event is None:
                        raise RemoteFailed("the server closed the connection")
                    if Info.is_type(event.type):
                        info = Info.from_event(event)
                        models = [m.name for p in info.asr for m in p.models]
                        if not models:
                            raise RemoteFailed("it offers no speech-to-text model")
                        return "models: " + ", ".join(models)

        try:
            return str(self._loop.submit(describe()).result(self._limit()))
        except RemoteFailed:
            raise
        except Exception as exc:
            raise RemoteFailed(explain(exc, self.cfg)) from exc

    def close(self) -> None:
        self._loop.close()

    def _client(self) -> Any:
        from wyoming.client import AsyncTcpClient

        return AsyncTcpClient(
            self.host,
            self.port,
            connect_timeout=self.cfg.connect_timeout_s,
            read_timeout=self.cfg.deadline_s,
        )

    def _limit(self) -> float:
        return self.cfg.connect_timeout_s + self.cfg.deadline_s + 1.0


class WyomingUpload:
    """One segment as one Wyoming exchange: Transcribe, AudioStart, AudioChunk…, AudioStop,
    then the Transcript."""

    def __init__(self, server: WyomingServer, language: str) -> None:
        self._server = server
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._done = False
        self._sent_all_at = 0.0
        self._future = server._loop.submit(self._exchange(language))

    def add(self, audio: np.ndarray) -> None:
        if len(audio):
            self._server._loop.loop.call_soon_threadsafe(self._queue.put_nowait, pcm16(audio))

    def result(self) -> RemoteText:
        if not self._done:
            self._done = True
            self._server._loop.loop.call_soon_threadsafe(self._queue.put_nowait, None)
        cfg = self._server.cfg
        try:
            return self._future.result(cfg.connect_timeout_s + cfg.deadline_s + 1.0)
        except RemoteFailed:
            raise
        except Exception as exc:
            raise RemoteFailed(explain(exc, cfg)) from exc
        finally:
            self._future.cancel()

    def abandon(self) -> None:
        self._done = True
        self._future.cancel()

    async def _exchange(self, language: str) -> RemoteText:
        from wyoming.asr import Transcribe, Transcript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        cfg = self._server.cfg
        fmt = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}
        async with self._server._client() as client:
            code = None if language == "auto" else language  # auto: the server detects it
            await client.write_event(Transcribe(name=cfg.model or None, language=code).event())
            await client.write_event(AudioStart(**fmt).event())
            pending = b""
            while (data := await self._queue.get()) is not None:
                pending += data
                while len(pending) >= CHUNK_SAMPLES * 2:
                    chunk, pending = pending[: CHUNK_SAMPLES * 2], pending[CHUNK_SAMPLES * 2 :]
                    await client.write_event(AudioChunk(audio=chunk, **fmt).event())
            if pending:
                await client.write_event(AudioChunk(audio=pending, **fmt).event())
            await client.write_event(AudioStop().event())
            deadline = time.monotonic() + cfg.deadline_s
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                event = await asyncio.wait_for(client.read_event(), left)
                if event is None:
                    raise RemoteFailed("the server closed the connection before the text")
                if Transcript.is_type(event.type):
                    return RemoteText(Transcript.from_event(event).text.strip())


# --------------------------------------------------------------------------- OpenAI


class OpenAIServer:
    """An OpenAI-compatible ``/audio/transcriptions`` endpoint (speaches, faster-whisper-
    server, vLLM, whisper.cpp's server, LocalAI, OpenAI itself): one WAV file per segment,
    posted as soon as the segment closes."""

    name = "openai"

    def __init__(self, cfg: RemoteConfig) -> None:
        import httpx

        self.cfg = cfg
        self.base = cfg.url.rstrip("/")
        headers = {}
        if cfg.api_key_file:
            headers["Authorization"] = f"Bearer {read_api_key(cfg.api_key_file)}"
        verify: ssl.SSLContext | bool = cfg.verify_tls
        if cfg.verify_tls and cfg.ca_file:
            verify = ssl.create_default_context(cafile=cfg.ca_file)
        self._http = httpx.Client(
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(cfg.deadline_s, connect=cfg.connect_timeout_s),
            follow_redirects=False,
        )

    def begin(self, language: str) -> Upload:
        return OpenAIUpload(self, language)

    def check(self) -> str:
        """An empty second of audio goes through the whole path (address, TLS, key, model):
        a server's model list is optional in this API, the transcription endpoint is not."""
        upload = self.begin("en")
        upload.add(np.zeros(SAMPLE_RATE, np.float32))
        upload.result()
        return f"transcribes at {self.base}/audio/transcriptions"

    def transcribe(self, audio: np.ndarray, language: str) -> RemoteText:
        import httpx
        import soundfile as sf

        wav = io.BytesIO()
        sf.write(wav, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
        data = {"response_format": "verbose_json", "temperature": "0"}
        if self.cfg.model:
            data["model"] = self.cfg.model
        if language != "auto":
            data["language"] = language
        try:
            answer = self._http.post(
                f"{self.base}/audio/transcriptions",
                files={"file": ("segment.wav", wav.getvalue(), "audio/wav")},
                data=data,
            )
        except httpx.HTTPError as exc:
            raise RemoteFailed(explain(exc, self.cfg)) from exc
        if answer.status_code in (401, 403):
            raise RemoteFailed(
                f"the server refused the API key (HTTP {answer.status_code}); check "
                "remote.api_key_file"
            )
        if answer.status_code != 200:
            said = answer.text[:120]
            raise RemoteFailed(f"the server answered HTTP {answer.status_code}: {said}")
        try:
            body = answer.json()
            text = str(body["text"]).strip()
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteFailed(f"the server's answer is not a transcription: {exc}") from exc
        segments = body.get("segments") or []
        scores = [s for s in segments if isinstance(s, dict) and "no_speech_prob" in s]
        if not scores:
            return RemoteText(text)
        return RemoteText(
            text,
            no_speech_prob=min(float(s["no_speech_prob"]) for s in scores),
            avg_logprob=sum(float(s.get("avg_logprob", 0.0)) for s in scores) / len(scores),
        )

    def close(self) -> None:
        self._http.close()


class OpenAIUpload:
    def __init__(self, server: OpenAIServer, language: str) -> None:
        self._server = server
        self._language = language
        self._audio: list[np.ndarray] = []

    def add(self, audio: np.ndarray) -> None:
        self._audio.append(audio)

    def result(self) -> RemoteText:
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)
        return self._server.transcribe(audio, self._language)

    def abandon(self) -> None:
        self._audio = []


# --------------------------------------------------------------------------- helpers


def read_api_key(path: str) -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RemoteFailed(f"cannot read remote.api_key_file {path}: {exc.strerror}") from exc
    if not key:
        raise RemoteFailed(f"remote.api_key_file {path} is empty")
    return key


def explain(exc: BaseException, cfg: RemoteConfig) -> str:
    """Why the server did not answer, in plain words."""
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"the server's TLS certificate is not trusted ({cfg.url}); give its CA in "
            "remote.ca_file"
        )
    if isinstance(exc, TimeoutError) or type(exc).__name__.endswith("Timeout"):
        return f"the server did not answer in time ({cfg.url})"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return f"nothing answers at {cfg.url} (connection refused)"
    if isinstance(exc, ConnectionError | OSError) or type(exc).__name__ == "ConnectError":
        return f"cannot reach {cfg.url}: {text or type(exc).__name__}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
