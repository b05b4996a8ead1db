"""The RSGI HTTP entry: Host check → match → Request → route call → one send.

What is known before the first request is bound in ``HTTPDispatcher.__init__``
and ``http_entry``, not tested per request: mounts (a ``MountRouter`` in front
only when the app has some), each route's one dispatch callable (direct
handler or compiled chain, with or without parameters: ``route_call``), the
answer to a miss (``core/misses.py``: the unrouted chain and the slash
policy), the host policy and the ops observer. The router walks once and
returns a value either way. Failures of any kind become responses here, so a
worker never dies of a request, and every response made here (error pages,
500s after a crash, the framework's own answers) gets the headers the route's
middleware owe it through the route's finisher (``pipeline.response_finisher``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from gobstopper.core.error_handling import plain_response
from gobstopper.core.misses import MissAnswers
from gobstopper.core.mounts import Entry, MountedScope, with_mounts
from gobstopper.core.pipeline import Finisher, response_finisher
from gobstopper.http.coercion import to_response
from gobstopper.http.request import Request
from gobstopper.http.response import BaseResponse
from gobstopper.http.stream_abort import finish_stream

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.route_table import RouteTable
    from gobstopper.ops.observer import RequestObserver
    from gobstopper.rsgi_types import RSGIHTTPProtocol, RSGIScope

logger = logging.getLogger("gobstopper.dispatch")


def http_entry(app: Gobstopper, table: RouteTable) -> Entry:
    """What serves the app's HTTP requests: its dispatcher, behind its mounts if any."""
    dispatcher = HTTPDispatcher(app, table)
    return with_mounts(tuple(app._mounts), dispatcher, dispatcher.serve_mounted)


