"""Cookie parsing (request side) and Set-Cookie building (response side).

Set-Cookie building refuses anything that could inject attributes or headers
(``;``, ``,``, CR/LF, control characters in names; the same in values is
quoted-and-escaped or rejected) and, under ``ENV=production``, upgrades
insecure flags unless ``WOPR_ALLOW_INSECURE_COOKIES`` is set.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gobstopper import config
from gobstopper.logs import logger_named

if TYPE_CHECKING:
    import logging

# RFC 6265 token characters for cookie names.
_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# cookie-octet: printable ASCII except space, DQUOTE, comma, semicolon and backslash.
_PLAIN_VALUE_RE = re.compile(r"^[!#-+\--:<-\[\]-~]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_ATTR_RE = re.compile(r"^[^;\x00-\x1f\x7f]*$")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header into ``{name: value}`` (first one wins).

    Quoted values are unquoted, undoing the escapes ``build_set_cookie``
    writes (``\\073`` for ``;``, ``\\"`` for ``"``), so values round-trip.
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            continue
        name = name.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _unquote_value(value[1:-1])
        if name and name not in cookies:
            cookies[name] = value
    return cookies


_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7]{2})|(.))")


def _unquote_value(text: str) -> str:
    if "\\" not in text:
        return text
    out = bytearray()
    pos = 0
    for m in _ESCAPE_RE.finditer(text):
        out += text[pos : m.start()].encode("utf-8", "surrogateescape")
        out += bytes([int(m[1], 8)]) if m[1] else m[2].encode("utf-8", "surrogateescape")
        pos = m.end()
    out += text[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "replace")


def _quote_value(value: str) -> str:
    """The value as cookie-octets, or quoted with unsafe bytes escaped.

    NOTE: browsers end a cookie value at the first ``;`` even inside quotes,
    so ``;``, ``,``, spaces and non-ASCII characters are written as octal
    escapes (as Python's ``http.cookies`` does) — never literally.
    """
    if _PLAIN_VALUE_RE.match(value):
        return value
    if _CONTROL_RE.search(value):
        raise ValueError("cookie value must not contain control characters (CR, LF, ...)")
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif byte < 0x80 and _PLAIN_VALUE_RE.match(char):
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _check_attr(label: str, value: str) -> str:
    if not _ATTR_RE.match(value):
        raise ValueError(f"cookie {label} must not contain ';' or control characters")
    return value


def _logger() -> logging.Logger:
    return logger_named("gobstopper.cookies")


def _enforce_production(
    name: str, secure: bool, httponly: bool, samesite: str | None
) -> tuple[bool, bool, str | None]:
    if not config.is_production() or config.allow_insecure_cookies():
        return secure, httponly, samesite
    logger = _logger()
    if not secure:
        logger.warning("cookie %r: secure=False overridden to True in production", name)
        secure = True
    if not httponly:
        logger.warning("cookie %r: httponly=False overridden to True in production", name)
        httponly = True
    if samesite is None or samesite == "None":
        logger.warning("cookie %r: samesite=%r overridden to 'Lax' in production", name, samesite)
        samesite = "Lax"
    return secure, httponly, samesite


def build_set_cookie(
    name: str,
    value: str,
    *,
    path: str = "/",
    domain: str | None = None,
    max_age: int | None = None,
    expires: str | datetime | None = None,
    secure: bool = True,
    httponly: bool = True,
    samesite: str | None = "Strict",
) -> str:
    """Return the value of one ``Set-Cookie`` header.

    Raises ``ValueError`` for a name that is not an RFC 6265 token, a value or
    attribute with control characters, or an unknown ``samesite``.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid cookie name {name!r}")
    secure, httponly, samesite = _enforce_production(
        name, secure, httponly, _normalise_samesite(samesite)
    )
    if samesite == "None" and not secure:
        # Browsers reject SameSite=None without Secure; say so instead of failing silently.
        raise ValueError("samesite='None' requires secure=True")
    parts = [f"{name}={_quote_value(str(value))}"]
    if path:
        parts.append(f"Path={_check_attr('path', path)}")
    if domain:
        parts.append(f"Domain={_check_attr('domain', domain)}")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={_check_attr('expires', _http_date(expires))}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        parts.append(f"SameSite={samesite}")
    return "; ".join(parts)


def _normalise_samesite(samesite: str | None) -> str | None:
    if samesite is None:
        return None
    normalised = _SAMESITE.get(str(samesite).lower())
    if normalised is None:
        raise ValueError("samesite must be 'Strict', 'Lax', 'None' or None")
    return normalised


def _http_date(expires: str | datetime) -> str:
    if isinstance(expires, str):
        return expires
    # PERF: lazy — email.utils costs ~8 ms at import; only datetime expiries need it.
    from email.utils import format_datetime

    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return format_datetime(expires.astimezone(UTC), usegmt=True)


def build_delete_cookie(name: str, *, path: str = "/", domain: str | None = None) -> str:
    """Return a ``Set-Cookie`` value that expires ``name`` immediately."""
    return build_set_cookie(
        name,
        "",
        path=path,
        domain=domain,
        max_age=0,
        expires="Thu, 01 Jan 1970 00:00:00 GMT",
        secure=True,
        httponly=True,
        samesite="Lax",
    )
