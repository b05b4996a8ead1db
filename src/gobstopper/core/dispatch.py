"""The RSGI HTTP entry: match → Request → compiled route → one send call.

Everything that can be decided before the first request (routes, chains,
error handlers, slash policy, the chain for unrouted requests) is decided in
``HTTPDispatcher.__init__``; the per-request path is a dict/trie lookup, one
``Request`` and the compiled route. Failures of any kind become responses
here, so a worker never dies of a request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gobstopper.core.error_handling import plain_response
from gobstopper.core.pipeline import Endpoint, wrap_hooks, wrap_middleware
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import HTTPException, MethodNotAllowed, NotFound, URITooLong
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.http.routing import MAX_PATH_LENGTH, SLASH_POLICIES

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.route_table import RouteTable

logger = logging.getLogger("gobstopper.dispatch")
_SAFE_PATH_CHARS = "/:@!$&'()*+,;=-._~"


def _other_slash_form(path: str) -> str | None:
    if path == "/" or path.endswith("//"):
        return None
    return path[:-1] if path.endswith("/") else path + "/"


def safe_location(path: str, query: str) -> str:
    """A same-site Location for ``path``, never ``//host``."""
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


def find_mount(mounts: tuple[tuple[str, Any], ...], scope: Any) -> tuple[Any, MountedScope] | None:
    """The first mounted app whose prefix covers ``scope.path``, with its shortened scope."""
    path = scope.path
    for prefix, sub_app in mounts:
        if path == prefix or path.startswith(prefix + "/"):
            root = getattr(scope, "root_path", "") + prefix
            return sub_app, MountedScope(scope, path[len(prefix):] or "/", root)
    return None


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
        self.proxy_trust = app.proxy_trust
        # Unrouted requests (404, 405, automatic OPTIONS) still pass through the
        # app's middleware and hooks, so CORS preflights, static files and
        # security headers work for paths that have no route.
        self.unrouted: Endpoint = wrap_middleware(
            wrap_hooks(self._answer_unrouted, app._before_request, app._after_request),
            [spec.middleware for spec in sorted(app._middleware)],
        )

    async def __call__(self, scope: Any, proto: Any) -> None:  # noqa: C901
        # PERF: one coroutine frame per request: routing, the route's compiled chain,
        # error handling and the send all happen here (a separate `respond` coroutine
        # cost ~0.4 us per request in the in-process benchmark, ~8% of plaintext).
        lifecycle = self.lifecycle
        # PERF: each read of a Granian scope attribute builds a new str; read once.
        method = scope.method
        if lifecycle.closing:
            _send(plain_response(503, "Service Unavailable"), proto, method)
            return
        lifecycle.in_flight += 1
        sent = False
        try:
            if self.mounts and await self._serve_mounted(scope, proto):
                return
            request = Request(scope, proto, self.app, self.proxy_trust)
            try:
                if not lifecycle.started:
                    await lifecycle.startup()
                path = scope.path
                if len(path) > MAX_PATH_LENGTH:
                    raise URITooLong()
                try:
                    route, params = self.router.match(method, path)
                except HTTPException as miss:
                    response = await self._unmatched(request, miss)
                else:
                    request.view_args = params
                    request.endpoint = route.name
                    request.url_rule = route.rule
                    direct = route.direct
                    if direct is None:
                        response = await route.run(request)
                    elif params:
                        response = to_response(await direct(request, **params))
                    else:
                        # PERF: a call without ``**{}`` (~0.1 us) for static routes.
                        response = to_response(await direct(request))
            except Exception as exc:
                response = await self.errors.respond(request, exc, self.app.debug)
            finally:
                # Uploaded files' temporary files live until the handler and error handlers end.
                request.close()
            if response.conditional:
                response.prepare(scope)
            pending = _send(response, proto, method)
            sent = True
            if pending is not None:
                await _finish_stream(pending)
        except asyncio.CancelledError:
            if not lifecycle.closing:
                raise
            # NOTE: the shutdown deadline cancelled this request; answer rather than drop it.
            if not sent:
                _send_quietly(plain_response(503, "Service Unavailable"), proto)
        finally:
            lifecycle.leave()

    async def _serve_mounted(self, scope: Any, proto: Any) -> bool:
        """Hand the request to the first mounted app whose prefix matches it."""
        sub = find_mount(self.mounts, scope)
        if sub is None:
            return False
        if not self.lifecycle.started:
            await self._start_quietly()
        await sub[0].__rsgi__(sub[1], proto)
        return True

    async def _start_quietly(self) -> None:
        """Run this app's startup before a mounted app serves its first request."""
        try:
            await self.lifecycle.startup()
        except Exception:
            logger.exception("startup failed; it will be retried on the next request")

    async def _unmatched(self, request: Request, miss: HTTPException) -> BaseResponse:
        """Apply the slash policy, else run the unrouted chain."""
        if isinstance(miss, NotFound) and self.slash_policy != "strict":
            other = _other_slash_form(request.path)
            if other is not None and self.router.allowed_methods(other):
                if self.slash_policy == "redirect":
                    location = safe_location(other, request.query_string)
                    return Response(b"", status=308, headers={"location": location})
                route, params = self.router.match(request.method, other)
                request.view_args = params
                request.endpoint = route.name
                request.url_rule = route.rule
                return await route.run(request)
        return await self.unrouted(request)

    async def _answer_unrouted(self, request: Request) -> BaseResponse:
        """Innermost step for unrouted requests: OPTIONS gets 204, else raise."""
        if request.path == "*" and request.method == "OPTIONS":
            # "OPTIONS *" asks about the server as a whole: every method routed anywhere.
            methods = {"OPTIONS", *self.router.methods()}
            return Response(b"", status=204, headers={"allow": ", ".join(sorted(methods))})
        try:
            self.router.match(request.method, request.path)
        except MethodNotAllowed as exc:
            if request.method != "OPTIONS":
                raise
            allow = ", ".join(sorted({*exc.allowed, "OPTIONS"}))
            return Response(b"", status=204, headers={"allow": allow})
        # A middleware may have rewritten the request into a routable one, but
        # rerouting here would skip that route's own chain: answer 404.
        raise NotFound()


def _send(response: BaseResponse, proto: Any, method: str) -> Any:
    """Send ``response``; a response that cannot be sent becomes a plain 500."""
    try:
        if method == "HEAD":
            response.send_head(proto)
            return None
        pending = response.send(proto)  # type: ignore[attr-defined]
    except Exception:
        logger.exception("could not send response %r", response)
        _send_quietly(plain_response(500, "Internal Server Error"), proto)
        return None
    return pending


def _send_quietly(response: Response, proto: Any) -> None:
    """Send a fallback response unless the protocol already refuses one."""
    try:
        response.send(proto)
    except Exception:
        logger.debug("fallback response not sent: a response was already started")


async def _finish_stream(pending: Any) -> None:
    try:
        await pending
    except Exception:
        # Headers are already out; all we can do is log and let Granian close the stream.
        logger.exception("streaming response failed")
