"""The typist: types text into a report sink (``/dev/hidg0`` or a virtual host).

- Characters are resolved for the host's layout (:mod:`appliance.hid.layout`) and encoded by
  the rules in :mod:`appliance.hid.encoder` (modifier in its own report, kept across
  characters that need it; every key released right after its press).
- Pacing: as fast as the host takes reports (``write()`` blocks until the previous report is
  collected), plus ``report_delay_s`` after every report for hosts that drop characters.
- Host Caps Lock: the host's LED output reports say whether its Caps Lock is on. If it is,
  the typist taps Caps Lock off before typing and taps it back on afterwards, which is exact
  on every layout (compensating with Shift is not: Linux turns ``ß`` into ``ẞ`` and ``é`` into
  ``É`` under Caps Lock whatever Shift does). Layouts without a Caps Lock key (``us(colemak)``
  maps it to BackSpace) fall back to strokes computed with Lock active.
- Host absent (:class:`HostAbsent` from the output): stop, release all keys if possible, keep
  the untyped rest (at most ``pending_max_chars``) to type when the host is back
  (``on_host_return="type"``, via :meth:`Typist.resume` or the next :meth:`Typist.type`) or
  drop it (``"drop"``), and raise the same :class:`HostAbsent` on, carrying what was kept and
  what was lost. Whether the host is online is :mod:`appliance.health`'s to say, not ours.
- Every exit path — end of text, exception, cancel, a signal handler raising — ends with an
  all-keys-up report (try/finally). :meth:`Typist.cancel` only sets a flag, so it is safe from
  another thread or a signal handler: typing stops after the current character.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from appliance.hid.device import HostAbsent
from appliance.hid.encoder import (
    ALL_UP,
    ReportBuilder,
    Unit,
    UnknownPolicy,
    plan_items,
    report,
)
from appliance.hid.keys import SpecialKey, TypedItem, keystroke_text
from appliance.hid.layout import Layout, load_layout
from appliance.hid.output import KeyboardOutput
from appliance.hid.usages import LED_CAPS_LOCK
from appliance.status import Publisher

if TYPE_CHECKING:
    from appliance.config import HidConfig

log = logging.getLogger(__name__)

OnHostReturn = Literal["type", "drop"]
LED_ECHO_WAIT_S = 0.05


@dataclass
class TypeResult:
    typed: str
    """What reached the host (Enter as "\\n", Tab as "\\t", Backspace as "\\b")."""
    skipped: list[str] = field(default_factory=list)
    """Characters not typed by policy: ones the layout cannot type, control characters."""
    shown: str = ""
    """The characters the host received, as it shows them (a transliteration's ASCII, Enter
    as "\n"): what an undo must take back."""
    cancelled: bool = False
    reports: int = 0


class Typist:
    def __init__(
        self,
        sink: KeyboardOutput,
        layout: Layout | str,
        *,
        text: Publisher | None = None,
        report_delay_s: float = 0.0,
        unknown: UnknownPolicy = "transliterate",
        on_host_return: OnHostReturn = "type",
        pending_max_chars: int = 4000,
        unicode_input: bool = False,
    ) -> None:
        if on_host_return not in ("type", "drop"):
            raise ValueError(f"on_host_return must be type or drop: {on_host_return!r}")
        self.sink = sink
        self.layout = load_layout(layout) if isinstance(layout, str) else layout
        self._text = text
        self.report_delay_s = max(0.0, report_delay_s)
        self.unknown: UnknownPolicy = unknown
        self.on_host_return: OnHostReturn = on_host_return
        self.pending_max_chars = pending_max_chars
        self.unicode_input = unicode_input
        self._cancel = False
        self._lock = threading.Lock()
        self._builder = ReportBuilder()
        self._pending: list[TypedItem] = []
        self._caps_on = False
        self.reports_written = 0

    @classmethod
    def from_config(
        cls, cfg: HidConfig, sink: KeyboardOutput | None = None, *, text: Publisher | None = None
    ) -> Typist:
        """``text`` is the TEXT topic's publisher: what is being typed, for the OLED."""
        if sink is None:
            from appliance.hid.device import HidDevice

            sink = HidDevice(cfg.device, cfg.write_timeout_s)
        return cls(
            sink,
            load_layout(cfg.layout, cfg.host_os, cfg.mac_keyboard_type),
            text=text,
            report_delay_s=cfg.report_delay_ms / 1000.0,
            unknown=cfg.unknown_chars,
            on_host_return=cfg.on_host_return,
            pending_max_chars=cfg.pending_max_chars,
            unicode_input=cfg.unicode_input,
        )

    # -- public --------------------------------------------------------------------------

    @property
    def pending(self) -> str:
        """Text kept while the host was absent, typed first by the next :meth:`type`."""
        return keystroke_text(self._pending)

    @property
    def caps_lock(self) -> bool:
        """The host's Caps Lock as last reported by its LED output report."""
        return self._caps_on

    def cancel(self) -> None:
        """Stop after the current character (all keys released). Safe from any thread or a
        signal handler: it only sets a flag."""
        self._cancel = True

    def type(self, items: Sequence[TypedItem] | str) -> TypeResult:
        """Type ``items``; text left pending from an absent host goes first (mode "type").

        Raises :class:`HostAbsent` (all keys released, the rest kept or dropped) when the
        host goes away.
        """
        if isinstance(items, str):
            items = [items]
        with self._lock:
            self._cancel = False
            todo: list[TypedItem] = [*self._pending, *items]
            self._pending = []
            return self._type(todo)

    def resume(self) -> TypeResult:
        """Type the text kept while the host was absent (nothing if none, or mode "drop")."""
        return self.type([])

    def release_all(self) -> None:
        """Send an all-keys-up report; never raises for an absent host."""
        self._builder.modifiers = 0
        with contextlib.suppress(HostAbsent):
            self._send(ALL_UP)

    def close(self) -> None:
        """Close the output (the gadget's file descriptor)."""
        self.sink.close()

    # -- internals -----------------------------------------------------------------------

    def _send(self, rep: bytes) -> None:
        self.sink.write(rep)
        self.reports_written += 1
        if self.report_delay_s:
            time.sleep(self.report_delay_s)

    def _poll_leds(self, timeout_s: float = 0.0) -> None:
        try:
            leds = self.sink.read_leds(timeout_s)
        except OSError:
            return
        if leds is not None:
            self._caps_on = bool(leds & LED_CAPS_LOCK)

    def _tap(self, usage: int) -> None:
        self._send(report(0, usage))
        self._send(ALL_UP)

    def _type(self, items: list[TypedItem]) -> TypeResult:
        self._poll_leds()
        toggle_caps = self._caps_on and self.layout.caps_lock_usage is not None
        caps_table = self._caps_on and not toggle_caps
        plan = plan_items(
            items, self.layout, self.unknown, caps=caps_table, unicode_input=self.unicode_input
        )
        units = plan.units
        if self._text is not None and units:
            self._text.publish(_units_text(units))
        result = TypeResult(typed="", skipped=list(plan.skipped))
        start_reports = self.reports_written
        done = 0  # units that reached the host
        caps_toggled = False
        gone: HostAbsent | None = None
        try:
            if toggle_caps and units:
                assert self.layout.caps_lock_usage is not None
                self._tap(self.layout.caps_lock_usage)
                caps_toggled = True
            for i, unit in enumerate(units):
                if self._cancel:
                    result.cancelled = True
                    break
                last = len(unit.strokes) - 1
                for n, stroke in enumerate(unit.strokes):
                    reps = self._builder.stroke(stroke)
                    for rep in reps[:-1]:
                        self._send(rep)
                    if n == last:
                        # The last key press reached the host: the character is there even
                        # if its release fails (a host releases the keys of a vanished device).
                        done = i + 1
                    self._send(reps[-1])
                done = i + 1
        except HostAbsent as exc:
            gone = exc
            # A report the gadget accepted just before the host vanished may or may not have
            # reached it: keep the last character in the rest (a possible duplicate on
            # return rather than a possible loss).
            if done > 0:
                done -= 1
            log.warning("USB host absent (%s): %d characters not typed", exc, len(units) - done)
        finally:
            toggled_inside = any(
                st.usage == self.layout.caps_lock_usage for u in units[:done] for st in u.strokes
            )
            self._finish(caps_toggled and gone is None, echoes=toggled_inside)
            result.reports = self.reports_written - start_reports
        result.typed = _units_text(units[:done], typed_only=True)
        result.shown = "".join(u.host_text for u in units[:done])
        if gone is not None:
            gone.typed = result.typed
            self._keep_pending(units[done:], gone)
            raise gone
        return result

    def _finish(self, restore_caps: bool, *, echoes: bool = False) -> None:
        """All keys up; the host's Caps Lock back on if it was. ``echoes``: a character typed
        with Caps Lock toggled around it (``Ç`` on ``fr``) made the host send LED reports of
        our own; they are drained, and Caps Lock is off as we left it."""
        try:
            if self._builder.modifiers:
                self._builder.modifiers = 0
            self._send(ALL_UP)
            if echoes:
                self._poll_leds(LED_ECHO_WAIT_S)
                self._caps_on = False
            if restore_caps and self.layout.caps_lock_usage is not None:
                self._tap(self.layout.caps_lock_usage)
                self._caps_on = True
                self._poll_leds(LED_ECHO_WAIT_S)
        except HostAbsent as exc:
            log.warning("USB host absent while releasing keys: %s", exc)

    def _keep_pending(self, rest: list[Unit], gone: HostAbsent) -> None:
        """Keep (or drop) what the host did not get; ``gone`` tells the caller which."""
        items = _units_items(rest)
        text = keystroke_text(items)
        gone.pending = text
        if not text:
            return
        if self.on_host_return == "drop":
            log.warning("dropping %d untyped characters (hid.on_host_return = drop)", len(text))
            gone.lost = f"{len(text)} characters were not typed: the USB host went away"
            return
        if len(text) > self.pending_max_chars:
            log.warning(
                "keeping %d of %d untyped characters (hid.pending_max_chars)",
                self.pending_max_chars,
                len(text),
            )
            gone.lost = f"only the first {self.pending_max_chars} untyped characters are kept"
            items = _truncate(items, self.pending_max_chars)
        self._pending = items


def _units_text(units: Sequence[Unit], *, typed_only: bool = False) -> str:
    return "".join(u.text for u in units if u.strokes or not typed_only)


def _units_items(units: Sequence[Unit]) -> list[TypedItem]:
    items: list[TypedItem] = []
    buf: list[str] = []
    for u in units:
        if isinstance(u.item, SpecialKey):
            if buf:
                items.append("".join(buf))
                buf = []
            items.append(u.item)
        else:
            buf.append(u.item)
    if buf:
        items.append("".join(buf))
    return items


def _truncate(items: list[TypedItem], limit: int) -> list[TypedItem]:
    out: list[TypedItem] = []
    left = limit
    for item in items:
        if left <= 0:
            break
        if isinstance(item, SpecialKey):
            out.append(item)
            left -= 1
        else:
            out.append(item[:left])
            left -= len(item[:left])
    return out
