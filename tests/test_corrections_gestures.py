"""Issue 14, the button side: undo (two quick presses), retype (three), and a cancel that takes
back what was typed while speaking. The daemon runs with gpiozero's mock pins, a fake
engine and a virtual host; the host's text is checked after each gesture."""

from __future__ import annotations

import time

import pytest

from appliance.status import State
from tests.test_daemon import SENTENCE, FakeEngine, Rig, rig_factory, wait_for  # noqa: F401

TAP_S = 0.05  # a gesture's press: short, well inside button.double_press_s (0.4 s)
HEARD_S = 1.0  # the fake engine hears nothing in less: a tap records about 0.4 s of audio


def dictate(rig: Rig, mode: str, seconds: float = 1.2) -> None:
    """A dictation the fake engine hears: ``seconds`` of holding give at least HEARD_S of
    audio even when the fake microphone runs no faster than real time (a loaded machine)."""
    before = rig.host.text
    if mode == "toggle":
        rig.click(TAP_S)
        time.sleep(seconds)
        rig.click(TAP_S)
    else:
        rig.click(seconds)
    wait_for(lambda: rig.host.text != before and rig.daemon.state is State.READY, what="typed")


def speaking_rig(factory, mode: str, final_text: str) -> Rig:
    """Typing while speaking: a sentence every 0.25 s of heard audio, ``final_text`` last."""
    rig = factory(
        mode,
        type_while_speaking=True,
        engine=FakeEngine(final_text=final_text, min_speech_s=HEARD_S),
    )
    rig.wait(State.READY)
    return rig


def taps(rig: Rig, count: int) -> None:
    """``count`` quick presses, then until the daemon answered the gesture: it typed (undo,
    retype) or said something (a refusal, the language)."""
    warnings, states = len(rig.warnings), len(rig.states)
    for i in range(count):
        rig.click(TAP_S)
        if i < count - 1:
            time.sleep(0.1)

    def answered() -> bool:
        typed = any(state is State.TYPING for state, _ in rig.states[states:])
        return len(rig.warnings) > warnings or typed

    wait_for(answered, what="the gesture's answer")
    rig.wait(State.READY)


@pytest.mark.parametrize("mode", ["push_to_talk", "toggle"])
def test_two_presses_undo_the_last_dictation_and_three_type_it_again(rig_factory, mode):  # noqa: F811
    rig = rig_factory(mode, engine=FakeEngine(min_speech_s=HEARD_S))
    rig.wait(State.READY)
    dictate(rig, mode)
    assert rig.host.text == SENTENCE
    rig.engine.text = "Second one."
    dictate(rig, mode)
    assert rig.host.text == SENTENCE + " Second one."
    taps(rig, 2)
    assert rig.host.text == SENTENCE, "the last dictation, and only it, is taken back"
    assert not rig.host.keys_down
    taps(rig, 2)
    assert rig.host.text == SENTENCE, "one undo per dictation: the one before may be edited"
    assert "Nothing to undo" in rig.warnings
    # the spacing is as before the undone dictation
    rig.engine.text = "Third."
    dictate(rig, mode)
    assert rig.host.text == SENTENCE + " Third."
    taps(rig, 3)
    assert rig.host.text == SENTENCE + " Third.Third.", "typed again as it was"
    assert State.RECORDING not in rig.entered()[-3:], "no press of a gesture recorded"


def test_undo_takes_back_the_words_typed_while_speaking(rig_factory):  # noqa: F811
    rig = speaking_rig(rig_factory, "push_to_talk", "The end.")
    rig.press()
    wait_for(lambda: "Sentence 2." in rig.host.text, what="typed while speaking")
    time.sleep(1.0)  # more than the fake engine's minimum, so the last words come too
    rig.release()
    wait_for(lambda: rig.host.text.endswith("The end."), what="the last words")
    rig.wait(State.READY)
    assert rig.host.text.startswith("Sentence 1. Sentence 2.")
    taps(rig, 2)
    assert rig.host.text == ""


def test_a_long_press_cancel_takes_back_what_it_typed(rig_factory):  # noqa: F811
    rig = speaking_rig(rig_factory, "toggle", "End.")
    rig.click(TAP_S)
    wait_for(lambda: "Sentence 2." in rig.host.text, what="typed while speaking")
    time.sleep(0.5)
    rig.press()
    time.sleep(0.8)  # > hold_s (0.5): a long press, which cancels in toggle mode
    rig.release()
    wait_for(lambda: rig.host.text == "" and rig.daemon.state is State.READY, what="taken back")
    assert "End." not in rig.host.text


@pytest.mark.parametrize(
    ("rig_kw", "between", "message"),
    [
        ({"text": {"enter_after": "always"}}, None, "Cannot undo past Enter"),
        ({"button": {"undo_within_s": 0.3}}, "wait", "Too late to undo"),
        ({}, "unplug", "Nothing to undo"),
    ],
)
def test_undo_is_refused_when_the_host_may_not_hold_the_text(
    rig_factory,  # noqa: F811
    rig_kw,
    between,
    message,
):
    rig = rig_factory("push_to_talk", engine=FakeEngine(min_speech_s=HEARD_S), **rig_kw)
    rig.wait(State.READY)
    dictate(rig, "push_to_talk")
    typed = rig.host.text
    if between == "wait":
        time.sleep(0.5)
    elif between == "unplug":
        rig.world.host_connected = False
        wait_for(lambda: rig.daemon.state is State.ERROR, what="host gone")
        rig.world.host_connected = True
        rig.wait(State.READY)
    taps(rig, 2)
    assert rig.host.text == typed
    assert message in rig.warnings


def test_presses_of_real_dictations_in_quick_succession_are_not_a_gesture(rig_factory):  # noqa: F811
    """A dictation that typed something is not the first press of a gesture, however soon
    the next press comes."""
    rig = rig_factory("push_to_talk", engine=FakeEngine(min_speech_s=HEARD_S))
    rig.wait(State.READY)
    dictate(rig, "push_to_talk")
    rig.click(1.2)  # at once: a second dictation
    wait_for(lambda: rig.host.text.count(SENTENCE) == 2, what="two dictations")
