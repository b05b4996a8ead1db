"""CSRF tokens for SecurityMiddleware: masking, where a request carries one, and the check.

Each session keeps one random secret (32 bytes, base64url) under
``csrf_token``. Pages never embed the secret itself: every
``generate_csrf_token`` call returns it masked with a fresh one-time pad,
``base64url(pad + (pad XOR secret))`` (86 characters), so the token differs on
every render and a compression side channel (BREACH, CVE-2013-3587) has no
repeated secret to recover; all of them are valid for the session, as with
Django ≥ 1.10 and Rails' ``masked_authenticity_token``. ``rotate_token``
replaces the secret, voiding every token handed out before (call it at login:
``regenerate_session_id`` does).

An unsafe request (anything but GET, HEAD, OPTIONS, TRACE) must echo a token
in the ``X-CSRF-Token`` (or ``X-CSRFToken``) header, or in a ``csrf_token``
form field of an urlencoded or multipart body. A request that does not is
refused with ``CSRFError``, a 403 answered like any other error. Malformed
values (wrong length, not base64url, the bare secret) are refused; the
comparison with the secret is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
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
_SECRET_BYTES = 32
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_MASKED_RE = re.compile(r"[A-Za-z0-9_-]{86}")


class CSRFError(Forbidden):
    """403: an unsafe request did not echo its session's CSRF token."""

    description = "CSRF token missing or invalid"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, pattern: re.Pattern[str]) -> bytes | None:
    """The bytes of canonical unpadded base64url ``text`` matching ``pattern``; else None."""
    if not pattern.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Spare bits set in the last character decode to the same bytes: refuse those twins.
    return data if _b64encode(data) == text else None


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(
        _SECRET_BYTES, "big"
    )


def _secret(session: dict[str, Any]) -> bytes | None:
    """The session's secret, or None if it has none (or a malformed one)."""
    stored = session.get(CSRF_FIELD)
    return _b64decode(stored, _SECRET_RE) if isinstance(stored, str) else None


def _new_secret(session: dict[str, Any]) -> bytes:
    secret = secrets.token_bytes(_SECRET_BYTES)
    session[CSRF_FIELD] = _b64encode(secret)
    return secret


def rotate_token(session: dict[str, Any]) -> None:
    """Give the session a new secret: every token handed out before stops working."""
    _new_secret(session)


def session_token(session: dict[str, Any]) -> str:
    """A freshly masked token for the session's secret (created if it has none)."""
    secret = _secret(session) or _new_secret(session)
    pad = secrets.token_bytes(_SECRET_BYTES)
    return _b64encode(pad + _xor(pad, secret))


def token_matches(session: dict[str, Any], sent: str) -> bool:
    """Does ``sent`` unmask to the session's secret? Constant-time in the secret."""
    secret = _secret(session)
    masked = _b64decode(sent, _MASKED_RE)
    if secret is None or masked is None:
        return False
    pad, cipher = masked[:_SECRET_BYTES], masked[_SECRET_BYTES:]
    return hmac.compare_digest(_xor(pad, cipher), secret)


async def submitted_token(request: Request) -> str | None:
    """The token the request sent: a header first, else a form field.

    The body is parsed only for form content types, through ``get_form()``
    under the route's limits, so the handler still reads the same (cached)
    form and files afterwards.
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
    """True when ``request`` is safe or echoes a token of its session."""
    if request.method in SAFE_METHODS:
        return True
    session = request.session or {}
    if _secret(session) is None:
        return False  # nothing to compare with: no need to read the body
    sent = await submitted_token(request)
    return sent is not None and token_matches(session, sent)
