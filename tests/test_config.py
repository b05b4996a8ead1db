"""Environment variables, read when asked for."""

from __future__ import annotations

import ipaddress

import pytest

from gobstopper import config


def test_defaults(monkeypatch):
    for name in [
        "ENV",
        "WOPR_ALLOW_INSECURE_COOKIES",
        "WOPR_SHUTDOWN_TIMEOUT",
        "WOPR_TASKS_ENABLED",
        "MAX_WS_MESSAGE_BYTES",
        "WS_SEND_CHUNK_BYTES",
        "GOBSTOPPER_TRUST_FORWARDED_HEADERS",
        "GOBSTOPPER_TRUSTED_PROXIES",
    ]:
        monkeypatch.delenv(name, raising=False)
    assert not config.is_production()
    assert not config.allow_insecure_cookies()
    assert config.shutdown_timeout() == 10.0
    assert not config.tasks_enabled()
    assert config.max_ws_message_bytes() == 1024 * 1024
    assert config.ws_send_chunk_bytes() == 64 * 1024
    assert not config.trust_forwarded_headers()
    assert config.trusted_proxies() == ()


def test_values_are_read_at_call_time(monkeypatch):
    monkeypatch.setenv("ENV", " Production ")
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", "2.5")
    monkeypatch.setenv("WOPR_ALLOW_INSECURE_COOKIES", "true")
    monkeypatch.setenv("GOBSTOPPER_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
    assert config.is_production()
    assert config.shutdown_timeout() == 2.5
    assert config.allow_insecure_cookies()
    assert config.trusted_proxies() == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.1/32"),
    )


@pytest.mark.parametrize("raw", ["abc", "-1"])
def test_bad_numbers_name_the_variable(monkeypatch, raw):
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", raw)
    with pytest.raises(ValueError, match="WOPR_SHUTDOWN_TIMEOUT"):
        config.shutdown_timeout()


def test_parse_networks_accepts_lists_and_rejects_garbage():
    assert config.parse_networks(["::1", " "]) == (ipaddress.ip_network("::1/128"),)
    assert config.parse_networks(None) == ()
    with pytest.raises(ValueError):
        config.parse_networks("not-a-network")
