"""SecurityMiddleware's settings, checked once at construction.

The secret key, the session cookie's flags (forced under ``ENV=production``),
the security header values and the default session directory.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from gobstopper import config

logger = logging.getLogger("gobstopper.security")

_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def default_session_dir() -> Path:
    """``<tempdir>/gobstopper-sessions-<uid>``, refused unless private to this user."""
    if not hasattr(os, "getuid"):  # Windows: the temp folder is already per user
        return Path(tempfile.gettempdir()) / "gobstopper-sessions"
    uid = os.getuid()
    path = Path(tempfile.gettempdir()) / f"gobstopper-sessions-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise RuntimeError(
            f"session directory {path} is not a private directory of this user; "
            "pass session_storage=FileSessionStorage(<a directory of yours>)"
        )
    return path


def secret_or_random(secret_key: str | None, debug: bool) -> str:
    """``secret_key``, or a random one outside production (logged unless ``debug``)."""
    if secret_key:
        return secret_key
    if config.is_production():
        raise ValueError(
            "SecurityMiddleware needs a secret_key under ENV=production: pass "
            "secret_key=os.environ['SECRET_KEY'] and set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')"
        )
    if not debug:
        logger.warning(
            "SecurityMiddleware: no secret_key given, using a random one; signed session "
            "ids will not survive a restart nor work across several workers or servers"
        )
    return secrets.token_urlsafe(64)


def cookie_flags(secure: bool, httponly: bool, samesite: str) -> tuple[bool, bool, str]:
    """The session cookie's flags, checked, and upgraded under ENV=production.

    The reference says these "cannot be disabled in production", so
    ``WOPR_ALLOW_INSECURE_COOKIES`` (the opt-out for ``Response.set_cookie``)
    does not relax them.
    """
    normalised = _SAMESITE.get(str(samesite).lower())
    if normalised is None:
        raise ValueError(f"cookie_samesite must be 'Strict', 'Lax' or 'None', not {samesite!r}")
    if normalised == "None" and not secure:
        raise ValueError("cookie_samesite='None' requires cookie_secure=True")
    if not config.is_production():
        return secure, httponly, normalised
    if (secure, httponly, normalised) != (True, True, "Strict"):
        logger.warning(
            "ENV=production: the session cookie is forced to Secure; HttpOnly; "
            "SameSite=Strict (WOPR_ALLOW_INSECURE_COOKIES does not change it)"
        )
    return True, True, "Strict"


def header_pairs(csp: str, referrer: str, coop: str, coep: str) -> tuple[tuple[str, str], ...]:
    """The fixed security headers; an empty policy leaves its header out."""
    pairs = (
        ("content-security-policy", csp),
        ("referrer-policy", referrer),
        ("cross-origin-opener-policy", coop),
        ("cross-origin-embedder-policy", coep),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    )
    for name, value in pairs:
        if value and any(char in value for char in "\r\n\x00"):
            raise ValueError(f"{name} must not contain CR, LF or NUL")
    return tuple((name, value) for name, value in pairs if value)


def hsts_value(max_age: int, include_subdomains: bool) -> str:
    """The Strict-Transport-Security value."""
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"hsts_max_age must be a non-negative int, not {max_age!r}")
    return f"max-age={max_age}" + ("; includeSubDomains" if include_subdomains else "")
