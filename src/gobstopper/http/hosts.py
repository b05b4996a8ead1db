"""The host a request is for: Host header checks and allowed hosts.

The host (``Host``, or the target's authority for absolute-form targets and
HTTP/2's ``:authority``) flows into ``request.host`` and ``request.url``, and
from there into absolute links, password-reset mails and cache keys, so a
forged one (``evil.com/reset?token=``, ``evil.com"><script>``) is host-header
injection. The dispatcher asks ``HostPolicy.check`` about every request and
answers 400 when:

* an HTTP/1.1 request has no Host, or any request more than one
  (RFC 9112 §3.2);
* the host is not a name, an IPv4 address or a bracketed IPv6 address with an
  optional ``:port`` (RFC 3986 §3.2.2). Names are letters, digits, ``-``,
  ``_`` and dot-separated labels: what DNS and service names use, stricter
  than RFC 3986's reg-name, whose percent-escapes and sub-delimiters
  (``'``, ``(``, ``;``, ...) no real host needs;
* ``allowed_hosts`` is configured and the host is not in it (Django's
  ``ALLOWED_HOSTS``, Starlette's ``TrustedHostMiddleware``): exact names,
  ``*.example.com`` for any subdomain, ``*`` for any host. Names compare
  case-insensitively, without the port and a trailing dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gobstopper import config
from gobstopper.http.errors import BadRequest

if TYPE_CHECKING:
    from gobstopper.rsgi_types import RSGIScope

_HOST_RE = re.compile(r"(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9_.-]{1,254}))(?::([0-9]{1,5}))?")
_LABEL_RE = re.compile(r"[A-Za-z0-9_-]{1,63}")
#: Accepted host values remembered so the next request with the same one costs
#: one set lookup; a bound keeps forged names from growing it.
_REMEMBERED = 64
_ANY = "*"


def host_name(value: str) -> str | None:
    """``value``'s host name in canonical form, or None if it is not ``host[:port]``.

    Lower case, without the port and a trailing dot; an IPv6 address keeps
    its brackets, compressed (``[0:0::1]`` → ``[::1]``).
    """
    match = _HOST_RE.fullmatch(value)
    if match is None:
        return None
    literal, name, port = match.groups()
    if port is not None and int(port) > 65535:
        return None
    if literal is not None:
        # PERF: lazy — ipaddress costs ~1-3 ms at import; only IPv6 hosts need it.
        from ipaddress import IPv6Address

        try:
            return f"[{IPv6Address(literal).compressed}]"
        except ValueError:
            return None
    name = name[:-1] if name.endswith(".") else name
    if not all(_LABEL_RE.fullmatch(label) for label in name.split(".")):
        return None
    return name.lower()


class HostPolicy:
    """Which hosts an app answers for; ``check(scope)`` runs per request.

    ``allowed_hosts`` None (the default) accepts any well-formed host; a
    list restricts to its entries (ValueError for an entry that is not a
    host name, ``*.`` + a name, or ``*``).
    """

    __slots__ = ("_accepted", "_any", "_exact", "_suffixes", "allowed_hosts")

    def __init__(self, allowed_hosts: Iterable[str] | None = None) -> None:
        self.allowed_hosts = None if allowed_hosts is None else _checked(allowed_hosts)
        entries = self.allowed_hosts or (_ANY,)
        self._any = _ANY in entries
        self._exact = frozenset(
            host_name(entry) for entry in entries if entry != _ANY and not entry.startswith("*.")
        )
        self._suffixes = tuple(
            f".{host_name(entry[2:])}" for entry in entries if entry.startswith("*.")
        )
        self._accepted: set[str] = set()

    @classmethod
    def configured(cls, allowed_hosts: Iterable[str] | None) -> HostPolicy:
        """``allowed_hosts`` if given, else ``GOBSTOPPER_ALLOWED_HOSTS``, else any host."""
        return cls(config.allowed_hosts() if allowed_hosts is None else allowed_hosts)

    @property
    def restricted(self) -> bool:
        """True when only some hosts are allowed."""
        return not self._any

    def allows(self, name: str) -> bool:
        """Is the canonical host name ``name`` (see ``host_name``) allowed?"""
        return self._any or name in self._exact or name.endswith(self._suffixes)

    def check(self, scope: RSGIScope) -> None:
        """Raise ``BadRequest`` unless ``scope`` names exactly one allowed, well-formed host.

        PERF: runs on every request. A host seen before costs one header read
        and one set lookup: timeit on a real Granian 2.8.9 scope in a worker
        on the 2-core benchmark machine gave 0.44-0.54 us per check, 0.27 us
        of it Granian's ``scope.headers.get_all`` (``get`` alone is 0.21-0.24
        us, but cannot see a repeated Host); inlining it in the dispatcher saved
        under 0.1 us, not worth a second copy. New hosts take ``_check_slowly``.
        """
        hosts = scope.headers.get_all("host")
        if len(hosts) == 1 and hosts[0] in self._accepted and not scope.authority:
            return
        self._check_slowly(scope, hosts)

    def _check_slowly(self, scope: RSGIScope, hosts: list[str]) -> None:
        """``check`` for a host not seen before, a missing or repeated Host."""
        if len(hosts) > 1:
            raise BadRequest("More than one Host header")
        # An absolute-form target's authority (or HTTP/2's :authority) names the host,
        # whatever Host says (RFC 9112 §3.2.2); Host must still be there on HTTP/1.1.
        value = scope.authority or (hosts[0] if hosts else None)
        if not hosts and scope.http_version == "1.1":
            raise BadRequest("Missing Host header")
        if value is None:
            return  # HTTP/1.0 without a host: request.host is the server's own address
        self.accept(value)
        if len(self._accepted) < _REMEMBERED:
            self._accepted.add(value)

    def accept(self, value: str) -> str:
        """``value``'s canonical name, or ``BadRequest`` if malformed or not allowed."""
        name = host_name(value)
        if name is None:
            raise BadRequest("Invalid Host header")
        if not self.allows(name):
            raise BadRequest("Host not allowed")
        return name

    def warn_if_unrestricted(self) -> None:
        """Log once at startup when production runs without ``allowed_hosts``."""
        if not self.restricted and config.is_production():
            # PERF: lazy — logging costs ~4 ms at import; only this warning needs it.
            import logging

            logging.getLogger("gobstopper.hosts").warning(
                "ENV=production and no allowed hosts: any well-formed Host is answered; "
                "set GOBSTOPPER_ALLOWED_HOSTS=example.com,*.example.com "
                "or Gobstopper(allowed_hosts=[...])"
            )

    def __repr__(self) -> str:
        return f"HostPolicy(allowed_hosts={self.allowed_hosts!r})"


def _checked(entries: Iterable[str]) -> tuple[str, ...]:
    """``entries`` as a tuple, each one a valid pattern (else ValueError)."""
    if isinstance(entries, str):
        raise TypeError("allowed_hosts must be a list of host names, not a str")
    checked = tuple(entries)
    if not checked:
        raise ValueError("allowed_hosts must list at least one host (or ['*'] for any)")
    for entry in checked:
        if not _is_pattern(entry):
            raise ValueError(
                f"allowed_hosts entry {entry!r} must be a host name without a port "
                "('example.com', '[::1]'), '*.example.com' or '*'"
            )
    return checked


def _is_pattern(entry: object) -> bool:
    if not isinstance(entry, str):
        return False
    if entry == _ANY:
        return True
    name = entry[2:] if entry.startswith("*.") else entry
    match = _HOST_RE.fullmatch(name)
    return match is not None and match[3] is None and host_name(name) is not None
