"""What went wrong, readable from the SD card: the status file and its copy on the boot
partition."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.status import State, StatusBus, Topic
from appliance.status_file import KEEP_PROBLEMS, NAME, StatusFile, open_status_file
from tests.conftest import ROOT

PUBLISH = ROOT / "systemd" / "stt-keyboard-publish-status"


def state_line(path: Path) -> str:
    return next(ln for ln in path.read_text().splitlines() if ln.startswith("state: "))


def test_states_are_written_rate_limited_and_the_last_one_always_lands(tmp_path: Path) -> None:
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    status_file = StatusFile(tmp_path / NAME, min_interval_s=0.5)
    bus.subscribe(status_file)
    state.publish(State.READY)
    assert status_file.writes == 1 and "state: ready" in state_line(tmp_path / NAME)
    for _ in range(20):  # a busy minute of dictations, squeezed
        state.publish(State.RECORDING)
        state.publish(State.TRANSCRIBING)
        state.publish(State.TYPING)
    state.publish(State.READY, "")
    state.publish(State.ERROR, "No microphone", detail="the system lists no audio input device")
    assert status_file.writes == 1, "written again before its interval"
    deadline = time.monotonic() + 5
    while status_file.writes < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.6)
    assert status_file.writes == 2, "61 changes in 0.5 s are one write"
    text = (tmp_path / NAME).read_text()
    assert "state: error: No microphone" in text
    assert "No microphone (the system lists no audio input device)" in text
    assert [p.name for p in tmp_path.iterdir()] == [NAME], "a temporary file was left"


def test_problems_are_kept_newest_first_across_restarts(tmp_path: Path) -> None:
    bus = StatusBus()
    state = bus.publisher(Topic.STATE, "test")
    first = open_status_file(bus, tmp_path)
    first.min_interval_s = 0
    for i in range(KEEP_PROBLEMS + 3):
        state.publish(State.ERROR, f"problem {i}")
    first.close()
    second = StatusFile(tmp_path / NAME, min_interval_s=0)  # the next start
    second.problem("config error: /etc/stt-keyboard/config.yaml:13: hid.layout: ...")
    lines = (tmp_path / NAME).read_text().splitlines()
    problems = lines[lines.index("last problems, newest first:") + 1 :]
    assert len(problems) == KEEP_PROBLEMS
    assert "config error" in problems[0] and problems[1].endswith(f"problem {KEEP_PROBLEMS + 2}")
    assert state_line(tmp_path / NAME).startswith("state: not running: config error")


def test_a_file_with_no_problems_gives_none_to_the_next_start(tmp_path: Path) -> None:
    """ "(none)" in an earlier file is not a problem (it was listed under a new one)."""
    StatusFile(tmp_path / NAME, min_interval_s=0).flush()
    assert "(none)" in (tmp_path / NAME).read_text()
    StatusFile(tmp_path / NAME, min_interval_s=0).problem("config error: x")
    lines = (tmp_path / NAME).read_text().splitlines()
    assert lines[lines.index("last problems, newest first:") + 1 :] == [lines[-1]]
    assert lines[-1].endswith("config error: x")


def test_a_config_error_at_start_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("hid:\n  layout: us\n  report_delay_ms: fast\n")
    monkeypatch.setenv("STT_KEYBOARD_CACHE", str(tmp_path / "state"))
    assert main(["--config", str(config), "run", "--no-hardware"]) == 2
    text = (tmp_path / "state" / NAME).read_text()
    assert f"config error: {config}:3: hid.report_delay_ms" in text, text
    assert "state: not running: config error" in text
    assert "hid.report_delay_ms" in capsys.readouterr().err


@pytest.fixture
def boot_partition(tmp_path: Path):
    """A mounted file system standing in for the FAT boot partition (a mount point, as the
    script requires: a plain directory on the root file system is not the SD card's)."""
    if os.geteuid() != 0:
        pytest.fail("mounting the stand-in boot partition needs root (the suite runs as root)")
    boot = tmp_path / "boot-firmware"
    boot.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "stt-test-boot", str(boot)], check=True
    )
    yield boot
    subprocess.run(["umount", str(boot)], check=False)


def test_the_status_file_is_copied_to_the_boot_partition(tmp_path: Path, boot_partition) -> None:
    src = tmp_path / NAME
    src.write_text("STT Keyboard status\nstate: error: No microphone\n")
    env = {
        "PATH": os.environ["PATH"],
        "STT_KEYBOARD_STATUS": str(src),
        "STT_KEYBOARD_BOOT_DIRS": f"{tmp_path / 'not-mounted'} {boot_partition}",
    }
    (tmp_path / "not-mounted").mkdir()
    out = subprocess.run(["sh", str(PUBLISH)], env=env, capture_output=True, text=True, check=True)
    assert (boot_partition / "stt-keyboard-status.txt").read_text() == src.read_text()
    assert sorted(p.name for p in boot_partition.iterdir()) == ["stt-keyboard-status.txt"]
    assert list((tmp_path / "not-mounted").iterdir()) == [], "only a mounted partition is used"
    assert str(boot_partition) in out.stdout
    env["STT_KEYBOARD_BOOT_DIRS"] = str(tmp_path / "not-mounted")
    gone = subprocess.run(["sh", str(PUBLISH)], env=env, capture_output=True, text=True)
    assert gone.returncode == 0 and "no boot partition" in gone.stderr
