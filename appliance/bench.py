"""`stt-keyboard bench`: how long the user waits after letting go of the button.

Each recording is played in real time through the full pipeline, as if spoken while the
button is held; the button is released at its end. The baseline runs in the same process,
on the same recordings, model and threads: record everything, then faster-whisper's
``transcribe()`` with its defaults, then type. Both type through the real typist into a
virtual host paced like a full-speed USB interrupt endpoint (one report per millisecond), so
typing time counts the same for both.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.config import Config
from appliance.cpu_budget import NamedBudget


@dataclass
class Timed:
    """Release -> first and last keystroke for one recording, and what was typed."""

    typed: str
    first_key_s: float
    last_key_s: float
    stages: dict[str, float] = field(default_factory=dict)


class PacedHost:
    """A virtual host that takes one report per interval, stamping each write."""

    def __init__(self, layout: str, interval_s: float):
        from appliance.hid import VirtualHost

        self.host = VirtualHost(layout)
        self.interval_s = interval_s
        self.first: float | None = None
        self.last: float | None = None
        self._next = 0.0

    def write(self, report: bytes) -> int:
        now = time.perf_counter()
        if now < self._next:
            time.sleep(self._next - now)
            now = time.perf_counter()
        self._next = now + self.interval_s
        written = self.host.write(report)
        self.last = now
        # The first keystroke is the first report that presses something.
        if self.first is None and any(report):
            self.first = now
        return written

    def read_leds(self, timeout_s: float = 0.0) -> int | None:
        return self.host.read_leds()

    def close(self) -> None:
        """Nothing to release: the host is virtual."""

    @property
    def text(self) -> str:
        return self.host.text


def read_manifest(path: Path, language: str) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    items = []
    for row in rows:
        if language != "all" and row["language"] != language:
            continue
        items.append(
            {
                "path": path.parent / row["path"],
                "language": row["language"],
                "reference": row["reference_text"],
            }
        )
    return items


def type_timed(items: Sequence[Any], layout: str, interval_s: float, release: float) -> Timed:
    from appliance.hid import load_layout
    from appliance.hid.typist import Typist

    host = PacedHost(layout, interval_s)
    t0 = time.perf_counter()
    Typist(host, load_layout(layout)).type(list(items))
    type_s = time.perf_counter() - t0
    end = host.last if host.last is not None else time.perf_counter()
    first = host.first if host.first is not None else end
    return Timed(host.text, first - release, end - release, {"type_s": type_s})


def run_pipeline(
    pipeline: Any,
    audio: Any,
    cfg: Config,
    realtime: bool | float,
    interval_s: float,
    *,
    type_while_speaking: bool = False,
) -> Timed:
    """One dictation as the daemon does it: the engine session, and the typing side's
    ``TypingJob`` (a fresh shaper: no earlier dictation) typing while speaking or at the end."""
    from appliance.config import with_overrides
    from appliance.dictation_typer import DictationTyper
    from appliance.hid import load_layout
    from appliance.hid.typist import Typist

    host = PacedHost(cfg.hid.layout, interval_s)
    typist = Typist(host, load_layout(cfg.hid.layout))
    typing_cfg = with_overrides(cfg, daemon={"type_while_speaking": type_while_speaking})
    job = DictationTyper(typing_cfg).begin(typist)
    session = pipeline.start(on_piece=job.on_piece)
    release, tail_s, result = _dictate(session, audio, cfg, realtime)
    t0 = time.perf_counter()
    job.type_rest(result)
    type_s = time.perf_counter() - t0
    end = host.last if host.last is not None else time.perf_counter()
    first = host.first if host.first is not None else end
    # Text typed before the release costs the user no wait.
    timed = Timed(host.text, max(0.0, first - release), max(0.0, end - release))
    timed.stages.update(result.timings)
    timed.stages["tail_s"] = tail_s
    timed.stages["type_s"] = type_s
    return timed


def _dictate(
    session: Any, audio: Any, cfg: Config, realtime: bool | float
) -> tuple[float, float, Any]:
    """One recording through a session as the daemon records it: the audio (at speaking
    speed if realtime; a number is a speed-up), the release, the tail, the end.
    Returns the release time, how long the tail took, and the session's result."""
    from appliance.audio import SAMPLE_RATE

    block = SAMPLE_RATE * cfg.audio.block_ms // 1000
    speed = float(realtime) if realtime else 0.0
    release = _feed(session, audio, block, speed)
    tail_s = _tail(session, block, speed)
    return release, tail_s, session.finish()


