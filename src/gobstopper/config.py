"""Every environment variable Gobstopper reads, in one place.

Values are read when asked for (not at import), so a test or a process
manager can change the environment before the app starts. Constructor
arguments always win over these: callers pass theirs first and fall back here.

It lives at the package top (not in ``core/``) because ``http/``,
``websocket/`` and ``tasks/`` read it too and must never import ``core/``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ipaddress

    IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = frozenset({"1", "true", "True", "TRUE", "yes", "Yes", "YES", "on"})


def _flag(name: str) -> bool:
    return os.environ.get(name, "") in _TRUE


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def is_production() -> bool:
    """``ENV=production``: cookie security is enforced."""
    return os.environ.get("ENV", "").strip().lower() == "production"


def allow_insecure_cookies() -> bool:
    """``WOPR_ALLOW_INSECURE_COOKIES``: ``Response.set_cookie`` keeps insecure flags.

    Not the session cookie: SecurityMiddleware's flags cannot be relaxed in production.
    """
    return _flag("WOPR_ALLOW_INSECURE_COOKIES")


def shutdown_timeout() -> float:
    """``WOPR_SHUTDOWN_TIMEOUT`` seconds for in-flight requests (default 10)."""
    return _number("WOPR_SHUTDOWN_TIMEOUT", 10.0)


def tasks_enabled() -> bool:
    """``WOPR_TASKS_ENABLED`` is 1/true/True/yes: the task queue is on."""
    return os.environ.get("WOPR_TASKS_ENABLED", "") in {"1", "true", "True", "yes"}


def max_ws_message_bytes() -> int:
    """``MAX_WS_MESSAGE_BYTES``: largest WebSocket message (default 1 MiB)."""
    return int(_number("MAX_WS_MESSAGE_BYTES", 1024 * 1024))


def ws_send_chunk_bytes() -> int:
    """``WS_SEND_CHUNK_BYTES``: see ``gobstopper.websocket.connection``."""
    return int(_number("WS_SEND_CHUNK_BYTES", 64 * 1024))


def trust_forwarded_headers() -> bool:
    """``GOBSTOPPER_TRUST_FORWARDED_HEADERS``: trust every peer."""
    return _flag("GOBSTOPPER_TRUST_FORWARDED_HEADERS")


def parse_networks(spec: str | list[str] | tuple[str, ...] | None) -> tuple[IPNetwork, ...]:
    """Parse addresses or CIDRs (a comma-separated string or a list)."""
    if not spec:
        return ()
    # PERF: lazy — ipaddress costs ~1-3 ms at import; only configured proxy trust needs it
    # (on Python >= 3.11.4 urllib.parse happens to import it anyway).
    import ipaddress

    items = spec.split(",") if isinstance(spec, str) else list(spec)
    networks = []
    for item in items:
        item = item.strip()
        if item:
            networks.append(ipaddress.ip_network(item, strict=False))
    return tuple(networks)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """``GOBSTOPPER_TRUSTED_PROXIES``: comma-separated addresses or CIDRs."""
    return parse_networks(os.environ.get("GOBSTOPPER_TRUSTED_PROXIES"))


def allowed_hosts() -> tuple[str, ...] | None:
    """``GOBSTOPPER_ALLOWED_HOSTS``: comma-separated host patterns (None if unset)."""
    raw = os.environ.get("GOBSTOPPER_ALLOWED_HOSTS", "")
    entries = tuple(item.strip() for item in raw.split(",") if item.strip())
    return entries or None


def prometheus_multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR``: prometheus-client's multiprocess mode when set."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
