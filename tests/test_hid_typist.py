"""Typist behaviour without hardware: all-up on every exit, cancel, host absent, Caps Lock."""

from __future__ import annotations

import contextlib
import threading

import pytest

from appliance.hid import HostAbsent, SpecialKey, Typist, VirtualHost
from appliance.hid.encoder import ALL_UP
from appliance.status import StatusBus, Topic


class FlakyHost(VirtualHost):
    """A virtual host that goes away after ``fail_after`` reports, until ``back()``."""

    def __init__(self, layout: str = "us", fail_after: int = 10**9) -> None:
        super().__init__(layout)
        self.fail_after = fail_after
        self.absent = False

    def write(self, report: bytes) -> int:
        if self.absent or len(self.reports) >= self.fail_after:
            self.absent = True
            raise HostAbsent(108, "gone")
        return super().write(report)

    def back(self) -> None:
        self.absent = False
        self.fail_after = 10**9


def test_types_and_ends_all_up() -> None:
    host = VirtualHost("de")
    r = Typist(host, "de").type(["Größe", SpecialKey.ENTER, "x"])
    assert host.text == "Größe\nx" and r.typed == "Größe\nx"
    assert host.reports[-1] == ALL_UP and not host.keys_down


def test_host_absent_keeps_rest_and_resumes() -> None:
    host = FlakyHost("us", fail_after=25)
    t = Typist(host, "us")
    text = "Hello World, this is long"
    with pytest.raises(HostAbsent) as gone:
        t.type(text)
    assert gone.value.pending and gone.value.lost == ""
    assert t.pending == gone.value.pending
    assert text.endswith(gone.value.pending)
    assert text.startswith(host.text) and len(host.text) + len(t.pending) >= len(text)
    host.back()
    r2 = t.resume()
    assert r2.typed == gone.value.pending and t.pending == ""
    assert host.reports[-1] == ALL_UP and not host.keys_down


def test_host_absent_drop_mode() -> None:
    host = FlakyHost("us", fail_after=10)
    t = Typist(host, "us", on_host_return="drop")
    with pytest.raises(HostAbsent) as gone:
        t.type("abcdefghijklmnop")
    assert gone.value.pending and t.pending == ""
    assert "were not typed" in gone.value.lost
    host.back()
    assert t.resume().typed == ""


def test_pending_is_bounded() -> None:
    host = FlakyHost("us", fail_after=4)
    t = Typist(host, "us", pending_max_chars=5)
    with pytest.raises(HostAbsent) as gone:
        t.type("abcdefghijklmnop")
    assert len(t.pending) == 5 and "first 5" in gone.value.lost


def test_cancel_stops_and_releases() -> None:
    host = VirtualHost("us")
    t = Typist(host, "us")
    orig = host.write

    def write(rep: bytes) -> int:
        if len(host.reports) == 12:
            t.cancel()  # as a signal handler or another thread would
        return orig(rep)

    host.write = write  # type: ignore[method-assign]
    r = t.type("ABCDEFGHIJ")
    assert r.cancelled and 0 < len(r.typed) < 10
    assert host.reports[-1] == ALL_UP and not host.keys_down
    assert host.text == r.typed


def test_exception_mid_typing_still_releases() -> None:
    host = VirtualHost("us")
    orig = host.write

    def write(rep: bytes) -> int:
        if len(host.reports) == 5:
            host.write = orig  # type: ignore[method-assign]
            raise KeyboardInterrupt  # e.g. SIGINT
        return orig(rep)

    host.write = write  # type: ignore[method-assign]
    t = Typist(host, "us")
    with contextlib.suppress(KeyboardInterrupt):
        t.type("HELLO")
    assert host.reports[-1] == ALL_UP and not host.keys_down


def test_cancel_from_another_thread() -> None:
    host = VirtualHost("us")
    t = Typist(host, "us", report_delay_s=0.001)
    timer = threading.Timer(0.05, t.cancel)
    timer.start()
    r = t.type("x" * 2000)
    timer.join()
    assert r.cancelled and not host.keys_down


def test_host_caps_lock_toggled_off_and_restored() -> None:
    for layout, text in [("us", "Hello World!"), ("de", "Größe ß é Ä"), ("fr", "Où été à")]:
        host = VirtualHost(layout)
        host.caps_lock = True
        r = Typist(host, layout).type(text)
        assert host.text == text, layout
        assert host.caps_lock, "Caps Lock must be back on"
        assert r.typed == text


def test_caps_lock_without_caps_key_uses_lock_table() -> None:
    host = VirtualHost("us(colemak)")  # Caps Lock key is BackSpace on Colemak
    host.caps_lock = True
    Typist(host, "us(colemak)").type("Hello World")
    assert host.text == "Hello World"


def test_skipped_and_control_chars_reported() -> None:
    host = VirtualHost("us")
    r = Typist(host, "us", unknown="skip").type("a\nbü")
    assert host.text == "ab" and r.skipped == ["\n", "ü"]


def test_what_is_typed_goes_on_the_text_topic() -> None:
    bus = StatusBus()
    Typist(VirtualHost("us"), "us", text=bus.publisher(Topic.TEXT, "typist")).type("Hi there")
    last = bus.last(Topic.TEXT)
    assert last is not None and last.value == "Hi there"


def test_close_closes_the_output() -> None:
    class Output(VirtualHost):
        closed = False

        def close(self) -> None:
            self.closed = True

    out = Output("us")
    Typist(out, "us").close()
    assert out.closed
