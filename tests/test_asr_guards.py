"""Hallucination guards, without the model: decisions on decoder scores and text."""

from __future__ import annotations

from appliance.asr import collapse_repeats, normalise_words, reject_reason
from appliance.config import AsrConfig

CFG = AsrConfig()


def test_loops_collapse_but_natural_repeats_stay() -> None:
    looped = "I think so. " + "and then we went home " * 12
    assert collapse_repeats(looped) == "I think so. and then we went home"
    assert collapse_repeats("yes yes yes yes yes yes yes") == "yes"
    assert collapse_repeats("no, no, no, I said") == "no, no, no, I said"
    assert collapse_repeats("very very good") == "very very good"
    assert collapse_repeats("bye now. bye now. bye now.") == "bye now."


def test_phantom_phrase_dropped_only_when_the_model_is_unsure() -> None:
    assert "phantom" in reject_reason(CFG, "Thank you for watching!", 0.35, -0.4)
    assert "phantom" in reject_reason(CFG, "Thank you.", 0.05, -0.9)
    # Said clearly: a list alone must not delete real speech.
    assert reject_reason(CFG, "Thank you.", 0.01, -0.15) == ""
    assert reject_reason(CFG, "You", 0.02, -0.2) == ""


def test_no_speech_needs_both_scores() -> None:
    assert "no speech" in reject_reason(CFG, "Some words here", 0.9, -1.3)
    assert reject_reason(CFG, "Some words here", 0.9, -0.3) == ""
    assert reject_reason(CFG, "Some words here", 0.1, -1.3) == ""


def test_symbols_only_is_dropped() -> None:
    assert reject_reason(CFG, "...", 0.0, -0.1) != ""
    assert reject_reason(CFG, "♪ ♪", 0.0, -0.1) != ""


def test_echoed_prompt_is_dropped() -> None:
    cfg = AsrConfig(prompt="Kubernetes, PostgreSQL, Raspberry Pi.")
    assert "echo" in reject_reason(cfg, "Kubernetes, PostgreSQL, Raspberry Pi.", 0.01, -0.1)
    assert "echo" in reject_reason(cfg, "PostgreSQL, Raspberry Pi", 0.4, -0.2)
    assert reject_reason(cfg, "PostgreSQL, Raspberry Pi", 0.01, -0.1) == ""
    assert reject_reason(cfg, "I deployed PostgreSQL on Kubernetes.", 0.01, -0.2) == ""


def test_normalise_words() -> None:
    assert normalise_words("Thank you, for WATCHING!") == "thank you for watching"
