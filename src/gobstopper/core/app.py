"""The Gobstopper application: registration state and delegation.

The app records registrations (``Scaffold``), compiles them into a route table
and dispatchers on first use or after a change, and hands each RSGI call to
the dispatcher. Protocol work lives in ``dispatch.py``/``ws_dispatch.py``,
startup/shutdown in ``lifecycle.py``, templates and tasks in their mixins.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gobstopper.config import parse_networks
from gobstopper.core.background import BackgroundTasksMixin
from gobstopper.core.error_handling import ErrorHandlers
from gobstopper.core.lifecycle import Lifecycle
from gobstopper.core.scaffold import Scaffold
from gobstopper.core.services import check_app_services
from gobstopper.core.templating import TemplatingMixin
from gobstopper.http.hosts import HostPolicy
from gobstopper.http.proxy import ProxyTrust
from gobstopper.http.query import scope_from_dict
from gobstopper.http.routing import SLASH_POLICIES, build_url

if TYPE_CHECKING:
    import asyncio
    import logging

    from gobstopper.core.asgi import ASGIHTTPConnection
    from gobstopper.core.mounts import Entry
    from gobstopper.core.route_table import RouteTable
    from gobstopper.ops.health import Health
    from gobstopper.ops.observer import RequestObserver
    from gobstopper.rsgi_types import RSGIProtocol, RSGIScope

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _asgi_entry() -> Callable[..., Awaitable[None]]:
    """The ASGI adapter's ``serve`` (WebSocket and lifespan), imported on first use.

    PERF: lazy, as the adapter loads asyncio and RSGI-only processes never need
    it; cached, because an ``import`` statement per call costs 1.0-1.7 us on
    Python 3.11 (the failed ``__path__`` lookup builds an AttributeError each time).
    """
    from gobstopper.core.asgi import serve

    return serve


#: ``ASGIHTTPConnection``, once the first ASGI HTTP request has imported it.
_asgi_http: type[ASGIHTTPConnection] | None = None


def _load_asgi_http() -> type[ASGIHTTPConnection]:
    """Import the ASGI adapter's HTTP connection (lazily, as ``_asgi_entry``) and keep it."""
    global _asgi_http
    from gobstopper.core.asgi import ASGIHTTPConnection

    _asgi_http = ASGIHTTPConnection
    return ASGIHTTPConnection


