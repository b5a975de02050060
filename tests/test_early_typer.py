"""Typing finished segments while the user still speaks: order, spacing, host errors."""

from __future__ import annotations

import pytest

from appliance.config import TextConfig
from appliance.early_typer import EarlyTyper
from appliance.hid import VirtualHost
from appliance.hid.typist import Typist
from appliance.text import Piece, TextShaper


def test_pieces_are_typed_in_order_with_single_spaces() -> None:
    host = VirtualHost("us")
    typist = Typist(host, "us")
    early = EarlyTyper(TextShaper(TextConfig()), typist.type)
    for text in ("first part.", "second part,", "and the end."):
        early.put(Piece(text))
    early.close()
    assert host.text == "First part. Second part, and the end."
    assert not host.keys_down


def test_a_failing_host_is_reported_at_close_and_typing_stops() -> None:
    calls: list[list] = []

    def failing(items: list) -> None:
        calls.append(items)
        raise OSError(108, "Cannot send after transport endpoint shutdown")

    early = EarlyTyper(TextShaper(TextConfig()), failing)
    early.put(Piece("one"))
    early.put(Piece("two"))
    with pytest.raises(OSError, match="transport endpoint"):
        early.close()
    assert len(calls) == 1


def test_provisional_pieces_are_typed_as_they_grow_and_the_final_piece_completes_them() -> None:
    host = VirtualHost("us")
    typed_calls: list[str] = []
    typist = Typist(host, "us")

    def type_items(items: list) -> None:
        typed_calls.append("".join(i for i in items if isinstance(i, str)))
        typist.type(items)

    early = EarlyTyper(TextShaper(TextConfig()), type_items)
    early.put(Piece("these take the", provisional=True))
    early.put(Piece("these take the shape of", provisional=True))
    early.put(Piece("these take the shape of a long arch.", pause_before_s=0.0))
    early.put(Piece("and more", provisional=True))
    early.put(Piece("and more words."))
    early.close()
    assert host.text == "These take the shape of a long arch. And more words."
    # Each call typed only what was new: nothing was typed twice.
    assert "".join(typed_calls) == host.text
    assert typed_calls[:3] == ["These take the", " shape of", " a long arch."]
    assert not host.keys_down


@pytest.mark.parametrize(
    ("final", "typed"),
    [
        ("hello their friends.", "Hello there friends."),
        ("hello their friend, how are you?", "Hello there friend, how are you?"),
    ],
)
def test_a_final_text_that_does_not_extend_what_was_typed_continues_where_they_part(
    final: str, typed: str
) -> None:
    host = VirtualHost("us")
    early = EarlyTyper(TextShaper(TextConfig()), Typist(host, "us").type)
    early.put(Piece("hello there friend", provisional=True))
    early.put(Piece(final))
    early.close()
    # Nothing typed is erased and no word is typed twice; the final's new text follows.
    assert host.text == typed


def test_a_spoken_command_split_across_commits_is_not_typed_as_words() -> None:
    host = VirtualHost("us")
    shaper = TextShaper(TextConfig(spoken_commands=True))
    early = EarlyTyper(shaper, Typist(host, "us").type)
    early.put(Piece("first line new", provisional=True))
    early.put(Piece("first line new line second", provisional=True))
    early.put(Piece("first line new line second line"))
    early.close()
    assert host.text == "First line\nSecond line"


def test_preview_does_not_change_what_the_next_dictation_looks_like() -> None:
    shaper = TextShaper(TextConfig())
    assert shaper.preview([Piece("an open sentence")]) == ["An open sentence"]
    assert shaper.preview([Piece("an open sentence")]) == ["An open sentence"]
    assert shaper.shape([Piece("an open sentence")]) == ["An open sentence"]
    # Now a dictation has been typed and its sentence is open: a space, and no capital.
    assert shaper.preview([Piece("that goes on.")]) == [" that goes on."]


def test_cancel_types_nothing_more() -> None:
    host = VirtualHost("us")
    early = EarlyTyper(TextShaper(TextConfig()), Typist(host, "us").type)
    early.put(Piece("kept words", provisional=True))
    import time

    deadline = time.monotonic() + 5
    while host.text != "Kept words" and time.monotonic() < deadline:
        time.sleep(0.01)
    early.cancel()
    early.put(Piece("kept words and more."))
    early._thread.join(5)
    assert host.text == "Kept words"
