"""The daemon's Bluetooth keyboard, started when the typist is opened and again after a failure.

One object for the service's lifetime (the controller's gestures and the host check hold
it); the :class:`BluetoothKeyboard` inside is started on first use and made anew when
BlueZ was not there (``BluetoothUnavailable``: the health check shows it and tries again).
"""

from __future__ import annotations

import logging

from appliance.bluetooth.keyboard import BluetoothKeyboard
from appliance.bluetooth.paired_host import PairedHost
from appliance.config import Config

log = logging.getLogger(__name__)


class BluetoothLink:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._keyboard: BluetoothKeyboard | None = None

    def open(self) -> BluetoothKeyboard:
        """The running keyboard; BluetoothUnavailable (plain words) if BlueZ is not there."""
        if self._keyboard is None:
            bt, hid = self.cfg.bluetooth, self.cfg.hid
            keyboard = BluetoothKeyboard(
                bt.adapter,
                bt.name,
                write_timeout_s=hid.write_timeout_s,
                pairing_timeout_s=bt.pairing_timeout_s,
            )
            keyboard.start()
            self._keyboard = keyboard
        return self._keyboard

    def connected(self) -> bool:
        return self._keyboard is not None and self._keyboard.connected()

    @property
    def pairing(self) -> bool:
        return self._keyboard is not None and self._keyboard.pairing

    def set_pairing(self, on: bool) -> None:
        self.open().set_pairing(on)

    def select_next_host(self) -> PairedHost | None:
        return self.open().select_next_host()

    def close(self) -> None:
        if self._keyboard is not None:
            self._keyboard.close()
            self._keyboard = None
