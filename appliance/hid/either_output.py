"""``hid.output: both``: the USB host while one is plugged in, else the Bluetooth host."""

from __future__ import annotations

from collections.abc import Callable

from appliance.hid.output import KeyboardOutput


class EitherOutput:
    """A :class:`KeyboardOutput` that sends each report to the USB gadget when a USB host
    has configured it, otherwise to the Bluetooth keyboard. Either raises the one "host
    gone" signal (HostAbsent) when its host is away."""

    def __init__(
        self, usb: KeyboardOutput, bluetooth: KeyboardOutput, usb_connected: Callable[[], bool]
    ) -> None:
        self.usb = usb
        self.bluetooth = bluetooth
        self._usb_connected = usb_connected

    def _current(self) -> KeyboardOutput:
        return self.usb if self._usb_connected() else self.bluetooth

    def write(self, report: bytes) -> int:
        return self._current().write(report)

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        return self._current().read_leds(timeout_s)

    def close(self) -> None:
        self.usb.close()
        self.bluetooth.close()
