"""Typing finished segments while the user still speaks: order, spacing, host errors."""

from __future__ import annotations

import pytest

from appliance.config import TextConfig
from appliance.hid import VirtualHost
from appliance.hid.typist import Typist
from appliance.pipeline import EarlyTyper
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
