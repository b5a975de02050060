"""Change one setting in a config file the user also edits by hand.

The installer, the image build and ``model fetch --use`` set the model the user chose; the
file's comments and layout stay as they were (only the value's characters are replaced, found
by the YAML parser's own positions), the result must load as a valid config before it
replaces the file, and the replacement is atomic (a power cut leaves the old file or the new
one, never half of each).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from appliance.atomic_file import write_atomically
from appliance.config import ConfigError, iter_options, parse_config


def _option_defaults() -> dict[str, object]:
    return {name: default for name, default, _, _ in iter_options()}


def _scalar(value: str, default: object, source: str, key: str) -> str:
    """The YAML text of a value given as on a command line, quoted only when YAML needs it:
    a text setting takes it as written ("Dr. Nguyen: Grafana"), others as YAML ("4", "true")."""
    parsed: object = value
    if not isinstance(default, str):
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{value!r} is not a value ({exc})", path=source, key=key) from None
        if isinstance(parsed, dict | list):
            raise ConfigError(f"{value!r} is not a single value", path=source, key=key)
    text = yaml.safe_dump(parsed, default_flow_style=True, width=1 << 16)
    return text.removesuffix("...\n").strip()


def set_option(text: str, key: str, value: str, source: str = "<config>") -> str:
    """``text`` with ``section.name`` set to ``value``; a ConfigError if the result is not a
    valid config (the caller's file is then left alone)."""
    defaults = _option_defaults()
    if key not in defaults:
        raise ConfigError("no such setting", path=source, key=key)
    section, name = key.split(".", 1)
    rendered = _scalar(value, defaults[key], source, key)
    root = yaml.compose(text) if text.strip() else None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ConfigError("the file is not a mapping of sections", path=source)
    section_key = section_node = None
    for k, v in root.value if root is not None else []:
        if k.value == section:
            section_key, section_node = k, v
    if section_node is None:
        new = (
            text.rstrip("\n")
            + ("\n" if text.strip() else "")
            + f"{section}:\n  {name}: {rendered}\n"
        )
    elif isinstance(section_node, yaml.MappingNode) and section_node.flow_style is not True:
        target = next((v for k, v in section_node.value if k.value == name), None)
        if target is not None:
            start, end = target.start_mark.index, target.end_mark.index
            new = text[:start] + rendered + text[end:]
        else:
            indent = " " * section_node.start_mark.column
            at = _line_start_after(text, section_node.start_mark.index)
            new = text[:at] + f"{indent}{name}: {rendered}\n" + text[at:]
    elif isinstance(section_node, yaml.ScalarNode) and section_node.value in ("", "null", "~"):
        # "asr:" with nothing under it: the setting goes on the next line
        assert section_key is not None
        start, end = section_node.start_mark.index, section_node.end_mark.index
        text = text[:start].rstrip(" ") + text[end:]  # an explicit "~" or "null" goes
        at = text.find("\n", section_key.end_mark.index)
        at = len(text) if at < 0 else at + 1
        new = text[:at] + ("" if text[:at].endswith("\n") else "\n")
        new += f"  {name}: {rendered}\n" + text[at:]
    else:
        raise ConfigError(
            "written on one line ({...}): edit this setting by hand", path=source, key=section
        )
    parse_config(new, source)  # raises ConfigError naming the key if the value is wrong
    return new


def _line_start_after(text: str, index: int) -> int:
    """Where a line may be inserted before the character at ``index`` (its line's start)."""
    return text.rfind("\n", 0, index) + 1


def set_option_in_file(path: Path, key: str, value: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = set_option(text, key, value, str(path))
    if new == text:
        return
    st = path.stat() if path.exists() else None  # the file keeps its mode and owner
    write_atomically(
        path,
        new,
        mode=st.st_mode & 0o7777 if st else 0o644,
        owner=(st.st_uid, st.st_gid) if st and os.geteuid() == 0 else None,
    )
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    # On the FAT boot partition fsync is not enough: a power cut right after it left the new
    # directory entry pointing at clusters the allocation table still called free (the file
    # emptied by the next fsck; seen in tests/qemu/test_systemd_day_one.py). The kernel's
    # FAT buffers can sit on another inode's list; only a whole sync writes them.
    os.sync()
