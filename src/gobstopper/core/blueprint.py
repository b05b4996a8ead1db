"""Blueprints: groups of routes, hooks and middleware registered on an app.

A blueprint only records; the app replays the records with the blueprint's
prefix and name when it compiles its routes. Hooks and middleware of a
blueprint apply to that blueprint's routes (and its children's) only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gobstopper.core.scaffold import Scaffold
from gobstopper.http.static_files import StaticDirectory

if TYPE_CHECKING:
    from pathlib import Path

    from gobstopper.http.request import Request
    from gobstopper.http.response import FileResponse


class Blueprint(Scaffold):
    """A named collection of routes and hooks to register on an app.

    ``static_folder`` is served under ``<prefix>/static`` by a GET route
    named ``static`` (``url_for('bp.static', filename='app.css')``), with
    the safety and caching of ``StaticFileMiddleware``; ``template_folder``
    is added to the app's template search path (after the app's own folder).
    """

    _rules_complete = False

    def __init__(
        self,
        name: str,
        url_prefix: str | None = None,
        *,
        static_folder: str | None = None,
        template_folder: str | None = None,
    ) -> None:
        if not name or "." in name:
            raise ValueError(f"blueprint name must be non-empty and contain no '.': {name!r}")
        super().__init__()
        self.name = name
        # Flask passes the import name second (Blueprint('admin', __name__)); accept it
        # and treat it as "no prefix" since module names never start with '/'.
        self.url_prefix = url_prefix if url_prefix and url_prefix.startswith("/") else None
        self.static_folder = static_folder
        self.template_folder = template_folder
        self._parents: list[Any] = []
        if static_folder:
            self._add_static_route(static_folder)

    def _add_static_route(self, folder: str) -> None:
        """Register ``/static/<path:filename>`` serving ``folder`` (named ``static``)."""
        files = StaticDirectory(folder)

        async def static(request: Request, filename: str) -> FileResponse:
            return files.response(filename)

        self.add_url_rule("/static/<path:filename>", static, ["GET"], name="static")

    def _changed(self) -> None:
        for parent in self._parents:
            parent._changed()

    def resolved_folder(self, folder: str | None) -> Path | None:
        """``folder`` as an absolute path (relative to the working directory)."""
        # PERF: lazy — pathlib costs ~1.5 ms at import; only callers of this method need it.
        from pathlib import Path

        return Path(folder).resolve() if folder else None

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r} prefix={self.url_prefix!r}>"
