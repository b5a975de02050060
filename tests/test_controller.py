"""The controller alone: typed events in, state out, on the test's thread with a test clock.

No worker threads and no sleeps: the workers are recorded calls that the test completes by
posting the event a worker would post. What is typed goes through the real text shaper and
the real typist into a virtual host.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from appliance import events as ev
from appliance.config import Config, with_overrides
from appliance.controller import Controller
from appliance.daemon import Daemon
from appliance.dictation_typer import DictationTyper, TypingJob
from appliance.engine import DictationResult, Session
from appliance.errors import MicrophoneError
from appliance.health import Health
from appliance.hid import HostAbsent, Typist, VirtualHost
from appliance.notify import Notifier
from appliance.parts import Parts
from appliance.status import Publisher, State, StatusBus, Topic, TopicTaken
from appliance.text import Piece
from appliance.ui.button import ButtonEvent
from appliance.workers import LevelMeter, RecordingJob

PRESS, RELEASE, LONG = ButtonEvent.PRESS, ButtonEvent.RELEASE, ButtonEvent.LONG_PRESS


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Host(VirtualHost):
    def __init__(self) -> None:
        super().__init__("us")
        self.connected = True
        self.fail_after: int | None = None  # reports taken before it goes away

    def write(self, report: bytes) -> int:
        if self.fail_after is not None and len(self.reports) >= self.fail_after:
            self.connected = False
        if not self.connected:
            raise HostAbsent(errno.ESHUTDOWN, "Cannot send after transport endpoint shutdown")
        return super().write(report)


class Mic:
    def __init__(self, parts: FakeParts) -> None:
        self.parts = parts
        self.ended = self.cancelled = 0

    @property
    def opening(self) -> bool:
        return self.parts.mic_opening

    @property
    def alive(self) -> bool:
        return self.parts.mic_present and not self.parts.mic_opening

    @property
    def error(self) -> Exception | None:
        if self.parts.mic_present or self.parts.mic_opening:
            return None
        return MicrophoneError("capture failed")

    def start(self) -> None:
        self.parts.mic_opens += 1
        if not self.parts.mic_present:
            raise OSError("the system lists no audio input device")

    def close(self) -> None:
        self.parts.mic_closes += 1

    def begin(self) -> Any:
        return object()

    def end(self) -> None:
        self.ended += 1

    stop = end

    def cancel(self) -> None:
        self.cancelled += 1


@dataclass
class FakeSession:
    text: str
    released: bool = False
    cancelled: bool = False

    def feed(self, block: np.ndarray) -> None:
        pass

    def release(self) -> None:
        self.released = True

    def heard_enough(self) -> bool:
        return self.released

    def finish(self) -> DictationResult:
        return DictationResult(pieces=[Piece(self.text)])

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Engine:
    text: str = "hello there."
    sessions: list[FakeSession] = field(default_factory=list)

    def start(self, on_piece: Any = None) -> Session:
        self.sessions.append(FakeSession(self.text))
        return self.sessions[-1]


class RecordedWorkers:
    """The calls a controller made; the test plays the worker's part."""

    def __init__(self) -> None:
        self.loads = 0
        self.recording: int | None = None
        self.finishing: tuple[int, Session] | None = None
        self.typing: tuple[int, TypingJob, DictationResult | None] | None = None
        self.waited = 0

    def load(self) -> None:
        self.loads += 1

    def record(self, job: RecordingJob) -> None:
        self.recording = job.gen

    def finish(self, gen: int, session: Session) -> None:
        self.finishing = (gen, session)

    def type(self, gen: int, job: TypingJob, result: DictationResult | None) -> None:
        self.typing = (gen, job, result)

    def wait_typing(self, timeout_s: float) -> None:
        self.waited += 1


@dataclass
class FakeParts:
    """The physical parts the tests plug and unplug."""

    mic_present: bool = True
    mic_opening: bool = False  # started, not answered yet (its own process is starting)
    mic_opens: int = 0
    mic_closes: int = 0
    host: Host = field(default_factory=Host)