class Gobstopper(TemplatingMixin, BackgroundTasksMixin, Scaffold):
    """A web application served by Granian over RSGI (or any server over ASGI).

    ``slash_policy`` decides what happens when a path differs from a route
    only by a trailing slash: ``"strict"`` (404), ``"redirect"`` (308 to the
    routed form) or ``"tolerant"`` (serve the routed form directly).
    Proxy headers are trusted only when ``trust_forwarded_headers`` or
    ``trusted_proxies`` (or their ``GOBSTOPPER_*`` environment variables) say so.
    ``allowed_hosts`` (or ``GOBSTOPPER_ALLOWED_HOSTS``) lists the hosts it
    answers for: names, ``*.example.com``, ``*``; others get 400 (see
    ``gobstopper.http.hosts``, which also refuses malformed and repeated Hosts).
    """

    def __init__(
        self,
        name: str = "gobstopper.core.app",
        debug: bool = False,
        slash_policy: str = "strict",
        *,
        trust_forwarded_headers: bool | None = None,
        trusted_proxies: list[str] | str | None = None,
        allowed_hosts: list[str] | None = None,
    ) -> None:
        if slash_policy not in SLASH_POLICIES:
            raise ValueError(f"slash_policy must be one of {SLASH_POLICIES}, got {slash_policy!r}")
        super().__init__()
        self.name = name
        self.debug = debug
        self.slash_policy = slash_policy
        self._logger: logging.Logger | None = None
        self.proxy_trust = _proxy_trust(trust_forwarded_headers, trusted_proxies)
        self.host_policy = HostPolicy.configured(allowed_hosts)
        self.lifecycle = Lifecycle()
        self.lifecycle.startup_checks += [
            self._warn_if_tasks_disabled,
            self._ready_websocket_rooms,
            self.host_policy.warn_if_unrestricted,
            functools.partial(check_app_services, self),
        ]
        self.error_handlers = ErrorHandlers()
        self._mounts: list[tuple[str, Gobstopper]] = []
        self._mounted_at: tuple[Gobstopper, str] | None = None
        self._table: RouteTable | None = None
        self._http: Entry | None = None
        self._ws: Entry | None = None
        #: Request ids, metrics and the access log (``enable_metrics`` and the like).
        self.ops_observer: RequestObserver | None = None
        #: Liveness and readiness (``enable_health``).
        self.ops_health: Health | None = None
        self._init_templating()
        self._init_background_tasks()

    @property
    def logger(self) -> logging.Logger:
        """``logging.getLogger(name)``, looked up on first use (assignable)."""
        if self._logger is None:
            # PERF: lazy — logging costs ~4 ms at import; asyncio loads it when serving.
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    @logger.setter
    def logger(self, logger: logging.Logger) -> None:
        self._logger = logger

    # -- registration -----------------------------------------------------------
    def _changed(self) -> None:
        self._table = None
        self._http = None
        self._ws = None

    def error_handler(self, status_code: int) -> Callable[[F], F]:
        """Register ``handler(request, error)`` for ``status_code``."""

        def decorator(handler: F) -> F:
            self.error_handlers.register(status_code, handler)
            return handler

        return decorator

    def on_startup(self, func: F) -> F:
        """Run ``func`` (sync or async) once before the first request."""
        self.lifecycle.startup_hooks.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run ``func`` (sync or async) at shutdown, after in-flight requests."""
        self.lifecycle.shutdown_hooks.append(func)
        return func

    def mount(self, path: str, app: Gobstopper) -> Gobstopper:
        """Serve ``app`` under ``path``, which it sees stripped from paths.

        The mounted app keeps its own middleware, hooks, error handlers and
        startup/shutdown hooks (run with this app's). Earlier mounts win, and
        mounts are tried before this app's own routes.
        """
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"mount path must start with '/', got {path!r}")
        prefix = path.rstrip("/")
        if not prefix:
            raise ValueError("cannot mount at '/': register the routes here or use a Blueprint")
        if app is self or app._mounts_app(self):
            raise ValueError(f"mounting {app.name!r} here would mount an app inside itself")
        self._mounts.append((prefix, app))
        if app._mounted_at is None:
            app._mounted_at = (self, prefix)
        self._changed()
        return app

    def _mounts_app(self, target: Gobstopper) -> bool:
        """Is ``target`` mounted somewhere below this app?"""
        pending = [sub for _, sub in self._mounts]
        while pending:
            sub = pending.pop()
            if sub is target:
                return True
            pending.extend(child for _, child in sub._mounts)
        return False

    # -- compiled state ---------------------------------------------------------
    @property
    def route_table(self) -> RouteTable:
        """Routes compiled from every registration (rebuilt after changes)."""
        if self._table is None:
            # PERF: lazy — the route compiler and the dispatchers (with asyncio, ~35 ms)
            # load when routes are first compiled, not at ``import gobstopper``.
            from gobstopper.core.route_table import build_route_table

            self._table = build_route_table(self)
        return self._table

    def _compile(self) -> Entry:
        from gobstopper.core.dispatch import http_entry
        from gobstopper.core.ws_dispatch import websocket_entry

        table = self.route_table
        self._http = http_entry(self, table)
        self._ws = websocket_entry(self, table)
        return self._http

    def url_for(self, name: str, /, **params: Any) -> str:
        """Build the URL of route ``name`` (``'admin.login'`` for blueprints).

        Extra parameters become the query string (``None`` values are left
        out). Raises ``ValueError`` for an unknown name, a missing parameter
        or a value its converter rejects. ``name`` is positional-only, so a
        route parameter may itself be called ``name``. A mounted app's URLs
        include the mount prefix.
        """
        rule = self.route_table.rules_by_name.get(name)
        if rule is None:
            raise ValueError(f"no route named {name!r}")
        return build_url(rule, params, self._link_prefix())

    def _link_prefix(self) -> str:
        """Where this app is mounted (through every parent), for ``url_for``."""
        prefix, app, seen = "", self, 0
        while app._mounted_at is not None and seen < 64:
            app, mount_path = app._mounted_at
            prefix = mount_path + prefix
            seen += 1
        return prefix

    def routing_report(self) -> list[str]:
        """Describe mounts, blueprints, middleware and each route's chain."""
        return [
            "=== Routing Visualization ===",
            *self._report_lines(""),
            "=== End Visualization ===",
        ]

    def _report_lines(self, prefix: str, depth: int = 0) -> list[str]:
        from gobstopper.core.route_table import iter_routes

        table = self.route_table
        lines: list[str] = []
        for spec in sorted(self._middleware):
            lines.append(f"MW(prio={spec.priority}): {_name(spec.middleware)}")
        lines += table.report
        for route in iter_routes(table):
            lines.append(
                f"Route {list(route.methods)} {prefix}{route.rule} -> {route.name}"
                f" MW order: {list(route.middleware_names)}"
            )
        lines += [f"WebSocket {prefix}{rule.rule}" for rule in table.websocket.rules()]
        for mount_path, app in self._mounts:
            lines.append(f"Mount: {prefix}{mount_path} -> {app.name}")
            if depth < 8:
                lines += ["  " + line for line in app._report_lines(prefix + mount_path, depth + 1)]
        return lines

    def visualize_routing(self) -> None:
        """Log ``routing_report()`` at INFO level."""
        for line in self.routing_report():
            self.logger.info(line)

    # -- OpenAPI (gobstopper.openapi, imported on first use) --------------------
    def openapi(self) -> dict[str, Any]:
        """This app's OpenAPI 3.1 document (cached; rebuilt when routes change)."""
        from gobstopper.openapi import openapi_document

        return openapi_document(self)

    def enable_openapi(
        self, path: str = "/openapi.json", docs: str | None = "/docs", **info: Any
    ) -> None:
        """Serve the document at ``path`` and Swagger UI at ``docs`` (None: no page).

        ``info`` takes ``title``, ``version`` and ``description``.
        """
        from gobstopper.openapi import enable_openapi

        enable_openapi(self, path, docs, **info)

    # -- operations (gobstopper.ops, imported on first use) ---------------------
    def enable_health(self, live: str | None = "/healthz", ready: str | None = "/readyz") -> None:
        """Serve liveness at ``live`` and readiness at ``ready`` (see ``gobstopper.ops.health``)."""
        from gobstopper.ops.health import enable_health

        enable_health(self, live, ready)

    def readiness_check(
        self, func: F | None = None, *, name: str | None = None, timeout: float | None = None
    ) -> Any:
        """Make readiness depend on ``func()`` (sync or async) returning true in ``timeout`` s."""
        from gobstopper.ops.health import health_of

        def decorator(check: F) -> F:
            health_of(self).add_check(check, name, timeout)
            return check

        return decorator if func is None else decorator(func)

    def enable_metrics(self, path: str = "/metrics", **options: Any) -> Any:
        """Record requests and serve Prometheus metrics at ``path`` (``gobstopper.ops.metrics``)."""
        from gobstopper.ops.metrics import enable_metrics

        return enable_metrics(self, path, **options)

    def enable_access_log(self, logger: logging.Logger | None = None, *, json: bool = False) -> Any:
        """Log one structured record per request (``gobstopper.ops.access_log``)."""
        from gobstopper.ops.access_log import enable_access_log

        return enable_access_log(self, logger, json=json)

    def enable_tracing(self, tracer_provider: Any = None) -> Any:
        """Trace each request with OpenTelemetry (``gobstopper.ops.tracing``)."""
        from gobstopper.ops.tracing import enable_tracing

        return enable_tracing(self, tracer_provider)

    # -- lifecycle --------------------------------------------------------------
    async def startup(self) -> None:
        """Run startup hooks now (normally done before the first request)."""
        await self.lifecycle.startup()
        for _, sub_app in self._mounts:
            await sub_app.startup()

    async def shutdown(self, timeout: float | None = None) -> None:
        """Refuse new requests (503), wait for in-flight ones, then clean up.

        ``timeout`` defaults to ``WOPR_SHUTDOWN_TIMEOUT`` (10 s). Shutdown hooks
        run even when the wait times out; then WebSocket connections, the task
        queue and mounted apps are closed.
        """
        extra = [
            *self._shutdown_cleanups(),
            self._close_websockets,
            *(sub.shutdown for _, sub in self._mounts),
        ]
        await self.lifecycle.shutdown(timeout, extra)

    async def _close_websockets(self) -> None:
        """Close this app's (and mounted apps') open WebSockets with 1001."""
        if self.lifecycle.websockets:
            from gobstopper.core.ws_dispatch import close_all

            await close_all(self.lifecycle.websockets)
        for _, sub_app in self._mounts:
            await sub_app._close_websockets()

    # -- RSGI -------------------------------------------------------------------
    def __rsgi__(
        self, scope: RSGIScope | dict[str, Any], protocol: RSGIProtocol
    ) -> Awaitable[None]:
        """Granian's entry point for every HTTP request and WebSocket.

        Awaitable like an ``async def``: it returns the dispatcher's coroutine.
        A dict scope (hand-made in tests) is accepted and wrapped.
        """
        # PERF: a plain function handing back the dispatcher's coroutine saves one
        # coroutine frame per request (~0.3 us in the in-process benchmark).
        if isinstance(scope, dict):
            scope = scope_from_dict(scope)
        if scope.proto == "http":
            return (self._http or self._compile())(scope, protocol)
        if self._ws is None:
            self._compile()
        return self._ws(scope, protocol)  # type: ignore[misc]

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this in each worker before serving: compile and start.

        A failing startup hook stops the worker, and with it the server (see
        ``Lifecycle.start_worker``). It also watches SIGTERM/SIGINT so that a
        stopping worker answers new requests with 503 and gives in-flight ones
        ``WOPR_SHUTDOWN_TIMEOUT``.
        """
        from gobstopper.core.dispatch import HTTPDispatcher

        self._compile()
        # Every HTTP request (a mounted app's too) runs in an HTTPDispatcher.__call__.
        self.lifecycle.watch_signals(loop, HTTPDispatcher.__call__.__code__, self._close_websockets)
        if loop.is_running():
            # NOTE: Granian's embedded server calls this inside its running loop, where
            # nothing can be awaited: startup then runs on the first request, as documented.
            return
        self.lifecycle.start_worker(loop, self.startup)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this when the worker stops: graceful shutdown."""
        try:
            loop.run_until_complete(self.shutdown())
        except Exception:
            self.logger.exception("shutdown failed")

    # -- ASGI -------------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI 3 entry (uvicorn, hypercorn, ``granian --interface asgi``).

        ``gobstopper.core.asgi`` presents the connection as RSGI to the same
        dispatch: an HTTP request as an ``ASGIHTTPConnection`` (scope and
        protocol in one) handed to the HTTP entry, whose recorded answer is
        sent here; WebSocket and lifespan connections go to its ``serve``.
        """
        # NOTE: ``async def``, not a function returning a coroutine: servers tell
        # ASGI 3 from ASGI 2 by whether ``__call__`` is a coroutine function.
        if scope["type"] != "http":
            await _asgi_entry()(self, scope, receive, send)
            return
        # PERF: the HTTP request is served in this frame, with no ``serve`` coroutine
        # between it and the dispatcher's, and with one object as scope and protocol:
        # together ~3,800 instructions per request less (callgrind; more in asgi.py).
        conn = (_asgi_http or _load_asgi_http())(scope, receive, send)
        await (self._http or self._compile())(conn, conn)
        body = conn.body
        if body is None:
            await conn.finish()  # a file or a stream
        else:
            await send(conn.start)
            await send(body)

    def __repr__(self) -> str:
        return f"<Gobstopper {self.name!r}>"


def _proxy_trust(trust_all: bool | None, proxies: list[str] | str | None) -> ProxyTrust:
    """Arguments first, then ``GOBSTOPPER_*``; explicit False trusts nobody."""
    if trust_all is False:
        return ProxyTrust()
    env = ProxyTrust.from_env()
    networks = parse_networks(proxies) if proxies is not None else env.networks
    trust = env.trust_all if trust_all is None else trust_all
    return ProxyTrust(trust_all=trust and not networks, networks=networks)


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__
