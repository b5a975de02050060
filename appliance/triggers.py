"""The trigger seam: what starts and stops a dictation.

Today's trigger is the push button (:class:`appliance.ui.button.Button`, gpiozero); a wake
word is the next. A trigger reports :class:`~appliance.ui.button.ButtonEvent` values to the
callback it was made with and is closed at exit; the controller does not know which kind
it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from appliance.ui.button import ButtonEvent

TriggerFn = Callable[[ButtonEvent], None]


class Trigger(Protocol):
    def close(self) -> None: ...
