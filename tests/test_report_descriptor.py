"""The keyboard's report descriptor has one owner per output, and the two stay equal."""

import re
from pathlib import Path

from appliance.hid.report_descriptor import KEYBOARD_REPORT_DESCRIPTOR

GADGET = Path(__file__).resolve().parents[1] / "gadget" / "stt-keyboard-gadget"


def test_bluetooth_and_usb_describe_the_same_keyboard() -> None:
    octal = re.search(r"REPORT_DESC='([^']*)'", GADGET.read_text())
    assert octal, "REPORT_DESC not found in the gadget script"
    usb = bytes(int(x, 8) for x in octal.group(1).split("\\")[1:])
    assert usb == KEYBOARD_REPORT_DESCRIPTOR
    assert len(usb) == 65