class Rig:
    def __init__(self, mode: str = "push_to_talk", **config: Any) -> None:
        self.cfg = with_overrides(
            Config(),
            button={"mode": mode},
            audio={"max_recording_s": 10.0},
            daemon={"max_recording_warning_s": 3.0, "type_while_speaking": False},
            **config,
        )
        self.bus = StatusBus()
        self.seen: list[tuple[Topic, Any, str]] = []
        self.bus.subscribe(lambda s: self.seen.append((s.topic, s.value, s.message)))
        self.clock = Clock()
        self.parts = FakeParts()
        self.workers = RecordedWorkers()
        self.engine = Engine()
        text = self.bus.publisher(Topic.TEXT, "typist")
        self.typist = Typist(self.parts.host, "us", text=text)
        meter = LevelMeter(self.bus.publisher(Topic.LEVEL, "level meter"), self.clock)
        parts = Parts(
            load_engine=lambda progress: self.engine,
            open_microphone=lambda level: Mic(self.parts),
            open_typist=lambda text: self.typist,
            host_connected=lambda: self.parts.host.connected,
        )
        self.health = Health(
            self.bus,
            parts,
            text=text,
            level=meter,
            gadget_path="/dev/hidg0",
            clock=self.clock,
            retry_s=1.0,
        )
        self.notifier = Notifier()
        self.controller = Controller(
            self.cfg,
            self.bus,
            health=self.health,
            workers=self.workers,
            typer=DictationTyper(self.cfg),
            meter=meter,
            notifier=self.notifier,
            clock=self.clock,
        )
        self.controller.start()

    @property
    def state(self) -> State:
        return self.controller.state

    def post(self, *events: Any) -> None:
        for event in events:
            self.controller.handle(event)

    def later(self, seconds: float) -> None:
        self.clock.t += seconds
        self.post(ev.Tick())

    def dictate(self, text: str = "hello there.") -> TypingJob:
        """Press, speak, release, transcribe: the controller is left TYPING."""
        self.engine.text = text
        self.post(ev.Triggered(PRESS), ev.Triggered(RELEASE))
        gen = self.workers.recording
        assert gen is not None and self.state is State.TRANSCRIBING
        self.post(ev.RecordingEnded(gen))
        assert self.workers.finishing is not None
        session = self.workers.finishing[1]
        self.post(ev.Transcribed(gen, result=session.finish()))
        assert self.state is State.TYPING and self.workers.typing is not None
        return self.workers.typing[1]

    def type_it(self) -> None:
        """The typing worker's part: type the rest, post what happened."""
        assert self.workers.typing is not None
        gen, job, result = self.workers.typing
        error: HostAbsent | None = None
        try:
            job.type_rest(result)
        except HostAbsent as exc:
            error = exc
        self.post(ev.Typed(gen, error))

    def states(self) -> list[State]:
        return [v for t, v, _ in self.seen if t is Topic.STATE]

    def last(self, topic: Topic) -> Any:
        status = self.bus.last(topic)
        return None if status is None else (status.value, status.message)


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.post(ev.ModelLoaded(r.engine))
    assert r.state is State.READY
    return r


def test_a_dictation_goes_through_every_state_in_order(rig: Rig) -> None:
    rig.dictate("hello there.")
    rig.type_it()
    assert rig.state is State.READY
    assert rig.states() == [
        State.STARTING,
        State.READY,
        State.RECORDING,
        State.TRANSCRIBING,
        State.TYPING,
        State.READY,
    ]
    assert rig.parts.host.text == "Hello there."
    assert rig.engine.sessions[0].released


def test_elapsed_time_the_warning_and_the_maximum_follow_the_clock(rig: Rig) -> None:
    rig.post(ev.Triggered(PRESS))
    rig.later(2.0)
    assert rig.last(Topic.ELAPSED) == (2.0, "")
    rig.later(5.5)  # 7.5 s: 2.5 s left, within the 3 s warning
    assert rig.last(Topic.WARNING) == ("max_recording", "Stops in 3 s")
    assert rig.state is State.RECORDING
    rig.later(2.5)  # 10 s: the maximum
    assert rig.state is State.TRANSCRIBING
    rig.post(ev.Triggered(RELEASE))  # the late release changes nothing
    assert rig.state is State.TRANSCRIBING


def test_a_long_press_drops_the_transcription_that_comes_later(rig: Rig) -> None:
    rig.post(ev.Triggered(PRESS), ev.Triggered(RELEASE))
    gen = rig.workers.recording
    assert gen is not None
    rig.post(ev.RecordingEnded(gen), ev.Triggered(PRESS), ev.Triggered(LONG))
    assert rig.state is State.READY and rig.engine.sessions[0].cancelled
    rig.post(ev.Transcribed(gen, result=DictationResult(pieces=[Piece("too late")])))
    assert rig.state is State.READY and rig.workers.typing is None
    assert set(rig.parts.host.reports) == {bytes(8)}, "a key was typed"  # the start's all-up


