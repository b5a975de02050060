"""The output seam: where the typist's 8-byte keyboard reports go.

Today that is the USB gadget's ``/dev/hidg0`` (:class:`~appliance.hid.device.HidDevice`) or,
in tests and ``simulate``, a :class:`~appliance.hid.virtual_host.VirtualHost`; a Bluetooth
HID link is the next. An output that loses its host raises
:class:`~appliance.hid.device.HostAbsent`: that exception is the one "host gone" signal.
"""

from __future__ import annotations

from typing import Protocol


class KeyboardOutput(Protocol):
    def write(self, report: bytes) -> int:
        """Send one report; blocks while the host has not taken the previous one."""

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        """The host's newest LED output report (Caps Lock...), or None."""

    def close(self) -> None: ...
