"""Issue 15, item 2: five quick presses open Bluetooth pairing (and close it), six type to
the next paired host; the OLED says so. The radio itself is proven in QEMU
(tests/qemu/test_bluetooth_qemu.py); here the controller's side, through the same
BluetoothControl interface the daemon gives it (appliance.bluetooth.link.BluetoothLink)."""

from __future__ import annotations

from appliance.bluetooth.paired_host import PairedHost
from appliance.hid.either_output import EitherOutput
from appliance.hid.virtual_host import VirtualHost
from appliance.parts import BluetoothControl
from appliance.status import State
from tests.test_corrections_gestures import HEARD_S, taps
from tests.test_daemon import FakeEngine, rig_factory  # noqa: F401


class RecordingBluetooth:
    """Stands in for the radio (none here): records what the gestures ask of it."""

    def __init__(self, hosts: list[str]) -> None:
        self.pairing = False
        self.hosts = [PairedHost(f"00:00:00:00:00:0{i}", n, False) for i, n in enumerate(hosts)]
        self.selected = -1

    def set_pairing(self, on: bool) -> None:
        self.pairing = on

    def select_next_host(self) -> PairedHost | None:
        if not self.hosts:
            return None
        self.selected = (self.selected + 1) % len(self.hosts)
        return self.hosts[self.selected]


def test_five_presses_toggle_pairing_six_switch_the_host(rig_factory) -> None:  # noqa: F811
    bt = RecordingBluetooth(["laptop", "tablet"])
    control: BluetoothControl = bt  # the interface the controller is given
    rig = rig_factory("push_to_talk", engine=FakeEngine(min_speech_s=HEARD_S), bluetooth=control)
    rig.wait(State.READY)
    taps(rig, 5)
    assert bt.pairing and "Pairing: add 'STT Keyboard' on the host" in rig.warnings
    taps(rig, 5)
    assert not bt.pairing and "Pairing off" in rig.warnings
    taps(rig, 6)
    assert "Typing to laptop" in rig.warnings
    taps(rig, 6)
    assert "Typing to tablet" in rig.warnings
    assert rig.host.text == "", "no press of a gesture is recorded or typed"


def test_without_bluetooth_the_gestures_say_so(rig_factory) -> None:  # noqa: F811
    rig = rig_factory("push_to_talk", engine=FakeEngine(min_speech_s=HEARD_S))
    rig.wait(State.READY)
    taps(rig, 5)
    assert "Bluetooth is off (hid.output)" in rig.warnings
    taps(rig, 6)
    assert rig.warnings.count("Bluetooth is off (hid.output)") == 2


def test_both_outputs_type_to_usb_while_plugged_in_else_bluetooth() -> None:
    usb, bluetooth = VirtualHost("us"), VirtualHost("us")
    plugged = [True]
    out = EitherOutput(usb, bluetooth, lambda: plugged[0])
    out.write(bytes([0, 0, 0x04, 0, 0, 0, 0, 0]))  # a
    out.write(bytes(8))
    plugged[0] = False
    out.write(bytes([0, 0, 0x05, 0, 0, 0, 0, 0]))  # b
    out.write(bytes(8))
    assert (usb.text, bluetooth.text) == ("a", "b")
