"""Registration shared by apps and blueprints: middleware, hooks, nesting."""

from __future__ import annotations

import pytest

from gobstopper import Blueprint, Gobstopper, Response
from gobstopper.core import route_table
from gobstopper.http.errors import abort
from gobstopper.testing import TestClient


def recorder(log: list[str], label: str, *, sync: bool = False):
    """A middleware that records entry and exit around ``call_next``."""
    if sync:

        def sync_mw(request, call_next):
            log.append(f"{label}>")
            return call_next(request)

        sync_mw.__name__ = label
        return sync_mw

    async def mw(request, call_next):
        log.append(f"{label}>")
        response = await call_next(request)
        log.append(f"<{label}")
        return response

    mw.__name__ = label
    return mw


def test_middleware_order_app_priority_then_parent_then_child_then_route():
    log: list[str] = []
    app = Gobstopper("order")
    app.add_middleware(recorder(log, "app_low"), priority=-5)
    app.add_middleware(recorder(log, "app_high"), priority=100)
    app.add_middleware(recorder(log, "app_mid_a"), priority=10)
    app.add_middleware(recorder(log, "app_mid_b"), priority=10)
    parent = Blueprint("parent", url_prefix="/p")
    parent.add_middleware(recorder(log, "parent_low"), priority=1)
    parent.add_middleware(recorder(log, "parent_high"), priority=2)
    child = Blueprint("child", url_prefix="/c")
    child.add_middleware(recorder(log, "child"))

    @child.route("/x", middleware=[recorder(log, "route")])
    async def handler(request):
        log.append("handler")
        return "x"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    with TestClient(app) as client:
        assert client.get("/p/c/x").text == "x"
    entered = [e[:-1] for e in log if e.endswith(">")]
    assert entered == [
        "app_high",
        "app_mid_a",
        "app_mid_b",
        "app_low",
        "parent_high",
        "parent_low",
        "child",
        "route",
    ]
    assert log[len(entered)] == "handler"
    assert [e[1:] for e in log if e.startswith("<")] == list(reversed(entered))


def test_blueprint_middleware_is_scoped_to_its_routes():
    log: list[str] = []
    app = Gobstopper("scoped")
    bp = Blueprint("bp", url_prefix="/bp")
    bp.add_middleware(recorder(log, "bp"))
    bp.get("/in")(lambda request: "in")
    app.get("/out")(lambda request: "out")
    app.register_blueprint(bp)
    with TestClient(app) as client:
        client.get("/out")
        assert log == []
        client.get("/bp/in")
        assert log == ["bp>", "<bp"]


def test_sync_middleware_can_pass_through_and_short_circuit():
    app = Gobstopper("sync-mw")
    log: list[str] = []
    app.add_middleware(recorder(log, "sync", sync=True))

    def deny(request, call_next):
        if request.path == "/denied":
            return Response("no", status=403)
        return call_next(request)

    app.add_middleware(deny)
    app.get("/ok")(lambda request: "ok")
    app.get("/denied")(lambda request: "never")
    with TestClient(app) as client:
        assert client.get("/ok").text == "ok"
        denied = client.get("/denied")
    assert denied.status_code == 403 and denied.text == "no"
    assert log == ["sync>", "sync>"]


def test_middleware_may_replace_and_modify_responses_and_coerce_values():
    app = Gobstopper("replace")

    async def wrap(request, call_next):
        response = await call_next(request)
        response.headers["x-mw"] = "yes"
        return response

    async def short(request, call_next):
        if request.path == "/dict":
            return {"from": "middleware"}
        return await call_next(request)

    app.add_middleware(wrap, priority=1)
    app.add_middleware(short)
    app.get("/plain")(lambda request: "plain")
    with TestClient(app) as client:
        assert client.get("/plain").headers["x-mw"] == "yes"
        response = client.get("/dict")
    assert response.json() == {"from": "middleware"}
    assert response.headers["x-mw"] == "yes"


def test_middleware_is_validated():
    app = Gobstopper("validate")
    with pytest.raises(TypeError, match="callable"):
        app.add_middleware("not callable")  # type: ignore[arg-type]


def test_chains_are_composed_when_registrations_change_not_per_request(monkeypatch):
    compiled: list[object] = []
    original = route_table.compile_route

    def counting(*args, **kwargs):
        compiled.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(route_table, "compile_route", counting)
    app = Gobstopper("compose")
    app.get("/a")(lambda request: "a")
    app.get("/b")(lambda request: "b")
    with TestClient(app) as client:
        for _ in range(10):
            client.get("/a")
            client.get("/b")
        assert len(compiled) == 2
        app.add_middleware(recorder([], "late"))
        client.get("/a")
        assert len(compiled) == 4


# -- before/after request hooks -------------------------------------------------------
def test_hooks_run_in_registration_order_sync_and_async():
    app = Gobstopper("hooks")
    log: list[str] = []

    @app.before_request
    async def first(request):
        log.append("before1")
        request.user = "alice"

    @app.before_request
    def second(request):
        log.append("before2")

    @app.after_request
    async def add_headers(request, response):
        log.append("after1")
        response.headers["X-Processed-By"] = "Gobstopper"
        return response

    @app.after_request
    def log_response(request, response):
        log.append(f"after2:{response.headers['X-Processed-By']}")

    @app.get("/")
    async def index(request):
        log.append("handler")
        return {"user": request.user}

    with TestClient(app) as client:
        response = client.get("/")
    assert response.json() == {"user": "alice"}
    assert response.headers["x-processed-by"] == "Gobstopper"
    assert log == ["before1", "before2", "handler", "after1", "after2:Gobstopper"]