def _feed(session: Any, audio: Any, block: int, speed: float) -> float:
    """Feed audio in blocks at ``speed`` times real time (0: at once); returns the release
    time."""
    from appliance.audio import iter_blocks, paced

    for chunk in paced(iter_blocks(audio, block), speed):
        session.feed(chunk)
    return time.perf_counter()


QUIET_RMS = 10 ** (-60 / 20)  # what the microphone hears once the speaker has stopped


def _tail(session: Any, block: int, speed: float) -> float:
    """After the release, as the daemon does: the microphone keeps recording until the
    session has heard enough (``DictationSession.heard_enough``: the VAD heard the
    speaker stop, or ``audio.tail_s``). The room is quiet after the recording ends.
    Returns how long the tail took."""
    import numpy as np

    from appliance.audio import paced

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    session.release()

    def quiet() -> Iterator[np.ndarray]:
        while not session.heard_enough():
            yield rng.normal(0, QUIET_RMS, block).astype(np.float32)

    for chunk in paced(quiet(), speed):
        session.feed(chunk)
    return time.perf_counter() - start


def load_baseline_model(model_dir: Path, cfg: Config) -> Any:
    """The same weights as faster-whisper loads them by default: one decoder with all the
    threads (the pipeline splits them between two decoders; measured with
    benchmarks/baseline_threads.py, one transcribe() call is faster on this)."""
    import numpy as np
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(model_dir),
        device="cpu",
        compute_type=cfg.asr.compute_type,
        cpu_threads=cfg.asr.threads,
        local_files_only=True,
    )
    list(model.transcribe(np.zeros(16000, np.float32), language="en")[0])  # warm, as ours is
    return model


def language_of(item: dict[str, Any], cfg: Config) -> str:
    """The language both paths are told: the recording's own, unless the config fixes one."""
    return str(item["language"]) if cfg.asr.language == "auto" else cfg.asr.language


def run_baseline(model: Any, audio: Any, language: str, cfg: Config, interval_s: float) -> Timed:
    from appliance.text import clean

    release = time.perf_counter()
    segments, _ = model.transcribe(audio, language=language)  # library defaults
    text = clean(" ".join(s.text.strip() for s in segments))
    asr_s = time.perf_counter() - release
    timed = type_timed([text] if text else [], cfg.hid.layout, interval_s, release)
    timed.stages["asr_s"] = asr_s
    return timed


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    return float(jiwer.wer([norm(r) for r in references], [norm(h) for h in hypotheses]))


def summarise(runs: list[Timed], refs: list[str]) -> dict[str, Any]:
    import numpy as np

    stage_names = sorted({k for r in runs for k in r.stages})
    return {
        "release_to_last_key_median_s": statistics.median(r.last_key_s for r in runs),
        "release_to_first_key_median_s": statistics.median(r.first_key_s for r in runs),
        "release_to_last_key_p90_s": float(np.percentile([r.last_key_s for r in runs], 90)),
        "wer": wer(refs, [r.typed for r in runs]),
        "stage_medians_s": {
            k: statistics.median(r.stages.get(k, 0.0) for r in runs) for k in stage_names
        },
    }


