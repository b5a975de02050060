"""Issue 14, item 6: four quick presses switch the dictation language through asr.languages;
the choice reaches the engine, the OLED and a file that survives a restart."""

from __future__ import annotations

from pathlib import Path

from luma.core.device import dummy

from appliance.config import AsrConfig
from appliance.language_choice import LanguageStore, language_cycle
from appliance.status import State, Status, Topic
from appliance.ui.leds import PATTERNS
from appliance.ui.oled import Oled
from appliance.ui.screens import ScreenModel
from tests.test_corrections_gestures import HEARD_S, taps
from tests.test_daemon import FakeEngine, rig_factory, wait_for  # noqa: F401

LANGS = {"language": "en", "languages": ["de", "fr"]}


def test_four_presses_step_through_the_languages_and_the_choice_survives_a_restart(
    rig_factory,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = LanguageStore(tmp_path)
    rig = rig_factory(
        "push_to_talk", asr=LANGS, languages=store, engine=FakeEngine(min_speech_s=HEARD_S)
    )
    rig.wait(State.READY)
    assert rig.bus.last(Topic.LANGUAGE).value == "en"  # type: ignore[union-attr]
    for expected in ("de", "fr", "en", "de"):
        taps(rig, 4)
        assert rig.leds is not None and rig.leds.current == PATTERNS["warning"], "answered"
        assert rig.engine.language == expected
        assert rig.bus.last(Topic.LANGUAGE).value == expected  # type: ignore[union-attr]
        assert f"Language: {expected}" in rig.warnings
    assert rig.host.text == "", "no press of the gesture recorded or typed"
    wait_for(lambda: rig.leds.current == PATTERNS["ready"], what="the LEDs back to ready")
    assert (tmp_path / "language.txt").read_text().strip() == "de"
    rig.close()

    again = rig_factory(
        "push_to_talk", asr=LANGS, languages=store, engine=FakeEngine(min_speech_s=HEARD_S)
    )
    again.wait(State.READY)
    assert again.engine.language == "de", "the choice is applied when the model is loaded"
    assert again.bus.last(Topic.LANGUAGE).value == "de"  # type: ignore[union-attr]


def test_one_language_only_says_so(rig_factory) -> None:  # noqa: F811
    rig = rig_factory("toggle", engine=FakeEngine(min_speech_s=HEARD_S))
    rig.wait(State.READY)
    taps(rig, 4)
    assert rig.engine.language == ""
    assert "One language only (asr.languages)" in rig.warnings


def test_a_saved_language_no_longer_configured_is_ignored(tmp_path: Path) -> None:
    store = LanguageStore(tmp_path)
    store.save("it")
    assert store.load(language_cycle(AsrConfig(language="en", languages=["de"]))) is None
    store.save("de")
    assert store.load(language_cycle(AsrConfig(language="en", languages=["de"]))) == "de"
    assert language_cycle(AsrConfig(language="de", languages=["en", "de", "fr"])) == [
        "de",
        "en",
        "fr",
    ]


def test_the_oled_shows_the_language() -> None:
    oled = Oled(dummy(width=128, height=64, mode="1"), dim_after_s=0, base=ScreenModel(
        model="base", language="en", layout="us"))  # fmt: skip
    oled(Status(Topic.STATE, State.READY))
    oled(Status(Topic.LANGUAGE, "de"))
    assert oled.model.language == "de"
