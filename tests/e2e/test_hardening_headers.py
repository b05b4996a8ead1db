"""Issue 15 over a real Granian server: headers on every response (500s included),
the session cookie in production, and session pages kept out of shared caches."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.hardening import ORIGIN, fresh_token, hardening_server, raw_request, status_of
from tests.vary import vary_of

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with hardening_server(tmp_path_factory.mktemp("hardening-headers")) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10, headers={"Origin": ORIGIN}) as c:
        yield c


def assert_guarded(response: httpx.Response) -> None:
    """The security headers, the CORS headers and ``Vary: Origin`` are all there."""
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert {"origin", "cookie"} <= vary_of(response)


# -- item 5: every response the app emits carries the headers ------------------------------
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/crash", 500),
        ("GET", "/no-such-page", 404),
        ("GET", "/submit", 405),
        ("POST", "/submit", 403),
        ("GET", "/" + "a" * 9000, 414),
    ],
)
def test_error_answers_carry_security_and_cors_headers(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert_guarded(response)
    assert "handler bug" not in response.text  # no internals without debug


def test_a_413_from_the_body_limit_carries_the_headers(client):
    token = fresh_token(client)
    response = client.post(
        "/limited",
        content=b"a=" + b"x" * 5000,
        headers={"X-CSRF-Token": token, "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert_guarded(response)


def test_a_refused_host_answer_carries_the_headers(server):
    raw = raw_request(
        server.port,
        b'GET /me HTTP/1.1\r\nHost: evil.com"><script>\r\n'
        b"Origin: " + ORIGIN.encode() + b"\r\nConnection: close\r\n\r\n",
    )
    assert status_of(raw) == 400
    head = raw.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert "x-frame-options: deny" in head and "vary: cookie, origin" in head
    assert "<script>" not in raw.decode()


def test_refused_preflights_vary_on_origin(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        refused = client.options(
            "/submit",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert vary_of(refused) == {
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    }


# -- item 8: WOPR_ALLOW_INSECURE_COOKIES does not relax the session cookie ------------------
def test_production_session_cookie_stays_secure_with_the_opt_out_set(tmp_path):
    env = {"ENV": "production", "WOPR_ALLOW_INSECURE_COOKIES": "true"}
    with (
        hardening_server(tmp_path, **env) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        cookie = client.get("/token").headers["set-cookie"]
        assert re.fullmatch(
            r"session_id=[\w-]{43}\.[\w-]{43}; Path=/; Max-Age=604800; Secure; HttpOnly; "
            r"SameSite=Strict",
            cookie,
        )


# -- item 10: session pages are private to shared caches ------------------------------------
def test_session_pages_vary_on_cookie_and_are_private(client):
    created = client.get("/token")  # creates the session: Set-Cookie
    assert created.headers["cache-control"] == "private" and "cookie" in vary_of(created)
    page = client.get("/me")
    assert page.headers["cache-control"] == "private" and "cookie" in vary_of(page)
    own = client.get("/cached")
    assert own.headers["cache-control"] == "no-store" and "cookie" in vary_of(own)
    client.post("/login", headers={"X-CSRF-Token": fresh_token(client)})
    logged_in = client.get("/me")
    assert logged_in.json() == {"user": "alice"}
    assert logged_in.headers["cache-control"] == "private"


def test_anonymous_pages_vary_on_cookie_but_stay_cacheable(server):
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        page = anonymous.get("/me")
        assert page.json() == {"user": None}
        assert "cache-control" not in page.headers and "set-cookie" not in page.headers
        assert "cookie" in vary_of(page)
