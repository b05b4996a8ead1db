"""The HTTP dispatcher: slash policies, mounts, unrouted requests, bad input."""

from __future__ import annotations

import asyncio
import time

import pytest

from gobstopper import Gobstopper, Response
from gobstopper.core.misses import safe_location
from gobstopper.testing import AsyncTestClient, TestClient
from tests.core.stuck import start_stuck_request


def slash_app(policy: str) -> Gobstopper:
    app = Gobstopper("slash", slash_policy=policy)

    @app.get("/users")
    async def users(request):
        return {"users": request.path}

    @app.get("/dir/")
    async def directory(request):
        return {"dir": request.path}

    return app


def open_redirect_app() -> Gobstopper:
    app = Gobstopper("open-redirect", slash_policy="redirect")

    @app.get("/<path:p>")
    async def catch(request, p):
        return {"catch": p}

    @app.get("/<name>/")
    async def named(request, name):
        return {"name": name}

    return app


# -- slash policies -------------------------------------------------------------------
def test_strict_policy_treats_a_trailing_slash_as_another_path():
    with TestClient(slash_app("strict")) as client:
        assert client.get("/users").status_code == 200
        assert client.get("/users/").status_code == 404
        assert client.get("/dir/").status_code == 200
        assert client.get("/dir").status_code == 404


def test_redirect_policy_answers_308_to_the_routed_form_keeping_the_query():
    with TestClient(slash_app("redirect")) as client:
        to_bare = client.get("/users/?page=2")
        to_slash = client.post("/dir")
    assert to_bare.status_code == 308
    assert to_bare.headers["location"] == "/users?page=2"
    # 308 keeps the method: a POST is redirected even though only GET is routed there.
    assert to_slash.status_code == 308
    assert to_slash.headers["location"] == "/dir/"


def test_tolerant_policy_serves_the_routed_form_directly():
    with TestClient(slash_app("tolerant")) as client:
        assert client.get("/users/").json() == {"users": "/users/"}
        assert client.get("/dir").json() == {"dir": "/dir"}
        assert client.get("/neither/x").status_code == 404


@pytest.mark.parametrize("policy", ["redirect", "tolerant"])
def test_slash_policy_never_answers_for_unrouted_paths(policy):
    with TestClient(slash_app(policy)) as client:
        assert client.get("/nothing").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # An empty first segment matches neither route: no redirect to build.
        ("//evil.example", 404),
        ("//evil.example/", 404),
        ("///evil.example", 404),
        # A backslash is an ordinary character here: the catch-all serves it.
        ("/\\evil.example", 200),
    ],
)
def test_slash_redirect_never_points_off_site(path, status):
    with TestClient(open_redirect_app()) as client:
        response = client.get(path)
    assert response.status_code == status
    assert "location" not in response.headers


def test_a_double_slash_path_redirects_to_a_local_path():
    app = Gobstopper("odd", slash_policy="redirect")
    app.get("//<host>/")(lambda request, host: host)
    with TestClient(app) as client:
        assert client.get("//evil.example/").text == "evil.example"
        response = client.get("//evil.example")
    assert response.status_code == 308
    assert response.headers["location"] == "/evil.example/"


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("//evil.example/", "", "/evil.example/"),
        ("/a b", "x=1", "/a%20b?x=1"),
        ("/\\\\x", "", "/%5C%5Cx"),
        ("/ok/", "", "/ok/"),
    ],
)
def test_safe_location_is_always_same_site(path, query, expected):
    assert safe_location(path, query) == expected


# -- mounts -------------------------------------------------------------------------------
def build_mounted():
    main = Gobstopper("main")
    admin = Gobstopper("admin")
    events: list[str] = []

    async def main_mw(request, call_next):
        events.append("main-mw")
        return await call_next(request)

    async def admin_mw(request, call_next):
        events.append("admin-mw")
        response = await call_next(request)
        response.headers["x-admin"] = "1"
        return response

    main.add_middleware(main_mw)
    admin.add_middleware(admin_mw)

    @admin.before_request
    def admin_before(request):
        events.append("admin-before")

    @admin.error_handler(404)
    async def admin_404(request, error):
        return {"admin_missing": request.path}

    @admin.get("/dashboard")
    async def dashboard(request):
        return {
            "path": request.path,
            "root": request.root_path,
            "url": request.base_url,
            "link": admin.url_for("dashboard"),
        }

    @main.get("/")
    async def home(request):
        return "home"

    main.mount("/admin/", admin)
    return main, admin, events


