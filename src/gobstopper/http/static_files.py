"""Serve the files of one directory safely: the core of static serving.

Used by ``StaticFileMiddleware`` (and its Granian-aware variants) and by
blueprint static folders. A path that tries to leave the directory (``..``,
backslash, NUL, absolute, or a symlink pointing outside) raises
``Forbidden``; a path inside it that is not a readable regular file raises
``NotFound``. Either way no file content is sent, and the answer never
depends on whether something outside the directory exists.
"""

from __future__ import annotations

import os

from gobstopper.http.errors import Forbidden, NotFound
from gobstopper.http.response import FileResponse
from gobstopper.http.safe_path import real_directory, regular_file_stat, resolve_inside

#: ``Cache-Control`` of static files unless told otherwise (the reference's one hour).
DEFAULT_CACHE_CONTROL = "public, max-age=3600"


class StaticDirectory:
    """A directory whose files are answered as ``FileResponse`` objects."""

    __slots__ = ("cache_control", "directory", "root")

    def __init__(
        self,
        directory: str | os.PathLike[str],
        cache_control: str | None = DEFAULT_CACHE_CONTROL,
        *,
        must_exist: bool = False,
    ) -> None:
        self.directory = os.fspath(directory)
        self.root = real_directory(self.directory)
        self.cache_control = cache_control
        if must_exist and not os.path.isdir(self.root):
            raise FileNotFoundError(
                f"static directory {self.directory!r} does not exist (looked at {self.root})"
            )

    def find(self, relative: str) -> str:
        """The real path of ``relative``; ``Forbidden``/``NotFound`` otherwise."""
        found = resolve_inside(self.root, relative)
        if found is None:
            raise Forbidden()
        if regular_file_stat(found) is None:
            raise NotFound()
        return found

    def response(self, relative: str, headers: dict[str, str] | None = None) -> FileResponse:
        """An inline ``FileResponse`` for ``relative`` (see ``find``)."""
        merged = {"cache-control": self.cache_control} if self.cache_control else {}
        if headers:
            merged.update(headers)
        return FileResponse(self.find(relative), headers=merged, as_attachment=False)
