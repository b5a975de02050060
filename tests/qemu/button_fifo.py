"""Test support: a FIFO that presses the daemon's button, as gpiozero's tests drive its pins.

The whole-appliance test runs the real daemon with ``button.pin_factory: mock`` and writes
"press" / "release" lines to the FIFO named by ``$STT_KEYBOARD_TEST_BUTTON_FIFO``. Here, in
the daemon's process but outside the product, those lines drive the button's pin of the
MockFactory the daemon then finds as ``Device.pin_factory``; gpiozero reports the edges as
it would a real button's.
"""

from __future__ import annotations

import logging
import os
import threading

from appliance.config import ButtonConfig, config_path_from, load_config

FIFO_ENV = "STT_KEYBOARD_TEST_BUTTON_FIFO"

log = logging.getLogger("tests.button_fifo")


def serve_button_fifo(path: str, cfg: ButtonConfig) -> None:
    """Drive the mock pin of ``cfg.pin`` from the FIFO at ``path``, on a thread of its own."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    if cfg.pin_factory != "mock":
        raise RuntimeError(f"{FIFO_ENV} works only with button.pin_factory: mock")
    if not isinstance(Device.pin_factory, MockFactory):
        Device.pin_factory = MockFactory()  # the one the daemon's pin_factory("mock") uses
    pin = Device.pin_factory.pin(cfg.pin)
    pressed, released = (pin.drive_low, pin.drive_high)
    if not cfg.pull_up:
        pressed, released = released, pressed

    def serve() -> None:
        while True:
            with open(path, encoding="utf-8") as fifo:  # blocks until a writer opens it
                for line in fifo:
                    word = line.strip()
                    if word in ("press", "release"):
                        log.info("test button: %s", word)
                        (pressed if word == "press" else released)()

    threading.Thread(target=serve, name="test-button", daemon=True).start()
    log.warning("test hook: button driven through %s", path)


def serve_for_daemon(argv: list[str]) -> None:
    """With ``$STT_KEYBOARD_TEST_BUTTON_FIFO`` set, drive the button of the daemon that is
    about to run with ``argv`` (``--config FILE run``)."""
    fifo = os.environ.get(FIFO_ENV)
    if fifo:
        named = argv[argv.index("--config") + 1] if "--config" in argv else None
        path, required = config_path_from(named)  # the file the daemon will read
        serve_button_fifo(fifo, load_config(path, required=required).button)
