"""The issue-10 checks on a `stt-keyboard bench --json` file, per half of the speech set.

For the development and the held-out half (speech_sets.py), and both together: the typed
WER and the median wait (release -> last key) of the pipeline and of the same-run
baseline, and every recording where the pipeline
made more than 2 word errors beyond the baseline's on it, or typed a phrase repeated.
Usage:

    .venv/bin/python benchmarks/bench_report.py bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from speech_sets import english_items, word_errors

from appliance.asr import normalise_words
from appliance.bench import wer
from appliance.plausibility import repeated_phrase

MAX_EXTRA_ERRORS = 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bench_json")
    args = parser.parse_args()
    out = json.loads(Path(args.bench_json).read_text())
    half_of = {str(i.path.resolve()): i.split for i in english_items()}
    rows = out["items"]
    for half in ("dev", "held", "all"):
        chosen = [
            r for r in rows if half == "all" or half_of.get(str(Path(r["path"]).resolve())) == half
        ]
        if not chosen:
            continue
        refs = [r["reference"] for r in chosen]
        ours = wer(refs, [r["pipeline"]["typed"] for r in chosen])
        theirs = wer(refs, [r["baseline"]["typed"] for r in chosen])
        wait = {
            side: statistics.median(r[side]["release_to_last_key_s"] for r in chosen)
            for side in ("pipeline", "baseline")
        }
        print(
            f"{half:5} {len(chosen):3} recordings: WER pipeline {ours:6.2%}  baseline "
            f"{theirs:6.2%} ({(ours - theirs) * 100:+.2f} points); release -> last key median "
            f"pipeline {wait['pipeline']:.2f} s  baseline {wait['baseline']:.2f} s "
            f"({wait['baseline'] / wait['pipeline']:.1f}x)"
        )
    print(f"\nrecordings with more than {MAX_EXTRA_ERRORS} word errors beyond the baseline's:")
    bad = 0
    for r in rows:
        ours = word_errors(r["reference"], r["pipeline"]["typed"])
        theirs = word_errors(r["reference"], r["baseline"]["typed"])
        words = normalise_words(r["pipeline"]["typed"]).split()
        looped = repeated_phrase(words, 3)
        if ours - theirs > MAX_EXTRA_ERRORS or looped:
            bad += 1
            note = " (repeated phrase)" if looped else ""
            print(
                f"  {Path(r['path']).name}: {ours} vs {theirs} errors{note}"
                f"\n    reference {r['reference']!r}\n    pipeline  {r['pipeline']['typed']!r}"
                f"\n    baseline  {r['baseline']['typed']!r}"
            )
    print(f"  {bad} of {len(rows)}")


if __name__ == "__main__":
    main()
