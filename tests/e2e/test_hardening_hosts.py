"""Issue 15 over a real Granian server: malformed, repeated and not allowed Hosts are 400.

Raw sockets, because HTTP clients will not send most of these Hosts.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.hardening import hardening_server, raw_request, status_of

pytestmark = pytest.mark.e2e

ALLOWED = "app.example,*.app.example,[::1],127.0.0.1"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    with hardening_server(tmp_path_factory.mktemp("hosts-open")) as running:
        yield running


@pytest.fixture(scope="module")
def restricted_server(tmp_path_factory):
    env = {"GOBSTOPPER_ALLOWED_HOSTS": ALLOWED, "GOBSTOPPER_TRUSTED_PROXIES": "127.0.0.1"}
    with hardening_server(tmp_path_factory.mktemp("hosts-restricted"), **env) as running:
        yield running


def ask(
    port: int, *headers: bytes, target: bytes = b"/whoami", version: bytes = b"HTTP/1.1"
) -> tuple[int, bytes]:
    head = b"GET " + target + b" " + version + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    raw = raw_request(port, head + b"Connection: close\r\n\r\n")
    return status_of(raw), raw.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    "host_lines",
    [
        pytest.param([b'Host: evil.com"><script>'], id="markup"),
        pytest.param([b"Host: evil.com/reset?token="], id="path-and-query"),
        pytest.param([b"Host: evil.com:80@good.example"], id="userinfo"),
        pytest.param([b"Host: good.example", b"Host: evil.com"], id="two-hosts"),
        pytest.param([b"Host: good.example", b"Host: good.example"], id="same-host-twice"),
        pytest.param([b"Host:"], id="empty"),
        pytest.param([], id="missing"),
        pytest.param([b"Host: good.example:99999"], id="port-too-big"),
        pytest.param([b"Host: good.example:"], id="empty-port"),
        pytest.param([b"Host: good.example:8x"], id="bad-port"),
        pytest.param([b"Host: a..example"], id="empty-label"),
        pytest.param([b"Host: .example"], id="leading-dot"),
        pytest.param([b"Host: good example"], id="space"),
        pytest.param([b"Host: good.example, evil.com"], id="list"),
        pytest.param([b"Host: [::1"], id="open-bracket"),
        pytest.param([b"Host: [zz::1]"], id="bad-ipv6"),
        pytest.param([b"Host: ::1"], id="bare-ipv6"),
        pytest.param([b"Host: %65vil.com"], id="percent-escape"),
        pytest.param([b"Host: " + b"a" * 64 + b".example"], id="label-too-long"),
    ],
)
def test_malformed_or_repeated_hosts_are_400(open_server, host_lines):
    status, body = ask(open_server.port, *host_lines)
    assert status == 400
    assert b"evil" not in body and b"<script>" not in body


@pytest.mark.parametrize(
    ("host", "expected_url"),
    [
        (b"good.example", "http://good.example/whoami"),
        (b"good.example:8000", "http://good.example:8000/whoami"),
        (b"GOOD.Example.", "http://GOOD.Example./whoami"),
        (b"127.0.0.1:8000", "http://127.0.0.1:8000/whoami"),
        (b"[::1]:8000", "http://[::1]:8000/whoami"),
        (b"my_service", "http://my_service/whoami"),
    ],
)
def test_well_formed_hosts_are_served(open_server, host, expected_url):
    status, body = ask(open_server.port, b"Host: " + host)
    assert status == 200
    assert json.loads(body) == {"host": host.decode(), "url": expected_url}


def test_http_1_0_without_host_uses_the_server_address(open_server):
    status, body = ask(open_server.port, version=b"HTTP/1.0")
    assert status == 200
    assert json.loads(body)["host"] == f"127.0.0.1:{open_server.port}"


def test_an_absolute_form_target_names_the_host(open_server, restricted_server):
    status, body = ask(
        open_server.port, b"Host: other.example", target=b"http://good.example/whoami"
    )
    assert status == 200 and json.loads(body)["url"] == "http://good.example/whoami"
    status, _ = ask(restricted_server.port, b"Host: app.example", target=b"http://evil.com/whoami")
    assert status == 400


@pytest.mark.parametrize(
    "host",
    [
        b"app.example",
        b"APP.example.",
        b"x.app.example:8443",
        b"a.b.app.example",
        b"[::1]:1234",
        b"[0:0::1]",
        b"127.0.0.1",
    ],
)
def test_allowed_hosts_are_served(restricted_server, host):
    status, body = ask(restricted_server.port, b"Host: " + host)
    assert status == 200 and json.loads(body)["host"] == host.decode()


@pytest.mark.parametrize(
    "host",
    [
        b"evil.com",
        b"app.example.evil.com",
        b"evilapp.example",
        b"example",
        b"127.0.0.2",
        b"[::2]",
    ],
)
def test_other_hosts_are_refused(restricted_server, host):
    status, body = ask(restricted_server.port, b"Host: " + host)
    assert status == 400 and body == b'{"error":"Host not allowed","status":400}'


def test_a_trusted_proxys_forwarded_host_is_checked_too(restricted_server):
    status, body = ask(
        restricted_server.port, b"Host: app.example", b"X-Forwarded-Host: x.app.example"
    )
    assert status == 200 and json.loads(body)["host"] == "x.app.example"
    status, _ = ask(restricted_server.port, b"Host: app.example", b"X-Forwarded-Host: evil.com")
    assert status == 400
    # The rightmost value is the one our proxy wrote; a client's own goes first.
    status, body = ask(
        restricted_server.port, b"Host: app.example", b"X-Forwarded-Host: evil.com, app.example"
    )
    assert status == 200 and json.loads(body)["host"] == "app.example"
