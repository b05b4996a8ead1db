"""The RSGI HTTP entry: Host check → match → Request → compiled route → one send call.

Everything that can be decided before the first request (routes, chains,
error handlers, slash policy, the chain for unrouted requests, the host
policy) is decided in ``HTTPDispatcher.__init__``; the per-request path is a
Host check, a dict/trie lookup, one ``Request`` and the compiled route.
Failures of any kind become responses here, so a worker never dies of a
request, and every response made here (error pages, 500s after a crash, the
framework's own answers) gets the headers the route's middleware owe it
through the route's finisher (``pipeline.response_finisher``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gobstopper.core.error_handling import plain_response
from gobstopper.core.pipeline import (
    Endpoint,
    Finisher,
    response_finisher,
    wrap_hooks,
    wrap_middleware,
)
from gobstopper.http.coercion import to_response
from gobstopper.http.errors import HTTPException, MethodNotAllowed, NotFound, URITooLong
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse, Response
from gobstopper.http.routing import MAX_PATH_LENGTH, SLASH_POLICIES
from gobstopper.http.stream_abort import finish_stream

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
            return sub_app, MountedScope(scope, path[len(prefix) :] or "/", root)
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
        self.check_host = app.host_policy.check
        # With proxy trust, X-Forwarded-Host becomes request.host: check it too.
        self.check_forwarded_host = app.host_policy.restricted and app.proxy_trust.enabled
        # Unrouted requests (404, 405, automatic OPTIONS) still pass through the
        # app's middleware and hooks, so CORS preflights, static files and
        # security headers work for paths that have no route.
        chain = [spec.middleware for spec in sorted(app._middleware)]
        self.unrouted: Endpoint = wrap_middleware(
            wrap_hooks(self._answer_unrouted, app._before_request, app._after_request), chain
        )
        #: The app-level finisher, for answers given before a route is matched.
        self.finish: Finisher | None = response_finisher(chain)

    async def __call__(self, scope: Any, proto: Any) -> None:  # noqa: C901
        # PERF: one coroutine frame per request: routing, the route's compiled chain,
        # error handling and the send all happen here (a separate `respond` coroutine
        # cost ~0.4 us per request in the in-process benchmark, ~8% of plaintext).
        lifecycle = self.lifecycle
        # PERF: each read of a Granian scope attribute builds a new str; read once.
        method = scope.method
        if lifecycle.closing:
            self._send_plain(
                Request(scope, proto, self.app, self.proxy_trust),
                proto,
                method,
                503,
                "Service Unavailable",
                self.finish,
            )
            return
        lifecycle.in_flight += 1
        sent = False
        try:
            if self.mounts and await self._serve_mounted(scope, proto):
                return
            request = Request(scope, proto, self.app, self.proxy_trust)
            finish = self.finish  # until a route matches: errors get the app's headers
            try:
                if not lifecycle.started:
                    await lifecycle.startup()
                self.check_host(scope)
                if self.check_forwarded_host:
                    self._check_forwarded_host(request)
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
                        finish = route.finish
                        response = await route.run(request)
                    elif params:
                        response = to_response(await direct(request, **params))
                    else:
                        # PERF: a call without ``**{}`` (~0.1 us) for static routes.
                        response = to_response(await direct(request))
            except Exception as exc:
                response = await self.errors.respond(request, exc, self.app.debug)
                if finish is not None:
                    _finish_quietly(finish, request, response)
            finally:
                # Uploaded files' temporary files live until the handler and error handlers end.
                request.close()
            if response.conditional:
                response.prepare(scope)
            try:
                pending = _send(response, proto, method)
            except Exception:
                logger.exception("could not send response %r", response)
                self._send_plain(request, proto, method, 500, "Internal Server Error", finish)
                pending = None
            sent = True
            if pending is not None:
                await finish_stream(pending, scope)
        except asyncio.CancelledError:
            if not lifecycle.closing:
                raise
            # NOTE: the shutdown deadline cancelled this request; answer rather than drop it.
            if not sent:
                _send_quietly(plain_response(503, "Service Unavailable"), proto, method)
        finally:
            lifecycle.leave()

    def _check_forwarded_host(self, request: Request) -> None:
        """Refuse (400) a trusted proxy's X-Forwarded-Host that is not allowed."""
        forwarded = request.forwarded_host
        if forwarded is not None:
            self.app.host_policy.accept(forwarded)

    @staticmethod
    def _send_plain(
        request: Request,
        proto: Any,
        method: str,
        status: int,
        message: str,
        finish: Finisher | None,
    ) -> None:
        """Send one of the framework's own plain answers, with the chain's headers."""
        response = plain_response(status, message)
        if finish is not None:
            _finish_quietly(finish, request, response)
        _send_quietly(response, proto, method)

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
                    redirect = Response(b"", status=308, headers={"location": location})
                    if self.finish is not None:
                        self.finish(request, redirect)
                    return redirect
                route, params = self.router.match(request.method, other)
                request.view_args = params
                request.endpoint = route.name
                request.url_rule = route.rule
                response: BaseResponse = await route.run(request)
                return response
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
    """Send ``response``: None, or the awaitable that streams its body."""
    if method == "HEAD":
        response.send_head(proto)
        return None
    return response.send(proto)  # type: ignore[attr-defined]


def _finish_quietly(finish: Finisher, request: Request, response: BaseResponse) -> None:
    """Add the chain's headers to a response made here; a failing finisher is logged."""
    try:
        finish(request, response)
    except Exception:
        logger.exception("a middleware's finalize_response failed for %r", response)


def _send_quietly(response: Response, proto: Any, method: str) -> None:
    """Send a fallback response unless the protocol already refuses one."""
    try:
        _send(response, proto, method)
    except Exception:
        logger.debug("fallback response not sent: a response was already started")
