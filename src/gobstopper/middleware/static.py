"""Static file middleware: Python decides, Granian's Rust code sends.

``StaticFileMiddleware`` checks the path (403 for traversal attempts, 404
for missing files), answers conditional and Range requests, and hands the
file to ``proto.response_file`` so Python never reads it.

``RustStaticMiddleware`` goes further: under ``gobstopper run`` its folder is
mounted on Granian's own static file server (``static_path_route`` /
``static_path_mount``), so those requests never reach Python at all. When
the app runs any other way (plain ``granian``, the test client) requests do
reach it, and it serves them exactly like ``StaticFileMiddleware``.

``HybridStaticMiddleware`` is ``StaticFileMiddleware`` plus precompressed
assets: ``app.js.br``/``app.js.gz`` next to ``app.js`` are sent (still by
Rust) to clients that accept them, with ``Content-Encoding`` and
``Vary: Accept-Encoding`` — which Granian's static server cannot do.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from gobstopper.http.errors import NotFound
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, FileResponse
from gobstopper.http.safe_path import regular_file_stat, resolve_inside
from gobstopper.http.static_files import DEFAULT_CACHE_CONTROL, StaticDirectory

#: What the pipeline passes: its answer is always a response (``core/pipeline.py``).
CallNext = Callable[[Request], Awaitable[BaseResponse]]
_SERVED_METHODS = frozenset({"GET", "HEAD"})


def _normalise_prefix(url_prefix: str) -> str:
    if not isinstance(url_prefix, str) or not url_prefix.startswith("/"):
        raise ValueError(f"url_prefix must start with '/', got {url_prefix!r}")
    return url_prefix.rstrip("/")


class StaticFileMiddleware:
    """Serve the files of ``static_dir`` under ``url_prefix``.

    Answers GET and HEAD for paths below the prefix: 403 for traversal
    attempts, 404 for missing files, otherwise the file with
    ``Cache-Control: public, max-age=3600``, ``Content-Type``,
    ``Content-Length``, ``ETag`` and ``Last-Modified`` (304 and 206 as for
    ``FileResponse``). Other paths and methods go to ``call_next``; with
    ``url_prefix="/"`` so do paths that are not files. ``static_dir``
    (relative to the working directory) must exist.
    """

    def __init__(self, static_dir: str = "static", url_prefix: str = "/static") -> None:
        self.static_dir = static_dir
        self.url_prefix = _normalise_prefix(url_prefix)
        self.files = StaticDirectory(static_dir, DEFAULT_CACHE_CONTROL, must_exist=True)
        self._below = self.url_prefix + "/"

    def relative_path(self, path: str) -> str | None:
        """The file part of ``path`` if it is below the prefix, else ``None``."""
        if path.startswith(self._below):
            return path[len(self._below) :]
        return None

    async def __call__(self, request: Request, call_next: CallNext) -> BaseResponse:
        """Serve the file for a static path, or pass the request on."""
        relative = self.relative_path(request.path)
        if relative is None or request.method not in _SERVED_METHODS:
            return await call_next(request)
        if self.url_prefix:
            return self.serve(relative, request)
        try:  # mounted at "/": a path that is no file belongs to the app's routes
            return self.serve(relative, request)
        except NotFound:
            return await call_next(request)

    def serve(self, relative: str, request: Request) -> BaseResponse:
        """The response for ``relative`` (raises ``Forbidden``/``NotFound``)."""
        return self.files.response(relative)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url_prefix}/ -> {self.files.root}>"


class RustStaticMiddleware(StaticFileMiddleware):
    """Let Granian's Rust static server own ``url_prefix`` under ``gobstopper run``.

    ``granian_static_mount`` is the ``(route, directory)`` pair that
    ``gobstopper run`` passes to Granian (see ``granian_static_options``);
    ``expires`` becomes Granian's ``static_path_expires`` (its
    ``Cache-Control: max-age``). Granian answers 404 for missing files and
    for symlinks leaving the folder, without calling the app. Requests that
    do reach the app are served like ``StaticFileMiddleware``.
    """

    def __init__(
        self, static_dir: str = "static", url_prefix: str = "/static", *, expires: int = 3600
    ) -> None:
        super().__init__(static_dir, url_prefix)
        if not self.url_prefix:
            raise ValueError("RustStaticMiddleware needs a url_prefix below '/'")
        self.expires = expires

    @property
    def granian_static_mount(self) -> tuple[str, str]:
        """``(url_prefix, absolute directory)`` for Granian's static server."""
        return self.url_prefix, self.files.root


def _accepted_encodings(header: str | None) -> set[str]:
    if not header:
        return set()
    accepted: set[str] = set()
    for item in header.split(","):
        name, _, params = item.partition(";")
        quality = params.strip()
        if quality.startswith("q="):
            try:
                if float(quality[2:]) <= 0:
                    continue
            except ValueError:
                continue
        accepted.add(name.strip().lower())
    return accepted


class HybridStaticMiddleware(StaticFileMiddleware):
    """``StaticFileMiddleware`` that also sends precompressed siblings.

    For ``app.js`` it sends ``app.js.br`` (brotli) or ``app.js.gz`` (gzip)
    when the client's ``Accept-Encoding`` allows it and the sibling is a
    regular file inside the folder, with ``Content-Encoding``, the original
    ``Content-Type`` and ``Vary: Accept-Encoding``. Rust sends the bytes.
    """

    #: Sibling suffix for each encoding, in order of preference.
    ENCODINGS: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))

    def serve(self, relative: str, request: Request) -> BaseResponse:
        """The best encoded variant of ``relative`` the client accepts."""
        original = self.files.find(relative)
        accepted = _accepted_encodings(request.headers.get("accept-encoding"))
        vary = {"vary": "Accept-Encoding"}
        for encoding, suffix in self.ENCODINGS:
            if encoding not in accepted:
                continue
            sibling = resolve_inside(self.files.root, relative + suffix)
            if sibling is None or regular_file_stat(sibling) is None:
                continue
            content_type = mimetypes.guess_type(original)[0] or "application/octet-stream"
            headers = {**vary, "content-encoding": encoding}
            if self.files.cache_control:
                headers["cache-control"] = self.files.cache_control
            return FileResponse(
                sibling, headers=headers, content_type=content_type, as_attachment=False
            )
        return self.files.response(relative, vary)


def _static_middleware(app: Any) -> Iterator[Any]:
    pending = [app]
    while pending:
        scaffold = pending.pop(0)
        for spec in getattr(scaffold, "_middleware", ()):
            yield spec.middleware
        pending.extend(blueprint for blueprint, _ in getattr(scaffold, "_blueprints", ()))


def granian_static_options(app: Any) -> dict[str, Any]:
    """Keyword arguments for ``granian.Granian`` serving the app's Rust mounts.

    Collects every ``RustStaticMiddleware`` added to the app or its
    blueprints; empty when there is none. Granian has one expiry for all
    mounts: the smallest ``expires`` is used.
    """
    mounts = [mw for mw in _static_middleware(app) if isinstance(mw, RustStaticMiddleware)]
    if not mounts:
        return {}
    return {
        "static_path_route": [mw.granian_static_mount[0] for mw in mounts],
        "static_path_mount": [Path(mw.granian_static_mount[1]) for mw in mounts],
        "static_path_expires": min(mw.expires for mw in mounts),
    }
