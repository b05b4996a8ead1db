"""Turn exceptions into responses: user handlers, then defaults.

Lookup is a dict by status, fixed at registration. Unhandled exceptions are
logged and answered 500 without internals unless ``debug=True``. An error
handler that itself fails falls back to a plain-text response.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gobstopper.awaitables import resolved
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import HTTPException, InternalServerError
from gobstopper.http.json import dumps
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.logs import logger_named

if TYPE_CHECKING:
    import logging


_JSON = "application/json"


def _logger() -> logging.Logger:
    return logger_named("gobstopper.errors")


def wants_json(request: Request) -> bool:
    """Does the client prefer JSON to HTML (API clients, fetch)?"""
    # PERF: one header read, not the whole header dict (~0.5 us on a 404), unless
    # the request has built it already (then it is the one to read: it joins repeats).
    parsed = request._headers
    source = request.scope.headers if parsed is None else parsed
    accept: str = source.get("accept", "")
    if not accept:
        return True
    if "text/html" in accept:
        return False
    return "json" in accept or "*/*" in accept


@functools.cache
def _error_pages() -> ModuleType:
    """``gobstopper.templates.error_pages``, imported when the first HTML page is made.

    PERF: it costs ~2 ms at import and only HTML error pages need it; cached, as an
    ``import`` statement per call costs ~1 us on Python 3.11.
    """
    from gobstopper.templates import error_pages

    return error_pages


def plain_response(status: int, message: str) -> Response:
    """A minimal text response that cannot fail (last-resort fallback)."""
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def default_response(
    request: Request, exc: HTTPException, debug: bool, original: BaseException | None
) -> Response:
    """The framework's error page: JSON for APIs, themed HTML otherwise."""
    status = exc.status_code
    json = wants_json(request)
    if debug and original is not None and not json:
        summary = {"method": request.method, "path": request.path}
        response = Response(_error_pages().render_debug_page(original, summary), status=status)
    elif json:
        errors = getattr(exc, "errors", None)
        if errors or (debug and original is not None):
            payload: dict[str, Any] = {"error": exc.description, "status": status}
            if errors:
                payload["errors"] = errors
            if debug and original is not None:
                payload["exception"] = f"{type(original).__name__}: {original}"
            body = dumps(payload)
        else:
            body = _plain_json_error(status, exc.description)
        response = Response(body, status, None, _JSON)
    else:
        page = _error_pages().render_error_page(status, exc.title, exc.description)
        response = Response(page, status=status)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


#: JSON bodies of plain errors by (status, description), up to ``_CACHED_BODIES``.
_json_bodies: dict[tuple[int, str], bytes] = {}
_CACHED_BODIES = 256


def _plain_json_error(status: int, description: str) -> bytes:
    """``{"error": description, "status": status}`` encoded, remembered for the next time.

    PERF: a 404 flood encodes nothing; the bound keeps descriptions made per
    request (``abort(404, f"no user {id}")``) from growing it without end.
    """
    key = (status, description)
    body = _json_bodies.get(key)
    if body is None:
        body = dumps({"error": description, "status": status})
        if len(_json_bodies) < _CACHED_BODIES:
            _json_bodies[key] = body
    return body


def _add_missing_headers(target: dict[str, str], extra: dict[str, str]) -> None:
    """Add the exception's headers the handler's response does not set in any letter case."""
    present = {name.lower() for name in target}
    for name, value in extra.items():
        if name.lower() not in present:
            target[name] = value


class ErrorHandlers:
    """The app's ``error_handler(status)`` registry and its responses."""

    def __init__(self) -> None:
        self.by_status: dict[int, Callable[..., Any]] = {}

    def register(self, status: int, handler: Callable[..., Any]) -> None:
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"error_handler needs a 4xx/5xx status, got {status!r}")
        self.by_status[status] = handler

    async def respond(self, request: Request, exc: BaseException, debug: bool) -> BaseResponse:
        """The response for ``exc`` raised while handling ``request``."""
        if isinstance(exc, HTTPException):
            http_exc, original = exc, None
        else:
            _logger().error(
                "unhandled exception in %s %s", request.method, request.path, exc_info=exc
            )
            http_exc, original = InternalServerError(), exc
        handler = self.by_status.get(http_exc.status_code)
        if handler is None:
            return default_response(request, http_exc, debug, original)
        try:
            response = to_response(await resolved(handler(request, exc)))
            # A handler that leaves the status at 200 means "this page for that error".
            if response.status == 200:
                response.status = http_exc.status_code
            if isinstance(exc, HTTPException):
                _add_missing_headers(response.headers, exc.headers)
            return response
        except Exception:
            _logger().exception("error handler for %d failed", http_exc.status_code)
            return plain_response(http_exc.status_code, http_exc.description)
