"""A Raspberry Pi's CPU on a bigger machine: the kernel's CFS bandwidth limit (cgroups).

`stt-keyboard bench --cpu-budget` runs the dictation and its baseline inside a cgroup whose
CPU quota is a fraction of one core, so both see a CPU as slow as the Pi's. A named budget
is a target, not a fraction: the time faster-whisper's ``transcribe()`` defaults take per
1-10 s phrase on that Pi running whisper-small (published figures, docs/performance.md).
The benchmark measures the CPU time its baseline (the benchmark's model and threads) spends
per phrase on the machine it runs on, and limits the CPU to ``cpu_s / target_s`` of a core,
so the same-run baseline takes the published time whatever the speed of the machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PERIOD_US = 10_000  # a short period: the throttling is fine-grained, like a slower core
MIN_QUOTA_US = 1_000  # the kernel's smallest quota


@dataclass(frozen=True)
class NamedBudget:
    target_s: float  # what the baseline should take per 1-10 s phrase under the budget
    basis: str


BUDGETS: dict[str, NamedBudget] = {
    "pi5-small": NamedBudget(
        10.4,
        "faster-whisper small int8 defaults on a Pi 5: 10.4 s per 1-10 s phrase "
        "(Moonshine's benchmark)",
    ),
    "pi4-small": NamedBudget(
        23.4,
        "a Pi 4 is 2-2.5x slower than a Pi 5 (Raspberry Pi's figure): 2.25 x 10.4 s",
    ),
}


class BudgetError(RuntimeError):
    """The CPU cannot be limited here (no root, no cgroup v1 cpu controller)."""


def parse_budget(value: str) -> NamedBudget | float:
    """A named budget, or a fraction of one core (0 < f <= the number of cores)."""
    if value in BUDGETS:
        return BUDGETS[value]
    try:
        fraction = float(value)
    except ValueError:
        names = ", ".join(BUDGETS)
        raise ValueError(f"--cpu-budget: {value!r} is not one of {names} or a number") from None
    if not 0 < fraction <= (os.cpu_count() or 1):
        raise ValueError(f"--cpu-budget: {fraction} must be above 0 and at most the core count")
    return fraction


def fraction_for(budget: NamedBudget, cpu_s_per_phrase: float) -> float:
    """The share of one core at which work of ``cpu_s_per_phrase`` CPU seconds takes the
    budget's time: under a CFS quota below one core, time = CPU time / fraction."""
    if cpu_s_per_phrase <= 0:
        raise ValueError("the baseline used no CPU time: cannot calibrate")
    return cpu_s_per_phrase / budget.target_s


@contextlib.contextmanager
def limited_cpu(fraction: float, root: Path = Path("/sys/fs/cgroup/cpu")) -> Iterator[Path]:
    """This process (all its threads and later children) limited to ``fraction`` of a core.

    Uses the cgroup v1 cpu controller: a child group with ``cpu.cfs_period_us`` and
    ``cpu.cfs_quota_us``. The process moves back to its old group and the child group is
    removed on exit.
    """
    quota = root / "cpu.cfs_quota_us"
    if not quota.exists():
        raise BudgetError(f"no cgroup v1 cpu controller at {root} (needed for --cpu-budget)")
    if not os.access(root, os.W_OK):
        raise BudgetError(f"{root} is not writable: --cpu-budget needs root")
    group = root / f"stt-keyboard-bench-{os.getpid()}"
    old_group = _current_group(root)
    try:
        group.mkdir(exist_ok=True)
        period, quota_us = quota_for(fraction)
        (group / "cpu.cfs_period_us").write_text(f"{period}\n")
        (group / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
        (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
    except OSError as exc:
        with contextlib.suppress(OSError):
            group.rmdir()
        raise BudgetError(f"cannot limit the CPU with {group}: {exc}") from exc
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            (old_group / "cgroup.procs").write_text(f"{os.getpid()}\n")
        with contextlib.suppress(OSError):
            group.rmdir()


def quota_for(fraction: float) -> tuple[int, int]:
    """(period, quota) in microseconds: the shortest period whose quota the kernel accepts."""
    period = PERIOD_US
    while fraction * period < MIN_QUOTA_US:
        period += PERIOD_US
    return period, round(fraction * period)


def _current_group(root: Path) -> Path:
    """The cpu cgroup this process is in now (from /proc/self/cgroup)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpu" in controllers.split(","):
                return root / path.lstrip("/")
    return root
