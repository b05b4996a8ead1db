"""LimitsMiddleware: per app, blueprint and route; inner wins, None inherits."""

from __future__ import annotations

import pytest

import gobstopper.middleware as middleware_package
from gobstopper import Blueprint, Gobstopper
from gobstopper.http.body import DEFAULT_LIMITS, DEFAULT_MAX_BODY_BYTES, BodyLimits
from gobstopper.middleware import LimitsMiddleware
from gobstopper.middleware.limits import LimitsMiddleware as DirectImport
from gobstopper.testing import TestClient


def report(request) -> dict:
    limits = request.body_limits
    return {
        "body": request.max_body_bytes,
        "depth": request.max_json_depth,
        "fields": limits.max_form_fields,
        "files": limits.max_files,
        "file_bytes": limits.max_file_bytes,
    }


def layered_app() -> Gobstopper:
    app = Gobstopper(__name__)
    app.add_middleware(LimitsMiddleware(max_body_bytes=5000, max_form_fields=50))

    @app.post("/app")
    async def app_level(request):
        return report(request)

    @app.post("/route", middleware=[LimitsMiddleware(max_json_depth=4, max_files=2)])
    async def route_level(request):
        return report(request)

    api = Blueprint("api", url_prefix="/api")
    api.add_middleware(LimitsMiddleware(max_body_bytes=100, max_file_bytes=10))

    @api.post("/bp")
    async def bp_level(request):
        return report(request)

    @api.post("/bp/route", middleware=[LimitsMiddleware(max_body_bytes=20)])
    async def bp_route(request):
        data = await request.get_data()
        return {**report(request), "len": len(data)}

    app.register_blueprint(api)
    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(layered_app()) as c:
        yield c


def test_app_level(client):
    assert client.post("/app").json() == {
        "body": 5000,
        "depth": None,
        "fields": 50,
        "files": 100,
        "file_bytes": None,
    }


def test_route_level_adds_to_app_level(client):
    assert client.post("/route").json() == {
        "body": 5000,
        "depth": 4,
        "fields": 50,
        "files": 2,
        "file_bytes": None,
    }


def test_blueprint_level_overrides_app_level(client):
    assert client.post("/api/bp").json() == {
        "body": 100,
        "depth": None,
        "fields": 50,
        "files": 100,
        "file_bytes": 10,
    }


def test_innermost_wins_and_is_enforced(client):
    assert client.post("/api/bp/route", content=b"x" * 20).json()["len"] == 20
    assert client.post("/api/bp/route", content=b"x" * 21).status_code == 413
    assert client.post("/api/bp/route").json()["body"] == 20


def test_unconfigured_app_uses_defaults():
    app = Gobstopper(__name__)

    @app.post("/")
    async def index(request):
        return {**report(request), "default_limits": request.body_limits is DEFAULT_LIMITS}

    with TestClient(app) as client:
        assert client.post("/").json() == {
            "body": DEFAULT_MAX_BODY_BYTES,
            "depth": None,
            "fields": 1000,
            "files": 100,
            "file_bytes": None,
            "default_limits": True,
        }


@pytest.mark.parametrize("bad", [0, -1, True, "10", 1.5])
def test_limits_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="max_files"):
        LimitsMiddleware(max_files=bad)


def test_limits_for_reuses_one_object_over_the_defaults():
    limits = LimitsMiddleware(max_files=3)
    assert limits.limits_for(DEFAULT_LIMITS) is limits.limits_for(DEFAULT_LIMITS)
    assert limits.limits_for(DEFAULT_LIMITS).max_files == 3
    custom = BodyLimits(max_form_fields=7)
    assert limits.limits_for(custom) == BodyLimits(max_form_fields=7, max_files=3)
    only_size = LimitsMiddleware(max_body_bytes=10)
    assert only_size.limits_for(custom) is custom


def test_repr_and_imports():
    assert repr(LimitsMiddleware(max_body_bytes=5, max_files=2)) == (
        "LimitsMiddleware(max_body_bytes=5, max_files=2)"
    )
    assert DirectImport is LimitsMiddleware
    assert "LimitsMiddleware" in dir(middleware_package)
    with pytest.raises(AttributeError):
        _ = middleware_package.NoSuchMiddleware
