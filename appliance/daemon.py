"""The appliance: a state machine between the button, the microphone, the model and the typist.

    starting (model loading, progress) → ready → recording → transcribing → typing → ready
    any state → error (no microphone / no USB gadget / host not connected / model), which
    clears by itself when the part comes back.

Everything it drives is injected: an engine loader (the warm pipeline), an audio source
factory, a typist factory and a host probe. The real ones are wired in :func:`run`; the tests
use small fakes and gpiozero's mock pins. All state changes happen on one thread (``run``);
the button, the microphone and the workers only post events to it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from appliance.config import Config
from appliance.hid.keys import SpecialKey, TypedItem
from appliance.notify import Notifier
from appliance.status import State, StatusBus, Topic
from appliance.ui.button import ButtonEvent

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
LevelFn = Callable[[float], None]


# --------------------------------------------------------------------------- what it drives


class Session(Protocol):
    def feed(self, block: Any) -> None: ...
    def release(self) -> None: ...  # the button was let go: what follows is the tail
    def heard_enough(self) -> bool: ...  # after the release: the tail can end now
    def finish(self) -> Any: ...  # -> object with .items (list[TypedItem]) and .cancelled
    def cancel(self) -> None: ...


class Engine(Protocol):
    """The warm pipeline (``appliance.pipeline.Pipeline``)."""

    def start(self, on_piece: Any = None) -> Session: ...


class Recording(Protocol):
    def blocks(self, timeout_s: float = ...) -> Iterator[Any]: ...


class AudioSource(Protocol):
    """The microphone (``appliance.audio.Microphone``): always capturing, taps per recording."""

    @property
    def alive(self) -> bool: ...
    def start(self) -> None: ...
    def close(self) -> None: ...
    def begin(self) -> Recording: ...
    def end(self) -> None: ...  # the recording ends after the tail (audio.tail_s)
    def stop(self) -> None: ...  # the recording ends now (the tail was not needed)
    def cancel(self) -> None: ...


class Typist(Protocol):
    """Types items as HID reports; ``release_all`` sends the all-up report."""

    def type(self, items: Sequence[TypedItem]) -> Any: ...
    def release_all(self) -> None: ...


class HostGone(OSError):
    """The typist reported that the host stopped taking reports."""


EXIT_RESTART = 75  # EX_TEMPFAIL: systemd restarts the service (Restart=on-failure)


@dataclass(frozen=True)
class Problem:
    code: str  # no_microphone, no_gadget, no_host, model
    reason: str  # the OLED headline
    detail: str  # what to do


def udc_configured(
    sys_class_udc: str = "/sys/class/udc", gadgets: str = "/sys/kernel/config/usb_gadget"
) -> bool:
    """Whether a USB host has configured our gadget.

    The gadget must be bound to a UDC (its ConfigFS ``UDC`` file names one) and that UDC's
    state must be "configured". The state alone is not enough: after an unbind some UDC
    drivers (dummy_udc, measured) keep reporting "configured".
    """
    bound = set()
    for udc_file in glob.glob(os.path.join(gadgets, "*", "UDC")):
        with contextlib.suppress(OSError):
            name = Path(udc_file).read_text().strip()
            if name:
                bound.add(name)
    for name in bound:
        with contextlib.suppress(OSError):
            if Path(sys_class_udc, name, "state").read_text().strip() == "configured":
                return True
    return False


def chunks(items: Sequence[TypedItem], words: int = 1) -> Iterator[list[TypedItem]]:
    """Items cut into word-sized pieces, so typing can stop cleanly between words."""
    for item in items:
        if isinstance(item, SpecialKey):
            yield [item]
            continue
        parts = item.split(" ")
        for i in range(0, len(parts), words):
            piece = " ".join(parts[i : i + words])
            if i + words < len(parts):
                piece += " "
            if piece:
                yield [piece]


def _item_text(item: TypedItem) -> str:
    if isinstance(item, SpecialKey):
        return {"enter": "\n", "tab": "\t"}.get(item.value, "")
    return item


# --------------------------------------------------------------------------- the daemon


class Daemon:
    def __init__(
        self,
        cfg: Config,
        bus: StatusBus,
        *,
        load_engine: Callable[[ProgressFn], Engine],
        audio_factory: Callable[[LevelFn], AudioSource],
        typist_factory: Callable[[], Typist],
        host_connected: Callable[[], bool] = udc_configured,
        notifier: Notifier | None = None,
        tick_s: float = 0.05,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cfg = cfg
        self.bus = bus
        self._load_engine = load_engine
        self._audio_factory = audio_factory
        self._typist_factory = typist_factory
        self._host_connected = host_connected
        self.notifier = notifier or Notifier()
        self.tick_s = tick_s
        self.retry_s = retry_s
        self._clock = clock
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.state = State.STARTING
        self.engine: Engine | None = None
        self.audio: AudioSource | None = None
        self.typist: Typist | None = None
        self.problem: Problem | None = None
        self._gen = 0  # recording generation: events of a cancelled one are ignored
        self._session: Session | None = None
        self._early: Any = None  # EarlyTyper while typing during speech
        self._rec_started = 0.0
        self._release_action: str | None = None
        self._warned_s: int | None = None
        self._typing_stop = threading.Event()
        self._typing_thread: threading.Thread | None = None
        self._last_probe = -1e9
        self._last_elapsed = -1.0
        self._last_level_t = 0.0
        self._stopping = False
        self._exit_code = 0
        self._mic_failures = 0
        self._mic_next_try = 0.0
        self._mic_problem: Problem | None = None
        self.history: list[State] = []  # every state entered (tests, logs)

    # ---------------------------------------------------------------- inputs (any thread)
    def handle(self, event: ButtonEvent) -> None:
        """The button's callback (also the test hook behind the same interface)."""
        self._events.put(("button", ButtonEvent(event)))

    def stop(self) -> None:
        """Ask the daemon to stop (SIGTERM): stop recording, release all keys, exit."""
        self._events.put(("stop", None))

    def _level(self, level: float) -> None:
        if self.state is State.RECORDING:
            now = self._clock()
            if now - self._last_level_t >= 0.05:
                self._last_level_t = now
                self.bus.publish(Topic.LEVEL, level)

    # ---------------------------------------------------------------- state
    def _enter(self, state: State, message: str = "", **extra: Any) -> None:
        self.state = state
        self.history.append(state)
        log.info("state: %s%s", state.value, f" ({message})" if message else "")
        self.bus.publish(Topic.STATE, state, message, **extra)
        self.notifier.status(f"{state.value}: {message}" if message else state.value)

    def _error(self, problem: Problem) -> None:
        changed = problem != self.problem
        self.problem = problem
        if changed or self.state is not State.ERROR:
            log.error("%s: %s", problem.reason, problem.detail)
            self.bus.publish(Topic.ERROR, problem.code, problem.detail)
            self._enter(State.ERROR, problem.reason, detail=problem.detail, code=problem.code)

    # ---------------------------------------------------------------- main loop
    def run(self, *, install_signals: bool = True) -> int:
        """Run until stop() / SIGTERM; returns the exit code (0 on a clean stop)."""
        old: dict[int, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                old[signum] = signal.signal(signum, lambda *_: self.stop())
        try:
            self._enter(State.STARTING, "Loading model")
            threading.Thread(target=self._load, name="model-load", daemon=True).start()
            while True:
                try:
                    kind, value = self._events.get(timeout=self.tick_s)
                except queue.Empty:
                    kind, value = "tick", None
                if kind == "stop":
                    break
                try:
                    self._dispatch(kind, value)
                    self._tick()
                except Exception:
                    log.exception("daemon event %s failed", kind)
                    self._reset_to_idle()
            return self._shutdown()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _dispatch(self, kind: str, value: Any) -> None:
        if kind == "button":
            self._on_button(value)
        elif kind == "loaded":
            self.engine = value
            self.bus.publish(Topic.PROGRESS, 1.0, "Model ready")
            self._probe(force=True)
            self.notifier.ready(self.state.value if self.problem is None else self.problem.reason)
        elif kind == "load_failed":
            self._error(Problem("model", "Model not loaded", str(value)))
            self.notifier.ready(f"Model not loaded: {value}")
        elif kind == "recorded":
            gen, error = value
            if gen != self._gen:
                return
            if error is not None:
                self._abort_recording()
                self._mic_lost(error)
            elif self.state is State.RECORDING:  # ended by itself (maximum length)
                self._stop_recording()
            if self.state is State.TRANSCRIBING:
                threading.Thread(
                    target=self._finish, args=(gen, self._session), name="finish", daemon=True
                ).start()
        elif kind == "transcribed":
            gen, result, error, typing_error = value
            if gen != self._gen or self.state is not State.TRANSCRIBING:
                return
            self._session = None
            if typing_error is not None:
                self._release_keys()
                self._typist_failed(typing_error)
                return
            if error is not None:
                log.error("transcription failed: %s", error)
                self.bus.publish(Topic.WARNING, "transcription", f"Transcription failed: {error}")
                self._ready()
                return
            items = list(getattr(result, "items", []) or [])
            if getattr(result, "cancelled", False) or not items:
                self._ready()
                return
            self._start_typing(gen, items)
        elif kind == "typed":
            gen, error = value
            if gen != self._gen or self.state is not State.TYPING:
                return
            self._typing_thread = None
            if error is not None:
                self._typist_failed(error)
            else:
                self._ready()

    def _tick(self) -> None:
        self.notifier.watchdog()
        now = self._clock()
        if self.state is State.RECORDING:
            elapsed = now - self._rec_started
            if elapsed - self._last_elapsed >= 0.25:
                self._last_elapsed = elapsed
                self.bus.publish(Topic.ELAPSED, elapsed)
            limit = self.cfg.audio.max_recording_s
            left = limit - elapsed
            if left <= 0:
                log.warning("maximum recording time (%.0f s) reached", limit)
                self._stop_recording()
            elif left <= self.cfg.daemon.max_recording_warning_s:
                secs = int(left + 0.999)
                if secs != self._warned_s:
                    self._warned_s = secs
                    self.bus.publish(Topic.WARNING, "max_recording", f"Stops in {secs} s")
        if self.state in (State.READY, State.ERROR) and self.engine is not None:
            self._probe()

    # ---------------------------------------------------------------- hardware probing
    def _probe(self, *, force: bool = False) -> None:
        """Check microphone, gadget and host; move between READY and ERROR accordingly."""
        now = self._clock()
        if not force and now - self._last_probe < self.retry_s:
            return
        self._last_probe = now
        problem = self._check_microphone() or self._check_typist() or self._check_host()
        if problem is not None:
            self._error(problem)
        elif self.state is State.ERROR or self.state is State.STARTING:
            if self.problem is not None:
                log.info("recovered from: %s", self.problem.reason)
            self.problem = None
            pending = getattr(self.typist, "pending", "") if self.engine is not None else ""
            if pending and self.state is State.ERROR:
                log.info("host is back: typing %d kept characters", len(pending))
                self._gen += 1
                self._start_typing(self._gen, [])  # the typist types its pending text first
                return
            self._ready()

    def _check_microphone(self) -> Problem | None:
        if self.audio is not None and not self.audio.alive:
            log.warning("microphone stopped delivering audio")
            with contextlib.suppress(Exception):
                self.audio.close()
            abandoned = getattr(self.audio, "abandoned", False)
            self.audio = None
            if abandoned:
                # PortAudio cannot drop a vanished device in this process (closing it
                # crashes; its device list stays stale): report, then exit so that systemd
                # (Restart=on-failure) starts a fresh process that finds the microphone.
                problem = Problem(
                    "no_microphone",
                    "No microphone",
                    "It was unplugged while in use; the service restarts to open it again.",
                )
                self._error(problem)
                self._exit_code = EXIT_RESTART
                self.stop()
                return problem
        if self.audio is None:
            now = self._clock()
            if now < self._mic_next_try and self._mic_problem is not None:
                return self._mic_problem  # back off: opening PortAudio is slow and noisy
            try:
                audio = self._audio_factory(self._level)
                audio.start()
            except Exception as exc:
                self.bus.publish(Topic.MICROPHONE, False)
                self._mic_failures += 1
                backoff = min(self.retry_s * 2 ** (self._mic_failures - 1), 10 * self.retry_s)
                self._mic_next_try = now + backoff
                self._mic_problem = Problem(
                    "no_microphone", "No microphone", _plain(exc, "Plug in a USB microphone.")
                )
                return self._mic_problem
            self.audio = audio
            self._mic_failures = 0
            self._mic_problem = None
            self.bus.publish(Topic.MICROPHONE, True)
        return None

    def _check_typist(self) -> Problem | None:
        if self.typist is None:
            try:
                self.typist = self._typist_factory()
            except FileNotFoundError as exc:
                return Problem(
                    "no_gadget",
                    "USB gadget not set up",
                    f"{exc.filename or self.cfg.hid.device} is missing: check "
                    "'systemctl status stt-keyboard-gadget' and dtoverlay=dwc2.",
                )
            except Exception as exc:
                return Problem("no_gadget", "USB keyboard unavailable", str(exc))
        return None

    def _check_host(self) -> Problem | None:
        try:
            connected = bool(self._host_connected())
        except Exception:
            connected = False
        last = self.bus.last(Topic.HOST)
        if last is None or last.value != connected:
            self.bus.publish(Topic.HOST, connected)
        if not connected:
            return Problem(
                "no_host",
                "Host not connected",
                "Plug the Pi's USB-C port into the computer (a data cable, not a charger).",
            )
        return None

    def _mic_lost(self, error: BaseException) -> None:
        with contextlib.suppress(Exception):
            if self.audio is not None:
                self.audio.close()
        self.audio = None
        self.bus.publish(Topic.MICROPHONE, False)
        self._error(Problem("no_microphone", "No microphone", _plain(error, "Plug in a USB mic.")))
        self._last_probe = self._clock()

    def _typist_failed(self, error: BaseException) -> None:
        log.error("typing failed: %s", error)
        self._release_keys()
        host = self._check_host()
        if host is None and isinstance(error, HostGone):
            host = Problem("no_host", "Host not connected", "The computer stopped listening.")
        if host is not None:
            self._error(host)
        else:
            with contextlib.suppress(Exception):
                close = getattr(self.typist, "close", None)
                if close is not None:
                    close()
            self.typist = None
            self._error(Problem("no_gadget", "USB keyboard unavailable", str(error)))
        self._last_probe = self._clock()

    # ---------------------------------------------------------------- button
    def _on_button(self, event: ButtonEvent) -> None:
        ptt = self.cfg.button.mode == "push_to_talk"
        state = self.state
        if event is ButtonEvent.PRESS:
            if state is State.READY:
                self._start_recording()
                self._release_action = "stop" if ptt else None
            elif state is State.RECORDING:
                self._release_action = "stop"  # toggle: stop on release unless held
            elif state is State.TYPING:
                log.info("button pressed while typing: stopping")
                self._stop_typing()
                self._release_action = None
            else:
                self._release_action = None
                if state is State.ERROR:
                    self._probe(force=True)  # a press retries at once
        elif event is ButtonEvent.LONG_PRESS:
            if ptt and state is State.RECORDING and self._release_action == "stop":
                # Push-to-talk: holding the button *is* the recording. A long press cancels
                # only what is already transcribing or typing (release, then press and hold).
                return
            self._release_action = None
            if state is State.RECORDING:
                log.info("long press: recording cancelled")
                self._abort_recording()
                self._ready()
            elif state is State.TRANSCRIBING:
                log.info("long press: transcription cancelled")
                self._abort_recording()
                self._ready()
            elif state is State.TYPING:
                self._stop_typing()
        elif event is ButtonEvent.RELEASE:
            action, self._release_action = self._release_action, None
            if action == "stop" and state is State.RECORDING:
                self._stop_recording()

    # ---------------------------------------------------------------- recording
    def _start_recording(self) -> None:
        assert self.engine is not None and self.audio is not None
        self._gen += 1
        gen = self._gen
        try:
            recording = self.audio.begin()
        except Exception as exc:
            self._mic_lost(exc)
            return
        self._early = self._make_early_typer()
        on_piece = self._early.put if self._early is not None else None
        self._session = session = self.engine.start(on_piece=on_piece)
        self._rec_started = self._clock()
        self._warned_s = None
        self._last_elapsed = -1.0
        self._enter(State.RECORDING)
        self.bus.publish(Topic.ELAPSED, 0.0)
        timeout = self.cfg.audio.open_timeout_s

        def pump() -> None:
            error: BaseException | None = None
            try:
                for block in recording.blocks(timeout_s=timeout):
                    session.feed(block)
                    if session.heard_enough():  # released, and the speaker has stopped
                        self._stop_audio()
                        break
            except BaseException as exc:
                error = exc
            self._events.put(("recorded", (gen, error)))

        threading.Thread(target=pump, name="recording", daemon=True).start()

    def _stop_recording(self) -> None:
        """End of speech (release, toggle press, maximum time): transcribe what was said."""
        if self._session is not None:
            self._session.release()
        if self.audio is not None:
            self.audio.end()
        self._enter(State.TRANSCRIBING)

    def _stop_audio(self) -> None:
        """The tail ended early (the VAD heard the speaker stop): stop recording now."""
        audio = self.audio
        if audio is not None:
            with contextlib.suppress(Exception):
                audio.stop()

    def _make_early_typer(self) -> Any:
        """With daemon.type_while_speaking: committed words are typed while the user speaks."""
        shaper = getattr(self.engine, "shaper", None)
        typist = self.typist
        if not self.cfg.daemon.type_while_speaking or shaper is None or typist is None:
            return None
        from appliance.pipeline import EarlyTyper

        def type_items(items: list[TypedItem]) -> None:
            result = typist.type(items)
            if getattr(result, "host_absent", False):
                raise HostGone("the USB host stopped taking key reports")

        return EarlyTyper(shaper, type_items)

    def _abort_recording(self) -> None:
        """Nothing (more) from the current recording is typed."""
        early, self._early = self._early, None
        if early is not None:
            early.cancel()
            cancel = getattr(self.typist, "cancel", None)
            if cancel is not None:
                cancel()
        self._gen += 1
        if self.audio is not None:
            with contextlib.suppress(Exception):
                self.audio.cancel()
        if self._session is not None:
            with contextlib.suppress(Exception):
                self._session.cancel()
            self._session = None

    def _finish(self, gen: int, session: Session | None) -> None:
        result, error, typing_error = None, None, None
        try:
            if session is not None:
                result = session.finish()
        except BaseException as exc:
            error = exc
        early, self._early = self._early, None
        if early is not None:  # sentences typed while speaking: wait for the last one
            try:
                early.close()
            except BaseException as exc:
                typing_error = exc
        self._events.put(("transcribed", (gen, result, error, typing_error)))

    # ---------------------------------------------------------------- typing
    def _start_typing(self, gen: int, items: list[TypedItem]) -> None:
        typist = self.typist
        if typist is None:
            self._typist_failed(RuntimeError("no USB keyboard"))
            return
        self._typing_stop.clear()
        self._enter(State.TYPING)

        def work() -> None:
            error: BaseException | None = None
            try:
                if hasattr(typist, "cancel"):
                    # appliance.hid.Typist: one call (Caps Lock handled once), cancel() stops it
                    # after the current character; it publishes TEXT itself.
                    self.bus.publish(Topic.TEXT, "".join(_item_text(i) for i in items))
                    result = typist.type(items)
                    if getattr(result, "host_absent", False):
                        error = HostGone("the USB host stopped taking key reports")
                else:
                    typed = ""
                    for piece in chunks(items):
                        if self._typing_stop.is_set():
                            break
                        typist.type(piece)
                        typed += "".join(_item_text(i) for i in piece)
                        self.bus.publish(Topic.TEXT, typed)
            except BaseException as exc:
                error = exc
            finally:
                with contextlib.suppress(Exception):
                    typist.release_all()
            self._events.put(("typed", (gen, error)))

        self._typing_thread = threading.Thread(target=work, name="typing", daemon=True)
        self._typing_thread.start()

    def _stop_typing(self, timeout_s: float = 5.0) -> None:
        self._typing_stop.set()
        cancel = getattr(self.typist, "cancel", None)
        if cancel is not None:
            cancel()
        thread = self._typing_thread
        if thread is not None:
            thread.join(timeout=timeout_s)
        self._typing_thread = None
        self._gen += 1
        self._release_keys()
        if not self._stopping:
            self._ready()

    def _release_keys(self) -> None:
        if self.typist is not None:
            try:
                self.typist.release_all()
            except Exception:
                log.warning("could not send the all-keys-up report", exc_info=True)

    # ---------------------------------------------------------------- idle / shutdown
    def _ready(self) -> None:
        if self.problem is not None:
            self._error(self.problem)
            return
        if self.state is not State.READY:
            self._enter(State.READY)

    def _reset_to_idle(self) -> None:
        self._abort_recording()
        self._typing_stop.set()
        self._release_keys()
        self._ready()

    def _shutdown(self) -> int:
        self._stopping = True
        self.notifier.stopping()
        log.info("stopping")
        if self.state in (State.RECORDING, State.TRANSCRIBING):
            self._abort_recording()
        if self.state is State.TYPING or self._typing_thread is not None:
            self._stop_typing()
        self._release_keys()
        if self.audio is not None:
            with contextlib.suppress(Exception):
                self.audio.close()
            self.audio = None
        close = getattr(self.typist, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
        self._enter(State.STOPPED)
        return self._exit_code

    # ---------------------------------------------------------------- model
    def _load(self) -> None:
        def progress(fraction: float, message: str = "") -> None:
            self.bus.publish(Topic.PROGRESS, float(fraction), message or "Loading model")
            self.notifier.watchdog()

        try:
            engine = self._load_engine(progress)
        except Exception as exc:
            log.exception("model load failed")
            self._events.put(("load_failed", exc))
            return
        self._events.put(("loaded", engine))


def _plain(exc: BaseException, fallback: str) -> str:
    """The exception's words without a repeated headline ("No microphone: ...")."""
    text = str(exc).strip()
    for headline in ("No microphone:", "No microphone"):
        if text.startswith(headline):
            text = text[len(headline) :].strip()
            break
    if text:
        text = text[0].upper() + text[1:]
    return text or fallback


# --------------------------------------------------------------------------- wiring


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="run the appliance (the systemd service runs this)"
    )
    p.add_argument("--model", help="model name or directory (overrides asr.model)")
    p.add_argument("--layout", help="host keyboard layout (overrides hid.layout)")
    p.add_argument(
        "--no-hardware",
        action="store_true",
        help="no button/LEDs/OLED (gpiozero mock pins); for trying the daemon on a laptop",
    )
    return p


def real_typist_factory(cfg: Config, bus: StatusBus | None = None) -> Callable[[], Typist]:
    """Opens the HID gadget device with the host's layout (appliance.hid.Typist)."""

    def make() -> Typist:
        if not Path(cfg.hid.device).exists():
            raise FileNotFoundError(2, "No such file or directory", cfg.hid.device)
        from appliance.hid import Typist as HidTypist

        return HidTypist.from_config(cfg.hid, bus=bus)

    return make


def build(cfg: Config, bus: StatusBus, notifier: Notifier) -> Daemon:
    """The daemon with the real pipeline, microphone and typist."""

    def load_engine(progress: ProgressFn) -> Engine:
        from appliance.pipeline import Pipeline

        return Pipeline.load(cfg, progress=progress)

    def audio_factory(level: LevelFn) -> AudioSource:
        from appliance.audio import Microphone

        return Microphone(cfg.audio, level_callback=level)

    return Daemon(
        cfg,
        bus,
        load_engine=load_engine,
        audio_factory=audio_factory,
        typist_factory=real_typist_factory(cfg, bus),
        notifier=notifier,
    )


def run(args: argparse.Namespace, cfg: Config) -> int:
    """`stt-keyboard run`: the service. Exit 0 on SIGTERM; config errors never get here."""
    from appliance.config import with_overrides
    from appliance.notify import setup_logging
    from appliance.ui.button import open_button
    from appliance.ui.leds import open_leds
    from appliance.ui.oled import open_oled
    from appliance.ui.screens import ScreenModel

    # --model and --layout were applied by the command line (cli.effective_config).
    if getattr(args, "no_hardware", False):
        cfg = with_overrides(
            cfg, button={"pin_factory": "mock"}, leds={"kind": "none"}, oled={"enabled": False}
        )
    setup_logging("debug" if getattr(args, "verbose", False) else cfg.daemon.log_level)
    bus = StatusBus()
    bus.subscribe(_log_status, replay=False)
    notifier = Notifier()
    base = ScreenModel(
        model=Path(cfg.asr.model).name,
        language=cfg.asr.language,
        layout=cfg.hid.layout,
        max_s=cfg.audio.max_recording_s,
    )
    oled = open_oled(cfg.oled, bus, base=base)
    factory = None
    with contextlib.suppress(Exception):
        from appliance.ui.button import pin_factory

        factory = pin_factory(cfg.button.pin_factory)
    leds = open_leds(cfg.leds, bus, factory=factory) if factory is not None else None
    daemon = build(cfg, bus, notifier)
    button = open_button(cfg.button, daemon.handle)
    try:
        return daemon.run()
    finally:
        if button is not None:
            button.close()
        if oled is not None:
            oled.close(final=State.STOPPED)
        if leds is not None:
            leds.close()


def _log_status(status: Any) -> None:
    if status.topic in (Topic.WARNING,):
        log.warning("%s", status.message)
