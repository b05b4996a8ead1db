"""Misses are values: one router walk per request, the error raised once, at the end."""

from __future__ import annotations

import pytest

from gobstopper import Gobstopper, Response
from gobstopper.http.errors import BadRequest, MethodNotAllowed, NotFound
from gobstopper.http.response import BaseResponse
from gobstopper.http.routing import Router
from gobstopper.testing import TestClient


@pytest.fixture
def walks(monkeypatch):
    """Every (method, path) the HTTP router is asked to match."""
    seen: list[tuple[str, str]] = []
    original = Router.match

    def counting(self, method, path):
        seen.append((method, path))
        return original(self, method, path)

    monkeypatch.setattr(Router, "match", counting)
    return seen


def small_app(policy: str = "strict") -> Gobstopper:
    app = Gobstopper("misses", slash_policy=policy)
    app.get("/items/<int:item_id>")(lambda request, item_id: {"id": item_id})
    app.post("/only-post")(lambda request: "posted")
    return app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/items/3", 200),
        ("GET", "/nothing/here", 404),
        ("GET", "/only-post", 405),
        ("GET", "/items/three", 400),
        ("OPTIONS", "/only-post", 204),
    ],
)
def test_each_request_walks_the_router_once(walks, method, path, status):
    with TestClient(small_app()) as client:
        walks.clear()
        assert client.request(method, path).status_code == status
    assert walks == [(method, path)]


def test_a_slash_policy_walks_the_other_form_once_more(walks):
    app = small_app("tolerant")
    app.get("/dir/")(lambda request: "dir")
    with TestClient(app) as client:
        walks.clear()
        assert client.get("/dir").text == "dir"
    assert walks == [("GET", "/dir"), ("GET", "/dir/")]


def test_middleware_and_error_handlers_see_the_routing_exception():
    app = small_app()
    seen: dict[str, object] = {}

    async def record(request, call_next):
        try:
            return await call_next(request)
        finally:
            seen[request.path] = request.routing_exception

    app.add_middleware(record)
    app.error_handler(405)(lambda request, error: {"allowed": error.allowed})
    with TestClient(app) as client:
        assert client.get("/items/1").status_code == 200
        assert client.get("/only-post").json() == {"allowed": ["POST"]}
        assert client.get("/missing").status_code == 404
        assert client.get("/items/x").status_code == 400
    assert seen["/items/1"] is None
    assert isinstance(seen["/only-post"], MethodNotAllowed)
    assert isinstance(seen["/missing"], NotFound)
    assert isinstance(seen["/items/x"], BadRequest)


def test_an_over_long_path_is_refused_before_any_middleware():
    app = small_app()
    calls: list[str] = []

    async def record(request, call_next):
        calls.append(request.path)
        return await call_next(request)

    app.add_middleware(record)
    with TestClient(app) as client:
        assert client.get("/items/" + "9" * 9000).status_code == 414
    assert calls == []


def test_a_bare_base_response_is_sent_as_status_and_headers():
    app = Gobstopper("bare")
    app.get("/bare")(lambda request: BaseResponse(202, {"x-kind": "bare"}))
    with TestClient(app) as client:
        bare = client.get("/bare")
        head = client.head("/bare")
    assert (bare.status_code, bare.rsgi_call, bare.content) == (202, "response_empty", b"")
    assert bare.headers["x-kind"] == "bare"
    assert (head.status_code, head.headers["x-kind"]) == (202, "bare")


def test_a_route_call_sets_endpoint_rule_and_view_args_before_the_chain():
    app = Gobstopper("calls")
    seen: list[tuple[object, ...]] = []

    async def record(request, call_next):
        seen.append((request.endpoint, request.url_rule, dict(request.view_args)))
        return await call_next(request)

    app.get("/direct/<int:n>")(lambda request, n: {"n": n})

    @app.get("/chained/<name>", middleware=[record])
    async def chained(request, name):
        return Response(name)

    with TestClient(app) as client:
        assert client.get("/direct/4").json() == {"n": 4}
        assert client.get("/chained/ada").text == "ada"
    assert seen == [("chained", "/chained/<name>", {"name": "ada"})]
