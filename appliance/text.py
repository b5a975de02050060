"""Turning transcribed segments into what is typed.

Only characters leave this module, unless the configuration enables a feature that needs a
key: spoken commands ("new line") or paragraph breaks on long pauses. A typed newline is an
Enter key, which can send a chat message or run a shell command, so both are off by default.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.config import TextConfig
from appliance.hid.keys import SpecialKey, TypedItem, shown_text
from appliance.history import ShaperMemory

_SENTENCE_END = ".!?…"


@dataclass(frozen=True)
class Piece:
    """One transcribed speech segment and the pause that came before it.

    A provisional piece holds the committed words of a segment still being spoken; the next
    piece (provisional or final) of the same segment replaces it and only extends its text.
    """

    text: str
    pause_before_s: float = 0.0
    provisional: bool = False


def clean(text: str) -> str:
    """Strip control and format characters (and zero-width tricks), fold whitespace."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if ch.isspace():
            out.append(" ")
        elif cat[0] == "C":  # Cc control, Cf format (bidi overrides, zero width), Co, Cn
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


_PUNCT_WORDS: list[tuple[str, str]] = [
    ("question mark", "?"),
    ("exclamation mark", "!"),
    ("exclamation point", "!"),
    ("full stop", "."),
    ("period", "."),
    ("comma", ","),
    ("semicolon", ";"),
    ("colon", ":"),
]


@dataclass(frozen=True)
class Scratch:
    """Spoken "scratch that": the phrase before it is taken back (see :func:`take_back`)."""


_KEY_WORDS: list[tuple[str, list[SpecialKey | Scratch]]] = [
    ("new paragraph", [SpecialKey.ENTER, SpecialKey.ENTER]),
    ("new line", [SpecialKey.ENTER]),
    ("scratch that", [Scratch()]),
]
_AROUND = r"[\s,.;:!?]*"


def _word_pattern(phrase: str) -> str:
    return r"\b" + r"[\s,-]+".join(map(re.escape, phrase.split())) + r"\b"


_KEY_RE = re.compile(
    r"[\s,]*(" + "|".join(_word_pattern(p) for p, _ in _KEY_WORDS) + ")" + _AROUND,
    re.IGNORECASE,
)
_PUNCT_RES = [
    (re.compile(r"[\s,.;:]*" + _word_pattern(p) + r"[,.;:]?", re.IGNORECASE), mark)
    for p, mark in _PUNCT_WORDS
]


def apply_spoken_commands(text: str) -> list[TypedItem | Scratch]:
    """'hello comma world new line next' -> ['hello, world', ENTER, 'Next']."""
    for pattern, mark in _PUNCT_RES:
        text = pattern.sub(mark, text)
    items: list[TypedItem | Scratch] = []
    pos = 0
    for match in _KEY_RE.finditer(text):
        before = text[pos : match.start()].strip()
        if before:
            items.append(before)
        phrase = " ".join(re.split(r"[\s,-]+", match.group(1).lower()))
        items.extend(dict(_KEY_WORDS)[phrase])
        pos = match.end()
    rest = text[pos:].strip()
    if rest:
        items.append(_capitalise_first(rest) if items else rest)
    return items


def take_back(items: Iterable[TypedItem | Scratch]) -> list[TypedItem]:
    """Each "scratch that" becomes Backspaces for the phrase before it: the words since the
    last sentence end, or the last sentence when it follows one. Backspaces rather than
    leaving the words out, because they may already be typed (while speaking); never across
    an Enter or Tab. A character typed as several (a transliteration) counts as one here."""
    out: list[TypedItem] = []
    trim = False  # after a take-back, the next text starts where the phrase started
    for item in items:
        if isinstance(item, Scratch):
            visible = _visible_since_last_key(out)
            kept = visible.rstrip()
            ends = [kept.rfind(c, 0, max(len(kept) - 1, 0)) for c in _SENTENCE_END]
            start = max(ends) + 1
            while start < len(visible) and visible[start] == " ":
                start += 1
            out.extend([SpecialKey.BACKSPACE] * (len(visible) - start))
            trim = True
            continue
        if trim and isinstance(item, str):
            visible = _visible_since_last_key(out)
            if not visible or visible.endswith(" "):
                item = item.lstrip(" ")
            if not item:
                continue
            trim = False
        out.append(item)
    return out


