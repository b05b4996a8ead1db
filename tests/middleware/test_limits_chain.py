"""A route's limits bound every body read of its chain, whatever the order (issue 15, item 1).

The CSRF check of an app-level SecurityMiddleware parses and caches the form
before a route-level LimitsMiddleware would run; so would any middleware that
reads the body. Each case sends an oversized form that carries a valid token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.http.body import DEFAULT_LIMITS, DEFAULT_MAX_BODY_BYTES
from gobstopper.middleware import LimitsMiddleware
from gobstopper.middleware.limits import RouteLimits, route_limits
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.testing import AsyncTestClient, TestClient
from tests.bodies import MULTIPART, multipart_body

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def small() -> LimitsMiddleware:
    return LimitsMiddleware(max_body_bytes=2000, max_form_fields=5)


def security() -> SecurityMiddleware:
    return SecurityMiddleware(secret_key=SECRET, session_storage=MemorySessionStorage())


async def read_form(request):
    form = await request.get_form()
    files = await request.get_files()
    return {"fields": len(form), "files": len(files)}


async def read_body_first(request, call_next):
    """A user middleware that reads the raw body before the route's own middleware."""
    await request.get_data()
    return await call_next(request)


def add_token_route(app: Gobstopper, guard: SecurityMiddleware, *middleware: Any) -> Gobstopper:
    """``GET /token``: a CSRF token for the client's session (``middleware``: the route's)."""

    @app.get("/token", middleware=list(middleware))
    async def token(request):
        return guard.generate_csrf_token(request.session)

    return app


def app_security_route_limits(guard: SecurityMiddleware) -> Gobstopper:
    app = Gobstopper(__name__)
    app.add_middleware(guard)
    app.post("/target", middleware=[small()])(read_form)
    return add_token_route(app, guard)


def app_limits_and_security_route_limits(guard: SecurityMiddleware) -> Gobstopper:
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware(max_body_bytes=10**6), priority=5)
    app.add_middleware(guard)
    app.post("/target", middleware=[small()])(read_form)
    return add_token_route(app, guard)


def route_limits_before_security(guard: SecurityMiddleware) -> Gobstopper:
    app = Gobstopper(__name__)
    app.post("/target", middleware=[small(), guard])(read_form)
    return add_token_route(app, guard, guard)


def route_security_before_limits(guard: SecurityMiddleware) -> Gobstopper:
    app = Gobstopper(__name__)
    app.post("/target", middleware=[guard, small()])(read_form)
    return add_token_route(app, guard, guard)


def blueprint_limits_app_security(guard: SecurityMiddleware) -> Gobstopper:
    app = Gobstopper(__name__)
    app.add_middleware(guard)
    bp = Blueprint("bp")
    bp.add_middleware(small())
    bp.post("/target")(read_form)
    app.register_blueprint(bp)
    return add_token_route(app, guard)


LAYOUTS: list[Callable[[SecurityMiddleware], Gobstopper]] = [
    app_security_route_limits,
    app_limits_and_security_route_limits,
    route_limits_before_security,
    route_security_before_limits,
    blueprint_limits_app_security,
]


@pytest.fixture(params=LAYOUTS, ids=lambda layout: layout.__name__)
def client(request):
    with TestClient(request.param(security())) as test_client:
        test_client.token = test_client.get("/token").text  # type: ignore[attr-defined]
        yield test_client


def test_too_many_fields_with_the_token_in_the_form_are_refused(client):
    fields = {"csrf_token": client.token, **{f"f{i}": "x" for i in range(20)}}
    assert client.post("/target", data=fields).status_code == 413


def test_a_too_big_form_with_the_token_in_the_form_is_refused(client):
    fields = {"csrf_token": client.token, **{f"f{i}": "x" * 10_000 for i in range(3)}}
    assert client.post("/target", data=fields).status_code == 413


def test_a_too_big_multipart_body_with_the_token_in_it_is_refused(client):
    body = multipart_body({"csrf_token": client.token}, {"f": ("a.bin", b"x" * 60_000)})
    assert client.post("/target", content=body, headers=MULTIPART).status_code == 413


def test_a_form_within_the_limits_passes(client):
    response = client.post("/target", data={"csrf_token": client.token, "a": "1"})
    assert response.status_code == 200 and response.json() == {"fields": 2, "files": 0}


def test_a_route_may_allow_more_than_the_app_everywhere_in_its_chain():
    guard = security()
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware(max_body_bytes=1000, max_form_fields=3), priority=5)
    app.add_middleware(guard)
    app.post("/big", middleware=[LimitsMiddleware(max_body_bytes=100_000, max_form_fields=50)])(
        read_form
    )
    add_token_route(app, guard)
    with TestClient(app) as client:
        fields = {
            "csrf_token": client.get("/token").text,
            **{f"f{i}": "x" * 1000 for i in range(10)},
        }
        response = client.post("/big", data=fields)
        assert response.status_code == 200 and response.json()["fields"] == 11


def test_a_user_middleware_reading_the_body_is_bounded_by_the_route_limits():
    app = Gobstopper(__name__)
    app.add_middleware(read_body_first)
    app.post("/target", middleware=[small()])(read_form)
    app.post("/open")(read_form)
    with TestClient(app) as client:
        assert client.post("/target", content=b"x" * 5000).status_code == 413
        assert client.post("/open", content=b"x" * 5000).status_code == 200


def test_unrouted_requests_use_the_app_limits():
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware(max_body_bytes=100))
    app.add_middleware(read_body_first)
    with TestClient(app) as client:
        assert client.post("/nowhere", content=b"x" * 101).status_code == 413
        assert client.post("/nowhere", content=b"x" * 100).status_code == 404


def test_route_limits_fold_the_chain_outermost_first():
    outer = LimitsMiddleware(max_body_bytes=10, max_json_depth=3, max_files=4)
    inner = LimitsMiddleware(max_body_bytes=20, max_form_fields=6)
    assert route_limits([object(), outer, object(), inner]) == RouteLimits(
        20, 3, DEFAULT_LIMITS._replace(max_files=4, max_form_fields=6)
    )
    assert route_limits([object()]) is None
    assert route_limits([LimitsMiddleware(max_files=2)]) == RouteLimits(
        DEFAULT_MAX_BODY_BYTES, None, DEFAULT_LIMITS._replace(max_files=2)
    )


async def test_limits_middleware_called_directly_still_sets_the_limits():
    seen: dict[str, Any] = {}

    async def record(request):
        seen.update(body=request.max_body_bytes, fields=request.body_limits.max_form_fields)
        return "ok"

    app = Gobstopper(__name__)

    async def direct(request, call_next):
        return await small()(request, call_next)

    app.add_middleware(direct)
    app.post("/")(record)
    async with AsyncTestClient(app) as client:
        assert (await client.post("/")).status == 200
    assert seen == {"body": 2000, "fields": 5}
