"""The RSGI HTTP entry: match → Request → compiled route → one send call.

Everything that can be decided before the first request (routes, chains,
error handlers, slash policy) is decided in ``HTTPDispatcher.__init__``; the
per-request path is a dict/trie lookup, one ``Request`` and the compiled
route. Failures of any kind become responses here, so a worker never dies of
a request.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gobstopper.core.error_handling import plain_response
from gobstopper.http.errors import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    URITooLong,
)
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.http.routing import MAX_PATH_LENGTH

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.route_table import RouteTable

logger = logging.getLogger("gobstopper.dispatch")

#: The slash policies ``Gobstopper(slash_policy=...)`` accepts.
SLASH_POLICIES = ("strict", "redirect", "tolerant")
_SAFE_PATH_CHARS = "/:@!$&'()*+,;=-._~"


def _other_slash_form(path: str) -> str | None:
    if path == "/":
        return None
    return path[:-1] if path.endswith("/") else path + "/"


def safe_location(path: str, query: str) -> str:
    """A same-site Location for ``path``: never ``//host`` (an open redirect)."""
    location = "/" + quote(path, safe=_SAFE_PATH_CHARS).lstrip("/")
    return f"{location}?{query}" if query else location


class MountedScope:
    """An RSGI scope seen by a mounted sub-app: same request, shorter path."""

    __slots__ = ("_inner", "path", "root_path")

    def __init__(self, inner: Any, path: str, root_path: str) -> None:
        self._inner = inner
        self.path = path
        self.root_path = root_path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class HTTPDispatcher:
    """Serve HTTP requests for one app from its compiled route table."""

    def __init__(self, app: Gobstopper, table: RouteTable) -> None:
        if app.slash_policy not in SLASH_POLICIES:
            raise ValueError(
                f"slash_policy must be one of {SLASH_POLICIES}, got {app.slash_policy!r}"
            )
        self.app = app
        self.router = table.http
        self.lifecycle = app.lifecycle
        self.errors = app.error_handlers
        self.mounts = tuple(app._mounts)
        self.slash_policy = app.slash_policy

    async def __call__(self, scope: Any, proto: Any) -> None:
        lifecycle = self.lifecycle
        if lifecycle.closing:
            _send(plain_response(503, "Service Unavailable"), proto, scope.method)
            return
        lifecycle.enter()
        try:
            if self.mounts:
                sub = self._mount_for(scope)
                if sub is not None:
                    await sub[0].__rsgi__(sub[1], proto)
                    return
            response = await self.respond(scope, proto)
            pending = _send(response, proto, scope.method)
            if pending is not None:
                await _finish_stream(pending)
        finally:
            lifecycle.leave()

    def _mount_for(self, scope: Any) -> tuple[Any, MountedScope] | None:
        path = scope.path
        for prefix, sub_app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                root = getattr(scope, "root_path", "") + prefix
                return sub_app, MountedScope(scope, path[len(prefix):] or "/", root)
        return None

    async def respond(self, scope: Any, proto: Any) -> BaseResponse:
        """Route and run one request, turning every failure into a response."""
        request = Request(scope, proto)
        request.app = self.app
        request.proxy_trust = self.app.proxy_trust
        try:
            if not self.lifecycle.started:
                await self.lifecycle.startup()
            path = scope.path
            if len(path) > MAX_PATH_LENGTH:
                raise URITooLong()
            try:
                route, params = self.router.match(scope.method, path)
            except (NotFound, MethodNotAllowed) as miss:
                return await self._unmatched(request, miss)
            request.view_args = params
            request.endpoint = route.name
            request.url_rule = route.rule
            return await route.run(request)
        except Exception as exc:
            return await self.errors.respond(request, exc, self.app.debug)

    async def _unmatched(self, request: Request, miss: HTTPException) -> BaseResponse:
        """OPTIONS without a handler, slash-policy retries, else the 404/405."""
        method, path = request.method, request.path
        if isinstance(miss, MethodNotAllowed) and method == "OPTIONS":
            allow = ", ".join([*miss.allowed, "OPTIONS"])
            return Response(b"", status=204, headers={"allow": allow})
        if isinstance(miss, NotFound) and self.slash_policy != "strict":
            other = _other_slash_form(path)
            if other is not None and self.router.allowed_methods(other):
                if self.slash_policy == "redirect":
                    location = safe_location(other, request.query_string)
                    return Response(b"", status=308, headers={"location": location})
                route, params = self.router.match(method, other)
                request.view_args = params
                request.endpoint = route.name
                request.url_rule = route.rule
                return await route.run(request)
        return await self.errors.respond(request, miss, self.app.debug)


def _send(response: BaseResponse, proto: Any, method: str) -> Any:
    """Send ``response``; a response that cannot be sent becomes a plain 500."""
    try:
        if method == "HEAD":
            response.send_head(proto)
            return None
        pending = response.send(proto)  # type: ignore[attr-defined]
    except Exception:
        logger.exception("could not send response %r", response)
        plain_response(500, "Internal Server Error").send(proto)
        return None
    return pending


async def _finish_stream(pending: Any) -> None:
    try:
        await pending
    except Exception:
        # Headers are already out; all we can do is log and let Granian close the stream.
        logger.exception("streaming response failed")
