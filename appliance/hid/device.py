"""The HID gadget device node (``/dev/hidg0``): non-blocking writes with a timeout, LED reads.

``write()`` on ``/dev/hidg0`` blocks while the previous report has not been collected by the
host. The device is opened with ``O_NONBLOCK``; a report that the host does not take within
``write_timeout_s`` (EAGAIN until the deadline), ESHUTDOWN (the gadget is unbound, the host
suspended or unplugged), ENODEV/ENXIO or a vanished device node all raise :class:`HostAbsent`.
The next write reopens the node, so a host that returns is picked up without a restart.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import select
import time
from pathlib import Path

ABSENT_ERRNOS = frozenset(
    {
        errno.ESHUTDOWN,
        errno.ENODEV,
        errno.ENXIO,
        errno.ENOENT,
        errno.EPIPE,
        errno.EIO,
        errno.ECONNRESET,
        errno.EBADF,
        # f_hid returns EINVAL while the function is being disabled (UDC unbind, seen on
        # 6.1); our reports are always 8 bytes, so it never means a bad report here.
        errno.EINVAL,
    }
)


class HostAbsent(OSError):
    """No USB host is taking reports (unplugged, suspended, gadget unbound, device gone).

    The one "host gone" signal: the output raises it, and the typist raises it on after
    releasing the keys, with what reached the host (``typed``), what did not (``pending``:
    kept for the host's return, or dropped with ``hid.on_host_return: drop``) and, in plain
    words, what it could not keep (``lost``; empty when it kept it all).
    """

    typed: str = ""
    pending: str = ""
    lost: str = ""


class HidDevice:
    """A report sink on a HID gadget node; the same interface as :class:`VirtualHost`."""

    def __init__(self, path: str = "/dev/hidg0", write_timeout_s: float = 2.0) -> None:
        self.path = path
        self.write_timeout_s = write_timeout_s
        self._fd: int | None = None
        self._leds: int | None = None
        with contextlib.suppress(HostAbsent):  # else opened by the first write
            self._open()

    def __enter__(self) -> HidDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno in ABSENT_ERRNOS:
                    raise HostAbsent(exc.errno, f"{self.path}: {exc.strerror}") from exc
                raise
        return self._fd

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def write(self, report: bytes) -> int:
        fd = self._open()
        deadline = time.monotonic() + self.write_timeout_s
        while True:
            try:
                n = os.write(fd, report)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HostAbsent(
                        errno.EAGAIN,
                        f"the host took no report for {self.write_timeout_s:g} s",
                    ) from None
                select.select([], [fd], [], remaining)
                continue
            except OSError as exc:
                if exc.errno in ABSENT_ERRNOS:
                    self.close()
                    raise HostAbsent(exc.errno, f"{self.path}: {exc.strerror}") from exc
                raise
            if n != len(report):
                raise HostAbsent(errno.EIO, f"short write to {self.path}: {n} of {len(report)}")
            return n

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        """The newest LED output report the host sent since the last call, or None.

        Waits up to ``timeout_s`` for one to arrive; never raises for an absent host.
        """
        try:
            fd = self._open()
        except HostAbsent:
            return None
        latest: int | None = None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                data = os.read(fd, 64)
            except (BlockingIOError, InterruptedError):
                remaining = deadline - time.monotonic()
                if latest is not None or remaining <= 0:
                    return latest
                select.select([fd], [], [], remaining)
                continue
            except OSError:
                return latest
            if not data:
                return latest
            latest = data[0]


def udc_configured(
    sys_class_udc: str = "/sys/class/udc", gadgets: str = "/sys/kernel/config/usb_gadget"
) -> bool:
    """Whether a USB host has configured our gadget.

    The gadget must be bound to a UDC (its ConfigFS ``UDC`` file names one) and that UDC's
    state must be "configured". The state alone is not enough: after an unbind some UDC
    drivers (dummy_udc, measured) keep reporting "configured".
    """
    bound = set()
    for udc_file in glob.glob(os.path.join(gadgets, "*", "UDC")):
        with contextlib.suppress(OSError):
            name = Path(udc_file).read_text().strip()
            if name:
                bound.add(name)
    for name in bound:
        with contextlib.suppress(OSError):
            if Path(sys_class_udc, name, "state").read_text().strip() == "configured":
                return True
    return False