def _visible_since_last_key(items: list[TypedItem]) -> str:
    """What the host shows of the items after the last Enter or Tab."""
    tail: list[TypedItem] = []
    for item in reversed(items):
        if isinstance(item, SpecialKey) and item is not SpecialKey.BACKSPACE:
            break
        tail.insert(0, item)
    return shown_text(tail)


def _capitalise_first(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
        if not (ch.isspace() or ch in "\"'“‘(¿¡"):
            return text
    return text


def _capitalise_sentences(text: str) -> str:
    return re.sub(
        r"([.!?…]\s+)([\"'“‘(]*)(\w)",
        lambda m: m.group(1) + m.group(2) + m.group(3).upper(),
        text,
    )


def _merge(items: Iterable[TypedItem]) -> list[TypedItem]:
    out: list[TypedItem] = []
    for item in items:
        if isinstance(item, str):
            if not item:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + item
                continue
        out.append(item)
    return out


class Replacements:
    """``text.replacements``: whole words, matched case-insensitively (any run of spaces
    between words), replaced by the configured spelling as written."""

    def __init__(self, mapping: dict[str, str]):
        self._rules = [  # the spelling as a literal re.sub template: backslashes doubled
            (re.compile(_whole_words(k), re.IGNORECASE), v.replace("\\", "\\\\"))
            for k, v in sorted(mapping.items(), key=lambda kv: -len(kv[0]))
        ]
        self._starts = {
            tuple(w.lower() for w in k.split()[:n])
            for k in mapping
            for n in range(1, len(k.split()))
        }

    def apply(self, text: str) -> str:
        for pattern, spelling in self._rules:
            text = pattern.sub(spelling, text)
        return text

    def hold_back(self, text: str) -> str:
        """Drop trailing words that may be the first words of a longer match: typed now,
        they could not become the replacement when the next word comes."""
        return _drop_trailing_prefix(text, self._starts)


def _whole_words(phrase: str) -> str:
    return r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)"


def _drop_trailing_prefix(text: str, starts: set[tuple[str, ...]]) -> str:
    """``text`` without its last words when they are one of ``starts`` (longest first)."""
    words = text.split(" ")
    for n in range(min(len(words), max((len(s) for s in starts), default=0)), 0, -1):
        tail = tuple(re.sub(r"[^\w]", "", w).lower() for w in words[-n:])
        if tail in starts:
            return " ".join(words[:-n]).rstrip()
    return text


class EnterPhrase:
    """``text.enter_after: spoken``: a dictation that ends with the phrase ("send it") ends
    with Enter instead; the phrase is not typed."""

    def __init__(self, phrase: str):
        words = phrase.split()
        self._end = re.compile(
            r"(?:^|[\s,;:]+)" + r"[\s,-]+".join(map(re.escape, words)) + r"[\s.,;:!?]*$",
            re.IGNORECASE,
        )
        self._starts = {tuple(w.lower() for w in words[:n]) for n in range(1, len(words) + 1)}

    def strip(self, text: str) -> tuple[str, bool]:
        """The text without a closing phrase, and whether it had one."""
        m = self._end.search(text)
        return (text[: m.start()].rstrip(), True) if m else (text, False)

    def hold_back(self, text: str) -> str:
        """While the dictation goes on: the phrase, or its first words, at the end wait, and
        the comma before them (the end drops it with the phrase)."""
        stripped, had = self.strip(text)
        if had:
            return stripped
        dropped = _drop_trailing_prefix(text, self._starts)
        return dropped.rstrip(",;: ") if dropped != text else text


