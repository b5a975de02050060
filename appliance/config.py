"""Configuration: one YAML file loaded into frozen dataclasses.

Every key has a documented default (the ``doc`` metadata is also what the generated
configuration reference shows), and every error names the file, line and key path, so a user
editing the file on the Pi's boot partition can fix it without reading code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DEFAULT_CONFIG_PATH = Path("/etc/stt-keyboard/config.yaml")
# On the FAT boot partition: editable from any computer, and the one place settings survive on
# a read-only root (the image, `install.sh --read-only-root`). When it exists it is the file.
BOOT_CONFIG_PATH = Path("/boot/firmware/stt-keyboard.yaml")
CONFIG_ENV_VAR = "STT_KEYBOARD_CONFIG"


def _opt(default: Any, doc: str, **limits: Any) -> Any:
    """A dataclass field carrying its documentation and validation limits."""
    meta = {"doc": doc, **limits}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class AudioConfig:
    device: str | int | None = _opt(
        None, "Microphone: a substring of its name, or its PyAudio index; empty = system default."
    )
    rate: int | None = _opt(
        None,
        "Capture rate in Hz; empty = the device's default rate (resampled to 16 kHz).",
        min=8000,
        max=192000,
    )
    channels: int | None = _opt(
        None,
        "Channels to capture; empty = 1 if the device allows it (down-mixed to mono).",
        min=1,
        max=32,
    )
    block_ms: int = _opt(32, "Capture block length in milliseconds.", min=5, max=500)
    preroll_s: float = _opt(
        0.5,
        "Audio kept from before the button press, so the first word is not clipped.",
        min=0.0,
        max=5.0,
    )
    tail_s: float = _opt(
        0.3,
        "Audio still recorded after the button is released, at most: the tail ends sooner "
        "once the VAD hears that the speaker has stopped.",
        min=0.0,
        max=3.0,
    )
    max_recording_s: float = _opt(
        120.0, "Hard cap on one recording; memory stays bounded.", min=1.0, max=3600.0
    )
    open_timeout_s: float = _opt(
        5.0,
        "How long to wait for the first audio block before calling the microphone dead.",
        min=0.5,
        max=60.0,
    )


@dataclass(frozen=True)
class VadConfig:
    threshold: float = _opt(
        0.5, "Silero speech probability above which a frame is speech.", min=0.05, max=0.95
    )
    min_speech_ms: int = _opt(250, "Shorter bursts of speech are ignored.", min=0, max=5000)
    min_silence_ms: int = _opt(
        1500,
        "A pause at least this long closes a speech segment (shorter pauses stay inside it, "
        "so Whisper hears the sentence whole; longer ones are cut out).",
        min=50,
        max=10000,
    )
    speech_pad_ms: int = _opt(300, "Audio kept on each side of a speech segment.", min=0, max=2000)


@dataclass(frozen=True)
class AsrConfig:
    model: str = _opt(
        "small",
        "Whisper model: a name (tiny, base, small, ...; looked up in the model cache) or the "
        "path of a CTranslate2 model directory (e.g. a fine-tuned one).",
    )
    model_cache: str = _opt(
        "",
        "Where models are stored; empty = $XDG_CACHE_HOME/stt-keyboard/models "
        "(/var/lib/stt-keyboard/models for the service).",
    )
    compute_type: str = _opt(
        "int8",
        "CTranslate2 compute type.",
        choices=["int8", "int8_float32", "int16", "float32", "float16", "int8_float16", "default"],
    )
    threads: int = _opt(0, "CPU threads for the model in all; 0 = all cores.", min=0, max=64)
    parallel_decodes: int = _opt(
        2,
        "Decodes that can run at once (they share the model's memory and split the threads): "
        "at the release the last decode starts at once, even while one of the words being "
        "spoken is still running.",
        min=1,
        max=8,
    )
    language: str = _opt(
        "en", "Spoken language code (en, de, ...), or 'auto' to detect it per recording."
    )
    languages: list[str] = _opt(
        [],
        "With language 'auto': restrict detection to these codes (empty = any). Also the "
        "languages four quick presses step through, after 'language' (kept across restarts).",
    )
    beam_size: int = _opt(
        5,
        "Beam width. 5 was more accurate than greedy (1), most of all in noise, and costs "
        "about 20 % more per decode (docs/performance.md).",
        min=1,
        max=10,
    )
    prompt: str = _opt("", "Vocabulary prompt: names and terms that should be spelled your way.")
    hotwords: str = _opt("", "Hotwords given to the decoder to favour custom terms.")
    no_speech_threshold: float = _opt(
        0.6,
        "Drop a segment as non-speech when its no-speech probability is above this "
        "and its average log-probability is below log_prob_threshold.",
        min=0.0,
        max=1.0,
    )
    log_prob_threshold: float = _opt(
        -1.0,
        "See no_speech_threshold; also drops a phantom phrase scored below it.",
        min=-10.0,
        max=0.0,
    )
    phantom_phrases: list[str] = _opt(
        [
            "thank you for watching",
            "thanks for watching",
            "thank you",
            "thank you very much",
            "you",
            "bye",
            "please subscribe",
            "subtitles by the amara.org community",
            "♪",
        ],
        "Phrases Whisper invents on noise. A segment that is only such a phrase is dropped "
        "when the model is also unsure about it (never on the list alone).",
    )
    streaming: bool = _opt(
        True,
        "Transcribe while the user speaks: the segment being spoken is decoded again as it "
        "grows and the words three decodes in a row agree on are committed (with "
        "daemon.type_while_speaking they are typed at once), so at the release only the last "
        "words are left to decode and type.",
    )
    stream_interval_s: float = _opt(
        0.5,
        "With streaming: new audio between two decodes of the segment being spoken (a "
        "decode also starts when the speaker pauses, and never while one is running).",
        min=0.1,
        max=10.0,
    )
    encoder_window: Literal["fit", "full"] = _opt(
        "fit",
        "fit: size Whisper's encoder input to the audio plus a margin (much faster for short "
        "dictations; a text that looks cut off or looped is decoded again with the full "
        "window); full: always the 30-second window, as faster-whisper does.",
        choices=["fit", "full"],
    )
    encoder_margin_s: float = _opt(
        3.0,
        "With encoder_window fit: silence added after the audio (too little raises errors).",
        min=0.0,
        max=30.0,
    )
    encoder_min_s: float = _opt(
        10.0,
        "With encoder_window fit: the encoder input is never shorter than this.",
        min=1.0,
        max=30.0,
    )
    max_tokens_per_second: float = _opt(
        12.0,
        "Cap on decoded tokens per second of audio (stops repetition loops).",
        min=2.0,
        max=50.0,
    )
    engine: Literal["local", "wyoming", "openai"] = _opt(
        "local",
        "Who transcribes: local (this device's model; nothing touches the network), wyoming "
        "(a Wyoming speech-to-text server, as Home Assistant's) or openai (a server with the "
        "OpenAI /v1/audio/transcriptions endpoint). A server gets only the speech the VAD "
        "kept; whatever it cannot transcribe in time is transcribed here (see remote).",
        choices=["local", "wyoming", "openai"],
    )


@dataclass(frozen=True)
class RemoteConfig:
    url: str = _opt(
        "",
        "The server, with asr.engine wyoming: tcp://host:port (Home Assistant's "
        "faster-whisper add-on listens on 10300); with openai: the API's base URL, e.g. "
        "https://host:8000/v1 (the device posts to its /audio/transcriptions).",
    )
    model: str = _opt(
        "",
        "The model the server should use (openai: the request's model field, e.g. "
        "whisper-1 or Systran/faster-whisper-large-v3; wyoming: the model name in the "
        "request); empty = the server's default.",
    )
    api_key_file: str = _opt(
        "",
        "openai: a file holding the API key (sent as a Bearer token); empty = no key. A "
        "file, not the key itself, so the config can be shown and shared.",
    )
    verify_tls: bool = _opt(
        True,
        "openai over https: check the server's certificate (turn off only for a test).",
    )
    ca_file: str = _opt(
        "",
        "openai over https: a CA certificate file (PEM) that the server's certificate is "
        "checked against, for a home server with its own CA; empty = the system's CAs.",
    )
    connect_timeout_s: float = _opt(
        2.0,
        "A server that does not accept the connection this fast counts as away.",
        min=0.1,
        max=60.0,
    )
    deadline_s: float = _opt(
        5.0,
        "How long the server may take for one segment after it has all of its audio; "
        "later, the segment is transcribed on the device instead.",
        min=0.2,
        max=120.0,
    )
    retry_after_s: float = _opt(
        30.0,
        "After the server failed, dictations are transcribed on the device for this long "
        "before the server is tried again (no wait on a server known to be away).",
        min=0.0,
        max=3600.0,
    )
    fallback: Literal["warm", "lazy"] = _opt(
        "warm",
        "The device's own model, for when the server fails: warm (loaded at start, the "
        "fallback is as fast as local dictation; costs its memory) or lazy (loaded at the "
        "first failure, which then waits for the load).",
        choices=["warm", "lazy"],
    )


@dataclass(frozen=True)
class TextConfig:
    capitalize: bool = _opt(True, "Capitalise the first letter of a dictation and of sentences.")
    space_between_dictations: bool = _opt(
        True, "Type a space before a dictation that follows an earlier one."
    )
    paragraph_pause_s: float = _opt(
        0.0,
        "A pause at least this long starts a new paragraph (two Enter keys); 0 = off.",
        min=0.0,
        max=600.0,
    )
    spoken_commands: bool = _opt(
        False,
        "Turn spoken 'new line', 'new paragraph', 'scratch that' (takes back the phrase "
        "before it, with Backspaces) and punctuation words into keys. Off by default: a "
        "typed newline is an Enter key that can send a message or run a command.",
    )
    replacements: dict[str, str] = _opt(
        {},
        "Exact find-and-replace for words the model keeps getting wrong, e.g. "
        "{'graph ana': 'Grafana', 'dr nguyen': 'Dr. Nguyen'}: whole words, matched "
        "case-insensitively, typed as written here.",
        typed_text=True,
    )
    enter_after: Literal["never", "always", "spoken"] = _opt(
        "never",
        "Press Enter after the dictation: never, always, or spoken (only when the dictation "
        "ends with enter_phrase, which is not typed). Enter can send a message or run a "
        "command.",
        choices=["never", "always", "spoken"],
    )
    enter_phrase: str = _opt(
        "send it",
        "With enter_after: spoken, the closing words that mean 'press Enter'.",
        typed_text=True,
    )


@dataclass(frozen=True)
class HidConfig:
    output: Literal["usb", "bluetooth", "both"] = _opt(
        "usb",
        "Where the keystrokes go: the USB cable (the gadget), a paired Bluetooth LE host "
        "(docs/bluetooth.md), or both: the USB host while one is plugged in, else the "
        "Bluetooth host.",
        choices=["usb", "bluetooth", "both"],
    )
    device: str = _opt("/dev/hidg0", "The HID gadget device the keyboard reports go to.")
    layout: str = _opt(
        "us",
        "The host computer's keyboard layout, as an XKB name: us, gb, de, fr, "
        "us(dvorak), ch(fr), ...",
    )
    host_os: Literal["linux", "windows", "macos"] = _opt(
        "linux",
        "The host computer's operating system: the same-named layout types some characters "
        "with other keys on macOS and Windows (docs/host-notes.md). The device cannot see "
        "it; linux is the default because the layout names are Linux's (XKB).",
        choices=["linux", "windows", "macos"],
    )
    mac_keyboard_type: Literal["ansi", "iso"] = _opt(
        "ansi",
        "macOS only: the keyboard type macOS chose for the device (System Settings > "
        "Keyboard > Change Keyboard Type). iso swaps the keys left of 1 and left of Z.",
        choices=["ansi", "iso"],
    )
    unicode_input: bool = _opt(
        False,
        "Type characters the layout lacks by their code point, the host OS's way (Linux: "
        "Ctrl+Shift+U in GTK/IBus apps; Windows: Alt + keypad + with EnableHexNumpad; macOS: "
        "Option + hex with the Unicode Hex Input source). Off: each needs a host setting and "
        "sends a key combination (docs/host-notes.md).",
    )
    unknown_chars: Literal["transliterate", "skip"] = _opt(
        "transliterate",
        "A character the host layout cannot type is transliterated "
        "(ü -> u, — -> -) or skipped; either way it is logged.",
        choices=["transliterate", "skip"],
    )
    report_delay_ms: float = _opt(
        0.0,
        "Extra pause between reports; raise it for hosts that drop characters "
        "(iPad, KVM switches).",
        min=0.0,
        max=100.0,
    )
    write_timeout_s: float = _opt(
        2.0,
        "A report the host does not take within this time means the host is absent.",
        min=0.05,
        max=60.0,
    )
    on_host_return: Literal["type", "drop"] = _opt(
        "type",
        "Text left untyped when the host went away: type it when the host returns, or drop it.",
        choices=["type", "drop"],
    )
    pending_max_chars: int = _opt(
        4000,
        "At most this much untyped text is kept for a returning host.",
        min=0,
        max=1_000_000,
    )


@dataclass(frozen=True)
class BluetoothConfig:
    adapter: str = _opt("hci0", "The Bluetooth adapter (the Pi's built-in one is hci0).")
    name: str = _opt("STT Keyboard", "The name hosts show when they look for the keyboard.")
    pairing_timeout_s: float = _opt(
        120.0,
        "Pairing mode (five quick presses) ends after this long if no host paired.",
        min=10.0,
        max=3600.0,
    )


@dataclass(frozen=True)
class ButtonConfig:
    pin: int = _opt(17, "BCM GPIO number of the button (wired to ground).", min=0, max=53)
    pull_up: bool = _opt(True, "Use the internal pull-up (button connects the pin to ground).")
    bounce_s: float = _opt(0.03, "Debounce time.", min=0.0, max=1.0)
    hold_s: float = _opt(
        1.5, "A press at least this long is a long press (cancel).", min=0.2, max=10.0
    )
    double_press_s: float = _opt(
        0.4,
        "Presses this close together are a gesture, not dictations: two take back the last "
        "dictation (undo), three type it again (retype), four switch to the next language "
        "of asr.languages; 0 = off.",
        min=0.0,
        max=2.0,
    )
    undo_within_s: float = _opt(
        120.0,
        "An undo takes back the last dictation only this long after it was typed.",
        min=0.0,
        max=3600.0,
    )
    mode: Literal["push_to_talk", "toggle"] = _opt(
        "push_to_talk",
        "push_to_talk: record while held; toggle: press to start, press to stop.",
        choices=["push_to_talk", "toggle"],
    )
    pin_factory: str = _opt(
        "auto",
        "gpiozero pin factory: auto (lgpio on a Pi 5, RPi.GPIO or lgpio on a Pi 4), "
        "lgpio, rpigpio, native, mock.",
        choices=["auto", "lgpio", "rpigpio", "native", "mock"],
    )


@dataclass(frozen=True)
class LedConfig:
    kind: Literal["none", "single", "dual", "rgb"] = _opt(
        "none",
        "none, single (one LED), dual (red + green) or rgb.",
        choices=["none", "single", "dual", "rgb"],
    )
    pins: list[int] = _opt([], "BCM pins: single [p]; dual [red, green]; rgb [r, g, b].")
    active_high: bool = _opt(True, "LED lights when the pin is high.")
    activity: str = _opt(
        "auto",
        "With kind: none, the board's own LED shows the states (ready: a short flash every "
        "2 s; recording: on; busy: blinking; error: fast blinking): auto (a Pi's ACT or led0), "
        "off, or the name of an LED under /sys/class/leds.",
    )


@dataclass(frozen=True)
class OledConfig:
    enabled: bool = _opt(False, "Drive an I²C OLED display.")
    driver: Literal["ssd1306", "sh1106"] = _opt(
        "ssd1306", "Display controller.", choices=["ssd1306", "sh1106"]
    )
    width: int = _opt(128, "Pixels across.", choices=[128])
    height: int = _opt(64, "Pixels down.", choices=[32, 64])
    i2c_port: int = _opt(1, "I²C bus number.", min=0, max=20)
    i2c_address: int = _opt(0x3C, "I²C address (0x3C or 0x3D usually).", min=0x03, max=0x77)
    rotate: int = _opt(0, "Rotation in quarter turns.", min=0, max=3)
    dim_after_s: float = _opt(
        30.0, "Dim the display after this long idle; 0 = never.", min=0.0, max=3600.0
    )


@dataclass(frozen=True)
class DaemonConfig:
    max_recording_warning_s: float = _opt(
        10.0,
        "Warn on LED/OLED this long before the maximum recording time.",
        min=0.0,
        max=600.0,
    )
    type_while_speaking: bool = _opt(
        True,
        "Type words while the button is still held, as soon as they are committed (see "
        "asr.streaming): the wait after the release is then only for the last words. Words "
        "typed are final; a long press (toggle mode) stops typing but cannot take them back.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = _opt(
        "info", "Logging verbosity.", choices=["debug", "info", "warning", "error"]
    )


BUILTIN_WAKE_WORDS = ["okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"]


@dataclass(frozen=True)
class WakeWordConfig:
    trigger: Literal["button", "wake_word", "both"] = _opt(
        "button",
        "What starts a dictation: button; wake_word (say the wake word, then speak; the "
        "dictation ends after end_silence_s of silence or at audio.max_recording_s; no button "
        "is used); both (the button as ever, and it also ends a hands-free dictation). The "
        "wake word itself is never typed.",
        choices=["button", "wake_word", "both"],
    )
    model: str = _opt(
        "alexa",
        "The wake word: a model shipped with pymicro-wakeword (alexa, okay_nabu, hey_mycroft, "
        "hey_jarvis; alexa was the only one with no false start on near misses, "
        "docs/wake-word.md) or the path of a microWakeWord model's .json file, its .tflite "
        "beside it (docs/wake-word.md).",
    )
    probability_cutoff: float = _opt(
        0.0,
        "Detection threshold on the model's averaged probability; 0 = the one measured for "
        "a built-in model (alexa: 0.99), else the model's own (its .json). Higher: fewer "
        "false starts, more missed wake words.",
        min=0.0,
        max=0.999,
    )
    sliding_window: int = _opt(
        0,
        "How many of the model's outputs (30 ms apart) are averaged; 0 = the model's own.",
        min=0,
        max=50,
    )
    cooldown_s: float = _opt(
        2.0,
        "After a detection, and after a hands-free dictation, the wake word is not listened "
        "for this long: one utterance never starts two dictations.",
        min=0.0,
        max=60.0,
    )
    end_silence_s: float = _opt(
        1.5,
        "A hands-free dictation ends after this much silence following speech (Silero VAD "
        "at vad.threshold).",
        min=0.3,
        max=10.0,
    )
    start_timeout_s: float = _opt(
        5.0,
        "A hands-free dictation in which nobody speaks ends after this long (nothing typed).",
        min=1.0,
        max=60.0,
    )


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig, metadata={"doc": "Microphone."})
    vad: VadConfig = field(default_factory=VadConfig, metadata={"doc": "Silence removal."})
    asr: AsrConfig = field(default_factory=AsrConfig, metadata={"doc": "Speech recognition."})
    remote: RemoteConfig = field(
        default_factory=RemoteConfig,
        metadata={"doc": "A speech-to-text server (with asr.engine wyoming or openai)."},
    )
    text: TextConfig = field(default_factory=TextConfig, metadata={"doc": "Text shaping."})
    hid: HidConfig = field(default_factory=HidConfig, metadata={"doc": "Keyboard output."})
    bluetooth: BluetoothConfig = field(
        default_factory=BluetoothConfig,
        metadata={"doc": "Bluetooth LE keyboard (with hid.output bluetooth or both)."},
    )
    button: ButtonConfig = field(default_factory=ButtonConfig, metadata={"doc": "Button."})
    leds: LedConfig = field(default_factory=LedConfig, metadata={"doc": "Status LEDs."})
    oled: OledConfig = field(default_factory=OledConfig, metadata={"doc": "OLED display."})
    daemon: DaemonConfig = field(default_factory=DaemonConfig, metadata={"doc": "Service."})
    wake_word: WakeWordConfig = field(
        default_factory=WakeWordConfig,
        metadata={"doc": "Hands-free: a wake word starts dictations."},
    )


class ConfigError(ValueError):
    """A configuration mistake, located by file, line and key path."""

    def __init__(self, message: str, *, path: str = "", key: str = "", line: int | None = None):
        self.file = path
        self.key = key
        self.line = line
        self.reason = message
        where = path or "<config>"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(prefix + message)


# --------------------------------------------------------------------------- loading


def config_path_from(cli_value: str | None) -> tuple[Path, bool]:
    """The file to read and whether the user named it (then it must exist). The service and
    every command a user runs pick the same file by the same rule."""
    if cli_value:
        return Path(cli_value), True
    env = os.environ.get(CONFIG_ENV_VAR)
    if env:
        return Path(env), True
    if BOOT_CONFIG_PATH.is_file():
        return BOOT_CONFIG_PATH, False
    return DEFAULT_CONFIG_PATH, False


def load_config(path: str | Path | None = None, *, required: bool = True) -> Config:
    """Read and validate a config file; a missing optional default file gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    if not p.exists():
        if required:
            raise ConfigError("file not found", path=str(p))
        return Config()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=str(p)) from exc
    return parse_config(text, str(p))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", path=source, line=line) from exc
    if node is None:
        return Config()
    cfg = typing.cast(Config, _build(Config, node, source, ""))
    _check_remote(cfg, source)
    return cfg


