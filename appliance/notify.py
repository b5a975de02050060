"""systemd integration: sd_notify (READY, STATUS, WATCHDOG, STOPPING) and journald logging.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op, so the daemon runs the same on
a laptop. When stderr is connected to the journal (``JOURNAL_STREAM``), log lines carry the
``<N>`` priority prefix journald understands, so errors show up red in ``journalctl``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, TextIO

log = logging.getLogger(__name__)

# logging level -> syslog priority (sd-daemon(3) prefixes)
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """``<3>appliance.controller: No microphone``: journald reads the priority from the prefix."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def stderr_is_journal(stream: TextIO | None = None) -> bool:
    """Whether stderr is the journal's stream (systemd sets JOURNAL_STREAM=dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    stream = stream or sys.stderr
    try:
        st = os.fstat(stream.fileno())
        dev, ino = value.split(":", 1)
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


def journal_line(message: str, level: int = logging.ERROR) -> str:
    """One message in the journal's stderr format (for errors printed before logging starts)."""
    return f"<{syslog_priority(level)}>{message}"


def setup_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """Log to stderr; with the journal's priority prefixes under systemd."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if stderr_is_journal(stream):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class Notifier:
    """sd_notify messages; watchdog pings at a third of WatchdogSec."""

    def __init__(self, *, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._socket = os.environ.get("NOTIFY_SOCKET", "")
        self._sd: Any = None
        if self._socket:
            try:
                import sdnotify

                self._sd = sdnotify.SystemdNotifier()
            except ImportError:  # pragma: no cover - sdnotify is a dependency
                log.warning("NOTIFY_SOCKET is set but sdnotify is not installed")
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        self.watchdog_s: float | None = None
        if usec.isdigit() and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1e6
        self._last_ping = 0.0
        self.sent: list[str] = []  # what was sent (tests, debugging)
        self.is_ready = False

    @property
    def active(self) -> bool:
        return self._sd is not None

    def _send(self, message: str) -> None:
        self.sent.append(message)
        if self._sd is not None:
            try:
                self._sd.notify(message)
            except Exception:
                log.debug("sd_notify failed", exc_info=True)

    def ready(self, status: str = "") -> None:
        if self.is_ready:
            return
        self.is_ready = True
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def stopping(self, status: str = "Stopping") -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")

    def watchdog(self) -> None:
        """Ping the watchdog if one is configured and a third of its period has passed."""
        if self.watchdog_s is None:
            return
        now = self._clock()
        if now - self._last_ping >= self.watchdog_s / 3:
            self._last_ping = now
            self._send("WATCHDOG=1")
