"""Errors the user can act on; each message says what is wrong in plain words.

Kept free of heavy imports so the command line can catch them without loading numpy.
"""


class ModelError(RuntimeError):
    """The model is missing, corrupt or cannot be fetched; the message says what to do."""


class MicrophoneError(RuntimeError):
    """No usable microphone: missing, unplugged, or stalled at the driver level.

    ``detail`` says what is wrong and what to do; the message is the headline and the
    detail, so the OLED shows the two apart without parsing the message.
    """

    headline = "No microphone"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.headline}: {detail}")
        self.detail = detail


class AudioFileError(RuntimeError):
    """An audio file that cannot be read."""
