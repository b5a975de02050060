"""A Bluetooth LE keyboard (HID over GATT) through BlueZ: the typist's Bluetooth output.

:class:`BluetoothKeyboard` is a :class:`~appliance.hid.output.KeyboardOutput` like the USB
gadget: the typist writes the same 8-byte reports, reads the host's LED report (Caps Lock)
the same way, and gets the one "host gone" signal,
:class:`~appliance.hid.device.HostAbsent`, when no paired host is connected and listening.

It serves HOGP's services on one adapter (HID: report map, input report, LED output
report, HID information, control point, protocol mode; battery; device information),
advertises as a keyboard, and pairs (Just Works, bonded) only in pairing mode. Only a
host that paired with it in pairing mode (marked Trusted by BlueZ) gets keystrokes; any
other connection is dropped. With several paired hosts one is *selected*: the others are
disconnected when they connect, so the text goes to one computer.

dbus-fast runs on an asyncio loop in a thread of its own; the typist's thread waits on
it for each report.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from appliance.bluetooth.gatt import GattCharacteristic, GattDescriptor, GattService
from appliance.bluetooth.paired_host import PairedHost
from appliance.bluetooth.peripheral import Advertisement, PairingAgent
from appliance.hid.device import HostAbsent
from appliance.hid.report_descriptor import KEYBOARD_REPORT_DESCRIPTOR

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
APP = "/org/sttkeyboard/hid"
AGENT = "/org/sttkeyboard/agent"
ADVERT = "/org/sttkeyboard/advert"
PNP_ID = bytes([0x02, 0x6B, 0x1D, 0x04, 0x01, 0x01, 0x00])  # USB IDs as the gadget's
HID_INFORMATION = bytes([0x11, 0x01, 0x00, 0x02])  # HID 1.11, no country, normally connectable
REPORT_INPUT, REPORT_OUTPUT = 1, 2
# At most one report per millisecond. BlueZ's server packs the notifications of the next
# 10 ms into one "multiple handle value notification" for clients that take them (BlueZ
# hosts), and a pack larger than the link's MTU overflows: reports came out truncated
# ("bt_uhid_input: Invalid argument" on the host) and text was lost. 10 reports of 12
# bytes fit any MTU from 121 up; BlueZ hosts use 517.
MIN_REPORT_INTERVAL_S = 0.001


class BluetoothUnavailable(RuntimeError):
    """BlueZ or the adapter is missing: said in plain words (the daemon shows it)."""


@dataclass
class _Device:
    address: str = ""
    name: str = ""
    connected: bool = False
    paired: bool = False
    trusted: bool = False


class BluetoothKeyboard:
    def __init__(
        self,
        adapter: str = "hci0",
        name: str = "STT Keyboard",
        *,
        write_timeout_s: float = 2.0,
        pairing_timeout_s: float = 120.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.adapter_path = f"/org/bluez/{adapter}"
        self.name = name
        self.write_timeout_s = write_timeout_s
        self.pairing_timeout_s = pairing_timeout_s
        self._pairing_ends: asyncio.TimerHandle | None = None
        self._on_change = on_change
        self._devices: dict[str, _Device] = {}
        self._selected: str | None = None
        self._pairing = False
        self._leds: int | None = None
        self._next_report_at = 0.0
        self._leds_seen = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="bluetooth", daemon=True
        )
        self._bus: MessageBus | None = None
        self._input: GattCharacteristic | None = None
        self._advert: Advertisement | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect to BlueZ, serve the keyboard, advertise; BluetoothUnavailable if it can't."""
        self._thread.start()
        try:
            self._call(self._start(), timeout_s)
        except BluetoothUnavailable:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise BluetoothUnavailable(f"Bluetooth keyboard could not start: {exc}") from exc

    def close(self) -> None:
        if self._thread.is_alive():
            if self._bus is not None:
                try:
                    self._call(self._stop(), 5.0)
                except Exception as exc:  # closing: say it, do not mask the cause
                    log.warning("bluetooth: closing: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)

    # -- KeyboardOutput -----------------------------------------------------------------

    def write(self, report: bytes) -> int:
        if not self.connected():
            raise HostAbsent("no paired Bluetooth host is connected")
        wait = self._next_report_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._call(self._notify(bytes(report)), self.write_timeout_s)
        self._next_report_at = time.monotonic() + MIN_REPORT_INTERVAL_S
        return len(report)

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        with self._leds_seen:
            if self._leds is None and timeout_s > 0:
                self._leds_seen.wait(timeout_s)
            return self._leds

    # -- hosts ----------------------------------------------------------------------------

    def connected(self) -> bool:
        """A paired, selected host is connected and has turned on the keyboard's reports."""
        if self._input is None or not self._input.notifying:
            return False
        return any(self._allowed(path, d) and d.connected for path, d in self._devices.items())

    def paired_hosts(self) -> list[PairedHost]:
        return [
            PairedHost(d.address, d.name or d.address, d.connected)
            for d in self._devices.values()
            if d.paired and d.trusted
        ]

    @property
    def pairing(self) -> bool:
        return self._pairing

    def set_pairing(self, on: bool) -> None:
        """Pairing mode: discoverable, and a new host may pair (Just Works)."""
        self._call(self._set_pairing(on), 10.0)

    def select_next_host(self) -> PairedHost | None:
        """Send the text to the next paired host; the one connected now is let go."""
        hosts = sorted(
            (p for p, d in self._devices.items() if d.paired and d.trusted),
            key=lambda p: self._devices[p].address,
        )
        if not hosts:
            return None
        current = hosts.index(self._selected) if self._selected in hosts else -1
        self._selected = hosts[(current + 1) % len(hosts)]
        self._call(self._drop_unselected(), 10.0)
        d = self._devices[self._selected]
        log.info("bluetooth: typing to %s (%s) from now on", d.name, d.address)
        return PairedHost(d.address, d.name or d.address, d.connected)

    # -- the asyncio side -------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise HostAbsent(f"Bluetooth did not answer in {timeout_s:.1f} s") from exc

    async def _start(self) -> None:
        try:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except Exception as exc:
            raise BluetoothUnavailable(f"no D-Bus system bus ({exc})") from exc
        objects = await self._managed_objects()
        if self.adapter_path not in objects:
            raise BluetoothUnavailable(
                f"no Bluetooth adapter {self.adapter} (is bluetoothd running? "
                f"adapters: {sorted(p for p in objects if p.count('/') == 3) or 'none'})"
            )
        for path, ifaces in objects.items():
            if "org.bluez.Device1" in ifaces and path.startswith(self.adapter_path + "/"):
                self._update_device(path, ifaces["org.bluez.Device1"])
        self._bus.add_message_handler(self._on_signal)
        for rule in (
            f"type='signal',sender='{BLUEZ}',interface='org.freedesktop.DBus.Properties',"
            f"member='PropertiesChanged',path_namespace='{self.adapter_path}'",
            f"type='signal',sender='{BLUEZ}',interface='org.freedesktop.DBus.ObjectManager'",
        ):
            await self._dbus(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [rule],
            )
        await self._set_adapter("Powered", Variant("b", True))
        await self._set_adapter("Alias", Variant("s", self.name))
        await self._set_adapter("Pairable", Variant("b", False))
        self._export_gatt()
        await self._bluez(
            self.adapter_path, "org.bluez.GattManager1", "RegisterApplication", "oa{sv}", [APP, {}]
        )
        agent = PairingAgent(AGENT, lambda: self._pairing)
        self._bus.export(AGENT, agent)
        await self._bluez(
            "/org/bluez",
            "org.bluez.AgentManager1",
            "RegisterAgent",
            "os",
            [AGENT, "NoInputNoOutput"],
        )
        await self._bluez(
            "/org/bluez", "org.bluez.AgentManager1", "RequestDefaultAgent", "o", [AGENT]
        )
        await self._advertise(discoverable=False)
        known = self.paired_hosts()
        if known and self._selected is None:
            self._selected = next(p for p, d in self._devices.items() if d.paired and d.trusted)
        log.info(
            "bluetooth: keyboard '%s' on %s; paired hosts: %s",
            self.name,
            self.adapter,
            ", ".join(h.name for h in known) or "none",
        )

    async def _stop(self) -> None:
        assert self._bus is not None
        for call in (
            (
                self.adapter_path,
                "org.bluez.LEAdvertisingManager1",
                "UnregisterAdvertisement",
                "o",
                [ADVERT],
            ),
            (self.adapter_path, "org.bluez.GattManager1", "UnregisterApplication", "o", [APP]),
            ("/org/bluez", "org.bluez.AgentManager1", "UnregisterAgent", "o", [AGENT]),
        ):
            try:
                await self._bluez(*call)
            except Exception as exc:  # already gone with bluetoothd: nothing to undo
                log.debug("bluetooth: %s: %s", call[2], exc)
        self._bus.disconnect()
        self._bus = None

    def _export_gatt(self) -> None:
        assert self._bus is not None
        hid = GattService(f"{APP}/hid", 0x1812)
        svc = [hid]
        chars = [
            GattCharacteristic(f"{hid.path}/info", hid, 0x2A4A, ["encrypt-read"], HID_INFORMATION),
            GattCharacteristic(
                f"{hid.path}/map", hid, 0x2A4B, ["encrypt-read"], KEYBOARD_REPORT_DESCRIPTOR
            ),
            GattCharacteristic(f"{hid.path}/control", hid, 0x2A4C, ["write-without-response"]),
            GattCharacteristic(
                f"{hid.path}/mode", hid, 0x2A4E, ["read", "write-without-response"], b"\x01"
            ),
        ]
        self._input = GattCharacteristic(
            f"{hid.path}/input",
            hid,
            0x2A4D,
            ["encrypt-read", "notify"],
            bytes(8),
            on_notify=self._notifying,
        )
        leds = GattCharacteristic(
            f"{hid.path}/leds",
            hid,
            0x2A4D,
            ["encrypt-read", "encrypt-write", "write-without-response"],
            b"\x00",
            on_write=self._led_report,
        )
        chars += [self._input, leds]
        descs = [  # Report Reference: report ID 0 (the map has none), input / output
            GattDescriptor(f"{c.path}/ref", c, 0x2908, bytes([0, kind]))
            for c, kind in ((self._input, REPORT_INPUT), (leds, REPORT_OUTPUT))
        ]
        battery = GattService(f"{APP}/battery", 0x180F)
        info = GattService(f"{APP}/info", 0x180A)
        svc += [battery, info]
        chars += [
            GattCharacteristic(f"{battery.path}/level", battery, 0x2A19, ["read"], b"\x64"),
            GattCharacteristic(f"{info.path}/pnp", info, 0x2A50, ["read"], PNP_ID),
            GattCharacteristic(f"{info.path}/maker", info, 0x2A29, ["read"], b"STT Keyboard"),
        ]
        objects: list[GattService | GattCharacteristic | GattDescriptor] = [*svc, *chars, *descs]
        for obj in objects:
            self._bus.export(obj.path, obj)

    async def _advertise(self, *, discoverable: bool) -> None:
        assert self._bus is not None
        if self._advert is not None:
            try:
                await self._bluez(
                    self.adapter_path,
                    "org.bluez.LEAdvertisingManager1",
                    "UnregisterAdvertisement",
                    "o",
                    [ADVERT],
                )
            except Exception as exc:  # BlueZ dropped it already (e.g. it restarted)
                log.debug("bluetooth: unregister advertisement: %s", exc)
            self._bus.unexport(ADVERT)
        self._advert = Advertisement(ADVERT, self.name, discoverable=discoverable)
        self._bus.export(ADVERT, self._advert)
        await self._bluez(
            self.adapter_path,
            "org.bluez.LEAdvertisingManager1",
            "RegisterAdvertisement",
            "oa{sv}",
            [ADVERT, {}],
        )

    async def _set_pairing(self, on: bool) -> None:
        self._pairing = on
        if self._pairing_ends is not None:
            self._pairing_ends.cancel()
            self._pairing_ends = None
        if on:
            self._pairing_ends = self._loop.call_later(
                self.pairing_timeout_s, lambda: self._loop.create_task(self._set_pairing(False))
            )
        await self._set_adapter("Pairable", Variant("b", on))
        await self._advertise(discoverable=on)
        log.info("bluetooth: pairing mode %s", "on" if on else "off")
        self._changed()

    async def _notify(self, report: bytes) -> None:
        assert self._input is not None
        self._input.notify(report)

    async def _drop_unselected(self) -> None:
        for path, d in list(self._devices.items()):
            if d.connected and not self._allowed(path, d):
                await self._disconnect(path, "not the selected host")

    async def _disconnect(self, path: str, why: str) -> None:
        log.info("bluetooth: disconnecting %s: %s", path, why)
        try:
            await self._bluez(path, "org.bluez.Device1", "Disconnect", "", [])
        except Exception as exc:  # it left by itself meanwhile
            log.debug("bluetooth: disconnect %s: %s", path, exc)

    # -- D-Bus plumbing ----------------------------------------------------------------------

    async def _dbus(
        self, dest: str, path: str, iface: str, member: str, sig: str, body: list[Any]
    ) -> Any:
        assert self._bus is not None
        reply = await self._bus.call(
            Message(
                destination=dest,
                path=path,
                interface=iface,
                member=member,
                signature=sig,
                body=body,
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            detail = reply.body[0] if reply is not None and reply.body else ""
            name = reply.error_name if reply is not None else "no reply"
            raise BluetoothUnavailable(f"{iface}.{member} on {path}: {name} {detail}".strip())
        return reply.body

    async def _bluez(self, path: str, iface: str, member: str, sig: str, body: list[Any]) -> Any:
        return await self._dbus(BLUEZ, path, iface, member, sig, body)

    async def _managed_objects(self) -> dict[str, dict[str, dict[str, Variant]]]:
        try:
            body = await self._bluez(
                "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", []
            )
        except BluetoothUnavailable as exc:
            raise BluetoothUnavailable(f"BlueZ (bluetoothd) is not running: {exc}") from exc
        return body[0]

    async def _set_adapter(self, prop: str, value: Variant) -> None:
        await self._bluez(
            self.adapter_path,
            "org.freedesktop.DBus.Properties",
            "Set",
            "ssv",
            ["org.bluez.Adapter1", prop, value],
        )

    def _on_signal(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL or not msg.path:
            return
        if msg.member == "PropertiesChanged" and msg.body[0] == "org.bluez.Device1":
            self._update_device(msg.path, msg.body[1])
        elif msg.member == "InterfacesAdded" and "org.bluez.Device1" in msg.body[1]:
            if msg.body[0].startswith(self.adapter_path + "/"):
                self._update_device(msg.body[0], msg.body[1]["org.bluez.Device1"])
        elif (
            msg.member == "InterfacesRemoved"
            and "org.bluez.Device1" in msg.body[1]
            and self._devices.pop(msg.body[0], None) is not None
        ):
            self._changed()

    def _update_device(self, path: str, props: dict[str, Variant]) -> None:
        d = self._devices.setdefault(path, _Device())
        was_paired, was_connected = d.paired, d.connected
        for key, attr in (("Address", "address"), ("Alias", "name")):
            if key in props:
                setattr(d, attr, str(props[key].value))
        for key, attr in (("Connected", "connected"), ("Paired", "paired"), ("Trusted", "trusted")):
            if key in props:
                setattr(d, attr, bool(props[key].value))
        if d.paired and not was_paired and self._pairing:
            # Paired in pairing mode: this host may have keystrokes from now on.
            d.trusted = True
            self._selected = path
            self._loop.create_task(
                self._bluez(
                    path,
                    "org.freedesktop.DBus.Properties",
                    "Set",
                    "ssv",
                    ["org.bluez.Device1", "Trusted", Variant("b", True)],
                )
            )
            self._loop.create_task(self._set_pairing(False))
            log.info("bluetooth: paired with %s (%s)", d.name, d.address)
        if d.connected and not was_connected:
            if not self._allowed(path, d) and not self._pairing and d.paired:
                self._loop.create_task(self._disconnect(path, "not the selected host"))
            log.info("bluetooth: %s (%s) connected", d.name or path, d.address)
        elif was_connected and not d.connected:
            log.info("bluetooth: %s (%s) disconnected", d.name or path, d.address)
        self._changed()

    def _allowed(self, path: str, d: _Device) -> bool:
        return d.paired and d.trusted and (self._selected is None or path == self._selected)

    def _notifying(self, on: bool) -> None:
        log.info("bluetooth: the host %s the keyboard's reports", "enabled" if on else "disabled")
        self._changed()

    def _led_report(self, value: bytes) -> None:
        log.info("bluetooth: the host's LEDs: %s", value.hex())
        with self._leds_seen:
            self._leds = value[0] if value else 0
            self._leds_seen.notify_all()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
