"""The dictation language chosen on the device (four quick presses), kept across restarts.

The choices are ``asr.language`` first, then ``asr.languages``; the one chosen is a small
file in the service's state directory. On a read-only root that directory is in RAM, so the
choice lasts until the next boot; ``asr.language`` in the settings file keeps one for good.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.atomic_file import write_atomically
from appliance.config import AsrConfig

log = logging.getLogger(__name__)

NAME = "language.txt"


def language_cycle(asr: AsrConfig) -> list[str]:
    """The languages the gesture steps through, the configured one first."""
    return [asr.language, *(code for code in asr.languages if code != asr.language)]


class LanguageStore:
    def __init__(self, directory: Path) -> None:
        self.path = directory / NAME

    def load(self, cycle: list[str]) -> str | None:
        """The saved choice, if it is still one of the configured languages."""
        try:
            code = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return code if code in cycle else None

    def save(self, code: str) -> None:
        try:
            write_atomically(self.path, code + "\n")
        except OSError as exc:
            log.warning("could not keep the language choice in %s: %s", self.path, exc)
