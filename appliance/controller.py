"""The appliance's state machine, and nothing else.

    starting (model loading) → ready → recording → transcribing → typing → ready
    any state → error (no microphone / no USB gadget / host not connected / model), which
    clears by itself when the part comes back.

Typed events in (:mod:`appliance.events`), one at a time, on one thread; state, elapsed time,
warnings and errors out, each on the topic it alone writes. Slow work goes to the workers
(:mod:`appliance.workers`), the parts' presence to :mod:`appliance.health`, what is typed to
:mod:`appliance.dictation_typer`. The clock is injected, so tests drive it deterministically.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from appliance.button_rules import Action, decide
from appliance.config import Config
from appliance.dictation_typer import DictationTyper, TypingJob
from appliance.engine import DictationResult, Engine, Session
from appliance.events import (
    Event,
    ModelFailed,
    ModelLoaded,
    RecordingEnded,
    SpeechEnded,
    Tick,
    Transcribed,
    Triggered,
    Typed,
    WakeWordHeard,
    WorkerDone,
)
from appliance.health import OPENING_MICROPHONE, Health, Problem
from appliance.hid.device import HostAbsent
from appliance.history import ShaperMemory, crosses_enter
from appliance.language_choice import LanguageStore, language_cycle
from appliance.notify import Notifier
from appliance.parts import BluetoothControl, Microphone
from appliance.recording_timer import RecordingTimer
from appliance.status import State, StatusBus, Topic
from appliance.ui.button import ButtonEvent
from appliance.workers import LevelMeter, RecordingJob, Workers

log = logging.getLogger(__name__)

STOP_TYPING_WAIT_S = 5.0


class Controller:
    def __init__(
        self,
        cfg: Config,
        bus: StatusBus,
        *,
        health: Health,
        workers: Workers,
        typer: DictationTyper,
        meter: LevelMeter,
        notifier: Notifier,
        clock: Callable[[], float],
        languages: LanguageStore | None = None,
        bluetooth: BluetoothControl | None = None,
    ) -> None:
        """``languages``: where the language chosen by the gesture is kept (None: not kept);
        ``bluetooth``: the Bluetooth keyboard's pairing and host choice (hid.output)."""
        self._bluetooth = bluetooth
        self.cfg = cfg
        self._clock = clock
        self._state_topic = bus.publisher(Topic.STATE, "controller")
        self._error_topic = bus.publisher(Topic.ERROR, "controller")
        self._warning_topic = bus.publisher(Topic.WARNING, "controller")
        self._language_topic = bus.publisher(Topic.LANGUAGE, "controller")
        self._languages = languages
        self._cycle = language_cycle(cfg.asr)
        saved = languages.load(self._cycle) if languages is not None else None
        self.language = saved or cfg.asr.language
        elapsed = bus.publisher(Topic.ELAPSED, "controller")
        self._timer = RecordingTimer(cfg, elapsed, self._warning_topic, clock)
        self._health = health
        self._workers = workers
        self._typer = typer
        self._meter = meter
        self._notifier = notifier
        self.state = State.STARTING
        self.problem: Problem | None = None
        self._engine: Engine | None = None
        self._gen = 0  # recording generation: events of a cancelled one are dropped
        self._session: Session | None = None
        self._job: TypingJob | None = None
        self._stop_on_release = False
        self._last_probe = -1e9
        self._stopping = False
        self._presses: list[float] = []  # a gesture's presses so far (double, triple)
        self._typed_since_press = False  # the last press's recording typed something
        self._wake_episode: int | None = None  # the recording a wake word started

    # ---------------------------------------------------------------- events
    def start(self) -> None:
        self._enter(State.STARTING, "Loading model")
        self._workers.load()
        self._health.prepare()

    def handle(self, event: Event) -> None:
        match event:
            case Triggered(button):
                self._on_button(button)
            case WakeWordHeard(episode, at_sample) if self.state is State.READY:
                log.info("wake word: hands-free dictation %d", episode)
                self._start_recording(since=at_sample, wake_episode=episode)
            case SpeechEnded(episode) if self.state is State.RECORDING:
                if episode == self._wake_episode:
                    self._stop_recording()
            case ModelLoaded(engine):
                self._engine = engine
                if self.language != self.cfg.asr.language:
                    engine.set_language(self.language)  # chosen before the restart
                self._language_topic.publish(self.language)
                self._probe(force=True)
            case ModelFailed(error):
                self._error(Problem("model", "Model not loaded", str(error)))
            case RecordingEnded(gen, error) if gen == self._gen:
                self._recording_ended(error)
            case Transcribed(gen, error, result) if gen == self._gen:
                if self.state is State.TRANSCRIBING:
                    self._transcribed(result, error)
            case Typed(gen, error) if gen == self._gen and self.state is State.TYPING:
                self._job = None
                if error is not None:
                    self._typing_failed(error)
                else:
                    self._ready()
            case Tick() | WorkerDone():
                pass
        self._tick()

    def reset(self) -> None:
        """After a handler failed: nothing half done, all keys up, ready (or the error)."""
        self._abort_recording()
        self._stop_typing()

    def shutdown(self) -> None:
        self._stopping = True
        self._notifier.stopping()
        log.info("stopping")
        if self.state in (State.RECORDING, State.TRANSCRIBING):
            self._abort_recording()
        self._stop_typing()
        self._health.close()
        self._enter(State.STOPPED)

    # ---------------------------------------------------------------- the button
    def _on_button(self, event: ButtonEvent) -> None:
        if event is ButtonEvent.PRESS and self._gesture_press():
            return
        push_to_talk = self.cfg.button.mode == "push_to_talk"
        action, self._stop_on_release = decide(
            event, self.state, push_to_talk=push_to_talk, stop_on_release=self._stop_on_release
        )
        if action is not Action.NOTHING:
            log.info("button %s while %s: %s", event.value, self.state.value, action.value)
        if action is Action.START:
            self._start_recording()
        elif action is Action.STOP:
            self._stop_recording()
        elif action is Action.CANCEL:
            job = self._job
            self._abort_recording()
            if job is not None and job.shown:  # words typed while speaking: taken back
                self._take_back(job.shown, job.shaper_before, "cancel")
            else:
                self._ready()
        elif action is Action.STOP_TYPING:
            self._stop_typing()
        elif action is Action.RETRY:
            self._probe(force=True)

    # ---------------------------------------------------------------- gestures
    def _gesture_press(self) -> bool:
        """A press within ``button.double_press_s`` of a press that started a recording (too
        short to hold speech) is a gesture: neither press's recording is typed. The gesture
        is done once no further press comes (:meth:`_tick`)."""
        now, window = self._clock(), self.cfg.button.double_press_s
        busy = (State.RECORDING, State.TRANSCRIBING)
        soon = bool(self._presses) and now - self._presses[-1] <= window
        soon = soon and not self._typed_since_press and not (self._job and self._job.shown)
        if window > 0 and soon and (self.state is State.READY or self.state in busy):
            self._presses.append(now)
            if self.state in busy:
                self._abort_recording()
                self._ready()
            self._stop_on_release = False
            return True
        self._presses = [now] if self.state is State.READY else []
        self._typed_since_press = False
        return False

    def _gesture_done(self) -> None:
        window = self.cfg.button.double_press_s
        if len(self._presses) < 2 or self._clock() - self._presses[-1] <= window:
            return
        if self.state is not State.READY:
            return
        count, self._presses = len(self._presses), []
        log.info("gesture: %d presses", count)
        if count == 2:
            self._undo()
        elif count == 3:
            self._retype()
        elif count == 4:
            self._next_language()
        elif count == 5:
            self._toggle_pairing()
        else:
            self._next_host()

    def _toggle_pairing(self) -> None:
        """Five presses: Bluetooth pairing mode on (a new host may pair), or off again."""
        if self._bluetooth is None:
            self._warning_topic.publish("bluetooth", "Bluetooth is off (hid.output)")
            return
        on = not self._bluetooth.pairing
        try:
            self._bluetooth.set_pairing(on)
        except Exception as exc:  # BlueZ away: said, and the device keeps working on USB
            log.warning("bluetooth: pairing mode: %s", exc)
            self._warning_topic.publish("bluetooth", f"Bluetooth: {exc}")
            return
        name = self.cfg.bluetooth.name
        self._warning_topic.publish(
            "bluetooth", f"Pairing: add '{name}' on the host" if on else "Pairing off"
        )

    def _next_host(self) -> None:
        """Six presses: type to the next paired Bluetooth host."""
        if self._bluetooth is None:
            self._warning_topic.publish("bluetooth", "Bluetooth is off (hid.output)")
            return
        try:
            host = self._bluetooth.select_next_host()
        except Exception as exc:
            log.warning("bluetooth: next host: %s", exc)
            self._warning_topic.publish("bluetooth", f"Bluetooth: {exc}")
            return
        self._warning_topic.publish(
            "bluetooth", f"Typing to {host.name}" if host else "No paired host yet"
        )

    def _next_language(self) -> None:
        if len(self._cycle) < 2 or self._engine is None:
            self._warning_topic.publish("language", "One language only (asr.languages)")
            return
        at = self._cycle.index(self.language) if self.language in self._cycle else -1
        self.language = self._cycle[(at + 1) % len(self._cycle)]
        self._engine.set_language(self.language)
        if self._languages is not None:
            self._languages.save(self.language)
        log.info("language: %s", self.language)
        self._language_topic.publish(self.language)
        self._warning_topic.publish("language", f"Language: {self.language}")

    def _undo(self) -> None:
        history = self._typer.history
        why = history.why_not_undo(self.cfg.button.undo_within_s)
        entry = history.last()
        if why is not None or entry is None:
            log.info("undo: %s", why)
            self._warning_topic.publish("undo", why or "Nothing to undo")
            return
        history.forget_last()
        self._take_back(entry.shown, entry.before, "undo")

    def _take_back(self, shown: str, before: ShaperMemory | None, why: str) -> None:
        """Backspaces for what the host shows of a dictation (never across an Enter)."""
        typist = self._health.typist
        if crosses_enter(shown) or typist is None:
            self._warning_topic.publish("undo", "Cannot undo past Enter")
            self._ready()
            return
        log.info("%s: taking back %d characters", why, len(shown))
        self._gen += 1
        self._job = job = self._typer.undo(typist, shown, before)
        self._enter(State.TYPING, "Undo")
        self._workers.type(self._gen, job, None)

    def _retype(self) -> None:
        entry, typist = self._typer.history.last(), self._health.typist
        if entry is None or typist is None:
            self._warning_topic.publish("retype", "Nothing to type again")
            return
        log.info("retype: %d characters", len(entry.text))
        self._gen += 1
        self._job = job = self._typer.retype(typist, entry.text)
        self._enter(State.TYPING, "Typing again")
        self._workers.type(self._gen, job, None)

    # ---------------------------------------------------------------- recording
    def _start_recording(
        self, *, since: int | None = None, wake_episode: int | None = None
    ) -> None:
        """``since``/``wake_episode``: a wake word started it; the audio after the wake word
        is the recording (the button's pre-roll would hold the wake word)."""
        mic, typist, engine = self._health.microphone, self._health.typist, self._engine
        assert mic is not None and typist is not None and engine is not None
        self._gen += 1
        self._wake_episode = wake_episode
        if wake_episode is not None:
            self._stop_on_release = False  # no button is held
        try:
            recording = mic.begin() if since is None else mic.begin(since)
        except Exception as exc:
            self._error(self._health.microphone_lost(exc))
            return
        self._job = job = self._typer.begin(typist)
        self._session = session = engine.start(on_piece=job.on_piece)
        if wake_episode is None:
            self._enter(State.RECORDING)
        else:
            self._enter(State.RECORDING, "Hands-free", wake_episode=wake_episode)
        self._timer.start()
        self._meter.arm(True)
        timeout = self.cfg.audio.open_timeout_s
        self._workers.record(RecordingJob(self._gen, recording, session, _stopper(mic), timeout))

    def _stop_recording(self) -> None:
        """End of speech (release, toggle press, maximum time): transcribe what was said."""
        self._meter.arm(False)
        if self._session is not None:
            self._session.release()
        if self._health.microphone is not None:
            self._health.microphone.end()
        self._enter(State.TRANSCRIBING)

    def _recording_ended(self, error: BaseException | None) -> None:
        if error is not None:
            # What the microphone heard before it failed is still transcribed and typed;
            # the problem is shown once that is done (see _ready).
            self.problem = self._health.microphone_lost(error)
            self._last_probe = self._clock()
            log.warning("the microphone failed in a dictation (%s): typing what it heard", error)
        if self.state is State.RECORDING:  # ended by itself (the maximum length, a failure)
            self._stop_recording()
        if self.state is State.TRANSCRIBING and self._session is not None:
            self._workers.finish(self._gen, self._session)

    def _abort_recording(self) -> None:
        """Nothing (more) from the current recording is typed."""
        self._meter.arm(False)
        self._gen += 1
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
        if self._health.microphone is not None:
            with contextlib.suppress(Exception):
                self._health.microphone.cancel()
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.cancel()

    # ---------------------------------------------------------------- typing
    def _transcribed(self, result: DictationResult | None, error: BaseException | None) -> None:
        self._session = None
        job = self._job
        if error is not None or job is None or result is None:
            log.error("transcription failed: %s", error)
            self._warning_topic.publish("transcription", f"Transcription failed: {error}")
            self._abort_recording()
            self._ready()
        elif result.cancelled or not (result.pieces or job.typed):
            job.cancel()
            self._job = None
            self._ready()
        else:
            self._typed_since_press = True  # this press was a dictation, not a gesture's
            self._enter(State.TYPING)
            self._workers.type(self._gen, job, result)

    def _stop_typing(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
        self._workers.wait_typing(STOP_TYPING_WAIT_S)
        self._gen += 1
        self._release_keys()
        if not self._stopping:
            self._ready()

    def _typing_failed(self, error: BaseException) -> None:
        log.error("typing failed: %s", error)
        self._release_keys()
        if isinstance(error, HostAbsent):
            self._typer.history.host_left()
            if error.lost:
                self._warning_topic.publish("text_lost", error.lost)
            self._error(self._health.host_lost())
        else:
            self._error(self._health.typist_broken(error))
        self._last_probe = self._clock()

    def _release_keys(self) -> None:
        if self._health.typist is not None:
            try:
                self._health.typist.release_all()
            except Exception:
                log.warning("could not send the all-keys-up report", exc_info=True)

    # ---------------------------------------------------------------- time and the parts
    def _tick(self) -> None:
        self._notifier.watchdog()
        self._gesture_done()
        if self.state is State.RECORDING and self._timer.tick():
            self._stop_recording()
        idle = (State.STARTING, State.READY, State.ERROR)  # STARTING: the microphone opens
        if self.state in idle and self._engine is not None:
            self._probe()

    def _probe(self, *, force: bool = False) -> None:
        """Check microphone, gadget and host; move between READY and ERROR accordingly."""
        now = self._clock()
        if not force and now - self._last_probe < self._health.retry_s:
            return
        self._last_probe = now
        problem = self._health.check(now=force)
        if problem is OPENING_MICROPHONE:
            return  # not ready yet, not an error either
        if problem is not None:
            self._error(problem)
            return
        if self.state not in (State.ERROR, State.STARTING):
            return
        if self.problem is not None:
            log.info("recovered from: %s", self.problem.headline)
        self.problem = None
        typist = self._health.typist
        if typist is not None and typist.pending and self.state is State.ERROR:
            log.info("host is back: typing %d kept characters", len(typist.pending))
            self._gen += 1
            self._job = job = self._typer.resume(typist)
            self._enter(State.TYPING)
            self._workers.type(self._gen, job, None)
            return
        self._ready()

    # ---------------------------------------------------------------- state out
    def _enter(self, state: State, message: str = "", **extra: Any) -> None:
        self.state = state
        log.info("state: %s%s", state.value, f" ({message})" if message else "")
        self._state_topic.publish(state, message, **extra)
        status = f"{state.value}: {message}" if message else state.value
        if state in (State.READY, State.ERROR):
            # systemd's READY=1 once a press is answered: the model is warm and the
            # microphone open, or the problem is shown (sent once; later calls do nothing)
            self._notifier.ready(status)
        self._notifier.status(status)

    def _error(self, problem: Problem) -> None:
        changed = problem != self.problem
        self.problem = problem
        if problem.code in ("no_host", "no_gadget"):
            self._typer.history.host_left()  # what it shows now is not known any more
        if changed or self.state is not State.ERROR:
            log.error("%s: %s", problem.headline, problem.detail)
            self._error_topic.publish(problem.code, problem.detail)
            self._enter(State.ERROR, problem.headline, detail=problem.detail, code=problem.code)

    def _ready(self) -> None:
        if self.problem is not None:
            self._error(self.problem)
        elif self.state is not State.READY:
            self._enter(State.READY)


def _stopper(mic: Microphone) -> Callable[[], None]:
    """Ends the recording now, from the pump's thread (the tail was not needed)."""

    def stop() -> None:
        with contextlib.suppress(Exception):
            mic.stop()

    return stop
