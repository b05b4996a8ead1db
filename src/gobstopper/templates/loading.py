"""Template lookup rules shared by both engines.

One place decides which names are valid, where a name is looked for and which templates are
autoescaped, so Jinja2 and minijinja agree on all three.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from gobstopper.templates.errors import TemplateNotFound

AUTOESCAPE_EXTENSIONS = (".html", ".htm", ".xml", ".xhtml")


def autoescape_enabled(template_name: str | None) -> bool:
    """Tell whether a template is HTML-escaped, judged by its extension."""
    return template_name is not None and template_name.lower().endswith(AUTOESCAPE_EXTENSIONS)


def resolve_folder(folder: str | os.PathLike[str]) -> Path:
    """Return a template folder as an absolute path; it must exist."""
    path = Path(folder).resolve()
    if not path.is_dir():
        raise FileNotFoundError(errno.ENOENT, "Template folder does not exist", str(path))
    return path


def split_template_name(name: str, search_path: Sequence[Path]) -> tuple[str, ...]:
    """Split a template name into path segments that stay inside the folders.

    Names are always ``/``-separated and relative to a template folder; an absolute name,
    a ``..`` segment, a backslash or a NUL could reach files outside the folders, so they
    raise TemplateNotFound instead of being looked up.
    """
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise TemplateNotFound(name, search_path, "names must be relative and use '/'")
    pieces = tuple(piece for piece in name.split("/") if piece not in ("", "."))
    if ".." in pieces:
        raise TemplateNotFound(name, search_path, "'..' is not allowed in template names")
    if not pieces:
        raise TemplateNotFound(name, search_path, "empty template name")
    return pieces


def find_template(name: str, search_path: Sequence[Path]) -> Path:
    """Return a template's file from the first folder that has it."""
    pieces = split_template_name(name, search_path)
    for folder in search_path:
        candidate = folder.joinpath(*pieces)
        if candidate.is_file():
            return candidate
    raise TemplateNotFound(name, search_path)


def read_template(name: str, search_path: Sequence[Path]) -> tuple[str, Path, int]:
    """Return a template's source, its file and the file's mtime in ns.

    The file is stat'ed before it is read: an edit landing in between then looks stale on
    the next check and is re-read, instead of the old text being kept under the new mtime.
    """
    path = find_template(name, search_path)
    mtime_ns = path.stat().st_mtime_ns
    return path.read_text(encoding="utf-8"), path, mtime_ns


def is_unchanged(path: Path, mtime_ns: int) -> bool:
    """Tell whether a template file still has the mtime it was read with."""
    try:
        return path.stat().st_mtime_ns == mtime_ns
    except OSError:
        return False
