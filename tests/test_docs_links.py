"""Every relative link and image in docs/*.md and README.md points at a file in the repo."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]

# [text](target) and ![alt](target "title"); <img src="...">; reference definitions [x]: target
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"""<(?:img|a)\s[^>]*(?:src|href)=["']([^"']+)["']""", re.I)
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def markdown_files() -> list[Path]:
    files = sorted((ROOT / "docs").glob("*.md"))
    readme = ROOT / "README.md"
    if readme.exists():
        files.append(readme)
    return files


def links(text: str) -> list[str]:
    text = FENCE.sub("", text)  # code blocks are not links
    text = re.sub(r"`[^`\n]*`", "", text)  # nor inline code
    return INLINE.findall(text) + HTML_SRC.findall(text) + REFDEF.findall(text)


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)) or target.startswith("//")


def anchors(path: Path) -> set[str]:
    """GitHub-style heading anchors of a Markdown file."""
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_there_are_docs_to_check():
    names = {p.name for p in markdown_files()}
    assert {"hardware.md", "getting-started.md", "configuration.md"} <= names


@pytest.mark.parametrize("md", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(md: Path):
    broken = []
    for target in links(md.read_text(encoding="utf-8")):
        if is_external(target):
            continue
        path_part, _, fragment = target.partition("#")
        dest = (md.parent / unquote(path_part)).resolve() if path_part else md
        if not dest.exists():
            broken.append(f"{target} (no file {dest})")
            continue
        try:
            dest.relative_to(ROOT)
        except ValueError:
            broken.append(f"{target} (outside the repository)")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {dest.name})")
    assert not broken, f"{md.relative_to(ROOT)}: broken links: " + "; ".join(broken)


def test_link_finder_finds_links_and_images():
    text = (
        'See [a](a.md), ![img](x/y.png "t") and <img src="z.png">.\n'
        "```\n[not](a-link.md)\n```\n[ref]: ref.md\n"
    )
    assert links(text) == ["a.md", "x/y.png", "z.png", "ref.md"]
