"""What a button event means in each state: a pure rule, apart from the controller.

Push-to-talk records while the button is held; toggle starts on one press and stops on the
next. A long press cancels what is recording or transcribing, a press while typing stops the
typing, a press in an error state retries at once.
"""

from __future__ import annotations

from enum import Enum

from appliance.status import State
from appliance.ui.button import ButtonEvent


class Action(Enum):
    NOTHING = "nothing"
    START = "start"  # start recording
    STOP = "stop"  # stop recording: transcribe what was said
    CANCEL = "cancel"  # drop the recording or transcription
    STOP_TYPING = "stop_typing"
    RETRY = "retry"  # probe the missing part now


def decide(
    event: ButtonEvent, state: State, *, push_to_talk: bool, stop_on_release: bool
) -> tuple[Action, bool]:
    """The action, and whether the next release stops the recording."""
    if event is ButtonEvent.PRESS:
        stop_next = state is State.RECORDING or (state is State.READY and push_to_talk)
        action = {
            State.READY: Action.START,
            State.TYPING: Action.STOP_TYPING,
            State.ERROR: Action.RETRY,
        }.get(state, Action.NOTHING)
        return action, stop_next
    if event is ButtonEvent.LONG_PRESS:
        if push_to_talk and state is State.RECORDING and stop_on_release:
            # Holding the button *is* the recording. A long press cancels only what is
            # already transcribing or typing (release, then press and hold).
            return Action.NOTHING, stop_on_release
        if state in (State.RECORDING, State.TRANSCRIBING):
            return Action.CANCEL, False
        return (Action.STOP_TYPING if state is State.TYPING else Action.NOTHING), False
    if stop_on_release and state is State.RECORDING:
        return Action.STOP, False
    return Action.NOTHING, False
