"""Gobstopper: construction, handlers, return values, methods and errors."""

from __future__ import annotations

import logging
import threading

import msgspec
import pytest

from gobstopper import Blueprint, Gobstopper, JSONResponse, Response
from gobstopper.testing import TestClient


def make_app(**kwargs) -> Gobstopper:
    return Gobstopper("test-app", **kwargs)


def test_constructor_defaults_match_the_reference():
    app = Gobstopper()
    assert app.name == "gobstopper.core.app"
    assert app.debug is False
    assert app.slash_policy == "strict"
    assert app.logger.name == "gobstopper.core.app"


def test_unknown_slash_policy_is_rejected():
    with pytest.raises(ValueError, match="slash_policy"):
        Gobstopper("x", slash_policy="sometimes")


@pytest.mark.parametrize(
    ("decorator", "method"),
    [
        ("get", "GET"),
        ("post", "POST"),
        ("put", "PUT"),
        ("delete", "DELETE"),
        ("patch", "PATCH"),
        ("options", "OPTIONS"),
    ],
)
def test_method_decorators_route_their_method_only(decorator, method):
    app = make_app()

    async def handler(request):
        return {"method": request.method}

    returned = getattr(app, decorator)("/thing")(handler)
    assert returned is handler
    with TestClient(app) as client:
        assert client.request(method, "/thing").json() == {"method": method}
        other = "POST" if method != "POST" else "GET"
        assert client.request(other, "/thing").status_code == 405


def test_route_with_several_methods_and_custom_name():
    app = make_app()

    @app.route("/api/data", methods=["get", "POST"], name="data")
    async def data_handler(request):
        return {"created": True} if request.method == "POST" else {"data": [1]}

    with TestClient(app) as client:
        assert client.get("/api/data").json() == {"data": [1]}
        assert client.post("/api/data").json() == {"created": True}
    assert app.url_for("data") == "/api/data"


def test_unknown_http_method_in_registration_is_rejected():
    app = make_app()
    with pytest.raises(ValueError, match="unknown HTTP method"):
        app.route("/x", methods=["FETCH"])(lambda request: "x")


def test_malformed_rules_fail_at_registration():
    app = make_app()
    with pytest.raises(ValueError):
        app.get("/users/<int:id")(lambda request: "x")
    with pytest.raises(ValueError, match="unknown converter"):
        app.get("/users/<money:id>")(lambda request: "x")
    with pytest.raises(ValueError, match="starting with '/'"):
        app.get("users")(lambda request: "x")
    with pytest.raises(ValueError, match="duplicate parameter"):
        app.get("/<a>/<a>")(lambda request: "x")


# -- return values ---------------------------------------------------------------
class Item(msgspec.Struct):
    name: str
    price: float