def _check_remote(cfg: Config, source: str) -> None:
    """A remote engine needs a server address in the form its protocol takes."""
    from urllib.parse import urlsplit

    engine, url = cfg.asr.engine, cfg.remote.url
    if engine == "local":
        return
    wanted = {"wyoming": ("tcp",), "openai": ("http", "https")}[engine]
    example = {"wyoming": "tcp://host:10300", "openai": "https://host:8000/v1"}[engine]
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in wanted or not parts.hostname or (engine == "wyoming" and not port):
        got = f"got {url!r}" if url else "it is empty"
        raise ConfigError(
            f"asr.engine {engine} needs the server's address, like {example}; {got}",
            path=source,
            key="remote.url",
        )


def readable_sections(path: str | Path) -> Config:
    """What can still be read of a broken config: each section that parses, defaults for the
    rest. Only for reporting the error (the OLED's own section says where the display is);
    nothing runs on it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return Config()
    if not isinstance(data, dict):
        return Config()
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        section = data.get(f.name)
        if isinstance(section, dict):
            with contextlib.suppress(ConfigError):
                parsed = parse_config(yaml.safe_dump({f.name: section}), str(path))
                changes[f.name] = getattr(parsed, f.name)
    return dataclasses.replace(Config(), **changes)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _build(cls: type, node: yaml.Node, source: str, prefix: str) -> Any:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            "expected a mapping of keys", path=source, key=prefix or "<top>", line=_line(node)
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(fields)
            raise ConfigError(
                f"unknown key{hint}; known keys here: {known}",
                path=source,
                key=path,
                line=_line(key_node),
            )
        if key in values:
            raise ConfigError("key given twice", path=source, key=path, line=_line(key_node))
        f = fields[key]
        hint_t = hints[key]
        if dataclasses.is_dataclass(hint_t):
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
                values[key] = hint_t()  # type: ignore[operator]
            else:
                values[key] = _build(typing.cast(type, hint_t), value_node, source, path)
            continue
        value = yaml.constructor.SafeConstructor().construct_object(value_node, deep=True)
        values[key] = _check_value(value, hint_t, dict(f.metadata), source, path, _line(value_node))
    return cls(**values)


def _type_name(t: Any) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        type(None): "empty",
    }
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(t))
    if origin is list:
        return (
            f"a list of {_type_name(typing.get_args(t)[0]).removeprefix('a ').removeprefix('an ')}s"
        )
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(t))
    if origin is dict:
        key_t, value_t = typing.get_args(t)
        return f"a mapping of {_type_name(key_t)} to {_type_name(value_t)}"
    return names.get(t, str(t))


def _coerce(value: Any, t: Any) -> tuple[bool, Any]:
    """Whether value fits type t, and the value converted (int -> float only)."""
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(t):
            ok, v = _coerce(value, arg)
            if ok:
                return True, v
        return False, value
    if origin is Literal:
        return value in typing.get_args(t), value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        (item_t,) = typing.get_args(t)
        out = []
        for item in value:
            ok, v = _coerce(item, item_t)
            if not ok:
                return False, value
            out.append(v)
        return True, out
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        key_t, value_t = typing.get_args(t)
        mapping = {}
        for k, v in value.items():
            ok_k, ck = _coerce(k, key_t)
            ok_v, cv = _coerce(v, value_t)
            if not (ok_k and ok_v):
                return False, value
            mapping[ck] = cv
        return True, mapping
    if t is type(None):
        return value is None, value
    if t is bool:
        return isinstance(value, bool), value
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if t is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if t is str:
        return isinstance(value, str), value
    return isinstance(value, t), value


def _check_typed_text(value: Any, source: str, path: str, line: int) -> None:
    """Text that reaches the host as key presses: words only, never a control character (a
    newline would be an Enter key) and never an empty match."""
    strings = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
    for text in strings:
        if isinstance(text, str) and any(unicodedata.category(c)[0] == "C" for c in text):
            raise ConfigError(
                f"{text!r} holds a control character; only text can be typed",
                path=source,
                key=path,
                line=line,
            )
    if isinstance(value, dict) and any(not k.strip() for k in value):
        raise ConfigError("an empty word cannot be replaced", path=source, key=path, line=line)
    if isinstance(value, str) and not value.strip():
        raise ConfigError("must not be empty", path=source, key=path, line=line)


def _check_value(
    value: Any, t: Any, meta: dict[str, Any], source: str, path: str, line: int
) -> Any:
    ok, converted = _coerce(value, t)
    if not ok and typing.get_origin(t) is Literal and isinstance(value, str):
        ok = True  # let the choices check below explain, with a suggestion
    if not ok:
        raise ConfigError(
            f"expected {_type_name(t)}, got {value!r}", path=source, key=path, line=line
        )
    choices = meta.get("choices")
    if choices is not None and converted not in choices:
        close = difflib.get_close_matches(str(converted), [str(c) for c in choices], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{converted!r} is not allowed{hint}; choose one of: "
            + ", ".join(str(c) for c in choices),
            path=source,
            key=path,
            line=line,
        )
    if meta.get("typed_text"):
        _check_typed_text(converted, source, path, line)
    if isinstance(converted, int | float) and not isinstance(converted, bool):
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and converted < lo) or (hi is not None and converted > hi):
            raise ConfigError(
                f"{converted!r} is out of range; allowed: {lo} to {hi}",
                path=source,
                key=path,
                line=line,
            )
    return converted


# --------------------------------------------------------------------------- showing


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False, allow_unicode=True)


def iter_options(
    cls: type = Config, prefix: str = ""
) -> typing.Iterator[tuple[str, Any, str, dict[str, Any]]]:
    """(key path, default, type name, metadata) for every leaf option: the reference docs."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}" if prefix else f.name
        t = hints[f.name]
        if dataclasses.is_dataclass(t):
            yield from iter_options(typing.cast(type, t), path)
        else:
            yield path, getattr(defaults, f.name), _type_name(t), dict(f.metadata)


def with_overrides(cfg: Config, **sections: dict[str, Any]) -> Config:
    """A copy of cfg with some keys of some sections replaced (used by CLI flags and tests)."""
    changes = {}
    for name, updates in sections.items():
        changes[name] = dataclasses.replace(getattr(cfg, name), **updates)
    return dataclasses.replace(cfg, **changes)