def test_a_press_while_typing_stops_it_and_its_end_is_ignored(rig: Rig) -> None:
    job = rig.dictate("hello there.")
    rig.post(ev.Triggered(PRESS))
    assert rig.state is State.READY and rig.workers.waited == 1
    rig.type_it()  # the worker wakes up after the cancel: types nothing, its event is stale
    assert rig.state is State.READY and rig.parts.host.text == ""
    assert rig.parts.host.reports[-1:] == [bytes(8)]  # all keys up
    rig.post(ev.Triggered(RELEASE))
    assert rig.states().count(State.RECORDING) == 1
    assert job.typed == ""


def test_the_host_going_away_keeps_the_rest_and_types_it_when_it_is_back(rig: Rig) -> None:
    rig.dictate("one two three four five.")
    rig.parts.host.fail_after = 12
    rig.type_it()
    assert rig.state is State.ERROR
    assert rig.last(Topic.STATE) == (State.ERROR, "Host not connected")
    assert rig.last(Topic.HOST) == (False, "")
    kept = rig.typist.pending
    assert kept and "five." in kept
    rig.later(0.5)
    assert rig.state is State.ERROR  # not probed again before retry_s
    rig.parts.host.fail_after = None
    rig.parts.host.connected = True
    rig.later(1.0)
    assert rig.state is State.TYPING and rig.last(Topic.HOST) == (True, "")
    rig.type_it()
    assert rig.state is State.READY
    got, want = rig.parts.host.text, "One two three four five."
    # The character whose press reached the host just before it went is typed again rather
    # than risk losing it (the typist's rule): the rest is whole.
    assert len(got) == len(want) + 1 and any(
        got[:i] + got[i + 1 :] == want for i in range(len(got))
    )
    assert not rig.parts.host.keys_down


S_DOWN = bytes([0, 0, 0x16, 0, 0, 0, 0, 0])  # "s" held: the last report of a killed run


def test_a_key_a_killed_run_left_down_is_released_when_the_host_is_seen() -> None:
    """The previous daemon died between a press and its release (SIGKILL, a crash): the host
    would auto-repeat that key. The first thing a host that is seen connected gets is
    all keys up: at the start, and when it comes back."""
    rig = Rig()
    rig.parts.host.write(S_DOWN)
    assert rig.parts.host.keys_down
    rig.post(ev.ModelLoaded(rig.engine))
    assert rig.state is State.READY
    assert not rig.parts.host.keys_down and rig.parts.host.reports[-1] == bytes(8)
    # unplugged with a key down (the host keeps its state), plugged in again
    rig.parts.host.write(S_DOWN)
    rig.parts.host.connected = False
    rig.later(1.0)
    assert rig.state is State.ERROR
    rig.parts.host.connected = True
    rig.later(1.0)
    assert rig.state is State.READY
    assert not rig.parts.host.keys_down and rig.parts.host.reports[-1] == bytes(8)


def test_a_missing_microphone_is_retried_with_back_off() -> None:
    rig = Rig()
    rig.parts.mic_present = False
    rig.post(ev.ModelLoaded(rig.engine))
    assert rig.last(Topic.STATE) == (State.ERROR, "No microphone")
    assert rig.last(Topic.MICROPHONE) == (False, "")
    opens = [rig.parts.mic_opens]
    for _ in range(12):
        rig.later(1.0)
        opens.append(rig.parts.mic_opens)
    # tried at 0, 1, 3, 7 s and then every 10 s at most: not at every probe
    assert opens[-1] <= 5 and opens[1] == 2
    rig.parts.mic_present = True
    rig.post(ev.Triggered(PRESS))  # a press retries at once
    assert rig.state is State.READY and rig.last(Topic.MICROPHONE) == (True, "")


def test_nothing_heard_goes_back_to_ready_without_typing(rig: Rig) -> None:
    rig.post(ev.Triggered(PRESS), ev.Triggered(RELEASE))
    gen = rig.workers.recording
    assert gen is not None
    rig.post(ev.RecordingEnded(gen), ev.Transcribed(gen, result=DictationResult(pieces=[])))
    assert rig.state is State.READY and State.TYPING not in rig.states()


def test_each_status_topic_has_one_publisher() -> None:
    """The whole daemon built: every topic claimed exactly once, and a second claim fails."""
    bus = StatusBus()
    parts = FakeParts()
    Daemon(
        Config(),
        bus,
        Parts(
            load_engine=lambda progress: Engine(),
            open_microphone=lambda level: Mic(parts),
            open_typist=lambda text: Typist(parts.host, "us", text=text),
        ),
    )
    from appliance.wake_trigger import WakeWordTrigger

    WakeWordTrigger(Config(), bus).close()  # `run` adds it with wake_word.trigger set
    from appliance.config import with_overrides
    from appliance.daemon import real_parts

    # with a remote engine (asr.engine) the real parts claim the ENGINE topic
    remote = {"engine": "wyoming"}, {"url": "tcp://127.0.0.1:10300"}
    real_parts(with_overrides(Config(), asr=remote[0], remote=remote[1]), bus)
    owners = bus.owners()
    assert set(owners) == set(Topic)
    assert owners[Topic.LISTENING] == "wake word"
    assert owners[Topic.ENGINE] == "remote engine"
    assert owners[Topic.HOST] == owners[Topic.MICROPHONE] == "health"
    assert owners[Topic.TEXT] == "typist"
    assert owners[Topic.STATE] == "controller"
    for topic in Topic:
        with pytest.raises(TopicTaken):
            bus.publisher(topic, "a second writer")


