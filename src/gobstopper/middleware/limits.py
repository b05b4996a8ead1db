"""LimitsMiddleware: body limits per app, blueprint or route.

It only sets attributes on the request (``max_body_bytes``,
``max_json_depth``, ``body_limits``); the body parsers enforce them as they
read. Limits left as ``None`` keep the value from an enclosing
LimitsMiddleware or the framework default, so a route-level instance can
tighten one limit and inherit the rest.

Inside an app the instances are configuration, not steps: when a route is
compiled, every LimitsMiddleware in its chain is folded into one
``RouteLimits`` (``route_limits``) that is set on the request before the
first middleware runs. So a body read by any middleware of the route (the
CSRF check parsing a form, say) is bounded by the limits of the matched
route, wherever the LimitsMiddleware sits in the chain (CWE-770).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from gobstopper.http.body import DEFAULT_LIMITS, DEFAULT_MAX_BODY_BYTES, BodyLimits

_LIMIT_NAMES = BodyLimits._fields


def _check(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


class LimitsMiddleware:
    """Bound request bodies: size, JSON depth, form fields, files.

    ``max_body_bytes``: whole body (default 10 MiB; 413 past it).
    ``max_json_depth``: array/object nesting (default 64; 400 past it).
    ``max_form_fields`` (1000), ``max_files`` (100), ``max_file_bytes`` (no
    own limit), ``max_field_bytes`` (1 MiB), ``max_part_header_bytes``
    (8 KiB): 413 past the counts and sizes, 400 past the header size.
    ``max_file_memory_bytes`` (1 MiB): uploads above it go to a temporary
    file. ``None`` inherits. Use it as ``app.add_middleware(...)``,
    ``bp.add_middleware(...)`` or ``@app.post(..., middleware=[...])``;
    the innermost (most specific) instance wins, and its limits hold for
    every middleware of the route, also those that run before it.
    """

    def __init__(
        self,
        max_body_bytes: int | None = None,
        max_json_depth: int | None = None,
        max_form_fields: int | None = None,
        max_files: int | None = None,
        max_file_bytes: int | None = None,
        max_field_bytes: int | None = None,
        max_part_header_bytes: int | None = None,
        max_file_memory_bytes: int | None = None,
    ) -> None:
        given = dict(locals())
        del given["self"]
        for name, value in given.items():
            _check(name, value)
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.overrides: dict[str, int] = {
            name: given[name] for name in _LIMIT_NAMES if given[name] is not None
        }
        self._over_defaults = DEFAULT_LIMITS._replace(**self.overrides)

    def limits_for(self, current: BodyLimits) -> BodyLimits:
        """``current`` with this instance's overrides applied."""
        if not self.overrides:
            return current
        if current is DEFAULT_LIMITS:
            return self._over_defaults  # PERF: the common case allocates nothing.
        return current._replace(**self.overrides)

    async def __call__(self, request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if self.max_body_bytes is not None:
            request.max_body_bytes = self.max_body_bytes
        if self.max_json_depth is not None:
            request.max_json_depth = self.max_json_depth
        request.body_limits = self.limits_for(request.body_limits)
        return await call_next(request)

    def __repr__(self) -> str:
        set_ = {
            "max_body_bytes": self.max_body_bytes,
            "max_json_depth": self.max_json_depth,
            **self.overrides,
        }
        shown = ", ".join(f"{k}={v}" for k, v in set_.items() if v is not None)
        return f"LimitsMiddleware({shown})"


class RouteLimits(NamedTuple):
    """The limits a route's LimitsMiddleware instances add up to."""

    max_body_bytes: int | None
    max_json_depth: int | None
    body_limits: BodyLimits


def route_limits(chain: Sequence[object]) -> RouteLimits | None:
    """Fold the LimitsMiddleware in ``chain`` (outermost first); None if it has none.

    Inner instances override what they name, as if each had run in turn on a
    fresh request.
    """
    found = [item for item in chain if isinstance(item, LimitsMiddleware)]
    if not found:
        return None
    body: int | None = DEFAULT_MAX_BODY_BYTES
    depth: int | None = None
    limits = DEFAULT_LIMITS
    for item in found:
        if item.max_body_bytes is not None:
            body = item.max_body_bytes
        if item.max_json_depth is not None:
            depth = item.max_json_depth
        limits = item.limits_for(limits)
    return RouteLimits(body, depth, limits)
