"""The checks that send a decode back for the safe setting, on their own (no model)."""

from __future__ import annotations

from appliance.plausibility import Heard, doubts, repeated_phrase

SENTENCE = "She had your dark suit in greasy wash water all year"


def test_a_whole_sentence_raises_no_doubt() -> None:
    heard = Heard(speech_s=2.9, speech_end_s=3.1)
    assert doubts(SENTENCE, heard, last_word_end_s=3.0, earlier_words=8) == []


def test_text_that_ends_long_before_the_speech_is_cut_off() -> None:
    heard = Heard(speech_s=2.9, speech_end_s=3.1)
    (why,) = doubts("She had a j", heard, last_word_end_s=0.9)
    assert "ends at 0.9 s" in why


def test_too_few_words_for_the_speech() -> None:
    (why,) = doubts("Cars", Heard(speech_s=2.6, speech_end_s=2.8))
    assert "only 1 words" in why
    # A single word alone is no doubt: the rate rule needs some speech.
    assert doubts("Nine", Heard(speech_s=0.6, speech_end_s=0.8)) == []


def test_a_sentence_said_twice_is_a_loop() -> None:
    looped = "Glue the sheet to the dark blue background. " * 2 + "Glue the sheet to the"
    found = doubts(looped, Heard(speech_s=3.0, speech_end_s=3.2), last_word_end_s=3.1)
    assert any("repeated" in f for f in found)
    assert any("21 words in 3.0 s" in f for f in found)  # 7 words per second: too fast


def test_natural_repeats_are_not_loops() -> None:
    assert not repeated_phrase(["no", "no", "no", "I", "said"], 3)
    assert not repeated_phrase(["that", "that", "is", "it"], 3)
    assert repeated_phrase(["go", "to", "the", "shop", "go", "to", "the", "shop"], 3)


def test_a_final_text_with_fewer_words_than_the_streaming_hypothesis() -> None:
    heard = Heard(speech_s=4.0, speech_end_s=4.2)
    found = doubts("The forms of printed", heard, last_word_end_s=4.0, earlier_words=9)
    assert found == ["5 words fewer than an earlier decode"]
    assert doubts("The forms of printed", heard, last_word_end_s=4.0, earlier_words=6) == []
