"""`stt-keyboard model import DIR`: a fine-tuned Whisper onto the device.

DIR is what fine-tuning leaves behind, in the Hugging Face format:

- a full checkpoint (``config.json`` + ``model.safetensors``/``pytorch_model.bin``, as
  ``WhisperForConditionalGeneration.save_pretrained`` or Unsloth's merged save write it), or
- LoRA adapters (``adapter_config.json`` + adapter weights, as peft and Unsloth write them):
  merged into their base model first (``PeftModel.from_pretrained(...).merge_and_unload()``),
- or an already converted CTranslate2 model (``model.bin`` + ``config.json``), installed as is
  (the "convert on a PC, copy to the Pi" path: the Pi needs no transformers for it).

The Hugging Face checkpoint is converted with CTranslate2's own ``TransformersConverter``,
loaded with faster-whisper and made to transcribe a sample. Only a model that passed that
check is installed, by renaming a finished directory beside the target into place.

transformers, peft and torch are not device dependencies (far too big for a Pi); they are
imported only here, and a clear message says what to do without them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import ModelError
from appliance.models import PYPI_MODELS, is_model_dir

SERVICE_MODELS = "/var/lib/stt-keyboard/models"

# Files besides the weights that make a checkpoint usable: taken from DIR, else from the
# base model directory. faster-whisper reads tokenizer.json and preprocessor_config.json.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "normalizer.json",
    "preprocessor_config.json",
    "processor_config.json",
)
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")

# CTranslate2's quantization names (ct2-transformers-converter --quantization).
QUANTIZATIONS = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)

# Names that `model fetch` and asr.model already mean a stock model by.
STOCK_NAMES = frozenset(
    {
        *PYPI_MODELS,
        *(
            f"{size}{suffix}"
            for size in ("tiny", "base", "small", "medium")
            for suffix in ("", ".en")
        ),
        "large",
        "large-v1",
        "large-v2",
        "large-v3",
        "large-v3-turbo",
        "turbo",
        "distil-small.en",
        "distil-medium.en",
        "distil-large-v2",
        "distil-large-v3",
        "distil-large-v3.5",
    }
)

LANGUAGE_TOKEN = re.compile(r"<\|[a-z]{2,3}\|>")


def missing_dependencies_message(name: str) -> str:
    return (
        "model import needs transformers (and peft for LoRA adapters): "
        "pip install 'transformers[torch]' peft (in this project: pip install -e '.[test]') "
        f"— or run it on a PC and copy the directory to {SERVICE_MODELS}/{name}"
    )


@dataclass(frozen=True)
class ImportResult:
    path: Path
    kind: str  # "full", "lora" or "ctranslate2"
    text: str  # what the check transcribed
    seconds: float


def checkpoint_kind(directory: Path) -> str:
    """'lora', 'full' or 'ctranslate2', or a ModelError saying what DIR lacks."""
    if not directory.is_dir():
        raise ModelError(f"{directory} is not a directory")
    if (directory / "adapter_config.json").is_file():
        if not any((directory / f).is_file() for f in ADAPTER_WEIGHTS):
            raise ModelError(
                f"{directory} has adapter_config.json but no adapter weights "
                f"({' or '.join(ADAPTER_WEIGHTS)})"
            )
        return "lora"
    if is_model_dir(directory):
        return "ctranslate2"
    if (directory / "config.json").is_file():
        if not any((directory / f).is_file() for f in WEIGHT_FILES):
            raise ModelError(
                f"{directory} has config.json but no model weights ({', '.join(WEIGHT_FILES)})"
            )
        return "full"
    raise ModelError(
        f"{directory} is neither a Hugging Face Whisper checkpoint (config.json + weights) nor "
        "LoRA adapters (adapter_config.json + adapter weights)"
    )


def check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or name.startswith("."):
        raise ModelError(f"{name!r} cannot be a model name (a plain name, e.g. my-whisper)")
    if name in STOCK_NAMES:
        raise ModelError(
            f"'{name}' is the name of a stock model (model fetch {name}); choose another --name"
        )


def _local_base(base: str, what: str) -> Path:
    """The local directory of a base model: a path, or a hub id already in the local
    Hugging Face cache. Nothing is downloaded."""
    path = Path(base).expanduser()
    if path.is_dir():
        return path
    if base.startswith((".", "/", "~")) or base.count("/") > 1:
        raise ModelError(f"{what} {base}: directory does not exist")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(base, local_files_only=True))
    except Exception:
        raise ModelError(
            f"{what} is '{base}', a model id of the Hugging Face hub that is not on this "
            "computer, and model import downloads nothing: download it once (e.g. "
            f"hf download {base} --local-dir whisper-base-model) and pass its directory "
            "with --base"
        ) from None


def resolve_base(base: str | None, adapters: Path) -> Path:
    """The local Hugging Face checkpoint LoRA adapters are merged into."""
    if not base:
        try:
            config = json.loads((adapters / "adapter_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {adapters / 'adapter_config.json'}: {exc}") from exc
        base = str(config.get("base_model_name_or_path") or "")
        if not base:
            raise ModelError(
                f"{adapters / 'adapter_config.json'} names no base model; pass --base DIR"
            )
    path = _local_base(base, "the adapters' base model")
    if is_model_dir(path) and not (path / "model.safetensors").is_file():
        raise ModelError(
            f"{path} is a CTranslate2 model; LoRA adapters are merged into the Hugging Face "
            "checkpoint they were trained on (config.json + model.safetensors)"
        )
    if not (path / "config.json").is_file() or not any((path / f).is_file() for f in WEIGHT_FILES):
        raise ModelError(f"the base model {path} is not a Hugging Face checkpoint")
    return path


def require_libraries(kind: str, name: str) -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401

        if kind == "lora":
            import peft  # noqa: F401
    except ImportError:
        raise ModelError(missing_dependencies_message(name)) from None


def import_model(
    source: Path,
    cache: Path,
    *,
    name: str | None = None,
    base: str | None = None,
    quantization: str | None = "int8",
    compute_type: str = "int8",
    language: str = "en",
    threads: int = 0,
    sample: Path | None = None,
    force: bool = False,
    say: Callable[[str], Any] = print,
) -> ImportResult:
    """Merge (LoRA), convert, check and install a fine-tuned Whisper as cache/NAME."""
    start = time.monotonic()
    source = source.expanduser()
    kind = checkpoint_kind(source)
    name = name or source.resolve().name
    check_name(name)
    target = cache / name
    if target.exists() and not force:
        raise ModelError(
            f"model '{name}' already exists in {cache}; add --force to replace it "
            "or choose another --name"
        )
    base_dir: Path | None = None
    if kind == "lora":
        require_libraries(kind, name)
        base_dir = resolve_base(base, source)
    elif kind == "full":
        require_libraries(kind, name)
        if base:
            base_dir = _local_base(base, "--base")
    elif base:
        say(f"note: {source} is already a CTranslate2 model; --base is not used")

    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-import-", dir=cache))
    try:
        out = staging / "model"
        if kind == "ctranslate2":
            if not (source / "tokenizer.json").is_file():
                raise ModelError(_no_tokenizer(source))
            shutil.copytree(source, out)
        else:
            checkpoint = staging / "checkpoint"
            checkpoint.mkdir()
            if kind == "lora":
                assert base_dir is not None
                say(f"merging the LoRA adapters {source} into {base_dir}")
                merge_adapters(source, base_dir, checkpoint)
            else:
                _link_files(source, checkpoint)
            _add_tokenizer_files(checkpoint, [source, base_dir])
            if not (checkpoint / "tokenizer.json").is_file():
                raise ModelError(_no_tokenizer(source))
            _ensure_preprocessor_config(checkpoint)
            say(f"converting to CTranslate2 ({quantization or 'weights as saved'})")
            convert(checkpoint, out, quantization)
        fill_language_ids(out)
        say("checking: loading it with faster-whisper and transcribing a sample")
        text = check_model(
            out, compute_type=compute_type, language=language, threads=threads, sample=sample
        )
        say(f"check passed, it transcribed: {text!r}")
        _publish(out, target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportResult(target, kind, text, time.monotonic() - start)


def _no_tokenizer(source: Path) -> str:
    return (
        f"{source} has no tokenizer.json, and faster-whisper would try to download one from the "
        "Hugging Face hub when the model loads (the device is offline): save the tokenizer "
        "into it (WhisperTokenizerFast.from_pretrained(BASE).save_pretrained(DIR)), or pass "
        "the base model's directory with --base"
    )


def _link_files(source: Path, checkpoint: Path) -> None:
    """The checkpoint's files, linked (not copied: a small model is 1 GB in float32)."""
    for entry in source.iterdir():
        if entry.is_file():
            (checkpoint / entry.name).symlink_to(entry.resolve())


