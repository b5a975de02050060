"""The daemon's state machine, driven through gpiozero's MockFactory pins.

The pipeline pieces are small fakes (a microphone feeding a real speech recording, an engine
that "hears" a fixed sentence, a typist writing 8-byte reports to a host that decodes them),
so these tests take seconds. test_daemon_real.py runs the real pipeline once.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from luma.core.device import dummy

from appliance.audio import level_of, load_audio
from appliance.config import Config, with_overrides
from appliance.daemon import Daemon
from appliance.engine import DictationResult
from appliance.errors import MicrophoneError
from appliance.hid import HostAbsent, Typist, VirtualHost
from appliance.language_choice import LanguageStore
from appliance.notify import Notifier
from appliance.parts import Parts
from appliance.status import Publisher, State, StatusBus, Topic
from appliance.text import Piece
from appliance.ui.button import Button
from appliance.ui.leds import PATTERNS, open_leds
from appliance.ui.oled import Oled

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT.parent / "shared" / "speech" / "cmu_arctic_pyroomacoustics" / "arctic_aew_a0001.wav"
BUTTON = 17
LED_PINS = [5, 6, 13]
SENTENCE = "Author of the danger trail, Philip Steels, etc."


# --------------------------------------------------------------------------- fakes


class World:
    """The physical parts the tests plug and unplug."""

    def __init__(self) -> None:
        self.mic_present = True
        self.gadget_present = True
        self.host_connected = True


class FakeRecording:
    def __init__(self) -> None:
        self.q: queue.Queue[Any] = queue.Queue()
        self.closed = False

    def push(self, block: np.ndarray) -> None:
        if not self.closed:
            self.q.put(block)

    def close(self, error: BaseException | None = None) -> None:
        if not self.closed:
            self.closed = True
            self.q.put(error)

    def blocks(self, timeout_s: float = 5.0) -> Iterator[np.ndarray]:
        while True:
            item = self.q.get(timeout=timeout_s)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class FakeMic:
    """A microphone playing a real speech recording in a loop, 8x faster than real time."""

    audio = load_audio(SPEECH)

    def __init__(self, world: World, level: Callable[[float], None]):
        self.world = world
        self.level = level
        self.rec: FakeRecording | None = None
        self.running = False
        self.lock = threading.Lock()

    opening = False  # opens at once (the real one opens in the background)

    @property
    def alive(self) -> bool:
        return self.running and self.world.mic_present

    @property
    def error(self) -> Exception | None:
        return None if self.world.mic_present else MicrophoneError("capture failed")

    def start(self) -> None:
        if not self.world.mic_present:
            raise MicrophoneError("the system lists no audio input device")
        self.running = True
        threading.Thread(target=self._capture, daemon=True).start()

    def _capture(self) -> None:
        pos = 0
        while self.running:
            if not self.world.mic_present:
                self.running = False
                with self.lock:
                    if self.rec is not None:
                        self.rec.close(MicrophoneError("capture failed"))
                return
            block = self.audio[pos : pos + 512]
            pos = (pos + 512) % (len(self.audio) - 512)
            self.level(level_of(block))
            with self.lock:
                if self.rec is not None:
                    self.rec.push(block)
            time.sleep(0.004)

    def close(self) -> None:
        self.running = False

    def begin(self, since: int | None = None) -> FakeRecording:
        with self.lock:
            self.rec = FakeRecording()
            return self.rec

    def end(self) -> None:
        with self.lock:
            if self.rec is not None:
                self.rec.close()
                self.rec = None

    cancel = stop = end


class FakeSession:
    def __init__(self, engine: FakeEngine, on_piece: Any = None):
        self.engine = engine
        self.samples = 0
        self.cancelled = False
        self.on_piece = on_piece
        self.pieces_sent = 0
        self.pieces: list[Piece] = []
        self.released = False

    def feed(self, block: np.ndarray) -> None:
        self.samples += len(block)
        # With on_piece, a "sentence" is finished every 0.25 s of audio, as the VAD would.
        heard = self.samples >= self.engine.min_samples
        if self.on_piece is not None and heard and self.samples // 4000 > self.pieces_sent:
            self.pieces_sent += 1
            self._piece(Piece(f"sentence {self.pieces_sent}."))

    def _piece(self, piece: Piece) -> None:
        self.pieces.append(piece)
        if self.on_piece is not None:
            self.on_piece(piece)

    def release(self) -> None:
        self.released = True

    def heard_enough(self) -> bool:
        return False  # the fake microphone's own tail ends the recording

    def finish(self) -> DictationResult:
        time.sleep(self.engine.delay)
        self.engine.heard.append(self.samples)
        heard = self.samples and self.samples >= self.engine.min_samples
        if heard and not self.cancelled and self.engine.final_text:
            self._piece(Piece(self.engine.final_text))
        return DictationResult(pieces=list(self.pieces), cancelled=self.cancelled)

    def cancel(self) -> None:
        self.cancelled = True


class FakeEngine:
    def __init__(
        self,
        text: str = SENTENCE,
        delay: float = 0.05,
        *,
        final_text: str | None = None,
        min_speech_s: float = 0.0,
    ):
        """``text``: what a whole recording is heard as; with type-while-speaking the
        sentences come while speaking and ``final_text`` (default none) at the end. A
        recording shorter than ``min_speech_s`` is heard as nothing (the VAD's view of a tap).
        """
        self.text = text
        self.delay = delay
        self.min_samples = int(min_speech_s * 16000)
        self.language = ""  # set_language's last call
        self._final_text = final_text
        self.heard: list[int] = []
        self.sessions: list[FakeSession] = []

    @property
    def final_text(self) -> str | None:
        typing_early = bool(self.sessions) and self.sessions[-1].on_piece is not None
        return self._final_text if typing_early else self.text

    def set_language(self, code: str) -> None:
        self.language = code

    def start(self, on_piece: Any = None) -> FakeSession:
        s = FakeSession(self, on_piece)
        self.sessions.append(s)
        return s


class Host(VirtualHost):
    """The virtual USB host (decodes reports with the host layout) that can be unplugged."""

    def __init__(self, world: World):
        super().__init__("us")
        self.world = world

    def write(self, report: bytes) -> int:
        if not self.world.host_connected:
            raise HostAbsent(errno.ESHUTDOWN, "Cannot send after transport endpoint shutdown")
        return super().write(report)


# --------------------------------------------------------------------------- harness


class Rig:
    def __init__(
        self,
        mode: str = "push_to_talk",
        *,
        engine: FakeEngine | None = None,
        char_delay: float = 0.0,
        max_s: float = 60.0,
        warn_s: float = 10.0,
        world: World | None = None,
        notifier: Notifier | None = None,
        hold_s: float = 0.5,
        type_while_speaking: bool = False,
        open_timeout_s: float = 2.0,
        load_engine: Callable[[Callable[[float, str], None]], Any] | None = None,
        mic: Callable[[Callable[[float], None]], Any] | None = None,
        button: dict[str, Any] | None = None,
        text: dict[str, Any] | None = None,
        asr: dict[str, Any] | None = None,
        languages: LanguageStore | None = None,
        bluetooth: Any = None,
    ):
        """``button``, ``text``, ``asr``: more settings of those sections."""
        Device.pin_factory = MockFactory(pin_class=MockPWMPin)
        self.factory = Device.pin_factory
        self.world = world or World()
        self.cfg = with_overrides(
            Config(),
            button={
                "mode": mode,
                "hold_s": hold_s,
                "bounce_s": 0.0,
                "pin_factory": "mock",
                **(button or {}),
            },
            leds={"kind": "rgb", "pins": LED_PINS},
            audio={"max_recording_s": max_s, "open_timeout_s": open_timeout_s},
            daemon={
                "max_recording_warning_s": warn_s,
                "type_while_speaking": type_while_speaking,
            },
            text=text or {},
            asr=asr or {},
        )
        self.bus = StatusBus()
        self.states: list[tuple[State, str]] = []
        self.warnings: list[str] = []
        self.bus.subscribe(self._record, replay=False)
        self.engine = engine or FakeEngine()
        self.host = Host(self.world)
        self.char_delay = char_delay
        self.leds = open_leds(self.cfg.leds, self.bus, factory=self.factory)
        self.daemon = Daemon(
            self.cfg,
            self.bus,
            Parts(
                load_engine=load_engine or self._load,
                open_microphone=mic or (lambda level: FakeMic(self.world, level)),
                open_typist=self._typist,
                host_connected=lambda: self.world.host_connected,
                bluetooth=bluetooth,
            ),
            notifier=notifier,
            tick_s=0.02,
            retry_s=0.1,
            languages=languages,
        )
        self.button = Button(self.cfg.button, self.daemon.trigger, factory=self.factory)
        self.pin = self.factory.pin(BUTTON)
        self.rc: int | None = None
        self.thread: threading.Thread | None = None

    def _record(self, status: Any) -> None:
        if status.topic is Topic.STATE:
            self.states.append((status.value, status.message))
        elif status.topic is Topic.WARNING:
            self.warnings.append(status.message)

    def _load(self, progress: Callable[[float, str], None]) -> FakeEngine:
        for i in range(5):
            progress(i / 4, "Loading model")
            time.sleep(0.01)
        return self.engine

    def _typist(self, text: Publisher) -> Typist:
        if not self.world.gadget_present:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/dev/hidg0")
        return Typist(self.host, "us", text=text, report_delay_s=self.char_delay)

    def start(self) -> Rig:
        def main() -> None:
            self.rc = self.daemon.run(install_signals=False)

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        return self

    def wait(self, state: State, timeout: float = 5.0) -> None:
        wait_for(lambda: self.daemon.state is state, timeout, f"state {state}")

    def press(self) -> None:
        self.pin.drive_low()

    def release(self) -> None:
        self.pin.drive_high()

    def click(self, hold: float = 0.1) -> None:
        self.press()
        time.sleep(hold)
        self.release()

    def rgb(self) -> tuple[float, ...]:
        return tuple(self.factory.pin(p).state for p in LED_PINS)

    def close(self) -> None:
        self.daemon.stop()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.button.close()
        if self.leds is not None:
            self.leds.close()
        self.factory.reset()
        Device.pin_factory = None

    def entered(self) -> list[State]:
        return [s for s, _ in self.states]


def wait_for(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def rig_factory():
    rigs: list[Rig] = []

    def make(*args: Any, **kw: Any) -> Rig:
        rig = Rig(*args, **kw)
        rigs.append(rig)
        return rig.start()

    yield make
    for rig in rigs:
        rig.close()


# --------------------------------------------------------------------------- tests


def test_push_to_talk_types_what_was_heard_and_leds_follow(rig_factory):
    rig = rig_factory("push_to_talk")
    rig.wait(State.READY)
    assert rig.leds is not None and rig.leds.current == PATTERNS["ready"]
    assert rig.rgb() == (0, 1, 0)  # steady green
    rig.press()
    rig.wait(State.RECORDING)
    assert rig.rgb() == (1, 0, 0)  # red on while recording
    wait_for(lambda: (rig.bus.last(Topic.LEVEL) or SimpleNamespace(value=0)).value > 0.3)
    time.sleep(0.3)
    rig.release()
    wait_for(lambda: rig.host.text == SENTENCE, what="typed text")
    rig.wait(State.READY)
    assert rig.entered()[-4:] == [State.RECORDING, State.TRANSCRIBING, State.TYPING, State.READY]
    assert rig.host.reports[-1] == bytes(8)
    assert rig.engine.heard[0] > 16000 * 0.3 / 2  # the audio reached the engine
    assert rig.rgb() == (0, 1, 0)


def test_toggle_mode_press_to_start_press_to_stop(rig_factory):
    rig = rig_factory("toggle")
    rig.wait(State.READY)
    rig.click()
    time.sleep(0.3)
    assert rig.daemon.state is State.RECORDING  # release does not stop it in toggle mode
    rig.click()
    wait_for(lambda: rig.host.text == SENTENCE, what="typed text")
    rig.wait(State.READY)
    assert rig.entered()[-4:] == [State.RECORDING, State.TRANSCRIBING, State.TYPING, State.READY]


def test_push_to_talk_hold_longer_than_hold_time_still_records(rig_factory):
    """Holding the button is how push-to-talk records: a long hold must not cancel it."""
    rig = rig_factory("push_to_talk")
    rig.wait(State.READY)
    rig.press()
    rig.wait(State.RECORDING)
    time.sleep(0.8)  # > hold_s
    assert rig.daemon.state is State.RECORDING
    rig.release()
    wait_for(lambda: State.TYPING in rig.entered(), what="typing")
    rig.wait(State.READY)
    assert rig.host.text != ""
    assert not rig.host.keys_down


def test_long_press_cancels_the_recording_in_toggle_mode(rig_factory):
    rig = rig_factory("toggle")
    rig.wait(State.READY)
    rig.click()
    rig.wait(State.RECORDING)
    time.sleep(0.2)
    rig.press()
    rig.wait(State.RECORDING)
    time.sleep(0.8)  # > hold_s: long press
    rig.wait(State.READY)
    rig.release()
    time.sleep(0.3)
    assert rig.daemon.state is State.READY
    assert rig.host.text == "" and set(rig.host.reports) <= {bytes(8)}  # the start's all-up
    assert State.TYPING not in rig.entered()


@pytest.mark.parametrize("mode", ["push_to_talk", "toggle"])
def test_long_press_while_transcribing_types_nothing(rig_factory, mode):
    # hold_s 1.0: the first press (0.5 s) must be longer than button.double_press_s (0.4 s:
    # shorter, two presses are a gesture) and clearly shorter than a long press (one that
    # ended at hold_s could be taken for both, and cancel what it just started)
    rig = rig_factory(mode, engine=FakeEngine(delay=2.5), hold_s=1.0)
    rig.wait(State.READY)
    if mode == "toggle":
        rig.click()
        time.sleep(0.5)
        rig.click()
    else:
        rig.press()
        time.sleep(0.5)
        rig.release()
    rig.wait(State.TRANSCRIBING)
    rig.press()
    time.sleep(1.3)  # > hold_s: a long press
    rig.release()
    rig.wait(State.READY)
    time.sleep(2.2)  # the slow engine finishes: its result must be dropped
    assert rig.host.text == ""
    assert State.TYPING not in rig.entered()


def test_press_while_typing_stops_cleanly(rig_factory):
    long_text = " ".join(["Word"] + ["word"] * 199)
    rig = rig_factory("push_to_talk", engine=FakeEngine(long_text), char_delay=0.001)
    rig.wait(State.READY)
    rig.click(0.2)
    rig.wait(State.TYPING)
    wait_for(lambda: len(rig.host.text) > 0, what="typing under way")  # not a fixed sleep
    rig.click()
    rig.wait(State.READY)
    time.sleep(0.3)
    typed = rig.host.text
    assert 0 < len(typed) < len(long_text)
    assert long_text.startswith(typed)
    assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down  # every key up
    n = len(rig.host.reports)
    time.sleep(0.3)
    assert len(rig.host.reports) == n  # nothing more typed
    # the stopping press did not start a new recording
    assert rig.entered().count(State.RECORDING) == 1


def test_maximum_recording_time_warns_then_stops(rig_factory):
    rig = rig_factory("toggle", max_s=1.5, warn_s=1.0)
    rig.wait(State.READY)
    rig.click()
    rig.wait(State.RECORDING)
    wait_for(lambda: rig.warnings, 2.0, "warning")
    assert rig.warnings[0] == "Stops in 1 s"
    assert rig.leds is not None and rig.leds.current == PATTERNS["warning"]
    wait_for(lambda: rig.host.text == SENTENCE, 5.0, "typed after the maximum")
    rig.wait(State.READY)
    elapsed = rig.bus.last(Topic.ELAPSED)
    assert elapsed is not None and 1.0 <= elapsed.value <= 1.6


def test_errors_are_shown_and_recovered_from(rig_factory):
    world = World()
    world.mic_present = False
    world.gadget_present = False
    rig = rig_factory(world=world)
    rig.wait(State.ERROR)
    assert rig.states[-1] == (State.ERROR, "No microphone")
    assert rig.leds is not None and rig.leds.current == PATTERNS["error"]
    world.mic_present = True
    wait_for(lambda: rig.states[-1] == (State.ERROR, "USB gadget not set up"))
    world.gadget_present = True
    rig.wait(State.READY)
    # host unplugged while idle, and back
    world.host_connected = False
    wait_for(lambda: rig.states[-1] == (State.ERROR, "Host not connected"))
    assert rig.bus.last(Topic.HOST).value is False  # type: ignore[union-attr]
    rig.click()  # a press in an error state does nothing harmful
    world.host_connected = True
    rig.wait(State.READY)
    # microphone pulled while recording: what it heard is typed, then the error, then back
    # when it returns (in the same process)
    rig.press()
    rig.wait(State.RECORDING)
    world.mic_present = False
    wait_for(lambda: rig.states[-1] == (State.ERROR, "No microphone"))
    assert rig.host.text == SENTENCE, "what was heard before the microphone failed is typed"
    rig.release()
    world.mic_present = True
    rig.wait(State.READY)
    # and it works again
    rig.click(0.2)
    wait_for(lambda: rig.host.text.count(SENTENCE) == 2, what="typed after recovery")


def test_host_gone_while_typing_releases_and_reports(rig_factory):
    world = World()
    text = " ".join(["Word"] + ["word"] * 99)
    rig = rig_factory(world=world, engine=FakeEngine(text), char_delay=0.001)
    rig.wait(State.READY)
    rig.click(0.2)
    rig.wait(State.TYPING)
    time.sleep(0.1)
    world.host_connected = False
    wait_for(lambda: rig.states[-1] == (State.ERROR, "Host not connected"))
    assert 0 < len(rig.host.text) < len(text)
    world.host_connected = True

    # the text kept while the host was away is typed when it returns, then ready.
    # Known typist edge (reported to the HID side): when the unplug hits between a key's press
    # and its release, that character counts as untyped and comes again after the return.
    def complete() -> bool:
        got = rig.host.text
        return got == text or (
            len(got) == len(text) + 1
            and any(got[:i] + got[i + 1 :] == text for i in range(len(got)))
        )

    wait_for(complete, 10, "the rest typed after the host returned")
    rig.wait(State.READY)
    assert not rig.host.keys_down


def test_sigterm_while_typing_leaves_no_key_down_and_exits_0():
    """A real SIGTERM to this process while the typist is mid-sentence."""
    long_text = " ".join(["Word"] + ["word"] * 299)
    rig = Rig("push_to_talk", engine=FakeEngine(long_text), char_delay=0.001)
    device = dummy(width=128, height=64, mode="1")
    oled = Oled(device, dim_after_s=0)
    rig.bus.subscribe(oled)

    def operator() -> None:
        wait_for(lambda: rig.daemon.state is State.READY)
        rig.click(0.2)
        wait_for(lambda: rig.daemon.state is State.TYPING)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=operator, daemon=True).start()
    try:
        rc = rig.daemon.run()  # main thread: installs the SIGTERM handler
    finally:
        rig.close()
    assert rc == 0
    assert 0 < len(rig.host.text) < len(long_text)
    assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down
    assert rig.daemon.state is State.STOPPED
    assert oled.model.state is State.STOPPED  # the display shows "Stopped"
    assert "STOPPING=1" in rig.daemon.notifier.sent[-2]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(
        signal.getsignal(signal.SIGTERM)
    )


def test_sd_notify_ready_only_when_the_model_is_warm(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "300000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    rig = Rig(notifier=Notifier()).start()
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 3:
            messages.append(sock.recv(4096).decode())
        progress = rig.bus.last(Topic.PROGRESS)
        assert progress is not None and progress.value == 1.0
        ready = [i for i, m in enumerate(messages) if "READY=1" in m]
        assert len(ready) == 1
        assert any("STATUS=starting" in m for m in messages[: ready[0]])
        assert sum("WATCHDOG=1" in m for m in messages) >= 3
    finally:
        rig.close()
        sock.close()


def test_broken_config_exits_non_zero_with_the_message_on_stderr(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("audio:\n  rate: 5\n")
    env = dict(os.environ, JOURNAL_STREAM="")
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "--config", str(bad), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert "audio.rate" in proc.stderr and "out of range" in proc.stderr
    assert proc.stdout == ""


def test_a_broken_config_is_shown_on_the_oled_its_own_section_names(tmp_path):
    """The rest of the file is broken, the OLED's section is not: the error goes to that
    display (here none answers on I²C, so the attempt is what the log shows)."""
    bad = tmp_path / "config.yaml"
    bad.write_text("audio:\n  rate: 5\noled:\n  enabled: true\n  i2c_address: 0x3D\n")
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "--config", str(bad), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, JOURNAL_STREAM=""),
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "config error:" in proc.stderr and "audio.rate" in proc.stderr
    assert "no OLED (ssd1306 at I²C bus 1 address 0x3D)" in proc.stderr


def test_type_while_speaking_types_sentences_before_the_release(rig_factory):
    rig = rig_factory("push_to_talk", type_while_speaking=True)
    rig.wait(State.READY)
    rig.press()
    rig.wait(State.RECORDING)
    wait_for(lambda: "Sentence 2." in rig.host.text, what="text typed while speaking")
    assert rig.daemon.state is State.RECORDING
    rig.release()
    rig.wait(State.READY)
    assert rig.host.text.startswith("Sentence 1. Sentence 2.")
    assert not rig.host.keys_down


def test_type_while_speaking_long_press_stops_further_typing(rig_factory):
    rig = rig_factory("toggle", type_while_speaking=True)
    rig.wait(State.READY)
    rig.click()
    wait_for(lambda: "Sentence 1." in rig.host.text, what="first sentence")
    rig.press()
    time.sleep(0.8)  # long press: cancel
    rig.release()
    rig.wait(State.READY)
    typed = rig.host.text
    time.sleep(0.5)
    assert rig.host.text == typed  # nothing more after the cancel
    assert not rig.host.keys_down


def test_type_while_speaking_shows_typing_for_the_last_words_and_a_press_stops_them(rig_factory):
    """The default mode: the last words are typed in the TYPING state (LED, OLED), and a
    press then stops typing as it does in the other mode."""
    last_words = " ".join(["Word"] + ["word"] * 199)
    engine = FakeEngine(final_text=last_words)
    rig = rig_factory("push_to_talk", engine=engine, type_while_speaking=True, char_delay=0.001)
    rig.wait(State.READY)
    rig.press()
    wait_for(lambda: "Sentence 1." in rig.host.text, what="typed while speaking")
    rig.release()
    rig.wait(State.TYPING)
    assert rig.leds is not None and rig.leds.current == PATTERNS["typing"]
    wait_for(lambda: "word word" in rig.host.text, what="the last words under way")
    rig.click()
    rig.wait(State.READY)
    typed = rig.host.text
    assert typed.startswith("Sentence 1.") and 0 < typed.count("word") < 200
    assert rig.host.reports[-1] == bytes(8) and not rig.host.keys_down
    time.sleep(0.3)
    assert rig.host.text == typed  # nothing more after the press
    assert rig.entered().count(State.RECORDING) == 1  # the stopping press started nothing
    last = rig.daemon.typer.history.last()
    assert last is not None and not last.complete and last.text.startswith("Sentence 1.")