class HTTPDispatcher:
    """Serve HTTP requests for one app from its compiled route table."""

    def __init__(self, app: Gobstopper, table: RouteTable) -> None:
        self.app = app
        self.router = table.http
        self.match = table.http.match
        self.lifecycle = app.lifecycle
        self.errors = app.error_handlers
        self.proxy_trust = app.proxy_trust
        self.check_host = app.host_policy.check
        # With proxy trust, X-Forwarded-Host becomes request.host: check it too.
        self.check_forwarded_host = app.host_policy.restricted and app.proxy_trust.enabled
        # Unrouted requests (404, 405, automatic OPTIONS) still pass through the
        # app's middleware and hooks, so CORS preflights, static files and
        # security headers work for paths that have no route.
        chain = [spec.middleware for spec in sorted(app._middleware)]
        #: The app-level finisher, for answers given before a route is matched.
        self.finish: Finisher | None = response_finisher(chain)
        #: ``unmatched(request, miss)``: the answer to a miss, by the app's slash policy.
        self.unmatched = MissAnswers(app, table.http, chain, self.finish).by_policy()
        #: Request ids, metrics and the access log (``gobstopper.ops``), when enabled.
        self.observer: RequestObserver | None = app.ops_observer

    async def __call__(self, scope: RSGIScope, proto: RSGIHTTPProtocol) -> None:
        """Answer one request; whatever fails becomes a response."""
        # PERF: one coroutine frame per request: routing, the route's call, error
        # handling and the send all happen here (a separate `respond` coroutine
        # cost ~0.4 us per request in the in-process benchmark, ~8% of plaintext).
        lifecycle = self.lifecycle
        # PERF: each read of a Granian scope attribute builds a new str; read once.
        method = scope.method
        request = Request(scope, proto, self.app, self.proxy_trust)
        if lifecycle.closing:
            _send_fallback(request, proto, method, 503, "Service Unavailable", self.finish)
            return
        lifecycle.in_flight += 1
        observer = self.observer
        began = ("", 0.0) if observer is None else observer.begin(request)  # (id, start)
        finish = self.finish  # until a route matches: errors get the app's headers
        response: BaseResponse | None = None  # set only once nothing is left to await
        try:
            try:
                if not lifecycle.started:
                    await lifecycle.startup()
                self.check_host(scope)
                if self.check_forwarded_host:
                    self._check_forwarded_host(request)
                route, params, miss = self.match(method, scope.path)
                if miss is not None:
                    response = await self.unmatched(request, miss)
                else:
                    request.view_args = params
                    request.endpoint = route.name
                    request.url_rule = route.rule
                    finish = route.finish
                    response = to_response(await route.call(request))
            except Exception as exc:
                response = await self.errors.respond(request, exc, self.app.debug)
                _finish_quietly(finish, request, response)
            finally:
                # Uploaded files' temporary files live until the handler and error handlers end.
                request.close()
            try:
                if observer is not None:
                    observer.stamp(response, began)
                send = response.send_head if method == "HEAD" else response.send
                pending = send(proto, request)
            except Exception:
                logger.exception("could not send response %r", response)
                _send_fallback(request, proto, method, 500, "Internal Server Error", finish)
                pending = None
            if pending is not None:
                await finish_stream(pending, scope)
            if observer is not None:
                observer.end(request, response, began)
        except asyncio.CancelledError:
            if not lifecycle.closing:
                raise
            _answer_cancelled(request, proto, method, response)
        finally:
            lifecycle.leave()

    def _check_forwarded_host(self, request: Request) -> None:
        """Refuse (400) a trusted proxy's X-Forwarded-Host that is not allowed."""
        forwarded = request.forwarded_host
        if forwarded is not None:
            self.app.host_policy.accept(forwarded)

    # -- mounted apps -------------------------------------------------------------
    async def serve_mounted(
        self, sub_app: Any, scope: MountedScope, proto: RSGIHTTPProtocol
    ) -> None:
        """Hand a request to a mounted app, under this app's lifecycle.

        This app answers 503 while it closes, runs its startup first, and
        counts the request in flight (its shutdown waits for it).
        """
        lifecycle = self.lifecycle
        if lifecycle.closing:
            request = Request(scope, proto, self.app, self.proxy_trust)
            _send_fallback(request, proto, scope.method, 503, "Service Unavailable", self.finish)
            return
        lifecycle.in_flight += 1
        try:
            if not lifecycle.started:
                await self._start_quietly()
            await sub_app.__rsgi__(scope, proto)
        except asyncio.CancelledError:
            if not lifecycle.closing:
                raise
            # The sub-app may have answered already; then the protocol refuses this one.
            request = Request(scope, proto, self.app, self.proxy_trust)
            _send_fallback(request, proto, scope.method, 503, "Service Unavailable", None)
        finally:
            lifecycle.leave()

    async def _start_quietly(self) -> None:
        """Run this app's startup before a mounted app serves its first request."""
        try:
            await self.lifecycle.startup()
        except Exception:
            logger.exception("startup failed; it will be retried on the next request")


def _send_fallback(
    request: Request,
    proto: RSGIHTTPProtocol,
    method: str,
    status: int,
    message: str,
    finish: Finisher | None,
) -> None:
    """Send one of the framework's own plain answers, with the chain's headers.

    Nothing is sent when the protocol refuses it (a response already started).
    """
    response = plain_response(status, message)
    _finish_quietly(finish, request, response)
    try:
        if method == "HEAD":
            response.send_head(proto, request)
        else:
            response.send(proto, request)
    except Exception:
        logger.debug("fallback response not sent: a response was already started")


def _answer_cancelled(
    request: Request, proto: RSGIHTTPProtocol, method: str, response: BaseResponse | None
) -> None:
    """The shutdown deadline cancelled this request: answer 503 rather than drop it.

    Nothing is sent when a response was already on its way.
    """
    if response is None:
        _send_fallback(request, proto, method, 503, "Service Unavailable", None)


def _finish_quietly(finish: Finisher | None, request: Request, response: BaseResponse) -> None:
    """Add the chain's headers (if any) to a response made here; a failing finisher is logged."""
    if finish is None:
        return
    try:
        finish(request, response)
    except Exception:
        logger.exception("a middleware's finalize_response failed for %r", response)
