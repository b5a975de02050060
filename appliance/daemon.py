"""The service: the controller's event loop, and the real parts wired to it.

The button and the worker threads post typed events (:mod:`appliance.events`) to one queue;
:class:`Daemon` hands them to the :class:`~appliance.controller.Controller` one at a time on
the thread that calls :meth:`Daemon.run`, with a tick when nothing happens. Every part is
injected through :class:`Parts`: :func:`run` wires the real ones, the tests pass fakes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.config import Config, ConfigError
from appliance.controller import Controller
from appliance.dictation_typer import DictationTyper, Typist
from appliance.engine import Engine, ProgressFn
from appliance.events import Event, StopRequested, Tick, Triggered
from appliance.health import Health
from appliance.hid.device import udc_configured
from appliance.language_choice import LanguageStore
from appliance.notify import Notifier
from appliance.parts import AudioListener, LevelFn, Microphone, Parts
from appliance.status import Publisher, State, Status, StatusBus, Topic
from appliance.ui.button import ButtonEvent

if TYPE_CHECKING:
    from appliance.wake_trigger import WakeWordTrigger
from appliance.workers import LevelMeter, ThreadWorkers

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        cfg: Config,
        bus: StatusBus,
        parts: Parts,
        *,
        notifier: Notifier | None = None,
        tick_s: float = 0.05,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        languages: LanguageStore | None = None,
    ) -> None:
        self.notifier = notifier or Notifier()
        self.tick_s = tick_s
        self._events: queue.Queue[Event | StopRequested] = queue.Queue()
        text = bus.publisher(Topic.TEXT, "typist")
        meter = LevelMeter(bus.publisher(Topic.LEVEL, "level meter"), clock)
        health = Health(
            bus,
            parts,
            text=text,
            level=meter,
            gadget_path=cfg.hid.device,
            clock=clock,
            retry_s=retry_s,
        )
        progress = bus.publisher(Topic.PROGRESS, "model loader")
        workers = ThreadWorkers(
            self._events.put, parts.load_engine, progress, self.notifier.watchdog
        )
        self.typer = DictationTyper(cfg)
        self.controller = Controller(
            cfg,
            bus,
            health=health,
            workers=workers,
            typer=self.typer,
            meter=meter,
            notifier=self.notifier,
            clock=clock,
            languages=languages,
            bluetooth=parts.bluetooth,
        )

    @property
    def state(self) -> State:
        return self.controller.state

    def trigger(self, event: ButtonEvent) -> None:
        """The button's callback (any thread)."""
        self._events.put(Triggered(ButtonEvent(event)))

    def post(self, event: Event) -> None:
        """An event from another trigger (the wake word's thread)."""
        self._events.put(event)

    def stop(self) -> None:
        """Ask the daemon to stop (SIGTERM): stop recording, release all keys, exit."""
        self._events.put(StopRequested())

    def run(self, *, install_signals: bool = True) -> int:
        """Run until stop() / SIGTERM; returns the exit code (0 on a clean stop)."""
        old: dict[int, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                old[signum] = signal.signal(signum, lambda *_: self.stop())
        try:
            self.controller.start()
            while True:
                try:
                    event = self._events.get(timeout=self.tick_s)
                except queue.Empty:
                    event = Tick()
                if isinstance(event, StopRequested):
                    break
                try:
                    self.controller.handle(event)
                except Exception:
                    log.exception("handling %s failed", type(event).__name__)
                    self.controller.reset()
            self.controller.shutdown()
            return 0
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


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
    p.set_defaults(on_config_error=show_config_error)
    return p


def real_parts(
    cfg: Config, bus: StatusBus | None = None, *, listener: AudioListener | None = None
) -> Parts:
    """The real engine, microphone and typist (on the USB gadget's HID device).

    With a remote engine (asr.engine) it claims the ENGINE topic of ``bus``: it says who
    transcribed each dictation. ``listener`` hears the microphone's every block (the wake
    word's trigger)."""
    engine_topic = None
    if cfg.asr.engine != "local" and bus is not None:
        engine_topic = bus.publisher(Topic.ENGINE, "remote engine")

    def load_engine(progress: ProgressFn) -> Engine:
        if cfg.asr.engine != "local":
            from appliance.remote_engine import RemoteEngine

            return RemoteEngine.load(cfg, progress=progress, status=engine_topic)
        from appliance.pipeline import Pipeline

        return Pipeline.load(cfg, progress=progress)

    def open_microphone(level: LevelFn) -> Microphone:
        from appliance.audio import Microphone as Mic

        return Mic(cfg.audio, level_callback=level, listener=listener)

    link = None
    if cfg.hid.output != "usb":
        from appliance.bluetooth.link import BluetoothLink

        link = BluetoothLink(cfg)

    def open_typist(text: Publisher) -> Typist:
        from appliance.hid import Typist as HidTypist

        if link is None:  # the USB gadget only
            if not Path(cfg.hid.device).exists():
                raise FileNotFoundError(2, "No such file or directory", cfg.hid.device)
            return HidTypist.from_config(cfg.hid, text=text)
        if cfg.hid.output == "bluetooth":
            return HidTypist.from_config(cfg.hid, link.open(), text=text)
        from appliance.hid.device import HidDevice
        from appliance.hid.either_output import EitherOutput

        usb = HidDevice(cfg.hid.device, cfg.hid.write_timeout_s)
        return HidTypist.from_config(
            cfg.hid, EitherOutput(usb, link.open(), udc_configured), text=text
        )

    if link is None:
        return Parts(load_engine, open_microphone, open_typist)
    usb_too = cfg.hid.output == "both"

    def host_connected() -> bool:
        return (usb_too and udc_configured()) or link.connected()

    return Parts(load_engine, open_microphone, open_typist, host_connected, bluetooth=link)


def publish_config_error(bus: StatusBus, error: ConfigError) -> None:
    """The state a config the service cannot start with shows: the key, and what is wrong."""
    headline = f"Config error: {error.key}" if error.key else "Config error"
    detail = error.reason + (f" (line {error.line})" if error.line is not None else "")
    state = bus.publisher(Topic.STATE, "config check")
    state.publish(State.ERROR, headline, detail=detail, code="config")


def show_config_error(error: ConfigError) -> None:
    """`run` cannot start: the OLED, if its own section of the file reads, says which key is
    wrong and stays lit after the exit (the journal has the whole message); the status file
    (copied to the boot partition) says it too, and with no LEDs wired the board's LED blinks."""
    from appliance.config import readable_sections
    from appliance.models import cache_root
    from appliance.status_file import NAME, StatusFile
    from appliance.ui.activity_led import blink_after_exit
    from appliance.ui.oled import open_oled

    StatusFile(cache_root() / NAME).problem(f"config error: {error}")
    cfg = readable_sections(error.file) if error.file else Config()
    if cfg.leds.kind == "none":
        blink_after_exit(cfg.leds.activity)
    bus = StatusBus()
    oled = open_oled(cfg.oled, bus)
    if oled is not None:
        publish_config_error(bus, error)
        oled.close(final=State.ERROR)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """`stt-keyboard run`: the service. Exit 0 on SIGTERM; config errors never get here."""
    from appliance.config import with_overrides
    from appliance.models import cache_root
    from appliance.notify import setup_logging
    from appliance.status_file import open_status_file
    from appliance.ui.button import open_button
    from appliance.ui.leds import open_leds
    from appliance.ui.oled import open_oled
    from appliance.ui.screens import ScreenModel

    # --model and --layout were applied by the command line (cli.effective_config).
    if args.no_hardware:
        cfg = with_overrides(
            cfg,
            button={"pin_factory": "mock"},
            leds={"kind": "none", "activity": "off"},
            oled={"enabled": False},
        )
    setup_logging("debug" if args.verbose else cfg.daemon.log_level)
    bus = StatusBus()
    bus.subscribe(_log_status, replay=False)
    wake = open_wake_trigger(cfg, bus)  # first: an unusable model is a config error
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
    # the board's own LED (leds.kind: none) needs no pin factory
    wired = cfg.leds.kind != "none"
    leds = open_leds(cfg.leds, bus, factory=factory) if factory or not wired else None
    status_file = open_status_file(bus, cache_root())
    parts = real_parts(cfg, bus, listener=wake.hear if wake is not None else None)
    daemon = Daemon(cfg, bus, parts, notifier=notifier, languages=LanguageStore(cache_root()))
    # wake_word alone: no button (nor GPIO) is needed; both: the button works as ever
    wake_only = cfg.wake_word.trigger == "wake_word"
    button = None if wake_only else open_button(cfg.button, daemon.trigger)
    if wake is not None:
        wake.start(daemon.post)
    try:
        return daemon.run()
    finally:
        if wake is not None:
            wake.close()
        status_file.close()
        if button is not None:
            button.close()
        if oled is not None:
            oled.close(final=State.STOPPED)
        if leds is not None:
            leds.close()


def open_wake_trigger(cfg: Config, bus: StatusBus) -> WakeWordTrigger | None:
    """The wake word's trigger when ``wake_word.trigger`` asks for it (its model loads here:
    a model that cannot be used is a config error, shown like any other)."""
    if cfg.wake_word.trigger == "button":
        return None
    from appliance.wake_trigger import WakeWordTrigger

    wake = WakeWordTrigger(cfg, bus)
    log.info("listening for the wake word %r", wake.detector.phrase)
    return wake


def _log_status(status: Status) -> None:
    if status.topic in (Topic.WARNING,):
        log.warning("%s", status.message)
