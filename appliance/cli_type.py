"""`stt-keyboard type`: type text through the same typist the appliance uses.

    stt-keyboard type "Hello, world"              # into hid.device with hid.layout
    stt-keyboard type --layout de --file notes.txt
    stt-keyboard type --virtual "Größe"           # into a virtual host; prints what it shows
    echo text | stt-keyboard type --file -

Newlines and tabs in the text are typed as Enter and Tab here (this is a tool for people and
scripts, not the transcript path). Exit status: 0 typed, 1 host absent or error, 2 bad input.
Imports only the HID modules, so it starts fast (no numpy/torch).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.hid.keys import TypedItem

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "type",
        help="type text through the USB keyboard (or a virtual host)",
        description="Type text through the typist: newlines become Enter, tabs Tab.",
    )
    p.add_argument("--layout", help="host keyboard layout, XKB name (overrides hid.layout)")
    p.add_argument("--device", help="HID gadget device (overrides hid.device); '-' = virtual host")
    p.add_argument(
        "--virtual", action="store_true", help="type into a virtual host and print its text"
    )
    p.add_argument("--file", "-f", help="read the text from this file ('-' = stdin)")
    p.add_argument("--delay-ms", type=float, help="extra pause between reports")
    p.add_argument(
        "--unknown", choices=["transliterate", "skip"], help="overrides hid.unknown_chars"
    )
    p.add_argument(
        "--caps-lock",
        action="store_true",
        help="with --virtual: the virtual host has Caps Lock on",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("text", nargs="*", help="the text (words are joined with spaces)")
    return p


def text_to_items(text: str) -> list[TypedItem]:
    """Newline -> Enter, tab -> Tab (the inverse of ``KEY_TEXT``); other text as is.

    A backspace character is not a key here: it is dropped as a control character, so
    typed text cannot delete what the host already shows."""
    from appliance.hid.keys import KEY_TEXT, SpecialKey

    keys = {KEY_TEXT[k]: k for k in (SpecialKey.ENTER, SpecialKey.TAB)}
    items: list[TypedItem] = []
    buf: list[str] = []
    for ch in text.replace("\r\n", "\n"):
        key = keys.get(ch)
        if key is None:
            buf.append(ch)
            continue
        if buf:
            items.append("".join(buf))
            buf = []
        items.append(key)
    if buf:
        items.append("".join(buf))
    return items


def run(args: argparse.Namespace, cfg: Config) -> int:
    from appliance.hid.device import HidDevice, HostAbsent
    from appliance.hid.layout import LayoutError, load_layout
    from appliance.hid.typist import TypeResult, Typist
    from appliance.hid.virtual_host import VirtualHost

    hid = cfg.hid
    changes: dict[str, Any] = {}
    if getattr(args, "layout", None):
        changes["layout"] = args.layout
    if getattr(args, "device", None):
        changes["device"] = args.device
    if getattr(args, "delay_ms", None) is not None:
        changes["report_delay_ms"] = args.delay_ms
    if getattr(args, "unknown", None):
        changes["unknown_chars"] = args.unknown
    hid = replace(hid, **changes)

    if args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    elif args.text:
        text = " ".join(args.text)
    else:
        print("type: give TEXT or --file", file=sys.stderr)
        return 2
    virtual = args.virtual or hid.device == "-"
    try:
        # the virtual host is a Linux one (libxkbcommon decodes what it receives)
        layout = load_layout(hid.layout, "linux" if virtual else hid.host_os, hid.mac_keyboard_type)
    except LayoutError as exc:
        print(f"type: {exc}", file=sys.stderr)
        return 2

    sink: Any
    if virtual:
        sink = VirtualHost(hid.layout)
        sink.caps_lock = bool(getattr(args, "caps_lock", False))
    else:
        sink = HidDevice(hid.device, hid.write_timeout_s)
    typist = Typist.from_config(replace(hid, host_os=layout.host_os), sink)
    gone: HostAbsent | None = None
    try:
        result = typist.type(text_to_items(text))
    except HostAbsent as exc:  # all keys were released; exc says what was kept
        gone = exc
        result = TypeResult(typed=exc.typed)
    finally:
        typist.close()
    if args.json:
        import json

        out: dict[str, Any] = {
            "typed": result.typed,
            "pending": gone.pending if gone else "",
            "host_absent": gone is not None,
            "skipped": result.skipped,
            "reports": result.reports,
        }
        if virtual:
            out["host_text"] = sink.text
        print(json.dumps(out, ensure_ascii=False))
    elif virtual:
        sys.stdout.write(sink.text)
        if not sink.text.endswith("\n"):
            sys.stdout.write("\n")
    if result.skipped:
        log.warning("skipped: %r", "".join(result.skipped))
    if gone is not None:
        untyped = len(gone.pending) or len(text) - len(gone.typed)
        print(f"type: USB host absent ({gone}); {untyped} characters not typed", file=sys.stderr)
        return 1
    return 0