def _add_tokenizer_files(checkpoint: Path, sources: list[Path | None]) -> None:
    for filename in TOKENIZER_FILES:
        if (checkpoint / filename).exists():
            continue
        for directory in sources:
            if directory is not None and (directory / filename).is_file():
                shutil.copyfile(directory / filename, checkpoint / filename)
                break


def _ensure_preprocessor_config(checkpoint: Path) -> None:
    """faster-whisper takes the mel bins from preprocessor_config.json (80 without it);
    large-v3-sized models have 128. Written from the model's config when missing."""
    if (checkpoint / "preprocessor_config.json").is_file():
        return
    from transformers import WhisperConfig, WhisperFeatureExtractor

    config = WhisperConfig.from_pretrained(str(checkpoint))
    extractor = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    extractor.save_pretrained(str(checkpoint))


def merge_adapters(adapters: Path, base_dir: Path, checkpoint: Path) -> None:
    """LoRA adapters merged into their base model (float32), saved as a full checkpoint."""
    import torch
    from peft import PeftModel
    from transformers import WhisperForConditionalGeneration

    try:
        base = WhisperForConditionalGeneration.from_pretrained(str(base_dir), dtype=torch.float32)
        merged = PeftModel.from_pretrained(base, str(adapters)).merge_and_unload()
        merged.save_pretrained(str(checkpoint))
    except Exception as exc:
        raise ModelError(
            f"cannot merge the LoRA adapters {adapters} into {base_dir}: {exc}; "
            "nothing was installed"
        ) from exc