def test_only_a_publisher_can_write_a_topic() -> None:
    bus = StatusBus()
    assert not hasattr(bus, "publish")
    state: Publisher = bus.publisher(Topic.STATE, "test")
    state.publish(State.READY)
    assert bus.last(Topic.STATE) is not None


@pytest.mark.parametrize(
    ("event", "state", "ptt", "armed", "action", "armed_after"),
    [
        (PRESS, State.READY, True, False, "start", True),
        (PRESS, State.READY, False, False, "start", False),
        (PRESS, State.RECORDING, False, False, "nothing", True),  # toggle: the stop press
        (RELEASE, State.RECORDING, False, True, "stop", False),
        (RELEASE, State.RECORDING, False, False, "nothing", False),  # toggle: the start's release
        (LONG, State.RECORDING, True, True, "nothing", True),  # push-to-talk: held = recording
        (LONG, State.RECORDING, False, True, "cancel", False),
        (LONG, State.TRANSCRIBING, True, False, "cancel", False),
        (PRESS, State.TYPING, True, False, "stop_typing", False),
        (PRESS, State.ERROR, True, False, "retry", False),
        (PRESS, State.TRANSCRIBING, True, False, "nothing", False),
    ],
)
def test_button_rules(event, state, ptt, armed, action, armed_after) -> None:
    from appliance.button_rules import decide

    got, after = decide(event, state, push_to_talk=ptt, stop_on_release=armed)
    assert (got.value, after) == (action, armed_after)


def test_a_microphone_that_fails_in_a_dictation_types_what_it_heard_then_recovers(
    rig: Rig,
) -> None:
    """The capture fails mid-dictation: the audio it delivered is transcribed and typed,
    then "No microphone" shows, and the same process opens the microphone when it is back."""
    rig.engine.text = "what was heard."
    rig.post(ev.Triggered(PRESS))
    gen = rig.workers.recording
    assert gen is not None
    rig.parts.mic_present = False  # unplugged while recording
    rig.post(ev.RecordingEnded(gen, MicrophoneError("capture failed (process ended)")))
    assert rig.parts.mic_closes == 1
    assert rig.last(Topic.MICROPHONE) == (False, "")
    assert rig.state is State.TRANSCRIBING and rig.engine.sessions[0].released
    assert rig.workers.finishing is not None
    rig.post(ev.Transcribed(gen, result=rig.workers.finishing[1].finish()))
    rig.type_it()
    assert rig.parts.host.text == "What was heard."
    assert rig.last(Topic.STATE) == (State.ERROR, "No microphone")
    opens = rig.parts.mic_opens
    rig.later(1.5)
    assert rig.parts.mic_opens > opens and rig.state is State.ERROR  # tried, still gone
    rig.parts.mic_present = True
    rig.later(10.0)
    assert rig.state is State.READY and rig.last(Topic.MICROPHONE) == (True, "")


def test_the_microphone_opens_while_the_model_loads_and_ready_waits_for_it() -> None:
    """Opening runs in the background (a process of its own): the loop never waits for it,
    READY comes once it answers, and a failed opening is an error with its reason."""
    rig = Rig()
    assert rig.parts.mic_opens == 1, "opening starts with the model load, not after it"
    rig.parts.mic_opening = True
    rig.post(ev.ModelLoaded(rig.engine))
    assert rig.state is State.STARTING
    rig.later(1.5)
    assert rig.state is State.STARTING and State.ERROR not in rig.states()
    assert not rig.notifier.is_ready, "systemd's READY=1 before a press could be answered"
    rig.parts.mic_opening = False
    rig.later(1.5)
    assert rig.state is State.READY and rig.last(Topic.MICROPHONE) == (True, "")
    assert rig.notifier.is_ready
    # a later opening that fails: the reason is shown
    rig.parts.mic_present = False
    rig.later(1.5)
    assert rig.last(Topic.STATE) == (State.ERROR, "No microphone")
    assert rig.last(Topic.ERROR)[1] == "Capture failed"  # the reason, as the OLED shows it
