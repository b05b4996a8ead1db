"""CORSMiddleware: Cross-Origin Resource Sharing headers, per the Fetch standard.

Browsers enforce CORS; the server only says which origins, methods and
headers it accepts. Preflights (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) are answered here, 204 or 403, without
calling the handler. Other requests from an allowed origin get
``Access-Control-Allow-Origin`` (and ``-Allow-Credentials``) added to the
handler's response; error pages (any status, 500s after a crash included)
get them from ``finalize_response``, which the dispatcher calls.

Everything that does not depend on the request is joined once in
``__init__``; a request costs a few dict and set lookups.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.http.vary import add_vary

#: What the pipeline passes: its answer is always a response (``core/pipeline.py``).
CallNext = Callable[[Request], Awaitable[BaseResponse]]

DEFAULT_ORIGINS = ("*",)
DEFAULT_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
DEFAULT_HEADERS = ("Content-Type", "Authorization")

_ANY = "*"
# A serialized origin as browsers send it: scheme://host[:port], nothing after.
_ORIGIN_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+\Z")
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_PLAIN = "text/plain; charset=utf-8"
_REQUEST_METHOD = "access-control-request-method"
_REQUEST_HEADERS = "access-control-request-headers"
_ALLOW_ORIGIN = "access-control-allow-origin"


def _entries(
    name: str, value: Any, default: tuple[str, ...], normalise: Callable[[str], str]
) -> tuple[str, ...]:
    """``value`` normalised, duplicates dropped, in order; ``default`` for None."""
    if value is None:
        return default
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only str, got {item!r}")
    entries = tuple(dict.fromkeys(normalise(item) for item in value))
    if _ANY in entries and len(entries) > 1:
        raise ValueError(f"{name}: '*' means 'any' and must be the only entry, got {value!r}")
    return entries


def _check_origin(origin: str) -> str:
    """The configured origin in the form browsers send (lower case), or ValueError."""
    if origin in (_ANY, "null"):
        return origin
    lowered = origin.lower()
    if not _ORIGIN_RE.match(lowered):
        raise ValueError(
            f"origin {origin!r} must be scheme://host[:port] as browsers send it, "
            "e.g. 'https://app.example.com' (no path, no trailing slash)"
        )
    return lowered


def _check_token(value: str) -> str:
    """A header name (or ``'*'``) as given, or ValueError."""
    if not _TOKEN_RE.match(value):
        raise ValueError(f"{value!r} is not a valid HTTP method or header name")
    return value


def _check_method(value: str) -> str:
    """A method name in upper case, as browsers send the standard ones."""
    return _check_token(value).upper()


def _check_max_age(max_age: Any) -> int:
    if not isinstance(max_age, int) or isinstance(max_age, bool):
        raise TypeError(f"max_age must be an int (seconds), got {max_age!r}")
    if max_age < 0:
        raise ValueError(f"max_age must be 0 or more seconds, got {max_age}")
    return max_age


def _requested_headers(value: str) -> list[str]:
    """The names listed in ``Access-Control-Request-Headers``, lower case."""
    names = (name.strip().lower() for name in value.split(","))
    return [name for name in names if name]


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers for allowed origins.

    ``origins``: allowed origins, ``['*']`` (default) for any. With specific
    origins the request's origin is echoed back and every response gets
    ``Vary: Origin``. ``'*'`` together with ``allow_credentials=True`` is a
    ValueError: browsers reject credentialed responses with a wildcard.
    ``methods`` and ``headers`` list what a preflight may ask for (``'*'``
    echoes whatever is asked); header names compare case-insensitively.
    ``max_age`` is how long browsers may cache a preflight answer, seconds.

    Use it as ``app.add_middleware(...)`` so that preflights for paths with
    no ``OPTIONS`` route are answered too; on a blueprint or a route, the
    routes must include ``OPTIONS`` for preflights to reach it.
    """

    def __init__(
        self,
        origins: list[str] | tuple[str, ...] | None = None,
        methods: list[str] | tuple[str, ...] | None = None,
        headers: list[str] | tuple[str, ...] | None = None,
        allow_credentials: bool = False,
        max_age: int = 3600,
    ) -> None:
        origins_ = _entries("origins", origins, DEFAULT_ORIGINS, _check_origin)
        if not origins_:
            raise ValueError("origins must list at least one origin (or be ['*'] for any)")
        methods_ = _entries("methods", methods, DEFAULT_METHODS, _check_method)
        headers_ = _entries("headers", headers, DEFAULT_HEADERS, _check_token)
        if not isinstance(allow_credentials, bool):
            raise TypeError(f"allow_credentials must be True or False, got {allow_credentials!r}")
        self.any_origin = origins_ == (_ANY,)
        if self.any_origin and allow_credentials:
            raise ValueError(
                "origins=['*'] cannot be used with allow_credentials=True (browsers reject "
                "credentialed responses with a wildcard origin); list the allowed origins, "
                "e.g. origins=['https://app.example.com']"
            )
        self.origins = origins_
        self.methods = methods_
        self.headers = headers_
        self.allow_credentials = allow_credentials
        self.max_age = _check_max_age(max_age)
        self._precompute()

    def _precompute(self) -> None:
        """Join every header value that does not depend on the request."""
        self._origin_set = frozenset(self.origins)
        self._method_set = None if self.methods == (_ANY,) else frozenset(self.methods)
        self._header_set = (
            None if self.headers == (_ANY,) else frozenset(h.lower() for h in self.headers)
        )
        self._credentials = (
            {"access-control-allow-credentials": "true"} if self.allow_credentials else {}
        )
        self._wildcard = {_ALLOW_ORIGIN: "*"}
        # Specific origins: the response depends on the Origin, so caches must know.
        self._vary_on_origin = not self.any_origin
        preflight = {"access-control-max-age": str(self.max_age), **self._credentials}
        if self._method_set is not None and self.methods:
            preflight["access-control-allow-methods"] = ", ".join(self.methods)
        if self._header_set is not None and self.headers:
            preflight["access-control-allow-headers"] = ", ".join(self.headers)
        # A preflight's answer (204 or 403) always depends on the method and headers asked.
        asked = "Access-Control-Request-Method, Access-Control-Request-Headers"
        preflight["vary"] = asked if self.any_origin else "Origin, " + asked
        if self.any_origin:
            preflight[_ALLOW_ORIGIN] = "*"
        self._preflight_headers = preflight

    async def __call__(self, request: Request, call_next: CallNext) -> BaseResponse:
        """Answer a preflight, or call the handler and add the CORS headers."""
        request_headers = request.headers
        origin = request_headers.get("origin")
        if origin is None and not self._vary_on_origin:
            return await call_next(request)  # PERF: wildcard, no Origin: ~0.3 us in all.
        if (
            origin is not None
            and _REQUEST_METHOD in request_headers
            and request.method == "OPTIONS"
        ):
            return self.preflight(origin, request_headers)
        response: BaseResponse = await call_next(request)
        self._add(response.headers, self._allowed_headers(origin))
        return response

    def finalize_response(self, request: Request, response: BaseResponse) -> None:
        """Add the CORS headers and ``Vary`` to an error page or framework answer.

        The dispatcher calls it for responses made outside the chain, so a
        page can read the status of a 404 or 500, and a cache keeps them apart.
        """
        origin = request.headers.get("origin")
        if origin is not None or self._vary_on_origin:
            self._add(response.headers, self._allowed_headers(origin))

    def allows(self, origin: str) -> bool:
        """Is ``origin`` (an ``Origin`` header value) allowed? Empty never is."""
        if self.any_origin:
            return bool(origin)
        return origin in self._origin_set

    def preflight(self, origin: str, request_headers: dict[str, str]) -> Response:
        """The 204 (allowed) or 403 (refused) answer to a preflight request."""
        if not self.allows(origin):
            return self._refused("origin")
        method = request_headers[_REQUEST_METHOD]
        if self._method_set is not None and method not in self._method_set:
            return self._refused("method")
        asked = _requested_headers(request_headers.get(_REQUEST_HEADERS, ""))
        if self._header_set is not None and not self._header_set.issuperset(asked):
            return self._refused("header")
        answer = dict(self._preflight_headers)
        if not self.any_origin:
            answer[_ALLOW_ORIGIN] = origin
        if self._method_set is None:
            answer["access-control-allow-methods"] = method
        if self._header_set is None and asked:
            answer["access-control-allow-headers"] = ", ".join(asked)
        response = Response(b"", status=204)
        response.headers = answer  # a 204 has no body, so no Content-Type
        return response

    def _refused(self, reason: str) -> Response:
        """The 403 for a preflight the configuration does not allow (no CORS headers).

        It carries the preflight's ``Vary`` as the 204 does, so a cache never
        answers another origin's or method's preflight with it.
        """
        return Response(
            f"CORS preflight refused: {reason} not allowed",
            status=403,
            content_type=_PLAIN,
            headers={"vary": self._preflight_headers["vary"]},
        )

    def _allowed_headers(self, origin: str | None) -> dict[str, str] | None:
        """The CORS headers a response to ``origin`` gets; None if not allowed."""
        if origin is None or not self.allows(origin):
            return None
        if self.any_origin:
            return self._wildcard
        return {_ALLOW_ORIGIN: origin, **self._credentials}

    def _add(self, target: dict[str, str], added: dict[str, str] | None) -> None:
        """Put ``added`` (may be None) and, for specific origins, ``Vary`` into ``target``."""
        if added:
            target.update(added)
        if self._vary_on_origin:
            add_vary(target, "Origin")

    def __repr__(self) -> str:
        return (
            f"CORSMiddleware(origins={list(self.origins)!r}, methods={list(self.methods)!r}, "
            f"headers={list(self.headers)!r}, allow_credentials={self.allow_credentials}, "
            f"max_age={self.max_age})"
        )
