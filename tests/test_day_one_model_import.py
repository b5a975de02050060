"""`stt-keyboard model import`: a fine-tuned Whisper onto the device (issue 18, item 5).

The checkpoints are made here from a WhisperConfig with random weights (no download): a
full one, and LoRA adapters on it as peft saves them. Each goes through the real CLI
(merge, CTranslate2's converter, the faster-whisper check, the install), and the device's
own pipeline then loads the result and transcribes a recording without error. Random
weights type nonsense; what is proven is the path, not the words.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import peft  # the test extra installs these three (pyproject.toml): no skip
import pytest
import torch
import transformers

from appliance.asr import Transcriber
from appliance.audio import load_audio
from appliance.cli import main
from appliance.config import Config, with_overrides
from appliance.errors import ModelError
from appliance.model_import import checkpoint_kind, import_model
from appliance.models import is_model_dir
from appliance.pipeline import Pipeline, run_blocks
from tests.conftest import speech_dir

SAMPLE = "ljspeech_coqui/LJ001-0013.wav"


def _tiny_config() -> object:
    """Whisper's multilingual vocabulary and token ids; tiny layers so all of it is quick."""
    return transformers.WhisperConfig(
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
    )


@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """A Hugging Face checkpoint as save_pretrained writes it, with the tokenizer beside it."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("hf") / "my-whisper"
    model = transformers.WhisperForConditionalGeneration(_tiny_config())
    model.save_pretrained(str(out))
    shutil.copyfile(model_dir / "tokenizer.json", out / "tokenizer.json")
    return out


@pytest.fixture(scope="module")
def lora_adapters(tmp_path_factory: pytest.TempPathFactory, full_checkpoint: Path) -> Path:
    """LoRA adapters on the full checkpoint (peft, as Unsloth saves them), non-zero so that
    merging them changes the weights."""
    torch.manual_seed(1)
    base = transformers.WhisperForConditionalGeneration.from_pretrained(str(full_checkpoint))
    tuned = peft.get_peft_model(
        base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    with torch.no_grad():
        for name, weight in tuned.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("lora") / "my-lora"
    tuned.save_pretrained(str(out))
    return out


def _transcribes_on_the_device(model: Path) -> None:
    """The daemon's own loader and pipeline take the model and finish a dictation."""
    cfg = with_overrides(Config(), asr={"model": str(model), "threads": 1, "language": "en"})
    transcriber = Transcriber(cfg.asr, model)
    audio = load_audio(speech_dir() / SAMPLE)
    result = run_blocks(Pipeline(cfg, transcriber), np.array_split(audio, 20))
    assert not result.cancelled
    assert result.audio_s == pytest.approx(len(audio) / 16000, abs=0.1)


def test_full_checkpoint_is_converted_checked_and_installed(
    full_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "models"
    config = tmp_path / "config.yaml"
    config.write_text("asr:\n  model: base  # the stock model\n")
    rc = main(["--config", str(config), "model", "import", str(full_checkpoint),
               "--cache", str(cache), "--use"])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    installed = cache / "my-whisper"
    assert out.strip() == str(installed)
    assert is_model_dir(installed) and (installed / "tokenizer.json").is_file()
    assert "check passed" in err
    assert "model: my-whisper  # the stock model" in config.read_text()  # comment kept
    assert [p.name for p in cache.iterdir()] == ["my-whisper"]  # no staging left behind
    _transcribes_on_the_device(installed)


def test_lora_adapters_are_merged_into_their_base(
    full_checkpoint: Path, lora_adapters: Path, tmp_path: Path
) -> None:
    assert checkpoint_kind(lora_adapters) == "lora"
    cache = tmp_path / "models"
    # The adapters name their base (adapter_config.json): no --base needed.
    merged = import_model(lora_adapters, cache, quantization="float32", say=lambda _: None)
    plain = import_model(
        full_checkpoint, cache, name="plain", quantization="float32", say=lambda _: None
    )
    assert merged.kind == "lora" and plain.kind == "full"
    assert (merged.path / "model.bin").read_bytes() != (plain.path / "model.bin").read_bytes()
    _transcribes_on_the_device(merged.path)


def test_what_cannot_be_imported_says_why_and_installs_nothing(
    full_checkpoint: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    with pytest.raises(ModelError, match="neither a Hugging Face Whisper checkpoint"):
        import_model(tmp_path, cache, name="x", say=lambda _: None)
    with pytest.raises(ModelError, match="name of a stock model"):
        import_model(full_checkpoint, cache, name="small", say=lambda _: None)
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copyfile(full_checkpoint / "config.json", broken / "config.json")
    shutil.copyfile(full_checkpoint / "tokenizer.json", broken / "tokenizer.json")
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="nothing was installed"):
        import_model(broken, cache, say=lambda _: None)
    assert not (cache / "broken").exists()
    assert not any(p.name.startswith(".") for p in cache.iterdir())  # staging removed


def test_an_installed_model_is_replaced_only_with_force(
    full_checkpoint: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    first = import_model(full_checkpoint, cache, say=lambda _: None)
    stamp = (first.path / "model.bin").stat().st_mtime_ns
    with pytest.raises(ModelError, match="already exists"):
        import_model(full_checkpoint, cache, say=lambda _: None)
    assert (first.path / "model.bin").stat().st_mtime_ns == stamp
    again = import_model(full_checkpoint, cache, force=True, say=lambda _: None)
    assert is_model_dir(again.path)
    assert sorted(p.name for p in cache.iterdir()) == ["my-whisper"]
