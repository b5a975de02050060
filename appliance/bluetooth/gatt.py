"""GATT objects BlueZ serves for us: services, characteristics, descriptors on D-Bus.

BlueZ's ``GattManager1.RegisterApplication`` reads the application's objects with
``GetManagedObjects`` (dbus-fast answers it for every object exported under the
application's path) and then calls ``ReadValue``/``WriteValue``/``StartNotify`` on them
when a connected host does. A notification is a ``PropertiesChanged`` of ``Value``.

dbus-fast reads each member's D-Bus signature from its annotation string ("ay",
"a{sv}"): those strings are not Python types, hence this module's lint and mypy
exemptions (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbus_fast import Variant
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

BASE_UUID = "-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """The full 128-bit form BlueZ reports of a 16-bit SIG-assigned UUID."""
    return f"0000{short:04x}{BASE_UUID}"


class GattService(ServiceInterface):
    def __init__(self, path: str, uuid: int, *, primary: bool = True) -> None:
        super().__init__("org.bluez.GattService1")
        self.path = path
        self._uuid = uuid16(uuid)
        self._primary = primary

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return self._primary


class GattCharacteristic(ServiceInterface):
    """A characteristic with a fixed or computed value; writes go to ``on_write``."""

    def __init__(
        self,
        path: str,
        service: GattService,
        uuid: int,
        flags: list[str],
        value: bytes = b"",
        *,
        on_write: Callable[[bytes], None] | None = None,
        on_notify: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.path = path
        self._service = service.path
        self._uuid = uuid16(uuid)
        self._flags = flags
        self._value = value
        self._on_write = on_write
        self._on_notify = on_notify
        self.notifying = False

    def notify(self, value: bytes) -> None:
        """Send ``value`` to the subscribed host (BlueZ turns the signal into a notification)."""
        self._value = value
        self.emit_properties_changed({"Value": value})

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self._service

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self._flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self._value

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        offset = _offset(options)
        return self._value[offset:]

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):
        self._value = bytes(value)
        if self._on_write is not None:
            self._on_write(self._value)

    @method()
    def StartNotify(self):
        self.notifying = True
        if self._on_notify is not None:
            self._on_notify(True)

    @method()
    def StopNotify(self):
        self.notifying = False
        if self._on_notify is not None:
            self._on_notify(False)


class GattDescriptor(ServiceInterface):
    def __init__(
        self, path: str, characteristic: GattCharacteristic, uuid: int, value: bytes
    ) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.path = path
        self._characteristic = characteristic.path
        self._uuid = uuid16(uuid)
        self._value = value

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> "o":
        return self._characteristic

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return ["encrypt-read"]

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return self._value[_offset(options) :]


def _offset(options: dict[str, Any]) -> int:
    offset = options.get("offset")
    return int(offset.value) if isinstance(offset, Variant) else 0
