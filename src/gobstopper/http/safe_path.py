"""Join an untrusted relative path to a directory without escaping it.

Granian percent-decodes the request path once, so ``%2e%2e/`` arrives here
as ``../`` and ``%252e`` as the literal ``%2e`` (a harmless file name). What
is refused: NUL, backslashes, absolute paths, ``..`` segments, and anything
whose real path (symlinks followed) lies outside the directory. The verdict
depends only on the path text and on what is inside the directory, never on
whether some file outside it exists.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_SEP = os.sep


def real_directory(directory: str | os.PathLike[str]) -> str:
    """``directory`` as an absolute real path (symlinks resolved)."""
    return os.path.realpath(os.fspath(directory))


def looks_like_traversal(untrusted: str) -> bool:
    """True for paths that try to leave a directory by their text alone."""
    if not untrusted:
        return False
    if "\x00" in untrusted or "\\" in untrusted or untrusted.startswith("/"):
        return True
    return any(part == ".." for part in untrusted.split("/"))


def resolve_inside(root: str, untrusted: str) -> str | None:
    """The real path of ``untrusted`` under the real directory ``root``.

    Returns ``None`` when the path is an escape attempt (by its text, or by
    a symlink inside ``root`` that points outside it). The returned path may
    not exist; check it with ``regular_file_stat``.
    """
    if looks_like_traversal(untrusted):
        return None
    try:
        candidate = os.path.realpath(os.path.join(root, untrusted))
    except (ValueError, OSError):
        return None
    if candidate != root and not candidate.startswith(root.rstrip(_SEP) + _SEP):
        return None
    return candidate


def regular_file_stat(path: str) -> os.stat_result | None:
    """The ``stat`` of ``path`` if it is a readable regular file, else ``None``."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or not os.access(path, os.R_OK):
        return None
    return info


def safe_join(directory: str | os.PathLike[str], untrusted: str) -> Path | None:
    """``directory / untrusted`` if it stays inside ``directory``, else ``None``."""
    found = resolve_inside(real_directory(directory), untrusted)
    return Path(found) if found is not None else None