def benchmark(
    cfg: Config,
    manifest: Path,
    *,
    language: str = "en",
    limit: int | None = None,
    realtime: bool = True,
    interval_s: float = 0.001,
    progress: bool = True,
    measure_process: bool = True,
    cpu_budget: str | None = None,
) -> dict[str, Any]:
    """Both paths on every recording; with ``cpu_budget`` (a name of
    ``appliance.cpu_budget.BUDGETS`` or a fraction of one core) inside a CPU limit. With a
    remote engine (``asr.engine``), every recording also goes through its server, the
    device's pipeline as its fallback, and is reported beside the local one."""
    from appliance.audio import SAMPLE_RATE, load_audio
    from appliance.cpu_budget import limited_cpu, parse_budget
    from appliance.pipeline import Pipeline, wait_for_background_decodes

    items = read_manifest(manifest, language)[:limit]
    if not items:
        raise SystemExit(f"bench: no recordings with language {language!r} in {manifest}")
    t0 = time.perf_counter()
    pipeline = Pipeline.load(cfg)
    load_s = time.perf_counter() - t0
    baseline_model = load_baseline_model(pipeline.model_dir, cfg)
    remote = remote_engine(cfg, pipeline) if cfg.asr.engine != "local" else None
    served: list[Timed] = []
    ours: list[Timed] = []
    theirs: list[Timed] = []
    audio_s = 0.0
    longest: tuple[int, Path] = (0, Path())
    budget = parse_budget(cpu_budget) if cpu_budget else None
    budget_out: dict[str, Any] | None = None
    fraction: float | None = None
    if isinstance(budget, NamedBudget):
        budget_out = calibrate_budget(baseline_model, items, cfg, budget)
        fraction = budget_out["fraction_of_one_core"]
    elif budget is not None:
        fraction = budget
        budget_out = {"fraction_of_one_core": fraction}
    if budget_out is not None:
        budget_out["name"] = cpu_budget
        if progress:
            print(budget_line(budget_out), flush=True)
    with contextlib.ExitStack() as limits:
        if fraction is not None:
            limits.enter_context(limited_cpu(fraction))
        for n, item in enumerate(items, 1):
            audio = load_audio(item["path"])
            audio_s += len(audio) / SAMPLE_RATE
            longest = max(longest, (len(audio), item["path"]), key=lambda x: x[0])
            lang = language_of(item, cfg)
            early = cfg.daemon.type_while_speaking
            ours.append(
                run_pipeline(pipeline, audio, cfg, realtime, interval_s, type_while_speaking=early)
            )
            wait_for_background_decodes()  # the baseline gets the CPU to itself
            if remote is not None:
                through = run_pipeline(
                    remote, audio, cfg, realtime, interval_s, type_while_speaking=early
                )
                served.append(through)
            theirs.append(run_baseline(baseline_model, audio, lang, cfg, interval_s))
            if progress:
                print(
                    f"[{n:3}/{len(items)}] {item['path'].name:28} "
                    f"pipeline {ours[-1].last_key_s:6.2f} s  "
                    f"baseline {theirs[-1].last_key_s:6.2f} s"
                    + (f"  {cfg.asr.engine} {served[-1].last_key_s:6.2f} s" if served else ""),
                    flush=True,
                )
    refs = [i["reference"] for i in items]
    per_item = [
        {
            "path": str(item["path"]),
            "reference": item["reference"],
            "pipeline": {"typed": o.typed, "release_to_last_key_s": o.last_key_s},
            "baseline": {"typed": t.typed, "release_to_last_key_s": t.last_key_s},
        }
        for item, o, t in zip(items, ours, theirs, strict=True)
    ]
    asr_total = sum(r.stages.get("asr_s", 0.0) for r in ours)
    if remote is not None:
        remote.close()
    return {
        "remote": remote_summary(cfg, served, refs) if served else None,
        "pipeline": summarise(ours, refs),
        "baseline": summarise(theirs, refs),
        "recordings": len(items),
        "audio_s": audio_s,
        "real_time_factor": asr_total / audio_s if audio_s else 0.0,
        "model_load_s": load_s,
        "peak_rss_mb": peak_rss_mb(),
        "dictation_process_rss_mb": (
            dictation_process_rss_mb(cfg, longest[1]) if measure_process else None
        ),
        "model": str(pipeline.model_dir),
        "cpu_budget": budget_out,
        "threads": cfg.asr.threads,
        "encoder_window": cfg.asr.encoder_window,
        "streaming": cfg.asr.streaming,
        "stream_interval_s": cfg.asr.stream_interval_s,
        "type_while_speaking": cfg.daemon.type_while_speaking,
        "realtime": realtime,
        "report_interval_ms": interval_s * 1000,
        "items": per_item,
    }


def remote_engine(cfg: Config, pipeline: Any) -> Any:
    """``cfg``'s remote engine, the loaded pipeline as its fallback (no second model)."""
    from appliance.remote_engine import LocalFallback, RemoteEngine
    from appliance.remote_servers import open_server

    server = open_server(cfg.remote, cfg.asr.engine)
    return RemoteEngine(cfg, server, LocalFallback(lambda: pipeline, warm=True))


