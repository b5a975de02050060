"""`bench --cpu-budget`: the kernel's CFS quota limits this process (cgroup v1 cpu)."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from appliance.cpu_budget import (
    BUDGETS,
    BudgetError,
    NamedBudget,
    fraction_for,
    limited_cpu,
    parse_budget,
    quota_for,
)

CGROUP = Path("/sys/fs/cgroup/cpu")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_budgets_parse_by_name_or_fraction() -> None:
    assert parse_budget("pi5-small") == BUDGETS["pi5-small"]
    assert parse_budget("0.25") == 0.25
    with pytest.raises(ValueError, match="pi5-small"):
        parse_budget("raspberry")
    with pytest.raises(ValueError):
        parse_budget("0")


def test_a_named_budget_is_resolved_from_the_baselines_cpu_time() -> None:
    # 2 CPU seconds per phrase here, 10 s wanted: a fifth of a core.
    assert fraction_for(NamedBudget(10.0, "test"), 2.0) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no CPU time"):
        fraction_for(NamedBudget(10.0, "test"), 0.0)


def test_small_fractions_get_a_longer_period() -> None:
    assert quota_for(0.29) == (10_000, 2900)
    period, quota = quota_for(0.05)
    assert quota >= 1000 and abs(quota / period - 0.05) < 1e-9


def test_without_the_cpu_controller_it_says_so(tmp_path: Path) -> None:
    with pytest.raises(BudgetError, match="cgroup"), limited_cpu(0.2, root=tmp_path):
        pass


def test_the_quota_limits_this_process() -> None:
    if not (CGROUP / "cpu.cfs_quota_us").exists() or not os.access(CGROUP, os.W_OK):
        pytest.fail(f"this test needs root and the cgroup v1 cpu controller at {CGROUP}")
    fraction = 0.2
    with limited_cpu(fraction) as group:
        assert str(os.getpid()) in (group / "cgroup.procs").read_text().split()
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        while time.perf_counter() - wall0 < 1.0:
            pass  # busy: without the limit this takes a whole core
        share = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
    print(f"\nCPU share under a {fraction} budget: {share:.3f}")
    assert share < fraction * 1.5
    assert not group.exists()  # removed, and this process moved back


class CpuBurningModel:
    """Stands in for the baseline's WhisperModel: spends a known CPU time per call."""

    def __init__(self, cpu_s: float) -> None:
        self.cpu_s = cpu_s
        self.calls = 0

    def transcribe(self, audio, language: str):
        self.calls += 1
        t0 = time.process_time()
        while time.process_time() - t0 < self.cpu_s:
            pass
        return iter(()), None


def test_bench_calibrates_a_named_budget_from_the_baselines_cpu_time(tmp_path) -> None:
    import numpy as np
    import soundfile as sf

    from appliance.bench import calibrate_budget
    from appliance.config import Config

    items = []
    for n, seconds in enumerate([2.0, 3.0, 0.5, 12.0]):  # the 0.5 s and 12 s ones are not phrases
        path = tmp_path / f"clip{n}.wav"
        sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)
        items.append({"path": path, "language": "en", "reference": ""})
    model = CpuBurningModel(0.2)
    out = calibrate_budget(model, items, Config(), NamedBudget(10.0, "test"))
    assert model.calls == 2  # only the 1-10 s phrases
    assert out["baseline_cpu_s_per_phrase"] == pytest.approx(0.2, rel=0.25)
    assert out["fraction_of_one_core"] == pytest.approx(0.02, rel=0.25)
    assert out["target_s"] == 10.0 and out["calibration_phrases"] == 2
