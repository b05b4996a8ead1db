"""Which peers may tell us the real client address, scheme and host.

By default nobody is trusted: ``client_ip`` is the TCP peer and
``X-Forwarded-*`` headers are ignored (a client could otherwise claim any
address and defeat rate limits). Trust is switched on with a list of proxy
addresses/CIDRs, or for every peer with ``trust_all`` (only behind a proxy
that overwrites these headers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gobstopper import config

if TYPE_CHECKING:
    from gobstopper.config import IPNetwork


class ProxyTrust:
    """Trust settings for X-Forwarded-For/-Proto/-Host."""

    __slots__ = ("_parse_ip", "networks", "trust_all")

    def __init__(
        self,
        trust_all: bool = False,
        networks: tuple[IPNetwork, ...] = (),
    ) -> None:
        self.trust_all = trust_all
        self.networks = networks
        # Resolved here, once: ``trusts`` runs per request when proxies are configured.
        self._parse_ip: Callable[[str], Any] | None = _ip_parser() if networks else None

    @classmethod
    def from_env(cls) -> ProxyTrust:
        """Read the ``GOBSTOPPER_TRUST*`` environment variables."""
        networks = config.trusted_proxies()
        return cls(trust_all=config.trust_forwarded_headers() and not networks, networks=networks)

    @property
    def enabled(self) -> bool:
        return self.trust_all or bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Is ``address`` a proxy whose forwarded headers we believe?"""
        if self.trust_all:
            return True
        networks = self.networks
        if not networks:
            return False
        try:
            ip = (self._parse_ip or _ip_parser())(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The rightmost address in the chain that is not a trusted proxy."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        candidate = peer
        for hop in reversed(hops):
            candidate = _strip_port(hop)
            if not self.trusts(candidate):
                return candidate
        return candidate


def _ip_parser() -> Callable[[str], Any]:
    # PERF: lazy — ipaddress costs ~1-3 ms at import; only configured proxy trust needs it.
    from ipaddress import ip_address

    return ip_address


def _strip_port(hop: str) -> str:
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def split_peer(client: str | None) -> str:
    """``'1.2.3.4:5678'`` → ``'1.2.3.4'``; ``'[::1]:80'`` → ``'::1'``."""
    if not client:
        return "unknown"
    if client.startswith("["):
        return client[1:].split("]", 1)[0]
    host, sep, port = client.rpartition(":")
    if sep and port.isdigit() and host and host.count(":") == 0:
        return host
    return client
