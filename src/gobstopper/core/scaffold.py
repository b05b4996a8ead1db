"""Registration API shared by ``Gobstopper`` and ``Blueprint``.

Decorators are sugar over ``add_url_rule``/``add_websocket_rule``; every
registration is only recorded here. The app compiles the records into its
router and per-route pipelines (see ``route_table.py``), so nothing is looked
up per request.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from gobstopper.core.signatures import check_handler
from gobstopper.http.routing import Rule

if TYPE_CHECKING:
    from gobstopper.core.blueprint import Blueprint

F = TypeVar("F", bound=Callable[..., Any])
Middleware = Callable[..., Any]

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
_sequence = itertools.count()


# PERF: NamedTuples, not dataclasses (see CompiledRoute): ~0.4 ms less import time each.
class RouteSpec(NamedTuple):
    """One ``route()`` registration as written by the user."""

    rule: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    name: str
    middleware: tuple[Middleware, ...] = ()
    #: OpenAPI facts given on the decorator (a ``gobstopper.openapi.metadata.Operation``).
    doc: Any = None


class WebSocketSpec(NamedTuple):
    """One ``websocket()`` registration."""

    rule: str
    handler: Callable[..., Any]
    name: str


class MiddlewareSpec(NamedTuple):
    """A middleware with its priority; specs sort in the order the middleware runs.

    ``sort_key`` comes first and is unique, so sorting never compares middleware.
    """

    sort_key: tuple[int, int]
    middleware: Middleware
    priority: int

    @classmethod
    def registered(cls, middleware: Middleware, priority: int = 0) -> MiddlewareSpec:
        """A spec for ``middleware`` registered now: highest priority first, ties in
        registration order."""
        return cls((-priority, next(_sequence)), middleware, priority)


def _check_rule(rule: str) -> Rule:
    """Validate ``rule`` now: a typo fails at registration, not later."""
    if not isinstance(rule, str) or not rule.startswith("/"):
        raise ValueError(f"route path must be a string starting with '/', got {rule!r}")
    return Rule.compile(rule)


class Scaffold:
    """Records routes, middleware, hooks and nested blueprints."""

    #: Whether a registered rule is the whole path. False for a blueprint, whose
    #: prefix may add path parameters (its handlers are checked again on compile).
    _rules_complete = True

    def __init__(self) -> None:
        self._routes: list[RouteSpec] = []
        self._websocket_routes: list[WebSocketSpec] = []
        self._middleware: list[MiddlewareSpec] = []
        self._before_request: list[Callable[..., Any]] = []
        self._after_request: list[Callable[..., Any]] = []
        self._before_websocket: list[Callable[..., Any]] = []
        self._blueprints: list[tuple[Blueprint, str | None]] = []

    def _changed(self) -> None:
        """Note a registration; the app drops its compiled routes."""

    # -- HTTP routes ----------------------------------------------------------
    def add_url_rule(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: list[str] | tuple[str, ...] | None = None,
        name: str | None = None,
        middleware: list[Middleware] | tuple[Middleware, ...] = (),
        **openapi: Any,
    ) -> None:
        """Register ``handler`` for ``path`` and ``methods`` (default GET).

        Raises ``TypeError`` when ``handler`` cannot be called as
        ``handler(request, **path_params)`` (see ``signatures.check_handler``).
        ``openapi`` takes the OpenAPI keywords of ``gobstopper.openapi.operation``
        (``summary``, ``description``, ``tags``, ``responses``, ``deprecated``,
        ``include_in_schema``, ``files``, ``operation_id``) for this route alone.
        """
        wanted = tuple(m.upper() for m in (methods or ["GET"]))
        unknown = set(wanted) - _HTTP_METHODS
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {sorted(unknown)} for {path!r}")
        rule = _check_rule(path)
        check_handler(path, handler, rule.param_names, complete=self._rules_complete)
        doc = None
        if openapi:
            from gobstopper.openapi.metadata import describe

            doc = describe(**openapi)
        self._routes.append(
            RouteSpec(path, wanted, handler, name or handler.__name__, tuple(middleware), doc)
        )
        self._changed()

    def route(
        self,
        path: str,
        methods: list[str] | None = None,
        name: str | None = None,
        middleware: list[Middleware] | tuple[Middleware, ...] = (),
        **openapi: Any,
    ) -> Callable[[F], F]:
        """Register the decorated handler for ``path``; returns it unchanged.

        ``middleware`` adds route-level middleware (innermost in the chain);
        ``openapi`` keywords describe the route (see ``add_url_rule``).
        """

        def decorator(handler: F) -> F:
            self.add_url_rule(path, handler, methods, name, middleware, **openapi)
            return handler

        return decorator

    def get(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['GET'])``."""
        return self.route(path, ["GET"], name, **kwargs)

    def post(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['POST'])``."""
        return self.route(path, ["POST"], name, **kwargs)

    def put(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['PUT'])``."""
        return self.route(path, ["PUT"], name, **kwargs)

    def delete(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['DELETE'])``."""
        return self.route(path, ["DELETE"], name, **kwargs)

    def patch(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['PATCH'])``."""
        return self.route(path, ["PATCH"], name, **kwargs)

    def options(self, path: str, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        """``route(path, methods=['OPTIONS'])``."""
        return self.route(path, ["OPTIONS"], name, **kwargs)

    # -- WebSocket routes -----------------------------------------------------
    def add_websocket_rule(
        self, path: str, handler: Callable[..., Any], name: str | None = None
    ) -> None:
        """Register a WebSocket ``handler(websocket, **params)`` for ``path``.

        Raises ``TypeError`` when ``handler`` cannot be called that way.
        """
        rule = _check_rule(path)
        check_handler(
            path, handler, rule.param_names, websocket=True, complete=self._rules_complete
        )
        self._websocket_routes.append(WebSocketSpec(path, handler, name or handler.__name__))
        self._changed()

    def websocket(self, path: str, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated WebSocket handler for ``path``."""

        def decorator(handler: F) -> F:
            self.add_websocket_rule(path, handler, name)
            return handler

        return decorator

    # -- pipeline -------------------------------------------------------------
    def add_middleware(self, middleware: Middleware, priority: int = 0) -> None:
        """Add ``middleware(request, call_next)``; higher priority runs first."""
        if not callable(middleware):
            raise TypeError("middleware must be callable as middleware(request, call_next)")
        self._middleware.append(MiddlewareSpec.registered(middleware, priority))
        self._changed()

    def before_request(self, func: F) -> F:
        """Run ``func(request)`` before each handler; a non-None return answers."""
        self._before_request.append(func)
        self._changed()
        return func

    def after_request(self, func: F) -> F:
        """Run ``func(request, response)`` after each handler."""
        self._after_request.append(func)
        self._changed()
        return func

    def before_websocket(self, func: F) -> F:
        """Run ``func(websocket)`` before each WebSocket handler, before accept.

        Returning ``False`` (HTTP 403) or raising an ``HTTPException`` (its
        status) refuses the handshake before the handler runs; use it for
        authentication, which ``before_request`` (HTTP only) cannot do.
        """
        self._before_websocket.append(func)
        self._changed()
        return func

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None) -> None:
        """Nest ``blueprint`` here; ``url_prefix`` overrides the blueprint's own."""
        if url_prefix:
            _check_rule(url_prefix)
        if blueprint is self or _nests(blueprint, self):
            raise ValueError(f"registering {blueprint.name!r} here would nest it in itself")
        if any(bp is blueprint for bp, _ in self._blueprints):
            raise ValueError(f"blueprint {blueprint.name!r} is already registered here")
        self._blueprints.append((blueprint, url_prefix))
        blueprint._parents.append(self)
        self._changed()


def _nests(root: Scaffold, target: Scaffold) -> bool:
    """Is ``target`` registered somewhere below ``root``?"""
    pending = [bp for bp, _ in root._blueprints]
    seen: set[int] = set()
    while pending:
        blueprint = pending.pop()
        if blueprint is target:
            return True
        if id(blueprint) not in seen:
            seen.add(id(blueprint))
            pending.extend(bp for bp, _ in blueprint._blueprints)
    return False
