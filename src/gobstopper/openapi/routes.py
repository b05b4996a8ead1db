"""Every HTTP route an app serves, as the builder needs to see it.

The router keeps compiled endpoints, not handlers; this walks the same
registrations ``core/route_table.py`` compiles (blueprints with their
prefixes and names, middleware chains, mounted apps) and yields what the
document is made of. It mirrors the router's precedence: for one rule and
method the first registration wins, and a mount hides the app's own routes
under its prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from gobstopper.core.route_table import join_paths

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.scaffold import Scaffold

#: How deep mounted apps are followed (as ``routing_report`` does).
MAX_MOUNT_DEPTH = 8


class RouteInfo(NamedTuple):
    """One registered HTTP route, with its prefixes applied."""

    rule: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    name: str
    #: The qualified name of the blueprint it belongs to (``"api.users"``), if any.
    blueprint: str | None
    #: The middleware it runs through, outermost first.
    chain: tuple[Callable[..., Any], ...]
    #: OpenAPI keywords given on the route decorator, if any (an ``Operation``).
    doc: Any = None


class _Scope(NamedTuple):
    prefix: str
    blueprint: str | None
    chain: tuple[Callable[..., Any], ...]


def _middleware_of(scaffold: Scaffold) -> tuple[Callable[..., Any], ...]:
    return tuple(spec.middleware for spec in sorted(scaffold._middleware))


def iter_routes(app: Gobstopper) -> Iterator[RouteInfo]:
    """The routes ``app`` answers, its mounted apps' under their prefixes."""
    yield from _app_routes(app, "", 0)


def _app_routes(app: Gobstopper, mount_prefix: str, depth: int) -> Iterator[RouteInfo]:
    mounts: list[tuple[str, Gobstopper]] = []
    for prefix, sub_app in app._mounts:
        if all(prefix != earlier for earlier, _ in mounts):  # an earlier mount wins
            mounts.append((prefix, sub_app))
    seen: set[tuple[str, str]] = set()
    root = _Scope("", None, _middleware_of(app))
    for route in _scaffold_routes(app, root):
        if any(route.rule == prefix or route.rule.startswith(prefix + "/") for prefix, _ in mounts):
            continue  # the mount answers these paths
        methods = tuple(m for m in route.methods if (route.rule, m) not in seen)
        seen.update((route.rule, m) for m in methods)
        if methods:
            yield route._replace(rule=_mounted(mount_prefix, route.rule), methods=methods)
    if depth < MAX_MOUNT_DEPTH:
        for prefix, sub_app in mounts:
            yield from _app_routes(sub_app, mount_prefix + prefix, depth + 1)


def _mounted(prefix: str, rule: str) -> str:
    """``rule`` as seen from outside a mount at ``prefix`` (``/`` is the prefix itself)."""
    if not prefix:
        return rule
    return prefix if rule == "/" else prefix + rule


def _scaffold_routes(scaffold: Scaffold, scope: _Scope) -> Iterator[RouteInfo]:
    for spec in scaffold._routes:
        name = spec.name if scope.blueprint is None else f"{scope.blueprint}.{spec.name}"
        yield RouteInfo(
            join_paths(scope.prefix, spec.rule),
            spec.methods,
            spec.handler,
            name,
            scope.blueprint,
            scope.chain + spec.middleware,
            spec.doc,
        )
    for blueprint, override in scaffold._blueprints:
        # Same prefix rule as route_table._add_blueprint.
        prefix = override if override is not None else (blueprint.url_prefix or "")
        qualified = (
            blueprint.name if scope.blueprint is None else f"{scope.blueprint}.{blueprint.name}"
        )
        child = _Scope(
            join_paths(scope.prefix, prefix) if prefix else scope.prefix,
            qualified,
            scope.chain + _middleware_of(blueprint),
        )
        yield from _scaffold_routes(blueprint, child)
