"""The LE advertisement and the pairing agent BlueZ calls for us.

The agent says NoInputNoOutput (the device has no display or keypad: Just Works pairing)
and accepts a new host only while pairing mode is on (``accepts``); outside it every
request is rejected. Like :mod:`appliance.bluetooth.gatt`, these are dbus-fast objects
whose signatures are annotation strings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dbus_fast import DBusError
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

log = logging.getLogger(__name__)

APPEARANCE_KEYBOARD = 0x03C1
HID_SERVICE = "1812"


class Advertisement(ServiceInterface):
    """Connectable keyboard advertising; general discoverable only in pairing mode."""

    def __init__(self, path: str, name: str, *, discoverable: bool) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self.path = path
        self._name = name
        self._discoverable = discoverable

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":
        return [HID_SERVICE]

    @dbus_property(access=PropertyAccess.READ)
    def Appearance(self) -> "q":
        return APPEARANCE_KEYBOARD

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":
        return self._name

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":
        return self._discoverable

    @method()
    def Release(self):
        log.debug("advertisement released by BlueZ")


class PairingAgent(ServiceInterface):
    def __init__(self, path: str, accepts: Callable[[], bool]) -> None:
        super().__init__("org.bluez.Agent1")
        self.path = path
        self._accepts = accepts

    def _check(self, device: str, what: str) -> None:
        if not self._accepts():
            log.warning("bluetooth: %s from %s rejected (not in pairing mode)", what, device)
            raise DBusError("org.bluez.Error.Rejected", "not in pairing mode")
        log.info("bluetooth: %s from %s accepted (pairing mode)", what, device)

    @method()
    def Release(self):
        pass

    @method()
    def RequestAuthorization(self, device: "o"):
        self._check(device, "pairing")

    @method()
    def RequestConfirmation(self, device: "o", passkey: "u"):
        self._check(device, "pairing")

    @method()
    def AuthorizeService(self, device: "o", uuid: "s"):
        self._check(device, f"service {uuid}")

    @method()
    def RequestPinCode(self, device: "o") -> "s":
        raise DBusError("org.bluez.Error.Rejected", "no PIN: Just Works only")

    @method()
    def RequestPasskey(self, device: "o") -> "u":
        raise DBusError("org.bluez.Error.Rejected", "no passkey: Just Works only")

    @method()
    def DisplayPasskey(self, device: "o", passkey: "u", entered: "q"):
        pass

    @method()
    def DisplayPinCode(self, device: "o", pincode: "s"):
        pass

    @method()
    def Cancel(self):
        pass
