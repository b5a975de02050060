"""Issue 14, the text side: exact replacements and Enter after the text, also while typing as
the user speaks (what was typed early is never contradicted by the end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import ConfigError, TextConfig, parse_config
from appliance.early_typer import EarlyTyper
from appliance.hid import VirtualHost
from appliance.hid.keys import SpecialKey
from appliance.hid.typist import Typist
from appliance.text import Piece, TextShaper

ENTER = SpecialKey.ENTER


def shaper(**text: object) -> TextShaper:
    return TextShaper(TextConfig(**text))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- replacements


def test_replacements_whole_words_any_case_spelled_as_configured() -> None:
    s = shaper(replacements={"graph ana": "Grafana", "dr nguyen": "Dr. Nguyen", "iphone": "iPhone"})
    assert s.shape([Piece("I asked DR  Nguyen about graph Ana.")]) == [
        "I asked Dr. Nguyen about Grafana."
    ]
    # at a sentence start the configured case wins over sentence case
    assert shaper(replacements={"iphone": "iPhone"}).shape([Piece("iphone sales rose.")]) == [
        "iPhone sales rose."
    ]
    # whole words only
    assert s.shape([Piece("graphanalysis and dr nguyens")]) == [" Graphanalysis and dr nguyens"]


def test_a_replacement_is_never_half_typed_while_speaking() -> None:
    host = VirtualHost("us")
    s = shaper(replacements={"graph ana": "Grafana"})
    early = EarlyTyper(s, Typist(host, "us").type)
    early.put(Piece("we use graph", provisional=True))
    early.put(Piece("we use graph ana for", provisional=True))
    early.put(Piece("we use graph ana for metrics."))
    early.close()
    assert host.text == "We use Grafana for metrics."


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ('text:\n  replacements:\n    bob: "Bob\\n"\n', "control character"),
        ("text:\n  replacements:\n    '': Bob\n", "empty word"),
        ("text:\n  replacements: [bob]\n", "expected a mapping of a string to a string"),
        ('text:\n  enter_phrase: "send\\u001bit"\n', "control character"),
        ("text:\n  enter_after: sometimes\n", "choose one of: never, always, spoken"),
    ],
)
def test_bad_settings_are_refused_with_the_key(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(yaml_text, "c.yaml")
    assert "c.yaml:" in str(info.value) and "text." in str(info.value)


def test_replacements_parse_from_yaml() -> None:
    cfg = parse_config("text:\n  replacements:\n    graph ana: Grafana\n")
    assert cfg.text.replacements == {"graph ana": "Grafana"}


# --------------------------------------------------------------------------- Enter after


@pytest.mark.parametrize(
    ("enter_after", "said", "typed"),
    [
        ("never", "See you at noon. Send it.", ["See you at noon. Send it."]),
        ("always", "See you at noon.", ["See you at noon.", ENTER]),
        ("spoken", "See you at noon. Send it.", ["See you at noon.", ENTER]),
        ("spoken", "see you at noon, send it", ["See you at noon", ENTER]),
        ("spoken", "Send it to Bob at noon.", ["Send it to Bob at noon."]),
        ("spoken", "send it", [ENTER]),
    ],
)
def test_enter_after(enter_after: str, said: str, typed: list[object]) -> None:
    assert shaper(enter_after=enter_after).shape([Piece(said)]) == typed


def test_the_enter_phrase_waits_while_speaking_and_is_typed_when_it_was_not_the_end() -> None:
    for ending, expected in [
        ("send it.", "Call me at noon\n"),
        ("send it to Bob.", "Call me at noon, send it to Bob."),
    ]:
        host = VirtualHost("us")
        early = EarlyTyper(shaper(enter_after="spoken"), Typist(host, "us").type)
        early.put(Piece("Call me at noon, send", provisional=True))
        early.put(Piece("Call me at noon, send it", provisional=True))
        early.put(Piece("Call me at noon, " + ending))
        early.close()
        assert host.text == expected, (ending, host.text)
        assert early.typed[0] == "Call me at noon", "the phrase and its comma waited"


@pytest.mark.model
def test_a_replacement_on_real_speech(
    model_dir: Path, speech_items, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The whole pipeline (`simulate`): a word the model types is turned into the spelling
    the user configured, and Enter follows (enter_after: always)."""
    import json

    from appliance.cli import main

    item = next(
        i for i in speech_items if i.language == "en" and " letter " in f" {i.reference.lower()} "
    )
    config = tmp_path / "c.yaml"
    config.write_text("text:\n  enter_after: always\n  replacements:\n    letter: LETTER-X\n")
    code = main(["--config", str(config), "simulate", "--audio", str(item.path),
                 "--model", str(model_dir), "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert "LETTER-X" in out["typed"] and "letter" not in out["typed"].lower().replace(
        "letter-x", ""
    ), out["typed"]
    assert out["typed"].endswith("\n"), "Enter after the text"


# --------------------------------------------------------------------------- scratch that


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (["Hello. I like cats.", "Scratch that.", "I like dogs."], "Hello. I like dogs."),
        (["I like cats. Scratch that. I like dogs."], "I like dogs."),
        (["Meet at five, scratch that, meet at six."], "Meet at six."),
        (["First line new line second scratch that third"], "First line\nThird"),
    ],
)
def test_scratch_that_takes_back_the_phrase_before_it(said: list[str], shown: str) -> None:
    from appliance.hid.keys import shown_text

    items = shaper(spoken_commands=True).shape([Piece(p) for p in said])
    assert shown_text(items) == shown


def test_scratch_that_is_only_a_command_with_spoken_commands_on() -> None:
    assert shaper().shape([Piece("Scratch that itch.")]) == ["Scratch that itch."]


def test_scratch_that_takes_back_words_already_typed_while_speaking() -> None:
    host = VirtualHost("us")
    early = EarlyTyper(shaper(spoken_commands=True), Typist(host, "us").type)
    early.put(Piece("Send the report to Anna."))
    early.put(Piece("Scratch", provisional=True))  # the command's first word waits
    early.put(Piece("Scratch that."))
    early.put(Piece("Send it to Bob."))
    early.close()
    assert host.text == "Send it to Bob."
    assert "Anna" in "".join(i for i in early.typed if isinstance(i, str)), "typed, then taken back"


@pytest.mark.model
def test_scratch_that_in_a_recording(
    model_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Speech made with espeak-ng (no recording in the speech set says it), through the
    whole pipeline: only what was not scratched is on the host."""
    import json

    import soundfile as sf

    from appliance.audio import SAMPLE_RATE
    from appliance.cli import main
    from appliance.samples import speak, with_pause

    audio = with_pause(
        with_pause(speak("The meeting is on Monday."), speak("Scratch that."), 1.0),
        speak("The meeting is on Friday."),
        1.0,
    )
    wav = tmp_path / "scratch.wav"
    sf.write(wav, audio, SAMPLE_RATE)
    config = tmp_path / "c.yaml"
    config.write_text("text:\n  spoken_commands: true\n")
    code = main(["--config", str(config), "simulate", "--audio", str(wav),
                 "--model", str(model_dir), "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    host = out["typed"]  # the virtual host's text: Backspaces applied
    assert "Friday" in host and "Monday" not in host and "cratch" not in host, out
