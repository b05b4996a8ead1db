"""Read the fenced code blocks of a Markdown page, with their markers.

A marker is an HTML comment on the line right above a fence, invisible on
GitHub: ``<!-- docs: compile-only (why) -->`` or ``<!-- docs: file PATH -->``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^<!-- docs: (?P<kind>compile-only|file) ?(?P<argument>.*?) ?-->$")


class Block(NamedTuple):
    """One fenced block: its language, text, 1-based first text line and marker."""

    language: str
    text: str
    line: int
    marker: str | None = None
    argument: str = ""


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in page order.

    Raises ``ValueError`` for a fence that is never closed, so a broken page
    cannot hide the blocks after it.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing_line(lines, index, opening.group("fence"))
        marker = MARKER.match(lines[index - 1].strip()) if index else None
        blocks.append(
            Block(
                language=opening.group("info").strip().split(" ")[0].lower(),
                text="\n".join(_dedent(lines[index + 1 : end], len(opening.group("indent"))))
                + "\n",
                line=index + 2,
                marker=marker.group("kind") if marker else None,
                argument=marker.group("argument") if marker else "",
            )
        )
        index = end + 1
    return blocks


def _closing_line(lines: list[str], opening: int, fence: str) -> int:
    for index in range(opening + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            return index
    raise ValueError(f"the code fence opened on line {opening + 1} is never closed")


def _dedent(lines: list[str], indent: int) -> list[str]:
    """Remove the fence's own indentation (a fence inside a list item is indented)."""
    return [line[min(indent, len(line) - len(line.lstrip(" "))) :] for line in lines]


def prose(path: Path) -> str:
    """The page without its code: fenced blocks and inline code spans removed."""
    kept: list[str] = []
    fence = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        opening = FENCE.match(line)
        if opening and (not fence or opening.group("fence").startswith(fence)):
            fence = "" if fence else opening.group("fence")
        elif not fence:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)
