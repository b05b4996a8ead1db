"""CSRF tokens for SecurityMiddleware: where a request carries one, and the check.

A token is a random string kept in the session under ``csrf_token``. An
unsafe request (anything but GET, HEAD, OPTIONS, TRACE) must echo it in the
``X-CSRF-Token`` (or ``X-CSRFToken``) header, or in a ``csrf_token`` form
field of an urlencoded or multipart body. A request that does not is refused
with ``CSRFError``, a 403 answered like any other error: the themed page or
JSON by ``Accept``, or the app's ``error_handler(403)``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from gobstopper.http.body import FORM_URLENCODED, MULTIPART_FORM, media_type
from gobstopper.http.errors import Forbidden
from gobstopper.http.request import Request

#: The session key and form field holding the token.
CSRF_FIELD = "csrf_token"
#: Request headers that may carry the token, in the order they are read.
CSRF_HEADERS = ("x-csrf-token", "x-csrftoken")
#: Methods that must not change state, so are never checked (RFC 9110 §9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_FORM_TYPES = (FORM_URLENCODED, MULTIPART_FORM)


class CSRFError(Forbidden):
    """403: an unsafe request did not echo its session's CSRF token."""

    description = "CSRF token missing or invalid"


def session_token(session: dict[str, Any]) -> str:
    """The session's token, created (``secrets.token_urlsafe(32)``) if it has none."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def submitted_token(request: Request) -> str | None:
    """The token the request sent: a header first, else a form field.

    The body is parsed only for form content types, through ``get_form()``,
    so the handler still reads the same (cached) form and files afterwards.
    """
    for name in CSRF_HEADERS:
        value = request.headers.get(name)
        if value:
            return value
    if media_type(request.headers) in _FORM_TYPES:
        values = (await request.get_form()).get(CSRF_FIELD)
        if values:
            return values[0]
    return None


async def request_is_trusted(request: Request) -> bool:
    """True when ``request`` is safe or echoes its session's token."""
    if request.method in SAFE_METHODS:
        return True
    expected = (request.session or {}).get(CSRF_FIELD)
    if not isinstance(expected, str) or not expected:
        return False
    sent = await submitted_token(request)
    # Bytes: compare_digest refuses non-ASCII str, and a client may send anything.
    return sent is not None and hmac.compare_digest(
        expected.encode(), sent.encode("utf-8", "surrogatepass")
    )
