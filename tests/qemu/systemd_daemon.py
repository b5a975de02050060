"""TEST-ONLY: runs INSIDE the systemd guest as ``stt-keyboard.service``'s ExecStart (drop-in).

    python systemd_daemon.py [--bridge DIR] stt-keyboard-args...

The product's unit runs ``/opt/stt-keyboard/venv/bin/stt-keyboard run``; the test's drop-in runs
this with the venv's Python instead, in the same process systemd supervises (so READY=1 and the
watchdog pings come from the main PID, as ``NotifyAccess=main`` wants). It only adds the test's
button (``button_fifo.py``: "press"/"release" lines on ``$STT_KEYBOARD_TEST_BUTTON_FIFO`` drive
gpiozero's mock pin) and, with ``--bridge``, the speech engine answered by the host
(``guest_daemon.py``); the rest is ``appliance.cli.main``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
from pathlib import Path

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--bridge"]:
        from guest_daemon import install_bridge  # beside this script

        install_bridge(Path(args[1]))
        args = args[2:]
    faulthandler.register(signal.SIGUSR1)  # the test dumps the threads when a step hangs
    from button_fifo import serve_for_daemon

    from appliance.cli import main
    from appliance.config import ConfigError

    # A broken config file: no test button; the daemon reports it as the product does.
    with contextlib.suppress(ConfigError):
        serve_for_daemon(args)
    sys.exit(main(args))