def test_before_request_short_circuits_and_skips_later_hooks_and_handler():
    app = Gobstopper("short")
    log: list[str] = []

    @app.before_request
    def gate(request):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)

    @app.before_request
    def later(request):
        log.append("later")

    @app.after_request
    def after(request, response):
        log.append(f"after:{response.status}")

    @app.get("/")
    def index(request):
        log.append("handler")
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").status_code == 401
        assert log == ["after:401"]
        assert client.get("/", headers={"authorization": "t"}).text == "ok"
    assert log == ["after:401", "later", "handler", "after:200"]


def test_after_request_can_replace_the_response():
    app = Gobstopper("replace-after")
    app.after_request(lambda request, response: Response("replaced", status=202))
    app.get("/")(lambda request: "original")
    with TestClient(app) as client:
        response = client.get("/")
    assert (response.status_code, response.text) == (202, "replaced")


def test_after_request_does_not_run_when_the_handler_raises():
    app = Gobstopper("no-after")
    log: list[str] = []
    app.after_request(lambda request, response: log.append("after"))

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    @app.get("/abort")
    async def aborted(request):
        abort(403)

    with TestClient(app) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/abort").status_code == 403
    assert log == []


def test_exceptions_in_before_hooks_reach_error_handlers():
    app = Gobstopper("hook-error")

    @app.before_request
    def fail(request):
        abort(418, "teapot")

    @app.error_handler(418)
    def teapot(request, error):
        return {"error": error.description}

    app.get("/")(lambda request: "never")
    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 418
    assert response.json() == {"error": "teapot"}


def test_blueprint_hooks_apply_to_its_routes_after_the_apps():
    app = Gobstopper("bp-hooks")
    log: list[str] = []
    app.before_request(lambda request: log.append("app-before"))
    app.after_request(lambda request, response: log.append("app-after"))
    bp = Blueprint("bp", url_prefix="/bp")
    bp.before_request(lambda request: log.append("bp-before"))
    bp.after_request(lambda request, response: log.append("bp-after"))
    bp.get("/x")(lambda request: "x")
    app.get("/y")(lambda request: "y")
    app.register_blueprint(bp)
    with TestClient(app) as client:
        client.get("/bp/x")
        assert log == ["app-before", "bp-before", "app-after", "bp-after"]
        log.clear()
        client.get("/y")
        assert log == ["app-before", "app-after"]


# -- blueprints ----------------------------------------------------------------------------
def test_blueprint_prefixes_override_and_nesting():
    app = Gobstopper("nesting")
    api = Blueprint("api", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")

    async def user_handler(request):
        return {"users": request.endpoint}

    v1.get("/users")(user_handler)
    api.register_blueprint(v1)
    app.register_blueprint(api)
    admin = Blueprint("admin", url_prefix="/admin")
    admin.get("/")(lambda request: "admin home")
    app.register_blueprint(admin, url_prefix="/dashboard")
    bare = Blueprint("bare")
    bare.get("/bare")(lambda request: "bare")
    app.register_blueprint(bare)
    with TestClient(app) as client:
        assert client.get("/api/v1/users").json() == {"users": "api.v1.user_handler"}
        assert client.get("/dashboard/").text == "admin home"
        assert client.get("/admin/").status_code == 404
        assert client.get("/bare").text == "bare"


def test_blueprint_prefix_may_hold_parameters():
    app = Gobstopper("param-prefix")
    bp = Blueprint("org", url_prefix="/orgs/<int:org_id>")
    bp.get("/members")(lambda request, org_id: {"org": org_id})
    app.register_blueprint(bp)
    with TestClient(app) as client:
        assert client.get("/orgs/5/members").json() == {"org": 5}
    assert app.url_for("org.<lambda>", org_id=5) == "/orgs/5/members"


def test_routes_added_to_a_registered_blueprint_are_picked_up():
    app = Gobstopper("late-bp")
    bp = Blueprint("late", url_prefix="/late")
    app.register_blueprint(bp)
    with TestClient(app) as client:
        assert client.get("/late/x").status_code == 404
        bp.get("/x")(lambda request: "x")
        assert client.get("/late/x").text == "x"


def test_blueprint_registration_errors():
    app = Gobstopper("errors")
    bp = Blueprint("bp")
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="already registered"):
        app.register_blueprint(bp)
    with pytest.raises(ValueError, match="starting with '/'"):
        app.register_blueprint(Blueprint("other"), url_prefix="nope")
    outer, inner = Blueprint("outer"), Blueprint("inner")
    outer.register_blueprint(inner)
    with pytest.raises(ValueError, match="nest it in itself"):
        inner.register_blueprint(outer)
    with pytest.raises(ValueError, match="nest it in itself"):
        inner.register_blueprint(inner)
    with pytest.raises(ValueError, match=r"contain no '\.'"):
        Blueprint("a.b")
