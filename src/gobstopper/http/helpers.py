"""Flask-style helpers: jsonify, make_response, send_file, and friends.

``send_file`` and ``send_from_directory`` check the file when called and
raise ``NotFound`` (so the app's 404 handler answers); ``send_from_directory``
never leaves its directory (``..``, absolute paths, backslashes, NUL and
symlinks pointing outside all give the same 404 as a missing file).
``stream_template`` takes the app (or a template engine) explicitly, since
this layer never imports the application.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterator
from typing import IO, Any

from gobstopper.http.coercion import to_response
from gobstopper.http.errors import NotFound, abort
from gobstopper.http.response import (
    BaseResponse,
    FileResponse,
    JSONResponse,
    Response,
    StreamResponse,
    content_disposition,
    redirect,
)
from gobstopper.http.safe_path import real_directory, regular_file_stat, resolve_inside

__all__ = [
    "abort",
    "jsonify",
    "make_response",
    "redirect",
    "send_file",
    "send_from_directory",
    "stream_template",
]

_HTML = "text/html; charset=utf-8"
_CHUNK = 64 * 1024


def jsonify(*args: Any, **kwargs: Any) -> JSONResponse:
    """A JSON response: one argument as is, several as a list, keywords as a dict.

    >>> jsonify({"ok": True}); jsonify(1, 2); jsonify(user="ann", id=3)
    """
    if args and kwargs:
        raise TypeError("jsonify() takes positional or keyword arguments, not both")
    if kwargs:
        return JSONResponse(kwargs)
    if len(args) == 1:
        return JSONResponse(args[0])
    return JSONResponse(list(args) if args else None)


def make_response(*args: Any) -> BaseResponse:
    """A response object from what a handler may return, to modify before returning.

    ``make_response(body)``, ``make_response(body, status)``,
    ``make_response(body, status, headers)`` or a response (returned as is).
    """
    if not args:
        return Response("")
    if len(args) == 1:
        return to_response(args[0])
    return to_response(tuple(args))


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    max_age: int | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> BaseResponse:
    """Send a file from disk (through Rust) or a binary file object.

    Paths become a ``FileResponse`` (ETag, 304, Range); a missing or
    unreadable path raises ``NotFound``. ``as_attachment`` asks the browser to
    download it as ``download_name``; ``max_age`` sets
    ``Cache-Control: public, max-age=N``. File objects (``io.BytesIO``, ...)
    are streamed in chunks and closed afterwards.
    """
    extra = dict(headers or {})
    if max_age is not None:
        extra.setdefault("cache-control", f"public, max-age={int(max_age)}")
    if isinstance(path_or_file, (str, os.PathLike)):
        if regular_file_stat(os.fspath(path_or_file)) is None:
            raise NotFound()
        return FileResponse(
            path_or_file,
            download_name,
            status,
            extra,
            content_type=mimetype,
            as_attachment=as_attachment,
            conditional=conditional,
        )
    if not hasattr(path_or_file, "read"):
        raise TypeError(f"send_file() needs a path or a binary file object, not {path_or_file!r}")
    return _send_file_object(path_or_file, mimetype, as_attachment, download_name, status, extra)


def _send_file_object(
    fileobj: IO[bytes],
    mimetype: str | None,
    as_attachment: bool,
    download_name: str | None,
    status: int,
    headers: dict[str, str],
) -> StreamResponse:
    content_type = mimetype or (download_name and mimetypes.guess_type(download_name)[0])
    if download_name and not any(k.lower() == "content-disposition" for k in headers):
        kind = "attachment" if as_attachment else "inline"
        headers["content-disposition"] = content_disposition(kind, download_name)
    return StreamResponse(
        _read_chunks(fileobj),
        status,
        headers,
        content_type=content_type or "application/octet-stream",
    )


async def _read_chunks(fileobj: IO[bytes]) -> AsyncIterator[bytes]:
    # In-memory objects are read inline; real files go to a thread to keep the loop free.
    in_memory = isinstance(fileobj, io.BytesIO)
    try:
        while True:
            if in_memory:
                chunk = fileobj.read(_CHUNK)
            else:
                chunk = await asyncio.to_thread(fileobj.read, _CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        fileobj.close()


def send_from_directory(
    directory: str | os.PathLike[str], path: str, **kwargs: Any
) -> BaseResponse:
    """``send_file`` for ``path`` inside ``directory``; 404 for anything else.

    Keyword arguments are those of ``send_file``.
    """
    found = resolve_inside(real_directory(directory), path)
    if found is None:
        raise NotFound()
    return send_file(found, **kwargs)


async def stream_template(app: Any, template_name: str, **context: Any) -> StreamResponse:
    """Render ``template_name`` as a streamed HTML response.

    ``app`` is the ``Gobstopper`` app (its context processors apply) or a
    template engine with ``stream_template_async``.
    """
    render = getattr(app, "render_template", None)
    if render is not None and hasattr(app, "template_engine"):
        response = await render(template_name, stream=True, **context)
        if not isinstance(response, StreamResponse):  # pragma: no cover - engine contract
            raise TypeError("render_template(stream=True) did not return a StreamResponse")
        return response
    stream = getattr(app, "stream_template_async", None)
    if stream is None:
        raise TypeError("stream_template() needs the app or a template engine")
    return StreamResponse(stream(template_name, **context), content_type=_HTML)
