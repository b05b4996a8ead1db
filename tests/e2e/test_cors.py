"""CORSMiddleware over the wire: a browser's preflight, then the actual request."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with granian_server("cors_app:app", tmp_path_factory.mktemp("cors")) as server:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            yield c


def test_preflight_then_actual_request(client):
    preflight = client.options(
        "/api/echo",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-token",
        },
    )
    assert preflight.status_code == 204
    assert preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "Content-Type, X-Token"
    assert preflight.headers["access-control-max-age"] == "600"

    actual = client.post("/api/echo", json={"n": 1}, headers={"Origin": ORIGIN, "X-Token": "t"})
    assert actual.status_code == 200
    assert actual.json() == {"got": {"n": 1}, "token": "t"}
    assert actual.headers["access-control-allow-origin"] == ORIGIN
    assert actual.headers["access-control-allow-credentials"] == "true"
    assert actual.headers["vary"] == "Origin"


def test_refused_preflight_and_foreign_origin(client):
    refused = client.options(
        "/api/echo",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    foreign = client.post("/api/echo", json={"n": 2}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers
