"""The host probe: a USB host counts as connected only when our gadget is bound to a UDC
that a host has configured (dummy_udc keeps "configured" after an unbind: measured)."""

from __future__ import annotations

from pathlib import Path

from appliance.hid.device import udc_configured


def tree(tmp_path: Path, *, bound: str, state: str) -> tuple[str, str]:
    udc = tmp_path / "class_udc" / "fe980000.usb"
    udc.mkdir(parents=True)
    (udc / "state").write_text(state + "\n")
    gadget = tmp_path / "usb_gadget" / "stt-keyboard"
    gadget.mkdir(parents=True)
    (gadget / "UDC").write_text(bound + "\n")
    return str(tmp_path / "class_udc"), str(tmp_path / "usb_gadget")


def test_bound_and_configured_is_connected(tmp_path: Path) -> None:
    assert udc_configured(*tree(tmp_path, bound="fe980000.usb", state="configured"))


def test_unbound_gadget_is_not_connected_even_if_the_udc_says_configured(tmp_path: Path) -> None:
    assert not udc_configured(*tree(tmp_path, bound="", state="configured"))


def test_bound_but_not_configured_is_not_connected(tmp_path: Path) -> None:
    assert not udc_configured(*tree(tmp_path, bound="fe980000.usb", state="not attached"))


def test_no_gadget_at_all(tmp_path: Path) -> None:
    assert not udc_configured(str(tmp_path / "none"), str(tmp_path / "none"))