class TextShaper:
    """Shapes each dictation; remembers the previous one so dictations do not glue."""

    def __init__(self, cfg: TextConfig):
        self.cfg = cfg
        self.typed_before = False
        self._sentence_open = False  # the last typed text did not end a sentence
        self._replacements = Replacements(cfg.replacements)
        self._enter = EnterPhrase(cfg.enter_phrase) if cfg.enter_after == "spoken" else None

    def reset(self) -> None:
        self.typed_before = False
        self._sentence_open = False

    def memory(self) -> ShaperMemory:
        """What it remembers of the dictations before (spacing, sentence case)."""
        return self.typed_before, self._sentence_open

    def restore(self, memory: ShaperMemory) -> None:
        """As before a dictation that was taken back (undo)."""
        self.typed_before, self._sentence_open = memory

    def shape(self, pieces: Iterable[Piece]) -> list[TypedItem]:
        """What to type for one dictation (empty list: nothing was said)."""
        items = self._items(pieces, final=True)
        if items:
            self.typed_before = True
            last = items[-1]
            self._sentence_open = isinstance(last, str) and not last.rstrip().endswith(
                tuple(_SENTENCE_END)
            )
        return items

    def preview(self, pieces: Iterable[Piece]) -> list[TypedItem]:
        """What ``shape`` would type for the dictation so far, without remembering it.

        A trailing provisional piece loses a last word that may be the start of a spoken
        command ("new" of "new line"): typed now, it could not become the command later.
        Likewise the first words of a replacement, and the Enter phrase at the end. So
        ``shape`` always extends what ``preview`` gave.
        """
        return self._items(pieces, final=False)

    def _items(self, pieces: Iterable[Piece], *, final: bool) -> list[TypedItem]:
        pieces = list(pieces)
        if pieces and pieces[-1].provisional and self.cfg.spoken_commands:
            last = pieces[-1]
            pieces[-1] = Piece(_hold_back_command_start(last.text), last.pause_before_s, True)
        said: list[TypedItem | Scratch] = []
        for piece in pieces:
            text = clean(piece.text)
            if not text:
                continue
            if said:
                long_pause = (
                    self.cfg.paragraph_pause_s > 0
                    and piece.pause_before_s >= self.cfg.paragraph_pause_s
                )
                if long_pause:
                    said += [SpecialKey.ENTER, SpecialKey.ENTER]
                    text = _capitalise_first(text) if self.cfg.capitalize else text
                else:
                    said.append(" ")
            said.extend(apply_spoken_commands(text) if self.cfg.spoken_commands else [text])
        items = _merge(take_back(said))
        if not items:
            return []
        if self.cfg.capitalize:
            items = [_capitalise_sentences(i) if isinstance(i, str) else i for i in items]
            # A piece that continues an unfinished sentence keeps Whisper's own case.
            if isinstance(items[0], str) and not self._sentence_open:
                items[0] = _capitalise_first(items[0])
        items = [self._replacements.apply(i) if isinstance(i, str) else i for i in items]
        items = self._end_of_dictation(items, final=final)
        if not items:
            return []
        if self.typed_before and self.cfg.space_between_dictations:
            items.insert(0, " ")
            items = _merge(items)
        return items

    def _end_of_dictation(self, items: list[TypedItem], *, final: bool) -> list[TypedItem]:
        """Enter after the text (``text.enter_after``), and what waits for the end."""
        last = items[-1] if items and isinstance(items[-1], str) else None
        enter = self.cfg.enter_after == "always"
        if last is not None and not final:
            last = self._replacements.hold_back(last)
            if self._enter is not None:
                last = self._enter.hold_back(last)
        elif last is not None and self._enter is not None:
            last, enter = self._enter.strip(last)
        if last is not None:
            items = [*items[:-1], last] if last else items[:-1]
        if final and enter:
            items = [*items, SpecialKey.ENTER]
        return items


_COMMAND_STARTS = {
    tuple(phrase.split()[:n])
    for phrase in [p for p, _ in _PUNCT_WORDS] + [p for p, _ in _KEY_WORDS]
    for n in range(1, len(phrase.split()))
}


def _hold_back_command_start(text: str) -> str:
    """Drop trailing words that could be the first words of a spoken command."""
    return _drop_trailing_prefix(text, _COMMAND_STARTS)
