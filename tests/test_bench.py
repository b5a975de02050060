"""`stt-keyboard bench` on a manifest of its own: the table, and JSON in the issue's shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from appliance.cli import main

pytestmark = pytest.mark.model


def test_bench_on_any_manifest_prints_the_table_and_writes_json(
    tmp_path: Path, english_items, model_dir: Path, capsys
) -> None:
    chosen = [i for i in english_items if "ljspeech" in str(i.path)][:2]
    rows = ["path\tduration_s\tlanguage\treference_text"]
    for n, item in enumerate(chosen):
        (tmp_path / "clips").mkdir(exist_ok=True)
        target = tmp_path / "clips" / f"clip{n}{item.path.suffix}"
        shutil.copy(item.path, target)
        rows.append(f"clips/{target.name}\t0\ten\t{item.reference}")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "bench.json"

    code = main(
        [
            "bench",
            "--manifest",
            str(manifest),
            "--json",
            str(out),
            "--model",
            str(model_dir),
            "--threads",
            "2",
            "--fast",
        ]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert "release -> last key (median)" in printed and "WER of typed text" in printed
    result = json.loads(out.read_text())
    for side in ("pipeline", "baseline"):
        keys = ("release_to_last_key_median_s", "release_to_first_key_median_s", "wer")
        for key in keys:
            assert isinstance(result[side][key], float), (side, key)
        assert 0.0 <= result[side]["wer"] < 0.3
        assert result[side]["release_to_last_key_median_s"] > 0.0
    assert result["peak_rss_mb"] > 100 and result["threads"] == 2
    assert 100 < result["dictation_process_rss_mb"] < 4000  # measured in a process of its own
    assert "peak resident memory, dictation" in printed
    assert result["model"] == str(model_dir)
    assert [Path(i["path"]).name for i in result["items"]] == ["clip0.wav", "clip1.wav"]
    assert all(i["pipeline"]["typed"] for i in result["items"])
