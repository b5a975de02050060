"""End-to-end proof against a real Linux USB HID host stack (QEMU, Debian kernel, dummy_hcd).

Our gadget script creates the keyboard; our typist (the project's venv Python, through 9p)
types into /dev/hidg0; the same guest kernel enumerates the gadget as a USB keyboard and its
/dev/input/eventN events are decoded here with libxkbcommon for the host layout.
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.hid.layout import load_layout

from .conftest import GADGET
from .decode import decode
from .vm import ROOT, GuestVM

pytestmark = pytest.mark.qemu

ASCII = "".join(chr(c) for c in range(32, 127))
LAYOUT_TEXTS: dict[str, str] = {
    "de": "Größe Übermaß: äöü ÄÖÜ ß ẞ € @ µ ° § ² ³ {[]} \\ | ~ ^ ` é è ê É",
    # Ç: on no level of fr; its ç key types it with Caps Lock on (toggled around it)
    "fr": "Être à côté, ça où ! € £ µ § ² ¤ @ # {}[] | \\ ^ ~ ï ë É ÇA VA, François Ç",
    "gb": '£ € ¬ ¦ " @ # ~ \\ | á é í ó ú',
    "es": "¿Señor? ¡Olé! ñ Ñ ç á é í ó ú ü € º ª · @ # ~ \\",
    "it": "perché è là più così ò ç € £ @ # [] {} §",
    "ch": "Grüezi Zürich äöü éàè ç € @ # § ° ¦ ¬ ¢",
    "ch(fr)": "Genève ça éàè äöü € @ #",
    "us(dvorak)": 'The quick brown fox; jumps over "lazy" dogs? <=> [x] {y}',
    "se": "Räksmörgås Ååäö € @ £ $ { } \\ |",
    "no": "Blåbærsyltetøy ÆØÅ æøå € @ £ §",
    "pl": "Zażółć gęślą jaźń ĄĘŁŃÓŚŹŻ €",
    "br": "Ação / ? coração ã õ ç é ê \\ | ~",
    "us(intl)": "Café crème à Noël ñ ç ü ¿ ¡ © ® ß",
    "us(colemak)": "Colemak moves the keys: arstdhneio!",
    "cz": "Příliš žluťoučký kůň úpěl ďábelské ódy",
}
CAPS_JOBS = {"caps-us": ("us", ASCII), "caps-de": ("de", LAYOUT_TEXTS["de"]),
             "caps-fr": ("fr", LAYOUT_TEXTS["fr"])}  # fmt: skip
# What is in the field, then a dictation (typed while spoken) that the undo takes back: dead
# keys (è on de), a transliteration (→ as ->: two characters), AltGr (€), Caps Lock (Ç on fr).
UNDO_JOBS = {
    "undo-de": ("de", "Schon da.", "Zürich → Genève kostet 5 € mehr."),
    "undo-fr": ("fr", "Déjà là.", "Ça coûte 5 € → voilà."),
}
LONG = " ".join(f"word{i:04d} Ünïcødé;" for i in range(120))  # ~2300 characters


def _jobs() -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = [{"name": "ascii", "layout": "us", "text": ASCII}]
    for layout, text in LAYOUT_TEXTS.items():
        jobs.append({"name": f"layout-{layout}", "layout": layout, "text": text})
    for name, (layout, text) in CAPS_JOBS.items():
        jobs.append({"name": name, "layout": layout, "text": text, "caps": True})
    for name, (layout, before, said) in UNDO_JOBS.items():
        jobs.append({"name": name, "kind": "undo", "layout": layout, "before": before,
                     "said": said})  # fmt: skip
    for mode in ("type", "drop"):
        jobs.append(
            {
                "name": f"unbind-{mode}",
                "kind": "unbind",
                "layout": "de",
                "text": LONG,
                "on_host_return": mode,
                "unbind_after_s": 1.0,
            }
        )
    return jobs


@pytest.fixture(scope="module")
def typed(vm: GuestVM) -> tuple[Path, dict[str, Any]]:
    out = vm.workdir / "typing"
    out.mkdir(exist_ok=True)
    jobs = _jobs()
    for job in jobs:  # the texts must be typeable on their layouts (else the test is wrong)
        if job.get("kind", "type") == "type":
            layout = load_layout(job["layout"])
            assert all(layout.can_type(c) for c in job["text"]), job["name"]
    (out / "jobs.json").write_text(json.dumps(jobs, ensure_ascii=False))
    guest_out = f"/mnt/stt-work/{out.name}"
    rc, log = vm.run(
        f"cd {ROOT} && {sys.executable} tests/qemu/guest_type.py {guest_out}/jobs.json {guest_out}",
        timeout_s=400,
    )
    assert rc == 0, log
    return out, json.loads((out / "results.json").read_text())


def test_ascii_with_all_punctuation(typed: tuple[Path, dict[str, Any]]) -> None:
    out, results = typed
    d = decode((out / "ascii.ev").read_bytes(), "us")
    assert not d.reader_dropped, "the test's evdev reader was starved (SYN_DROPPED)"
    assert set(string.punctuation) <= set(ASCII)
    assert d.text == ASCII
    assert results["ascii"]["result"]["typed"] == ASCII
    assert d.repeats == 0 and not d.held_at_end


@pytest.mark.parametrize("layout", list(LAYOUT_TEXTS))
def test_layout_exact(typed: tuple[Path, dict[str, Any]], layout: str) -> None:
    out, results = typed
    d = decode((out / f"layout-{layout}.ev").read_bytes(), layout)
    assert not d.reader_dropped, "the test's evdev reader was starved (SYN_DROPPED)"
    assert d.text == LAYOUT_TEXTS[layout]
    assert results[f"layout-{layout}"]["result"]["skipped"] == []
    assert d.repeats == 0 and not d.held_at_end
    assert not d.caps_at_end, "Caps Lock left on (fr: toggled around Ç)"


@pytest.mark.parametrize("name", list(CAPS_JOBS))
def test_host_caps_lock_on_still_exact(typed: tuple[Path, dict[str, Any]], name: str) -> None:
    out, _ = typed
    layout, text = CAPS_JOBS[name]
    d = decode((out / f"{name}.ev").read_bytes(), layout, caps=True)
    assert not d.reader_dropped, "the test's evdev reader was starved (SYN_DROPPED)"
    assert d.text == text
    assert d.caps_at_end, "the typist must turn the host's Caps Lock back on"
    assert d.repeats == 0 and not d.held_at_end


@pytest.mark.parametrize("name", list(UNDO_JOBS))
def test_undo_leaves_the_text_as_it_was(typed: tuple[Path, dict[str, Any]], name: str) -> None:
    """Issue 14 on the real stack: after the undo the host's text is what it was before the
    dictation, words typed while speaking included."""
    out, results = typed
    layout, before, said = UNDO_JOBS[name]
    d = decode((out / f"{name}.ev").read_bytes(), layout)
    assert not d.reader_dropped, "the test's evdev reader was starved (SYN_DROPPED)"
    assert results[name]["typed"].strip() == said  # it was typed, all of it
    assert d.text == before
    assert d.repeats == 0 and not d.held_at_end and not d.caps_at_end


@pytest.mark.parametrize("mode", ["type", "drop"])
def test_udc_unbind_mid_text(typed: tuple[Path, dict[str, Any]], mode: str) -> None:
    out, results = typed
    r = results[f"unbind-{mode}"]
    first, second = r["first"], r["second"]
    assert first["host_absent"], "unbinding must be reported as host absent"
    assert first["pending"], "the unbind came too late: nothing was left to type"
    assert first["typed"] + first["pending"] == LONG
    d1 = decode((out / f"unbind-{mode}-1.ev").read_bytes(), "de")
    # What reached the first host is the start of the text; the typist kept as pending
    # everything that may not have arrived (at most the one character in flight arrives twice).
    assert LONG.startswith(d1.text) and d1.repeats == 0
    assert 0 <= len(d1.text) - len(first["typed"]) <= 1, (len(d1.text), len(first["typed"]))
    d2 = decode((out / f"unbind-{mode}-2.ev").read_bytes(), "de")
    assert d2.repeats == 0 and not d2.held_at_end, "a key was left pressed"
    if mode == "type":
        assert r["pending_kept"] == first["pending"]
        assert d2.text == first["pending"] and second["typed"] == first["pending"]
        assert LONG.endswith(d2.text) and len(d1.text) + len(d2.text) >= len(LONG)  # no loss
    else:
        assert r["pending_kept"] == "" and d2.text == "" and second["typed"] == ""


def test_gadget_lifecycle(vm: GuestVM, typed: object) -> None:
    g = f"sh {GADGET}"
    rc, out = vm.run(f"{g} up")
    assert rc == 0 and "already up" in out, out
    rc, out = vm.run(f"{g} status")
    assert rc == 0 and "bound to dummy_udc.0" in out and "/dev/hidg0" in out, out
    rc, out = vm.run(f"{g} down")
    assert rc == 0 and "down" in out, out
    assert vm.run("test -e /sys/kernel/config/usb_gadget/stt-keyboard")[0] != 0
    rc, out = vm.run(f"{g} down")
    assert rc == 0 and "not set up" in out, out
    rc, out = vm.run(f"{g} status")
    assert rc == 3 and "absent" in out, out
    # No UDC at all.
    rc, out = vm.run(f"mkdir -p /tmp/noudc && UDC_CLASS=/tmp/noudc {g} up")
    assert rc == 1 and "no USB device controller" in out and len(out.strip().splitlines()) == 1
    vm.run(f"{g} down")
    # Modules missing: unload them and hide modprobe.
    rc, out = vm.run(
        "rmmod usb_f_hid libcomposite && mkdir -p /tmp/fakebin && "
        "printf '#!/bin/sh\\nexit 1\\n' > /tmp/fakebin/modprobe && chmod +x /tmp/fakebin/modprobe"
    )
    assert rc == 0, out
    rc, out = vm.run(f"PATH=/tmp/fakebin:$PATH {g} up")
    assert rc == 1 and "libcomposite" in out and len(out.strip().splitlines()) == 1, out
    rc, out = vm.run(f"modprobe -a libcomposite usb_f_hid && {g} up && {g} status")
    assert rc == 0 and "up on dummy_udc.0" in out, out


def test_benchmark_throughput(
    vm: GuestVM, typed: object, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = vm.run(
        f"cd {ROOT} && {sys.executable} benchmarks/hid_throughput.py --chars 1500 --json",
        timeout_s=300,
    )
    assert rc == 0, out
    res = json.loads(out.strip().splitlines()[-1])
    with capsys.disabled():
        print(f"\nHID benchmark (QEMU TCG, dummy_hcd): {res['summary']}")
    assert res["lost"] == 0 and res["decoded_ok"]
