"""Runs INSIDE the QEMU guest: the computer's side of the Bluetooth link, on hci1.

    python bt_host.py pair NAME      discover NAME, pair (Just Works), trust, connect
    python bt_host.py connect NAME   connect to the already paired NAME (no pairing)
    python bt_host.py disconnect NAME
    python bt_host.py state NAME     print the device's Paired/Connected/Trusted as JSON

Everything goes through BlueZ's D-Bus API as a desktop's Bluetooth settings would; BlueZ's
own HID-over-GATT client (the input plugin) then creates the keyboard through uhid.
It registers its own NoInputNoOutput agent (a separate D-Bus connection from the
appliance's, which is the default agent).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method

ADAPTER = "/org/bluez/hci1"
HID = "00001812-0000-1000-8000-00805f9b34fb"
KEYBOARD = 0x03C1


class HostAgent(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.bluez.Agent1")

    @method()
    def Release(self):
        pass

    @method()
    def RequestAuthorization(self, device: "o"):
        pass

    @method()
    def RequestConfirmation(self, device: "o", passkey: "u"):
        pass

    @method()
    def Cancel(self):
        pass


async def call(bus: MessageBus, path: str, iface: str, member: str, sig: str = "",
               body: list[Any] | None = None) -> list[Any]:  # fmt: skip
    reply = await bus.call(Message(destination="org.bluez", path=path, interface=iface,
                                   member=member, signature=sig, body=body or []))  # fmt: skip
    assert reply is not None
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"{member}: {reply.error_name} {reply.body}")
    return reply.body


async def devices(bus: MessageBus) -> dict[str, dict[str, Any]]:
    (objs,) = await call(bus, "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
    return {
        p: {k: v.value for k, v in i["org.bluez.Device1"].items()}
        for p, i in objs.items()
        if p.startswith(ADAPTER + "/") and "org.bluez.Device1" in i
    }


async def find(bus: MessageBus, name: str, timeout_s: float) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        for path, props in (await devices(bus)).items():
            # The name can come late (scan response); the HID service and the keyboard
            # appearance are in the advertisement itself.
            hid = HID in props.get("UUIDs", []) and props.get("Appearance") == KEYBOARD
            if name in (props.get("Alias"), props.get("Name")) or hid:
                return path
        await asyncio.sleep(0.2)
    raise SystemExit(f"{name} not found by hci1 in {timeout_s} s")


async def wait_prop(bus: MessageBus, path: str, prop: str, want: bool, timeout_s: float) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if (await devices(bus)).get(path, {}).get(prop) == want:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"{path}: {prop} did not become {want} in {timeout_s} s")


async def main(cmd: str, name: str) -> None:
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    bus.export("/test/hostagent", HostAgent())
    await call(bus, "/org/bluez", "org.bluez.AgentManager1", "RegisterAgent", "os",
               ["/test/hostagent", "NoInputNoOutput"])  # fmt: skip
    props = "org.freedesktop.DBus.Properties"
    await call(bus, ADAPTER, props, "Set", "ssv", ["org.bluez.Adapter1", "Powered",
                                                    Variant("b", True)])  # fmt: skip
    if cmd == "pair":
        await call(bus, ADAPTER, "org.bluez.Adapter1", "SetDiscoveryFilter", "a{sv}",
                   [{"Transport": Variant("s", "le")}])  # fmt: skip
        await call(bus, ADAPTER, "org.bluez.Adapter1", "StartDiscovery")
        path = await find(bus, name, 30)
        await call(bus, ADAPTER, "org.bluez.Adapter1", "StopDiscovery")
        for attempt in range(3):  # as a person would: a pairing that failed is tried again
            try:
                await call(bus, path, "org.bluez.Device1", "Pair")
                break
            except RuntimeError as exc:
                print(f"pairing attempt {attempt + 1} failed: {exc}", file=sys.stderr)
                await asyncio.sleep(1)
        else:
            raise SystemExit("pairing failed three times")
        await call(bus, path, props, "Set", "ssv", ["org.bluez.Device1", "Trusted",
                                                     Variant("b", True)])  # fmt: skip
        await wait_prop(bus, path, "Connected", True, 30)
    elif cmd == "connect":
        path = await find(bus, name, 5)
        await call(bus, path, "org.bluez.Device1", "Connect")
        await wait_prop(bus, path, "Connected", True, 30)
    elif cmd == "disconnect":
        path = await find(bus, name, 5)
        await call(bus, path, "org.bluez.Device1", "Disconnect")
        await wait_prop(bus, path, "Connected", False, 30)
    path = await find(bus, name, 5)
    print(json.dumps((await devices(bus))[path], default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