def remote_summary(cfg: Config, runs: list[Timed], refs: list[str]) -> dict[str, Any]:
    out = summarise(runs, refs)
    out["engine"] = cfg.asr.engine
    out["url"] = cfg.remote.url
    for key in ("remote_segments", "local_segments"):
        out[key] = int(sum(r.stages.get(key, 0.0) for r in runs))
    return out


CALIBRATION_PHRASES = 6


def calibrate_budget(
    model: Any, items: list[dict[str, Any]], cfg: Config, budget: NamedBudget
) -> dict[str, Any]:
    """Resolve a named budget on this machine: the baseline's CPU time per 1-10 s phrase at
    full speed (a few of the run's recordings, spread over it) gives the fraction of a core
    at which the same baseline takes the budget's published time."""
    import soundfile as sf

    from appliance.audio import load_audio
    from appliance.cpu_budget import fraction_for

    phrases = [i for i in items if 1.0 <= sf.info(str(i["path"])).duration <= 10.0] or items
    step = max(1, len(phrases) // CALIBRATION_PHRASES)
    chosen = phrases[::step][:CALIBRATION_PHRASES]
    cpu = []
    for item in chosen:
        audio = load_audio(item["path"])
        lang = language_of(item, cfg)
        t0 = time.process_time()  # all threads of this process: the baseline's alone now
        list(model.transcribe(audio, language=lang)[0])
        cpu.append(time.process_time() - t0)
    cpu_s = statistics.median(cpu)
    return {
        "target_s": budget.target_s,
        "basis": budget.basis,
        "baseline_cpu_s_per_phrase": cpu_s,
        "calibration_phrases": len(chosen),
        "fraction_of_one_core": fraction_for(budget, cpu_s),
    }


def budget_line(budget: dict[str, Any]) -> str:
    line = (
        f"CPU budget {budget['name']}: {budget['fraction_of_one_core']:.3f} of one core "
        "for both paths (cgroup CFS quota)"
    )
    if "target_s" in budget:
        line += (
            f"; the baseline used {budget['baseline_cpu_s_per_phrase']:.2f} CPU s per phrase "
            f"here ({budget['calibration_phrases']} phrases), the budget is {budget['target_s']} "
            f"s per phrase ({budget['basis']})"
        )
    return line


def print_table(out: dict[str, Any]) -> None:
    p, b = out["pipeline"], out["baseline"]

    def row(label: str, key: str, fmt: str = "{:8.2f} s") -> None:
        ratio = f"{b[key] / p[key]:8.1f}x" if p[key] > 0.005 else "  (typed while speaking)"
        print(f"{label:32} {fmt.format(p[key]):>12} {fmt.format(b[key]):>12} {ratio}")

    print()
    print(
        f"model {out['model']}, {out['threads']} threads, {out['recordings']} recordings, "
        f"{out['audio_s']:.0f} s of speech, encoder window: {out['encoder_window']}, "
        f"streaming: {out['streaming']}, type while speaking: {out['type_while_speaking']}"
    )
    if out.get("cpu_budget"):
        print(budget_line(out["cpu_budget"]))
    print("waits are from the physical release of the button (the tail included)")
    print(f"{'':32} {'pipeline':>12} {'baseline':>12} {'ratio':>9}")
    row("release -> last key (median)", "release_to_last_key_median_s")
    row("release -> first key (median)", "release_to_first_key_median_s")
    row("release -> last key (p90)", "release_to_last_key_p90_s")
    print(
        f"{'WER of typed text':32} {p['wer']:11.2%} {b['wer']:12.2%}"
        f"  ({(p['wer'] - b['wer']) * 100:+.2f} points)"
    )
    for stage, value in p["stage_medians_s"].items():
        unit = "s" if stage.endswith("_s") else "per recording"
        print(f"{'  pipeline ' + stage + ' (median)':32} {value:10.3f} {unit}")
    if out.get("remote"):
        r = out["remote"]
        print(
            f"through the {r['engine']} server at {r['url']}: "
            f"{r['remote_segments']} segments typed by the server, "
            f"{r['local_segments']} by the device (fallback)"
        )
        for label, key in (
            ("release -> last key (median)", "release_to_last_key_median_s"),
            ("release -> last key (p90)", "release_to_last_key_p90_s"),
        ):
            print(f"{'  ' + label:32} {r[key]:10.2f} s  (local {p[key]:.2f} s)")
        print(f"{'  WER of typed text':32} {r['wer']:11.2%}  (local {p['wer']:.2%})")
    print(f"{'real-time factor (model)':32} {out['real_time_factor']:12.3f}")
    print(f"{'peak resident memory, benchmark':32} {out['peak_rss_mb']:10.0f} MB (both paths)")
    if out.get("dictation_process_rss_mb"):
        print(
            f"{'peak resident memory, dictation':32} {out['dictation_process_rss_mb']:10.0f} MB"
            " (a process of its own, as the daemon)"
        )


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because on Linux ``ru_maxrss`` of a
    process started by fork and exec also counts its parent's memory at the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dictation_process_rss_mb(cfg: Config, audio_path: Path) -> float:
    """Peak memory of a fresh process that loads the pipeline as the daemon does and
    dictates one recording in real time (this process holds the baseline's state too)."""
    from appliance.config import dump_config

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(dump_config(cfg))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "--config", f.name, "simulate",
             "--audio", str(audio_path), "--realtime", "--json"],
            check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        Path(f.name).unlink()
    return float(json.loads(proc.stdout)["peak_rss_mb"])


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench", help="latency and WER: pipelined dictation against faster-whisper defaults"
    )
    p.add_argument(
        "--manifest",
        required=True,
        help="TSV with path, language, reference_text (paths relative to it); "
        "`make bench` gives the project's speech set",
    )
    p.add_argument("--json", dest="json_out", help="also write the results to this file")
    p.add_argument("--only-language", default="en", help="recordings of this language, or 'all'")
    p.add_argument("--limit", type=int, help="only the first N recordings")
    p.add_argument("--fast", action="store_true", help="feed audio as fast as possible")
    p.add_argument(
        "--report-interval-ms",
        type=float,
        default=1.0,
        help="host poll interval (1 ms = full-speed USB)",
    )
    p.add_argument("--model", help="model name or directory (overrides asr.model)")
    p.add_argument("--threads", type=int, help="CPU threads (overrides asr.threads)")
    p.add_argument(
        "--cpu-budget",
        help="run both paths on a Pi-sized CPU: pi5-small, pi4-small, or a fraction of one "
        "core (needs root: cgroup v1 cpu controller; see docs/performance.md)",
    )
    p.add_argument("--layout", help="host keyboard layout")
    p.add_argument(
        "--engine",
        choices=["local", "wyoming", "openai"],
        help="also dictate every recording through this remote engine's server "
        "(default: asr.engine); needs its address (--remote-url or remote.url)",
    )
    p.add_argument("--remote-url", help="the server (overrides remote.url; docs/remote.md)")
    p.add_argument(
        "--type-while-speaking",
        action=argparse.BooleanOptionalAction,
        help="type committed words before the release (default: daemon.type_while_speaking)",
    )
    p.add_argument(
        "--streaming",
        action=argparse.BooleanOptionalAction,
        help="decode the segment being spoken while it grows (default: asr.streaming)",
    )
    return p


