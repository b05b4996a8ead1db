"""Exceptions shared by both template engines.

Jinja2 and minijinja each have their own error classes; the engines translate a missing
template and a syntax error into these, so the app handles one set whichever backend runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class TemplateError(Exception):
    """Base class of the template errors raised by the engines."""


class TemplateNotFound(TemplateError, LookupError):
    """A template name that no folder on the search path holds.

    ``name`` is the name asked for, ``search_path`` the folders looked in (in order) and
    ``reason`` says why the name was refused when it was not merely absent.
    """

    def __init__(self, name: str, search_path: Iterable[Path], reason: str | None = None) -> None:
        self.name = name
        self.search_path = tuple(search_path)
        self.reason = reason
        folders = ", ".join(str(folder) for folder in self.search_path)
        detail = f" ({reason})" if reason else ""
        super().__init__(f"Template {name!r} not found{detail}; searched: {folders}")


class TemplateSyntaxError(TemplateError):
    """A template that does not parse; names the file and the line."""

    def __init__(self, message: str, name: str | None, filename: str | None, lineno: int | None):
        self.message = message
        self.name = name
        self.filename = filename
        self.lineno = lineno
        where = filename or name or "<unknown template>"
        super().__init__(f"{where}, line {lineno}: {message}")
