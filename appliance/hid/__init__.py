"""The USB keyboard side: layouts from XKB, report encoding, the typist, a virtual host."""

from appliance.hid.device import HidDevice, HostAbsent
from appliance.hid.encoder import encode_items
from appliance.hid.keys import SpecialKey, TypedItem
from appliance.hid.layout import Layout, LayoutError, load_layout
from appliance.hid.typist import TypeResult, Typist
from appliance.hid.virtual_host import VirtualHost

__all__ = [
    "HidDevice",
    "HostAbsent",
    "Layout",
    "LayoutError",
    "SpecialKey",
    "TypeResult",
    "TypedItem",
    "Typist",
    "VirtualHost",
    "encode_items",
    "load_layout",
]
