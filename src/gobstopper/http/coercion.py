"""Turn whatever a handler returns into a response object.

dict/list/msgspec Struct → JSON; str → text/html; bytes → octet-stream;
None → 204; ``(body, status)`` and ``(body, status, headers)`` tuples;
response objects pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gobstopper.http.json import dumps
from gobstopper.http.response import BaseResponse, JSONResponse, Response

_JSON_HEADERS = "application/json"


def to_response(rv: Any) -> BaseResponse:
    """Coerce a handler's return value into a response (``TypeError`` if impossible)."""
    # PERF: exact-type checks first; these are the shapes nearly every handler returns.
    kind = type(rv)
    if kind is Response or kind is JSONResponse:
        return rv
    if kind is dict or kind is list:
        return Response(dumps(rv), content_type=_JSON_HEADERS)
    if kind is str:
        return Response(rv)
    if isinstance(rv, BaseResponse):
        return rv
    if kind is tuple:
        return _from_tuple(rv)
    if rv is None:
        return Response(b"", status=204, headers={})
    if isinstance(rv, (bytes, bytearray, memoryview)):
        return Response(bytes(rv))
    if isinstance(rv, (msgspec.Struct, dict, list)):
        return Response(dumps(rv), content_type=_JSON_HEADERS)
    raise TypeError(
        f"handler returned {kind.__name__}; return a Response, dict, list, msgspec.Struct, "
        "str, bytes, None or a (body, status[, headers]) tuple"
    )


def _from_tuple(rv: tuple[Any, ...]) -> BaseResponse:
    if not 2 <= len(rv) <= 3:
        raise TypeError("a tuple return must be (body, status) or (body, status, headers)")
    body, status = rv[0], rv[1]
    headers = rv[2] if len(rv) == 3 else None
    if not isinstance(status, int) or isinstance(status, bool):
        raise TypeError(f"status in a tuple return must be an int, got {status!r}")
    response = to_response(body)
    response.status = status
    if headers:
        response.headers.update(headers)
    if status in (204, 304) and isinstance(response, Response):
        response.body = b""
    return response
