"""Hostile and odd requests against a real server: fast, precise 4xx answers."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.servers import INTERFACES, granian_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=INTERFACES)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-input")
    with granian_server("foundation_app:app", folder, interface=request.param) as running:
        yield running


def raw(server, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; return status, headers (lower-case, last wins) and body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ")[1]), headers, body


def get(server, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = f"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    return raw(server, request.encode("latin-1"))


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("/files/%zz", "%zz"),
        ("/files/a%20b", "a b"),
        ("/files/%ff%fe", "\ufffd\ufffd"),
        ("/files/caf%C3%A9", "café"),
        ("/files/a%2Fb", "a/b"),
        ("/files/%00x", "\x00x"),
    ],
)
def test_percent_encoding_good_and_bad(server, target, name):
    status, _, body = get(server, target)
    assert status == 200
    assert httpx.Response(200, content=body).json()["name"] == name


def test_slash_redirects_stay_on_site(server):
    status, headers, _ = get(server, "/users")
    assert (status, headers["location"]) == (308, "/users/")
    status, headers, _ = get(server, "/users?page=2")
    assert headers["location"] == "/users/?page=2"
    for target in ["//evil.example", "//evil.example/", "/\\evil.example", "///evil.example"]:
        status, headers, _ = get(server, target)
        location = headers.get("location", "")
        assert not location.startswith("//") and not location.startswith("/\\"), (target, location)
        assert status in (308, 404)


@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "BREW"])
def test_unknown_methods_are_405(server, method):
    status, headers, _ = get(server, "/", method=method)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_garbage_converter_input_and_long_paths_are_fast_4xx(server):
    started = time.monotonic()
    assert get(server, "/n/" + "9" * 400)[0] == 400
    assert get(server, "/n/1e5")[0] == 400
    assert get(server, "/" + "a" * 9000)[0] in (414, 404)
    assert get(server, "/files/" + "/".join(["x"] * 3000))[0] == 200
    assert get(server, "/n/" + "/".join(["x"] * 3000))[0] == 404
    assert time.monotonic() - started < 5


def test_twenty_thousand_query_parameters(server):
    query = "&".join(f"k{i}=v" for i in range(20_000))
    started = time.monotonic()
    status, _, body = get(server, "/q?" + query)
    assert time.monotonic() - started < 5
    assert 400 <= status < 500
    if status == 400:
        assert b"Too many query parameters" in body


def test_header_injection_from_a_handler_is_a_clean_500(server):
    status, headers, body = get(server, "/inject")
    assert status == 500
    assert "set-cookie" not in headers and b"pwned" not in body


def test_tracebacks_never_leak(server):
    status, _, body = raw(
        server, b"GET /boom HTTP/1.1\r\nHost: t\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    assert status == 500
    assert b"secret internals" not in body and b"Traceback" not in body


def test_request_header_with_bare_newline_is_refused_by_the_server(server):
    status, _, _ = raw(
        server, b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\nConnection: close\r\n\r\n"
    )
    assert status == 400


def test_mounted_app_sees_its_relative_path(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        data = client.get("/sub/where?x=1").json()
    assert data["path"] == "/where"
    assert data["url"] == f"http://127.0.0.1:{server.port}/sub/where?x=1"
    assert data["link"] == "/sub/where"


def test_head_and_options(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        head = client.head("/n/5")
        options = client.options("/n/5")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b'{"n":5}'))
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, HEAD, OPTIONS"


def test_options_star(server):
    status, headers, _ = get(server, "*", method="OPTIONS")
    assert status == 204
    assert headers["allow"] == "GET, HEAD, OPTIONS"