def convert(checkpoint: Path, out: Path, quantization: str | None) -> None:
    from ctranslate2.converters import TransformersConverter

    copy = [f for f in ("tokenizer.json", "preprocessor_config.json") if (checkpoint / f).is_file()]
    try:
        TransformersConverter(str(checkpoint), copy_files=copy).convert(
            str(out), quantization=quantization
        )
    except Exception as exc:
        raise ModelError(
            f"CTranslate2 cannot convert the checkpoint: {exc}; nothing was installed"
        ) from exc


def fill_language_ids(model: Path) -> None:
    """ctranslate2 4.8's converter takes the language token ids from the generation config's
    lang_to_id, else from the tokenizer's ``additional_special_tokens``, which transformers 5
    no longer has: a checkpoint without lang_to_id got none, and language detection
    (asr.language: auto) then failed with an IndexError. Taken from the vocabulary instead:
    the tokens between <|startoftranscript|> and <|translate|>."""
    config_path = model / "config.json"
    vocabulary_path = model / "vocabulary.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("lang_ids") or not vocabulary_path.is_file():
            return
        tokens = json.loads(vocabulary_path.read_text(encoding="utf-8"))
        first = tokens.index("<|startoftranscript|>") + 1
        last = tokens.index("<|translate|>")
    except (OSError, ValueError, AttributeError):
        return
    ids = [i for i in range(first, last) if LANGUAGE_TOKEN.fullmatch(tokens[i])]
    if ids:
        config["lang_ids"] = ids
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def check_audio(sample: Path | None) -> Any:
    """The sample to transcribe: --sample, else the demo's first sentence (espeak-ng), else
    a generated signal (the check is that the model decodes, not what it understands)."""
    from appliance.audio import load_audio
    from appliance.samples import DEMO_SENTENCES, room_noise, speak

    if sample is not None:
        return load_audio(sample)
    import numpy as np

    try:
        speech = speak(DEMO_SENTENCES[0])
    except (RuntimeError, OSError):
        speech = room_noise(3.0, level_db=-25.0, seed=5)
    return np.concatenate([room_noise(0.3, seed=1), speech, room_noise(0.3, seed=3)])


def check_model(
    model: Path,
    *,
    compute_type: str = "int8",
    language: str = "en",
    threads: int = 0,
    sample: Path | None = None,
) -> str:
    """Load the model with faster-whisper and transcribe the sample: the text, or a
    ModelError. A single greedy decode, so a model that only makes noise is quick too."""
    audio = check_audio(sample)
    from faster_whisper import WhisperModel

    try:
        whisper = WhisperModel(
            str(model), device="cpu", compute_type=compute_type, cpu_threads=threads
        )
        segments, _ = whisper.transcribe(
            audio,
            language=None if language == "auto" else language,
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
    except Exception as exc:
        raise ModelError(
            f"the converted model does not load or transcribe with faster-whisper: {exc}; "
            "nothing was installed"
        ) from exc
    return text


def _publish(out: Path, target: Path, staging: Path) -> None:
    """Readable by the service user; the old model (--force) is swapped out, not mixed in."""
    owner = target.parent.stat() if os.geteuid() == 0 else None
    for path in [out, *out.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)
        if owner is not None:
            os.chown(path, owner.st_uid, owner.st_gid)
    if target.exists() or target.is_symlink():
        old = staging / "replaced"
        target.rename(old)
    out.rename(target)