RETURNS = [
    ({"a": 1}, 200, "application/json", b'{"a":1}'),
    ([1, 2], 200, "application/json", b"[1,2]"),
    (Item("pen", 1.5), 200, "application/json", b'{"name":"pen","price":1.5}'),
    ("<p>hi</p>", 200, "text/html; charset=utf-8", b"<p>hi</p>"),
    (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
    (None, 204, None, b""),
    (({"id": 7}, 201), 201, "application/json", b'{"id":7}'),
    (("gone", 410), 410, "text/html; charset=utf-8", b"gone"),
    (("x", 202, {"X-Extra": "1"}), 202, "text/html; charset=utf-8", b"x"),
    (("plain", 200, {"Content-Type": "text/plain"}), 200, "text/plain", b"plain"),
    (({"deleted": True}, 204), 204, None, b""),
    (Response("made", status=418), 418, "text/html; charset=utf-8", b"made"),
    (JSONResponse({"j": True}, status=202), 202, "application/json", b'{"j":true}'),
]


@pytest.mark.parametrize(("value", "status", "content_type", "body"), RETURNS)
def test_return_values_are_coerced(value, status, content_type, body):
    app = make_app()

    @app.get("/")
    async def handler(request):
        return value

    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == status
    assert response.headers.get_all("content-type") == ([content_type] if content_type else [])
    assert response.content == body


def test_tuple_headers_replace_case_insensitively_and_extra_headers_arrive():
    app = make_app()

    @app.get("/")
    async def handler(request):
        return "x", 202, {"X-Extra": "1", "CONTENT-TYPE": "text/plain"}

    with TestClient(app) as client:
        response = client.get("/")
    assert response.headers["x-extra"] == "1"
    assert response.headers.get_all("content-type") == ["text/plain"]


@pytest.mark.parametrize("value", [object(), 42, ("a",), ("a", "200"), ("a", 200, "h")])
def test_unsupported_return_values_are_a_500_without_details(value, caplog):
    app = make_app()

    @app.get("/")
    async def handler(request):
        return value

    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        response = client.get("/")
    assert response.status_code == 500
    assert "TypeError" not in response.text
    assert any("unhandled exception" in r.message for r in caplog.records)


def test_a_returned_response_object_is_not_mutated_by_tuple_status():
    app = make_app()
    shared = Response("shared")

    @app.get("/")
    async def handler(request):
        return shared, 404

    with TestClient(app) as client:
        assert client.get("/").status_code == 404
        assert client.get("/").status_code == 404
    assert shared.status == 200


# -- sync and async handlers -------------------------------------------------------
def test_plain_def_handlers_run_off_the_event_loop_thread():
    app = make_app()
    seen: dict[str, str] = {}

    @app.get("/sync/<int:n>")
    def sync_handler(request, n):
        seen["thread"] = threading.current_thread().name
        return {"n": n * 2}

    @app.get("/async")
    async def async_handler(request):
        seen["loop_thread"] = threading.current_thread().name
        return "ok"

    with TestClient(app) as client:
        assert client.get("/sync/21").json() == {"n": 42}
        assert client.get("/async").text == "ok"
    assert seen["thread"] != seen["loop_thread"]


def test_callable_objects_with_async_call_are_awaited():
    app = make_app()

    class Handler:
        async def __call__(self, request):
            return "instance"

    app.add_url_rule("/obj", Handler(), name="obj")
    with TestClient(app) as client:
        assert client.get("/obj").text == "instance"


# -- methods: HEAD, 404, 405, OPTIONS ----------------------------------------------------
def test_head_is_answered_for_get_routes_without_a_body():
    app = make_app()

    @app.get("/page")
    async def page(request):
        return Response("hello world", headers={"X-Kind": "page"})

    with TestClient(app) as client:
        head = client.head("/page")
    assert head.status_code == 200
    assert head.content == b""
    assert head.rsgi_call == "response_empty"
    assert head.headers["x-kind"] == "page"
    assert head.headers["content-length"] == str(len(b"hello world"))


def test_404_for_unknown_paths_json_for_api_clients():
    app = make_app()
    with TestClient(app) as client:
        response = client.get("/nothing", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "status": 404}


def test_405_lists_allowed_methods():
    app = make_app()

    @app.route("/r", methods=["GET", "PUT"])
    async def r(request):
        return "r"

    with TestClient(app) as client:
        response = client.delete("/r")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PUT"


def test_options_without_a_route_answers_204_with_allow():
    app = make_app()

    @app.route("/r", methods=["GET", "POST"])
    async def r(request):
        return "r"

    with TestClient(app) as client:
        response = client.options("/r")
        missing = client.options("/missing")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.content == b""
    assert missing.status_code == 404


def test_explicit_options_route_wins_over_the_automatic_answer():
    app = make_app()

    @app.options("/api/data")
    async def data_options(request):
        return Response("", headers={"Allow": "GET, POST"})

    with TestClient(app) as client:
        response = client.options("/api/data")
    assert response.status_code == 200
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("method", ["PROPFIND", "FOO", "BREW"])
def test_unknown_methods_get_405_not_500(method):
    app = make_app()

    @app.get("/")
    async def index(request):
        return "x"

    with TestClient(app) as client:
        assert client.request(method, "/").status_code == 405
        assert client.request(method, "/nope").status_code == 404


# -- request attributes set by routing -------------------------------------------------
def test_request_knows_its_endpoint_rule_and_view_args():
    app = make_app()
    bp = Blueprint("shop", url_prefix="/shop")

    @bp.get("/items/<int:item_id>")
    async def item(request, item_id):
        return {
            "endpoint": request.endpoint,
            "rule": request.url_rule,
            "view_args": request.view_args,
            "app": request.app is app,
        }

    app.register_blueprint(bp)
    with TestClient(app) as client:
        assert client.get("/shop/items/3").json() == {
            "endpoint": "shop.item",
            "rule": "/shop/items/<int:item_id>",
            "view_args": {"item_id": 3},
            "app": True,
        }


# -- compiled state --------------------------------------------------------------------
def test_routes_added_after_the_first_request_are_served():
    app = make_app()

    @app.get("/a")
    async def a(request):
        return "a"

    with TestClient(app) as client:
        assert client.get("/a").text == "a"
        app.get("/b")(lambda request: "b")
        assert client.get("/b").text == "b"


def test_visualize_routing_logs_mounts_blueprints_middleware_and_chains(caplog):
    app = make_app()

    async def cors(request, call_next):
        return await call_next(request)

    async def auth_middleware(request, call_next):
        return await call_next(request)

    async def admin_check(request, call_next):
        return await call_next(request)

    app.add_middleware(cors, priority=10)
    auth = Blueprint("auth", url_prefix="/auth")
    auth.add_middleware(auth_middleware, priority=100)
    admin = Blueprint("admin", url_prefix="/admin")
    admin.add_middleware(admin_check, priority=50)
    admin.get("/users")(lambda request: "u")
    auth.register_blueprint(admin)
    app.register_blueprint(auth)
    api_v1 = Gobstopper("api_v1")
    api_v1.get("/ping")(lambda request: "p")
    app.mount("/api", api_v1)

    with caplog.at_level(logging.INFO, logger="test-app"):
        app.visualize_routing()
    lines = [r.getMessage() for r in caplog.records if r.name == "test-app"]
    assert lines[0] == "=== Routing Visualization ==="
    assert lines[-1] == "=== End Visualization ==="
    text = "\n".join(lines)
    assert "Mount: /api -> api_v1" in text
    assert "Blueprint: auth prefix=/auth" in text
    assert "  Blueprint: admin prefix=/admin" in text
    assert "MW(prio=100): auth_middleware" in text
    assert "MW(prio=50): admin_check" in text
    assert (
        "Route ['GET'] /auth/admin/users -> auth.admin.<lambda> "
        "MW order: ['cors', 'auth_middleware', 'admin_check']"
    ) in text
    assert "Route ['GET'] /api/ping" in text
