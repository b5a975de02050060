"""The keyboard's HID report descriptor, for the outputs that describe it in Python.

The USB gadget script (``gadget/stt-keyboard-gadget``, ``REPORT_DESC``) writes the same
bytes to ConfigFS; a test keeps the two equal.
"""

KEYBOARD_REPORT_DESCRIPTOR = bytes.fromhex(
    "05010906a101"  # Usage Page (Generic Desktop), Usage (Keyboard), Collection (Application)
    "050719e029e715002501750195088102"  # 8 modifier bits (usages 0xE0-0xE7), Input
    "950175088103"  # a reserved byte, Input (Constant)
    "950575010508190129059102"  # 5 LED bits (Num, Caps, Scroll, Compose, Kana), Output
    "950175039103"  # 3 padding bits, Output (Constant)
    "95067508150026ff00050719002aff008100"  # 6 key slots, usages 0x00-0xFF, Input (Array)
    "c0"  # End Collection
)
