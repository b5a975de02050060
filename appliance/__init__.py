"""STT Keyboard: a Raspberry Pi that is a USB keyboard typing what you dictate."""

__version__ = "0.1.0"