def test_mounted_app_sees_relative_paths_and_keeps_its_own_pipeline():
    main, _, events = build_mounted()
    with TestClient(main) as client:
        response = client.get("/admin/dashboard")
        assert response.json() == {
            "path": "/dashboard",
            "root": "/admin",
            "url": "http://testserver/admin/dashboard",
            "link": "/admin/dashboard",
        }
        assert response.headers["x-admin"] == "1"
        assert events == ["admin-mw", "admin-before"]
        missing = client.get("/admin/nope")
        assert missing.status_code == 404 and missing.json() == {"admin_missing": "/nope"}
        assert client.get("/").text == "home"
        assert client.get("/administrator").status_code == 404


def test_earlier_mounts_win_and_mount_paths_are_validated():
    main = Gobstopper("main")
    first, second = Gobstopper("first"), Gobstopper("second")
    first.get("/x")(lambda request: "first")
    second.get("/x")(lambda request: "second")
    assert main.mount("/api", first) is first
    main.mount("/api", second)
    with TestClient(main) as client:
        assert client.get("/api/x").text == "first"
    with pytest.raises(ValueError):
        main.mount("api", first)
    with pytest.raises(ValueError):
        main.mount("/", first)
    with pytest.raises(ValueError):
        main.mount("/self", main)
    with pytest.raises(ValueError, match="inside itself"):
        first.mount("/loop", main)


def test_mounted_apps_start_and_stop_with_the_parent():
    main, admin = Gobstopper("main"), Gobstopper("admin")
    calls: list[str] = []
    main.on_startup(lambda: calls.append("main-up"))
    admin.on_startup(lambda: calls.append("admin-up"))
    main.on_shutdown(lambda: calls.append("main-down"))
    admin.on_shutdown(lambda: calls.append("admin-down"))
    admin.get("/")(lambda request: "a")
    main.mount("/a", admin)
    with TestClient(main) as client:
        assert client.get("/a").text == "a"
    assert calls == ["main-up", "admin-up", "main-down", "admin-down"]


def test_lazy_startup_runs_the_parent_before_a_mounted_request():
    main, admin = Gobstopper("main"), Gobstopper("admin")
    calls: list[str] = []
    main.on_startup(lambda: calls.append("main-up"))
    admin.get("/")(lambda request: "a")
    main.mount("/a", admin)
    client = TestClient(main)  # no `with`: startup happens on the first request
    try:
        assert client.get("/a/").text == "a"
    finally:
        client.close()
    assert calls == ["main-up"]


