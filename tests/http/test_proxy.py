"""Proxy trust: who may tell us the client address, scheme and host."""

from __future__ import annotations

import ipaddress

import pytest

from gobstopper import Gobstopper
from gobstopper.http.proxy import ProxyTrust, split_peer
from gobstopper.testing import TestClient

XFF = {
    "x-forwarded-for": "203.0.113.9, 10.0.0.5",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "shop.example.com",
}


@pytest.fixture(autouse=True)
def _no_env_trust(monkeypatch):
    monkeypatch.delenv("GOBSTOPPER_TRUST_FORWARDED_HEADERS", raising=False)
    monkeypatch.delenv("GOBSTOPPER_TRUSTED_PROXIES", raising=False)


def seen_by(app: Gobstopper, peer: str = "10.0.0.1:5000", headers=None) -> dict:
    @app.get("/who")
    async def who(request):
        return {
            "ip": request.client_ip,
            "peer": request.peer_ip,
            "scheme": request.scheme,
            "host": request.host,
            "url": request.url,
        }

    with TestClient(app, client=peer) as client:
        return client.get("/who?x=1", headers=headers or XFF).json()


def test_forwarded_headers_are_ignored_by_default():
    assert seen_by(Gobstopper("default")) == {
        "ip": "10.0.0.1",
        "peer": "10.0.0.1",
        "scheme": "http",
        "host": "testserver",
        "url": "http://testserver/who?x=1",
    }


def test_env_trust_all_uses_the_rightmost_hop(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_TRUST_FORWARDED_HEADERS", "1")
    # Trusting every peer means every hop is trusted, so the leftmost wins.
    seen = seen_by(Gobstopper("trust-all"))
    assert seen["scheme"] == "https" and seen["host"] == "shop.example.com"
    assert seen["url"] == "https://shop.example.com/who?x=1"
    assert seen["ip"] == "203.0.113.9"


def test_trusted_proxies_from_env_pick_the_rightmost_untrusted_hop(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_TRUSTED_PROXIES", "10.0.0.0/8")
    headers = {"x-forwarded-for": "198.51.100.1, 203.0.113.9, 10.0.0.5"}
    assert seen_by(Gobstopper("cidr"), headers=headers)["ip"] == "203.0.113.9"


def test_untrusted_peers_cannot_spoof(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_TRUSTED_PROXIES", "10.0.0.1")
    seen = seen_by(Gobstopper("spoof"), peer="192.0.2.7:4000")
    assert seen["ip"] == "192.0.2.7" and seen["scheme"] == "http" and seen["host"] == "testserver"


def test_constructor_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_TRUST_FORWARDED_HEADERS", "1")
    monkeypatch.setenv("GOBSTOPPER_TRUSTED_PROXIES", "10.0.0.0/8")
    assert seen_by(Gobstopper("off", trust_forwarded_headers=False))["ip"] == "10.0.0.1"
    app = Gobstopper("list", trusted_proxies=["127.0.0.1"])
    assert seen_by(app)["ip"] == "10.0.0.1"  # env CIDR replaced by the argument
    app = Gobstopper("args", trusted_proxies="10.0.0.1, 10.0.0.5")
    assert seen_by(app)["ip"] == "203.0.113.9"


def test_constructor_trust_without_environment():
    app = Gobstopper("ctor", trust_forwarded_headers=True)
    assert seen_by(app)["scheme"] == "https"


def test_bad_proxy_configuration_fails_at_construction(monkeypatch):
    monkeypatch.setenv("GOBSTOPPER_TRUSTED_PROXIES", "10.0.0.0/8, not-an-ip")
    with pytest.raises(ValueError):
        Gobstopper("bad")


def test_forwarded_host_must_look_like_a_host():
    app = Gobstopper("host-check", trust_forwarded_headers=True)
    seen = seen_by(app, headers={"x-forwarded-host": "evil.example/path?x", "host": "real"})
    assert seen["host"] == "real"


def test_proto_and_host_come_from_the_nearest_proxy():
    app = Gobstopper("nearest", trust_forwarded_headers=True)
    seen = seen_by(
        app,
        headers={
            "x-forwarded-proto": "http, https",
            "x-forwarded-host": "spoofed.example, shop.example.com",
        },
    )
    assert seen["scheme"] == "https" and seen["host"] == "shop.example.com"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (None, "10.0.0.1"),
        ("", "10.0.0.1"),
        ("203.0.113.9:1234", "203.0.113.9"),
        ("[2001:db8::1]:443, 10.0.0.2", "2001:db8::1"),
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),
        ("garbage, 10.0.0.2", "garbage"),
    ],
)
def test_client_ip_chain_walk(forwarded, expected):
    trust = ProxyTrust(networks=(ipaddress.ip_network("10.0.0.0/8"),))
    assert trust.client_ip("10.0.0.1", forwarded) == expected


@pytest.mark.parametrize(
    ("client", "peer"),
    [
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        (None, "unknown"),
        ("", "unknown"),
        ("host-without-port", "host-without-port"),
    ],
)
def test_split_peer(client, peer):
    assert split_peer(client) == peer


def test_trust_flags():
    assert not ProxyTrust().enabled
    assert ProxyTrust(trust_all=True).trusts("anything")
    trust = ProxyTrust(networks=(ipaddress.ip_network("::1/128"),))
    assert trust.trusts("::1") and not trust.trusts("not an ip")
