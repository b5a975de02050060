"""The project on Debian bookworm arm64, installed by its own installer (`make test-arm64`).

A Debian arm64 root file system from Debian's archive (build_rootfs.sh), a copy of it with
``sh scripts/install.sh --model base`` run inside as root (install_in_chroot.sh), both
under qemu-user through binfmt_misc and cached by a hash of their inputs. Then the installed
``stt-keyboard simulate`` must type what the x86 dev venv types for the same recording.
The figures (durations, sizes, wheels built from source) go to
$STT_KEYBOARD_CACHE/arm64/report.json and to the terminal; docs/arm64.md quotes them.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SPEECH = Path(os.environ.get("STT_KEYBOARD_SPEECH", ROOT.parent / "shared" / "speech"))
CACHE = Path(os.environ.get("STT_KEYBOARD_CACHE", Path.home() / ".cache" / "stt-keyboard"))
REPORT = CACHE / "arm64" / "report.json"
X86_CLI = ROOT / ".venv" / "bin" / "stt-keyboard"
# short English recordings (2.6 s and 3.0 s) from the shared speech set
RECORDINGS = [
    "ljspeech_coqui/LJ001-0013.wav",
    "librivox_pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav",
]
# the same on both machines; the config file is the installer's (every key at its default)
SIMULATE = ["simulate", "--model", "base", "--threads", "2", "--language", "en", "--json"]
EM_AARCH64 = 0xB7

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64" or os.geteuid() != 0,
    reason="needs root on an x86_64 host (mmdebstrap, chroot, qemu-user)",
)


def record(**figures: object) -> None:
    """Add figures to the report file and show them."""
    data = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    data.update(figures)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    for key, value in figures.items():
        print(f"[arm64] {key}: {value}", file=sys.stderr)


def run_script(script: str, *args: str, timeout: float) -> tuple[Path, float]:
    """Run one of our scripts (its progress to the terminal); its last line is a directory."""
    start = time.monotonic()
    proc = subprocess.run(
        ["sh", str(HERE / script), *args],
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, f"{script} failed (exit {proc.returncode})"
    return Path(proc.stdout.strip().splitlines()[-1]), seconds


def in_chroot(root: Path, *cmd: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(HERE / "chroot_run.sh"), str(root), *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(head[18:20], "little")


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().split())


def du_mb(path: Path) -> int:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture(scope="session")
def base_rootfs() -> Path:
    path, seconds = run_script("build_rootfs.sh", timeout=3600)
    done = read_env(path / ".stt-keyboard-rootfs-done")
    record(rootfs=str(path), rootfs_build_cold_s=int(done["seconds"]))
    record(rootfs_this_run_s=round(seconds, 1))
    return path


@pytest.fixture(scope="session")
def installed(base_rootfs: Path) -> Path:
    path, seconds = run_script("install_in_chroot.sh", str(base_rootfs), timeout=3 * 3600)
    env = read_env(Path(f"{path}.env"))
    if env["install_rc"] != "0" or env["pi_rc"] != "0":
        log = Path(f"{path}.log").read_text()
        pytest.fail(f"the install failed ({env}):\n{log[-4000:]}")
    record(
        installed=str(path),
        install_s=int(env["install_s"]),
        install_pi_extra_s=int(env["pi_extra_s"]),
        install_this_run_s=round(seconds, 1),
    )
    return path


def test_the_rootfs_is_debian_bookworm_arm64(base_rootfs: Path) -> None:
    assert elf_machine(base_rootfs / "usr/bin/python3.11") == EM_AARCH64
    os_release = (base_rootfs / "etc/os-release").read_text()
    assert "VERSION_CODENAME=bookworm" in os_release
    proc = in_chroot(base_rootfs, "uname", "-m")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "aarch64"  # qemu-user, on an x86_64 host
    kernels = sorted((base_rootfs / "boot").glob("vmlinuz-*-arm64"))
    assert kernels, "Debian's arm64 kernel (for the boot check) is missing"


def test_the_rootfs_is_reused_from_the_cache(base_rootfs: Path) -> None:
    again, seconds = run_script("build_rootfs.sh", timeout=600)
    record(rootfs_cached_s=round(seconds, 1))
    assert again == base_rootfs
    assert seconds < 60


def test_the_installer_installs_the_project(installed: Path) -> None:
    env = read_env(Path(f"{installed}.env"))
    log = Path(f"{installed}.log").read_text()
    assert env["install_rc"] == "0", f"scripts/install.sh failed:\n{log[-4000:]}"
    assert env["pi_rc"] == "0", f"pip install <src>[pi] failed:\n{log[-4000:]}"
    venv = installed / "opt/stt-keyboard/venv"
    site = next((venv / "lib").glob("python3.*/site-packages"))
    # bin/python links to /usr/bin/python3: absolute, so seen from here it is the host's
    assert os.readlink(venv / "bin/python3") == "/usr/bin/python3"
    assert elf_machine(next((site / "ctranslate2").glob("_ext.*.so"))) == EM_AARCH64
    wants = installed / "etc/systemd/system/multi-user.target.wants"
    for unit in ("stt-keyboard-gadget.service", "stt-keyboard.service"):
        assert (wants / unit).is_symlink(), f"{unit} is not enabled"
    assert (installed / "etc/stt-keyboard/config.yaml").is_file()
    passwd = (installed / "etc/passwd").read_text()
    assert re.search(r"^stt-keyboard:x:\d+:\d+:[^:]*:/var/lib/stt-keyboard:", passwd, re.M)
    proc = in_chroot(
        installed,
        "/opt/stt-keyboard/venv/bin/python",
        "-c",
        "import ctranslate2, onnxruntime, pyaudio, lgpio, numpy; "
        "print(ctranslate2.__version__, onnxruntime.__version__, numpy.__version__)",
    )
    assert proc.returncode == 0, proc.stderr
    record(arm64_versions_ctranslate2_onnxruntime_numpy=proc.stdout.strip())
    # which packages came as binary wheels and which pip built here from source
    built, binary, pure = [], [], []
    for wheel in sorted(site.glob("*.dist-info/WHEEL")):
        name = wheel.parent.name.removesuffix(".dist-info")
        tags = re.findall(r"^Tag: (\S+)", wheel.read_text(), re.M)
        if name.startswith("stt_keyboard-"):
            continue
        if any(t.endswith("-any") for t in tags):
            pure.append(name)
        elif any("manylinux" in t or "musllinux" in t for t in tags):
            binary.append(name)
        else:
            built.append(f"{name} ({', '.join(tags)})")
    pip_cache = Path(f"{installed}.pip-cache.txt")
    record(
        wheels_binary=binary,
        wheels_pure_python=pure,
        wheels_compiled_here=built,
        pip_built_from_sdist=[
            line.split()[1]
            for line in (pip_cache.read_text().splitlines() if pip_cache.is_file() else [])
            if line.startswith(" - ")
        ],
    )


def test_installed_size(installed: Path) -> None:
    venv = installed / "opt/stt-keyboard/venv"
    site = next((venv / "lib").glob("python3.*/site-packages"))
    sizes = sorted(
        ((du_mb(p), p.name) for p in site.iterdir() if p.is_dir() and "." not in p.name),
        reverse=True,
    )
    model = installed / "var/lib/stt-keyboard/models/base"
    assert (model / "model.bin").is_file()
    total = du_mb(venv)
    record(
        venv_mb=total,
        venv_largest_mb=dict((name, mb) for mb, name in sizes[:8]),
        model_base_mb=du_mb(model),
        model_cache_total_mb=du_mb(installed / "var/lib/stt-keyboard"),
    )
    assert total < 900, "the device venv grew (524 MB on x86_64; no torch)"


def typed(proc: subprocess.CompletedProcess[str]) -> tuple[str, dict[str, float]]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["typed"], out["timings"]


def words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def word_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, wb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wa != wb))
    return row[-1]


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda r: Path(r).stem)
def test_arm64_types_what_x86_types(installed: Path, recording: str) -> None:
    audio = SPEECH / recording
    assert audio.is_file(), f"{audio} missing (set STT_KEYBOARD_SPEECH)"
    inside = installed / "tmp" / audio.name
    shutil.copyfile(audio, inside)

    start = time.monotonic()
    x86 = subprocess.run(
        [str(X86_CLI), *SIMULATE, "--audio", str(audio)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "STT_KEYBOARD_CONFIG": str(ROOT / "config/config.example.yaml")},
    )
    x86_s = time.monotonic() - start
    start = time.monotonic()
    arm = in_chroot(
        installed,
        "env",
        "STT_KEYBOARD_CACHE=/var/lib/stt-keyboard",
        "STT_KEYBOARD_CONFIG=/etc/stt-keyboard/config.yaml",
        "/usr/local/bin/stt-keyboard",
        *SIMULATE,
        "--audio",
        f"/tmp/{audio.name}",
        timeout=3600,
    )
    arm_s = time.monotonic() - start
    x86_text, x86_t = typed(x86)
    arm_text, arm_t = typed(arm)
    stem = audio.stem
    record(
        **{
            f"{stem}_x86_typed": x86_text,
            f"{stem}_arm64_typed": arm_text,
            f"{stem}_x86_wall_s": round(x86_s, 1),
            f"{stem}_arm64_qemu_wall_s": round(arm_s, 1),
            f"{stem}_x86_load_asr_s": [round(x86_t[k], 2) for k in ("model_load_s", "asr_s")],
            f"{stem}_arm64_load_asr_s": [round(arm_t[k], 2) for k in ("model_load_s", "asr_s")],
        }
    )
    assert x86_text.strip(), "x86 typed nothing"
    assert word_distance(words(x86_text), words(arm_text)) <= 1, (x86_text, arm_text)


WAKE_CHECK = """
import platform
from appliance.audio import load_audio
from appliance.config import WakeWordConfig
from appliance.wake_word import WakeWordDetector
detector, audio = WakeWordDetector(WakeWordConfig(model="alexa")), load_audio("/tmp/alexa.wav")
heard = any(detector.feed(audio[i : i + 512]) for i in range(0, len(audio), 512))
print(platform.machine(), heard)
"""


def test_arm64_hears_the_wake_word(installed: Path) -> None:
    """pymicro-wakeword's aarch64 wheel (its own TFLite C library) as the installer put it
    in the venv: the installed appliance's detector hears espeak-ng's "alexa"."""
    import soundfile

    from tests.wake_audio import padded, wake_word

    soundfile.write(installed / "tmp" / "alexa.wav", padded(wake_word("alexa", "en-us")), 16000)
    proc = in_chroot(installed, "/opt/stt-keyboard/venv/bin/python", "-c", WAKE_CHECK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["aarch64", "True"], proc.stdout


@pytest.mark.skipif(
    os.environ.get("STT_KEYBOARD_ARM64_BOOT", "1") == "0", reason="STT_KEYBOARD_ARM64_BOOT=0"
)
def test_the_installed_system_boots_to_multi_user(installed: Path) -> None:
    start = time.monotonic()
    proc = subprocess.run(
        ["sh", str(HERE / "boot.sh"), str(installed)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=3600,
        check=False,
    )
    seconds = time.monotonic() - start
    log = CACHE / "arm64" / "boot-console.log"
    log.write_text(proc.stdout + proc.stderr)
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        # "STT-ARM64 key=value", and the report's last line "STT-ARM64 end"
        m = re.match(r".*?STT-ARM64 ([\w.-]+)(?:=(.*))?$", line.strip())
        if m:
            found[m.group(1)] = (m.group(2) or "").strip()
        elif "STT-ARM64-LOG" in line:
            print(line.strip(), file=sys.stderr)
    record(
        boot_wall_s=round(seconds, 1),
        boot_console_log=str(log),
        boot_report={k: v for k, v in found.items() if k != "end"},
    )
    assert "end" in found, f"the report never printed (see {log})"
    assert found["uname"].startswith("aarch64")
    assert found["multi-user.target"] == "active"
    assert found["stt-keyboard-gadget"].startswith("active enabled=enabled")
    assert found["hidg0"].startswith("crw"), found["hidg0"]
    assert found["dummy_hcd"].endswith("dummy_hcd.ko")
