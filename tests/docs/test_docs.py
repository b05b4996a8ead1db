"""Every code block of README.md and docs/*.md runs (the rules: runner.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from .blocks import prose, read_blocks
from .runner import PageRunner, page_environment

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# Blocks that are only compiled (they need Redis or a running server). Keep it small:
# each one is documentation that could rot unnoticed.
COMPILE_ONLY_CAP = 6
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    with page_environment(tmp_path), asyncio.Runner() as runner:
        PageRunner(page, tmp_path).run(runner)


def test_every_fence_names_its_language() -> None:
    unnamed = [
        f"{_name(page)}:{block.line}"
        for page in PAGES
        for block in read_blocks(page)
        if not block.language
    ]
    assert not unnamed, "name the language of these code blocks (python, bash, text, ...)"


def test_compile_only_blocks_are_capped() -> None:
    marked = [
        f"{_name(page)}:{block.line}"
        for page in PAGES
        for block in read_blocks(page)
        if block.marker == "compile-only"
    ]
    assert len(marked) <= COMPILE_ONLY_CAP, marked


def test_the_index_links_every_page() -> None:
    index = prose(DOCS / "README.md")
    linked = {match.group("target").partition("#")[0] for match in LINK.finditer(index)}
    pages = {page.name for page in DOCS.glob("*.md")} - {"README.md"}
    assert pages <= linked, sorted(pages - linked)
    assert "docs/README.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_resolve(page: Path) -> None:
    for match in LINK.finditer(prose(page)):
        target = match.group("target").partition("#")[0]
        if target and "://" not in target and not target.startswith("mailto:"):
            assert (page.parent / target).exists(), f"{_name(page)} links to missing {target}"
