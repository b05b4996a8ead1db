"""Turn whatever a handler returns into a response object.

dict/list/msgspec Struct → JSON; str → text/html; bytes → octet-stream;
None → 204; ``(body, status)`` and ``(body, status, headers)`` tuples;
response objects pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gobstopper.http.json import dumps
from gobstopper.http.response import BaseResponse, JSONResponse, Response, plain_response_of

_JSON_HEADERS = "application/json"
_TEXT_HTML = "text/html; charset=utf-8"


def to_response(rv: Any) -> BaseResponse:
    """Coerce a handler's return value into a response (or TypeError)."""
    # PERF: exact-type checks first; these are the shapes nearly every handler returns.
    kind = type(rv)
    if kind is Response or kind is JSONResponse:
        response: BaseResponse = rv  # an annotation, not a cast(): no call on the hot path
        return response
    if kind is dict or kind is list:
        return plain_response_of(dumps(rv), _JSON_HEADERS)
    if kind is str:
        return plain_response_of(rv, _TEXT_HTML)
    if isinstance(rv, BaseResponse):
        return rv
    if kind is tuple:
        return _from_tuple(rv)
    if rv is None:
        return _no_content()
    if isinstance(rv, (bytes, bytearray, memoryview)):
        return Response(bytes(rv))
    if isinstance(rv, (msgspec.Struct, dict, list)):
        return Response(dumps(rv), content_type=_JSON_HEADERS)
    raise TypeError(
        f"handler returned {kind.__name__}; return a Response, dict, list, msgspec.Struct, "
        "str, bytes, None or a (body, status[, headers]) tuple"
    )


def _no_content() -> Response:
    response = Response(b"", status=204)
    response.headers.clear()
    return response


def _from_tuple(rv: tuple[Any, ...]) -> BaseResponse:
    if not 2 <= len(rv) <= 3:
        raise TypeError("a tuple return must be (body, status) or (body, status, headers)")
    body, status = rv[0], rv[1]
    headers = rv[2] if len(rv) == 3 else None
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise TypeError(f"status in a tuple return must be an int from 100 to 599, got {status!r}")
    if headers is not None and not isinstance(headers, Mapping):
        raise TypeError(f"headers in a tuple return must be a dict, got {type(headers).__name__}")
    response = to_response(body)
    if response is body:
        # NOTE: never mutate a response object the handler may reuse (a module constant).
        import copy  # PERF: deferred; copy pulls in weakref (~0.6 ms of import time)

        response = copy.copy(response)
        response.headers = dict(response.headers)
        if response._lines is not None:
            response._lines = list(response._lines)
    response.status = int(status)
    if headers:
        _merge_headers(response.headers, headers)
    if status in (204, 304) and isinstance(response, Response):
        response.body = b""
        if status == 204:
            _drop(response.headers, "content-type")
    return response


def _drop(headers: dict[str, str], name: str) -> None:
    for key in [k for k in headers if k.lower() == name]:
        del headers[key]


def _merge_headers(target: dict[str, str], extra: Mapping[str, Any]) -> None:
    """Add ``extra`` to ``target``, replacing names case-insensitively."""
    for name, value in extra.items():
        _drop(target, str(name).lower())
        target[str(name)] = str(value)