# -- unrouted requests pass through app middleware and hooks ------------------------------
def test_app_middleware_can_answer_unrouted_requests():
    app = Gobstopper("cors-like")

    async def preflight(request, call_next):
        if request.method == "OPTIONS" and "origin" in request.headers:
            return Response("", status=204, headers={"access-control-allow-origin": "*"})
        response = await call_next(request)
        response.headers["x-seen"] = "1"
        return response

    async def static_files(request, call_next):
        if request.path.startswith("/static/"):
            return Response("file:" + request.path[8:], content_type="text/plain")
        return await call_next(request)

    app.add_middleware(preflight, priority=10)
    app.add_middleware(static_files)
    app.get("/api")(lambda request: "api")
    with TestClient(app) as client:
        pre = client.options("/api", headers={"origin": "https://x.example"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
        assert client.get("/static/app.js").text == "file:app.js"
        auto = client.options("/api")
        assert auto.status_code == 204 and auto.headers["x-seen"] == "1"
        missing = client.get("/missing")
        assert missing.status_code == 404
        assert client.get("/api").headers["x-seen"] == "1"


def test_before_request_runs_for_unrouted_requests_like_flask():
    app = Gobstopper("auth")

    @app.before_request
    async def require_auth(request):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)

    with TestClient(app) as client:
        assert client.get("/anything").status_code == 401
        assert client.get("/anything", headers={"authorization": "x"}).status_code == 404


# -- bad input --------------------------------------------------------------------------------
def echo_app() -> Gobstopper:
    app = Gobstopper("echo")

    @app.get("/files/<path:name>")
    async def files(request, name):
        return {"name": name}

    @app.get("/n/<int:n>")
    async def number(request, n):
        return {"n": n}

    @app.get("/q")
    async def query(request):
        return {"count": len(request.args)}

    @app.get("/deep/<path:a>/edit")
    async def edit(request, a):
        return {"a": a}

    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/files/a%20b", "a b"),
        ("/files/%zz", "%zz"),
        ("/files/caf%C3%A9", "café"),
        ("/files/%ff", "\ufffd"),
        ("/files/a/../b", "a/../b"),
    ],
)
def test_percent_decoding_matches_granian(path, expected):
    with TestClient(echo_app()) as client:
        assert client.get(path).json() == {"name": expected}


def test_garbage_converter_input_is_a_fast_400():
    with TestClient(echo_app()) as client:
        started = time.monotonic()
        assert client.get("/n/" + "9" * 400).status_code == 400
        assert client.get("/n/12abc").status_code == 400
        assert client.get("/n/-1").status_code == 400
        assert client.get("/n/%00").status_code == 400
        assert time.monotonic() - started < 2


def test_over_long_and_odd_paths_are_fast_4xx():
    with TestClient(echo_app()) as client:
        started = time.monotonic()
        assert client.get("/" + "a" * 9000).status_code == 414
        many_segments = "/deep/" + "/".join(["x"] * 4000) + "/view"
        assert client.get(many_segments).status_code == 404
        hit = "/deep/" + "/".join(["x"] * 4000) + "/edit"
        assert client.get(hit).status_code == 200
        assert client.get("/" + "/" * 5000).status_code == 404
        assert client.get("/files/" + "/".join(["y"] * 4000)).status_code == 200
        assert time.monotonic() - started < 3


def test_fifty_thousand_query_parameters_are_a_fast_400():
    query = "&".join(f"k{i}=v" for i in range(50_000))
    with TestClient(echo_app()) as client:
        started = time.monotonic()
        response = client.get("/q?" + query)
        assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert "Too many query parameters" in response.text


def test_header_injection_in_a_response_is_a_500_not_a_split_response():
    app = Gobstopper("inject")

    @app.get("/")
    async def index(request):
        response = Response("ok")
        response.headers["x-evil"] = "a\r\nSet-Cookie: pwned=1"
        return response

    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers


# -- shutdown interplay ------------------------------------------------------------------------
async def test_requests_during_shutdown_get_503():
    app = Gobstopper("closing")
    app.get("/")(lambda request: "ok")
    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).status_code == 200
        app.lifecycle.closing = True
        response = await client.get("/")
        app.lifecycle.closing = False
    assert response.status_code == 503


async def test_a_request_cancelled_by_the_shutdown_deadline_answers_503():
    app = Gobstopper("cancel")
    await app.startup()
    task, proto = await start_stuck_request(app)
    app.lifecycle.closing = True
    task.cancel()
    await asyncio.wait_for(task, 5)
    assert proto.status == 503
    assert app.lifecycle.in_flight == 0


async def test_a_cancelled_request_outside_shutdown_stays_cancelled():
    app = Gobstopper("cancel2")
    task, proto = await start_stuck_request(app)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert proto.status is None
    assert app.lifecycle.in_flight == 0


def test_options_star_lists_every_routed_method():
    app = Gobstopper("star")
    app.get("/a")(lambda request: "a")
    app.route("/b/<int:i>", methods=["PUT", "DELETE"])(lambda request, i: "b")
    with TestClient(app) as client:
        response = client.options("*")
        assert client.get("*").status_code == 404
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PUT"
