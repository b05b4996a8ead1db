"""X-Request-ID: trusted from proxies, generated otherwise, echoed on every response."""

from __future__ import annotations

import re

from gobstopper import Gobstopper
from gobstopper.ops.request_id import new_request_id
from gobstopper.testing import TestClient


def make_app(**options) -> Gobstopper:
    app = Gobstopper("ids", **options)
    seen: list[str] = []

    @app.get("/")
    async def index(request):
        seen.append(request.id)
        return "ok"

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    app.enable_metrics()
    app.seen = seen
    return app


def test_generated_ids_are_unique_and_match_request_id():
    app = make_app()
    with TestClient(app) as client:
        first = client.get("/").headers["x-request-id"]
        second = client.get("/").headers["x-request-id"]
    assert first != second
    assert app.seen == [first, second]
    # <per-process random prefix>-<decimal counter>: one prefix, the counter rising.
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9]+", first)
    prefix, count = first.split("-")
    assert second.split("-")[0] == prefix and int(second.split("-")[1]) > int(count)


def test_an_untrusted_client_cannot_choose_its_id():
    app = make_app()
    with TestClient(app) as client:
        response = client.get("/", headers={"X-Request-ID": "chosen-by-client"})
    assert response.headers["x-request-id"] != "chosen-by-client"


def test_a_trusted_proxy_id_is_kept_and_echoed():
    app = make_app(trusted_proxies=["127.0.0.1/32"])
    with TestClient(app) as client:
        kept = client.get("/", headers={"X-Request-ID": "abc-123"})
        bad = client.get("/", headers={"X-Request-ID": "has space\tand tab"})
        long = client.get("/", headers={"X-Request-ID": "a" * 129})
    assert kept.headers["x-request-id"] == "abc-123"
    assert app.seen[0] == "abc-123"
    assert bad.headers["x-request-id"] not in ("has space\tand tab",)
    assert long.headers["x-request-id"] != "a" * 129


def test_error_pages_and_unrouted_answers_carry_the_id():
    app = make_app()
    with TestClient(app) as client:
        crashed = client.get("/boom")
        missing = client.get("/missing")
    assert crashed.status_code == 500 and crashed.headers["x-request-id"]
    assert missing.status_code == 404 and missing.headers["x-request-id"]


def test_no_ops_feature_no_header():
    app = Gobstopper("plain")

    @app.get("/")
    async def index(request):
        return "ok"

    with TestClient(app) as client:
        assert "x-request-id" not in client.get("/").headers


def test_new_ids_differ():
    assert len({new_request_id() for _ in range(1000)}) == 1000
