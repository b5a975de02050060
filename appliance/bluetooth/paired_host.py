"""A host that paired with the Bluetooth keyboard, as the controller and screens see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairedHost:
    address: str
    name: str
    connected: bool
