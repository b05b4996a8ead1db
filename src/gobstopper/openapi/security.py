"""Security schemes for routes behind ``SecurityMiddleware``.

The middleware reads a session cookie on every request (optional: without
one the session starts empty) and, with ``enable_csrf``, refuses unsafe
methods (403) unless they echo the session's token in ``X-CSRF-Token`` (or
a ``csrf_token`` form field). The document says exactly that: the cookie
is an optional scheme on safe methods, cookie and token are required
together on unsafe ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from gobstopper.middleware.csrf import SAFE_METHODS
from gobstopper.middleware.security import SecurityMiddleware

CSRF_HEADER = "X-CSRF-Token"
CSRF_SCHEME = "csrfToken"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class RouteSecurity(NamedTuple):
    """How one operation is protected, and whether CSRF can refuse it."""

    requirements: list[dict[str, list[str]]]
    csrf: bool


def middleware_of(chain: Sequence[Callable[..., Any]]) -> SecurityMiddleware | None:
    """The outermost ``SecurityMiddleware`` in a route's chain, if any."""
    for middleware in chain:
        if isinstance(middleware, SecurityMiddleware):
            return middleware
    return None


def cookie_scheme_name(security: SecurityMiddleware) -> str:
    """``sessionCookie``, or ``sessionCookie-<name>`` for another cookie name."""
    if security.cookie_name == "session_id":
        return "sessionCookie"
    return "sessionCookie-" + _UNSAFE_NAME.sub("_", security.cookie_name)


def schemes(security: SecurityMiddleware) -> dict[str, Any]:
    """The Security Scheme Objects ``security`` needs (``components/securitySchemes``)."""
    found: dict[str, Any] = {
        cookie_scheme_name(security): {
            "type": "apiKey",
            "in": "cookie",
            "name": security.cookie_name,
            "description": "Session id set by the server after the session is first written",
        }
    }
    if security.enable_csrf:
        found[CSRF_SCHEME] = {
            "type": "apiKey",
            "in": "header",
            "name": CSRF_HEADER,
            "description": "The session's CSRF token, required on unsafe methods",
        }
    return found


def route_security(security: SecurityMiddleware, method: str) -> RouteSecurity:
    """The Security Requirements for ``method`` on a route behind ``security``."""
    cookie = cookie_scheme_name(security)
    if security.enable_csrf and method not in SAFE_METHODS:
        return RouteSecurity([{cookie: [], CSRF_SCHEME: []}], True)
    return RouteSecurity([{}, {cookie: []}], False)
