"""Text shaping: spacing, capitals, control characters, opt-in keys."""

from __future__ import annotations

from appliance.config import TextConfig
from appliance.hid.keys import SpecialKey, shown_text
from appliance.text import Piece, TextShaper, apply_spoken_commands, clean


def shape(*texts: str, **cfg: object) -> list:
    return TextShaper(TextConfig(**cfg)).shape([Piece(t) for t in texts])  # type: ignore[arg-type]


def test_segments_join_with_one_space_and_capitals() -> None:
    assert shape("hello there.", " how are you?") == ["Hello there. How are you?"]
    assert shape("one", "two") == ["One two"]


def test_second_dictation_does_not_glue_onto_the_first() -> None:
    shaper = TextShaper(TextConfig())
    assert shaper.shape([Piece("First sentence.")]) == ["First sentence."]
    assert shaper.shape([Piece("second one.")]) == [" Second one."]
    assert shaper.shape([]) == []  # nothing said: nothing typed, not even a space
    shaper.reset()
    assert shaper.shape([Piece("again")]) == ["Again"]


def test_a_dictation_continuing_a_sentence_is_not_capitalised() -> None:
    shaper = TextShaper(TextConfig())
    assert shaper.shape([Piece("so we met,")]) == ["So we met,"]
    assert shaper.shape([Piece("and then we left.")]) == [" and then we left."]
    assert shaper.shape([Piece("next day")]) == [" Next day"]


def test_space_between_dictations_can_be_turned_off() -> None:
    shaper = TextShaper(TextConfig(space_between_dictations=False))
    shaper.shape([Piece("Done.")])
    assert shaper.shape([Piece("b")]) == ["B"]


def test_control_and_format_characters_never_pass() -> None:
    nasty = "rm -rf\x1b[2J\x00 x\r\ny\tz\u200b\u202e\x7f done"
    out = shape(nasty)
    assert out == ["Rm -rf[2J x y z done"]
    assert all(isinstance(i, str) for i in out)
    assert clean("a\u2028b") == "a b"


def test_newline_words_are_text_unless_commands_are_enabled() -> None:
    assert shape("first new line second") == ["First new line second"]
    out = shape("first, new line. second", spoken_commands=True)
    assert out == ["First", SpecialKey.ENTER, "Second"]


def test_spoken_punctuation_and_paragraph() -> None:
    items = apply_spoken_commands("Hello comma world period new paragraph next question mark")
    assert shown_text(items) == "Hello, world.\n\nNext?"


def test_paragraph_break_after_long_pause_only_when_configured() -> None:
    pieces = [Piece("first part."), Piece("second part.", pause_before_s=12.0)]
    assert TextShaper(TextConfig()).shape(pieces) == ["First part. Second part."]
    out = TextShaper(TextConfig(paragraph_pause_s=5.0)).shape(pieces)
    assert out == ["First part.", SpecialKey.ENTER, SpecialKey.ENTER, "Second part."]


def test_capitalisation_can_be_turned_off() -> None:
    assert shape("hello. world", capitalize=False) == ["hello. world"]