def run(args: argparse.Namespace, cfg: Config) -> int:
    from appliance.config import with_overrides

    if args.type_while_speaking is not None:
        cfg = with_overrides(cfg, daemon={"type_while_speaking": args.type_while_speaking})
    if args.streaming is not None:
        cfg = with_overrides(cfg, asr={"streaming": args.streaming})
    if args.engine is not None:
        cfg = with_overrides(cfg, asr={"engine": args.engine})
    if args.remote_url is not None:
        cfg = with_overrides(cfg, remote={"url": args.remote_url})
    if cfg.asr.engine != "local" and not cfg.remote.url:
        print(f"bench: --engine {cfg.asr.engine} needs --remote-url", file=sys.stderr)
        return 2
    from appliance.cpu_budget import BudgetError, limited_cpu, parse_budget

    if args.cpu_budget:
        try:  # fail before loading anything if the CPU cannot be limited here
            budget = parse_budget(args.cpu_budget)
            with limited_cpu(budget if isinstance(budget, float) else 1.0):
                pass
        except (BudgetError, ValueError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    out = benchmark(
        cfg,
        Path(args.manifest),
        language=args.only_language,
        limit=args.limit,
        realtime=not args.fast,
        interval_s=args.report_interval_ms / 1000,
        cpu_budget=args.cpu_budget,
    )
    print_table(out)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0
