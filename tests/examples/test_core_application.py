"""The reference's "Core Application" examples, run as written.

Each test pastes one documented example (prompts removed) and checks what the
reference says it does. Names the examples take for granted (a database pool,
``new_user_id``, an error tracker) are defined as small stand-ins first.
Examples that need templates, background tasks or WebSockets are covered by
those subsystems' own example tests.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time

import pytest

from gobstopper.core.app import Gobstopper
from gobstopper.core.blueprint import Blueprint
from gobstopper.http.response import JSONResponse, Response, redirect
from gobstopper.testing import TestClient


@pytest.fixture
def app() -> Gobstopper:
    return Gobstopper(__name__)


# -- add_middleware ----------------------------------------------------------------
def test_add_middleware_basic_and_logging(app, caplog):
    async def auth_middleware(request, next_handler):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)
        return await next_handler(request)

    app.add_middleware(auth_middleware, priority=100)

    async def log_middleware(request, next_handler):
        start = time.time()
        response = await next_handler(request)
        duration = time.time() - start
        app.logger.info(f"{request.method} {request.path} - {duration:.3f}s")
        return response

    app.add_middleware(log_middleware, priority=50)

    @app.get("/")
    async def home(request):
        return {"message": "Welcome"}

    with TestClient(app) as client, caplog.at_level(logging.INFO, logger=__name__):
        assert client.get("/").status_code == 401
        assert not caplog.records  # auth (priority 100) answered before logging ran
        assert client.get("/", headers={"authorization": "Bearer t"}).json() == {
            "message": "Welcome"
        }
    assert caplog.records[0].getMessage().startswith("GET / - ")


# -- route and the method decorators -------------------------------------------------------
def test_route_examples(app):
    @app.route("/")
    async def home(request):
        return {"message": "Welcome"}

    @app.route("/api/data", methods=["GET", "POST"])
    async def data_handler(request):
        if request.method == "GET":
            return {"data": [...]}
        return {"created": True}

    @app.route("/users/<int:user_id>")
    async def get_user(request, user_id: int):
        # user_id is automatically converted to int
        return {"user_id": user_id}

    @app.route("/blog/<date:pub_date>/posts/<uuid:post_id>")
    async def get_post(request, pub_date, post_id):
        return {"date": pub_date, "id": post_id}

    post_id = "0b5c3e2a-1f2d-4c5b-9a8e-7d6f5e4c3b2a"
    with TestClient(app) as client:
        assert client.get("/").json() == {"message": "Welcome"}
        assert client.get("/api/data").json() == {"data": [None]}
        assert client.post("/api/data").json() == {"created": True}
        assert client.get("/users/42").json() == {"user_id": 42}
        assert client.get("/users/abc").status_code == 400  # conversion error → 400
        assert client.get(f"/blog/2024-03-01/posts/{post_id}").json() == {
            "date": "2024-03-01",
            "id": post_id,
        }
        assert client.get("/blog/2024-3-1/posts/x").status_code == 400


def test_get_post_put_delete_patch_options_examples(app):
    new_user_id = 99

    @app.get("/users")
    async def list_users(request):
        return {"users": [...]}

    @app.post("/users")
    async def create_user(request):
        data = await request.json()  # noqa: F841 - as documented
        return {"id": new_user_id}, 201

    @app.put("/users/<int:user_id>")
    async def update_user(request, user_id: int):
        data = await request.json()  # noqa: F841 - as documented
        return {"updated": True}

    @app.delete("/users/<int:user_id>")
    async def delete_user(request, user_id: int):
        return {"deleted": True}, 204

    @app.patch("/users/<int:user_id>")
    async def patch_user(request, user_id: int):
        data = await request.json()  # Only changed fields  # noqa: F841
        return {"updated": True}

    @app.options("/api/data")
    async def data_options(request):
        return Response("", headers={"Allow": "GET, POST"})

    with TestClient(app) as client:
        assert client.get("/users").json() == {"users": [None]}
        created = client.post("/users", json={"name": "Ann"})
        assert (created.status_code, created.json()) == (201, {"id": 99})
        assert client.put("/users/1", json={"name": "B"}).json() == {"updated": True}
        deleted = client.delete("/users/1")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert client.patch("/users/1", json={"name": "C"}).json() == {"updated": True}
        options = client.options("/api/data")
        assert options.headers["allow"] == "GET, POST"


# -- mount -------------------------------------------------------------------------------
def test_mount_examples(app):
    # Create admin sub-application
    admin_app = Gobstopper("admin")

    @admin_app.get("/dashboard")
    async def admin_dashboard(request):
        return {"admin": True}

    # Mount under /admin prefix
    app.mount("/admin", admin_app)
    # Now accessible at: /admin/dashboard

    api_v1 = Gobstopper("api_v1")
    api_v2 = Gobstopper("api_v2")
    app.mount("/api/v1", api_v1)
    app.mount("/api/v2", api_v2)
    api_v1.get("/version")(lambda request: "v1")
    api_v2.get("/version")(lambda request: "v2")

    debug_app = Gobstopper("debug", debug=True)

    @debug_app.get("/info")
    async def debug_info(request):
        return {"debug": True}

    app.mount("/_debug", debug_app)

    with TestClient(app) as client:
        assert client.get("/admin/dashboard").json() == {"admin": True}
        assert client.get("/api/v1/version").text == "v1"
        assert client.get("/api/v2/version").text == "v2"
        assert client.get("/_debug/info").json() == {"debug": True}


# -- register_blueprint ----------------------------------------------------------------------
def test_register_blueprint_examples(app):
    api = Blueprint("api", url_prefix="/api")

    @api.get("/users")
    async def list_users(request):
        return {"users": [...]}

    app.register_blueprint(api)
    # Route available at: /api/users

    admin_bp = Blueprint("admin", url_prefix="/admin")
    admin_bp.get("/")(lambda request: "dashboard")
    app.register_blueprint(admin_bp, url_prefix="/dashboard")
    # Routes use /dashboard instead of /admin

    async def user_handler(request):
        return {"v1": True}

    outer = Blueprint("outer", url_prefix="/api")
    v1 = Blueprint("v1", url_prefix="/v1")
    v1.get("/users")(user_handler)
    outer.register_blueprint(v1)
    app.register_blueprint(outer)
    # Route available at: /api/v1/users

    async def auth_middleware(request, call_next):
        request.user = request.headers.get("x-user", "anonymous")
        return await call_next(request)

    auth_bp = Blueprint("auth")
    auth_bp.add_middleware(auth_middleware, priority=100)

    @auth_bp.get("/profile")
    async def profile(request):
        return {"user": request.user}

    app.register_blueprint(auth_bp, url_prefix="/secure")

    with TestClient(app) as client:
        assert client.get("/api/users").json() == {"users": [None]}
        assert client.get("/dashboard/").text == "dashboard"
        assert client.get("/api/v1/users").json() == {"v1": True}
        assert client.get("/secure/profile", headers={"x-user": "ann"}).json() == {"user": "ann"}


# -- url_for --------------------------------------------------------------------------------
def test_url_for_examples(app):
    @app.get("/users/<int:id>", name="user_detail")
    async def get_user(request):
        return {"user": ...}

    assert app.url_for("user_detail", id=123) == "/users/123"

    @app.get("/posts/<int:year>/<int:month>")
    async def posts_archive(request):
        return {"posts": ...}

    assert app.url_for("posts_archive", year=2024, month=12) == "/posts/2024/12"

    admin = Blueprint("admin", __name__)

    @admin.get("/login")
    async def login(request):
        return {"login": True}

    app.register_blueprint(admin, url_prefix="/admin")
    assert app.url_for("admin.login") == "/admin/login"

    def save_user():
        return 7

    @app.post("/users")
    async def create_user(request):
        new_id = save_user()
        return redirect(app.url_for("user_detail", id=new_id))

    with pytest.raises(ValueError):
        app.url_for("missing")
    with pytest.raises(ValueError):
        app.url_for("user_detail")
    with TestClient(app) as client:
        assert client.get("/admin/login").json() == {"login": True}
        # The handlers above take no path parameters: the values stay in request.view_args.
        assert client.get("/users/123").json() == {"user": None}
        assert client.get("/posts/2024/12").json() == {"posts": None}
        response = client.post("/users")
    assert (response.status_code, response.headers["location"]) == (302, "/users/7")


# -- before_request / after_request -----------------------------------------------------------
def test_before_request_examples(app, caplog):
    async def validate_and_get_user(token):
        return {"token": token}

    @app.before_request
    async def log_requests(request):
        app.logger.info(f"Request: {request.method} {request.path}")
        # No return - continues to handler

    @app.before_request
    async def require_auth(request):
        if not request.headers.get("authorization"):
            return Response("Unauthorized", status=401)
        # Auth successful - continues to handler

    @app.before_request
    async def add_user_context(request):
        token = request.headers.get("authorization")
        request.user = await validate_and_get_user(token)

    @app.get("/me")
    async def me(request):
        return request.user

    with TestClient(app) as client, caplog.at_level(logging.INFO, logger=__name__):
        assert client.get("/me").status_code == 401
        assert client.get("/me", headers={"authorization": "t1"}).json() == {"token": "t1"}
    assert [r.getMessage() for r in caplog.records] == ["Request: GET /me"] * 2


def test_after_request_examples(app, caplog):
    @app.after_request
    async def add_headers(request, response):
        response.headers["X-Processed-By"] = "Gobstopper"
        return response

    @app.after_request
    async def log_response(request, response):
        app.logger.info(f"Response: {response.status}")
        # No return - original response used

    @app.after_request
    def add_security_headers(request, response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    app.get("/")(lambda request: "page")
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger=__name__):
        response = client.get("/")
    assert response.headers["x-processed-by"] == "Gobstopper"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert caplog.records[0].getMessage() == "Response: 200"


# -- error_handler ---------------------------------------------------------------------------
def test_error_handler_examples(app):
    captured = []

    class ErrorTracker:
        async def capture(self, error, request):
            captured.append((type(error).__name__, request.path))

    error_tracker = ErrorTracker()

    @app.error_handler(500)
    async def server_error(request, error):
        # Log to error tracking service
        await error_tracker.capture(error, request)
        return JSONResponse(
            {"error": "Internal server error", "request_id": request.id}, status=500
        )

    @app.error_handler(429)
    async def rate_limited(request, error):
        return JSONResponse(
            {"error": "Too many requests", "retry_after": 60},
            status=429,
            headers={"Retry-After": "60"},
        )

    @app.error_handler(401)
    async def unauthorized(request, error):
        return JSONResponse(
            {"error": "Authentication required", "login_url": "/auth/login"}, status=401
        )

    from gobstopper.http.errors import abort

    @app.get("/crash")
    async def crash(request):
        raise ZeroDivisionError("boom")

    app.get("/limited")(lambda request: abort(429))
    app.get("/private")(lambda request: abort(401))

    with TestClient(app) as client:
        crash_response = client.get("/crash")
        limited = client.get("/limited")
        private = client.get("/private")
    assert crash_response.status_code == 500
    assert crash_response.json()["error"] == "Internal server error"
    assert captured == [("ZeroDivisionError", "/crash")]
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "60")
    assert private.json()["login_url"] == "/auth/login"


# -- on_startup / on_shutdown -----------------------------------------------------------------
def test_on_startup_examples(app, caplog):
    DATABASE_URL = "memory://"  # noqa: N806 - the example's module constant

    async def create_db_pool(url):
        return {"pool": url}

    async def load_config():
        return {"feature": True}

    async def init_redis_cache():
        return {}

    def load_pretrained_model(path):
        return f"model from {path}"

    @app.on_startup
    async def init_database():
        app.db = await create_db_pool(DATABASE_URL)
        app.logger.info("Database connected")

    @app.on_startup
    async def warm_cache():
        app.config = await load_config()
        app.cache = await init_redis_cache()

    @app.on_startup
    def load_models():
        app.ml_model = load_pretrained_model("model.pkl")
        app.logger.info("Model loaded")

    @app.get("/")
    async def index(request):
        return {"db": app.db, "config": app.config, "model": app.ml_model}

    with caplog.at_level(logging.INFO, logger=__name__):
        client = TestClient(app)  # startup runs lazily, on the first request
        try:
            assert not caplog.records
            assert client.get("/").json() == {
                "db": {"pool": "memory://"},
                "config": {"feature": True},
                "model": "model from model.pkl",
            }
            client.get("/")
        finally:
            client.close()
    assert [r.getMessage() for r in caplog.records] == ["Database connected", "Model loaded"]


def test_on_shutdown_examples(app, tmp_path, monkeypatch, caplog):
    events = []

    class Closable:
        async def close(self):
            events.append("db closed")

        async def flush(self):
            events.append("cache flushed")

    async def save_application_state():
        events.append("state saved")

    app.db = Closable()
    app.cache = Closable()
    app.metrics_client = Closable()

    @app.on_shutdown
    async def close_database():
        await app.db.close()
        app.logger.info("Database connection closed")

    @app.on_shutdown
    async def save_state():
        await app.cache.flush()
        await save_application_state()
        app.logger.info("State saved")

    @app.on_shutdown
    async def stop_services():
        await app.websocket_manager.close_all()
        await app.metrics_client.close()

    uploads = tmp_path / "app_uploads"
    uploads.mkdir()
    real_rmtree = shutil.rmtree
    monkeypatch.setattr(
        shutil, "rmtree", lambda path, ignore_errors=False: real_rmtree(uploads, ignore_errors)
    )

    @app.on_shutdown
    def cleanup_temp_files():
        import shutil

        shutil.rmtree("/tmp/app_uploads", ignore_errors=True)

    with caplog.at_level(logging.INFO, logger=__name__), TestClient(app):
        pass
    assert events == ["db closed", "cache flushed", "state saved", "db closed"]
    assert not uploads.exists()


def test_visualize_routing_on_startup(app, caplog):
    @app.on_startup
    def show_routes():
        app.visualize_routing()

    app.get("/api/users")(lambda request: [])
    with caplog.at_level(logging.INFO, logger=__name__), TestClient(app):
        pass
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "=== Routing Visualization ==="
    assert any(m.startswith("Route ['GET'] /api/users") for m in messages)


# -- shutdown ------------------------------------------------------------------------------------
def test_shutdown_examples(app):
    @app.post("/admin/shutdown")
    async def trigger_shutdown(request):
        asyncio.create_task(app.shutdown(timeout=30))  # noqa: RUF006 - as documented
        return {"status": "shutting down"}

    closed = asyncio.Event()
    app.on_shutdown(closed.set)
    with TestClient(app) as client:
        assert client.post("/admin/shutdown").json() == {"status": "shutting down"}
        client.run(asyncio.wait_for(closed.wait(), 5))  # the hook ran on the app's loop
        assert client.post("/admin/shutdown").status_code == 503


async def test_shutdown_with_custom_timeout(app):
    started = asyncio.Event()

    @app.get("/slow")
    async def slow(request):
        started.set()
        await asyncio.sleep(0.05)
        return "done"

    from gobstopper.testing import AsyncTestClient

    client = AsyncTestClient(app)
    request = asyncio.create_task(client.get("/slow"))
    await started.wait()
    await app.shutdown(timeout=60)  # Wait up to 60s
    assert (await request).text == "done"


# -- __rsgi__ -------------------------------------------------------------------------------------
def test_rsgi_example_app():
    from gobstopper import Gobstopper

    app = Gobstopper(__name__)

    @app.get("/")
    async def hello(request):
        return {"message": "Hello"}

    # The scope may be a dict (test-client compatibility).
    from gobstopper.testing import FakeHTTPProtocol

    proto = FakeHTTPProtocol(b"")
    scope = {
        "proto": "http",
        "method": "GET",
        "path": "/",
        "query_string": "",
        "headers": {"host": "x"},
        "client": "127.0.0.1:1",
        "scheme": "http",
        "server": "x:80",
        "authority": None,
        "http_version": "1.1",
    }
    asyncio.run(app.__rsgi__(scope, proto))
    assert proto.status == 200 and proto.chunks == [b'{"message":"Hello"}']
    with TestClient(app) as client:
        assert client.get("/").json() == {"message": "Hello"}


# -- Blueprint class signatures -------------------------------------------------------------------
VERB_DECORATORS = {
    "route": "GET",
    "get": "GET",
    "post": "POST",
    "put": "PUT",
    "delete": "DELETE",
    "patch": "PATCH",
    "options": "OPTIONS",
}


def test_blueprint_class_api(app):
    bp = Blueprint("bp", url_prefix="/bp", static_folder=None, template_folder=None)
    nested = Blueprint("nested")
    seen: list[str] = []
    for decorator in VERB_DECORATORS:

        async def handler(request, decorator=decorator):
            return {"via": decorator}

        assert getattr(bp, decorator)(f"/{decorator}")(handler) is handler
    nested.get("/leaf")(lambda request: {"via": "nested"})
    bp.register_blueprint(nested, url_prefix="/n")

    def before(request):
        seen.append("before")

    def after(request, response):
        seen.append("after")

    assert bp.before_request(before) is before
    assert bp.after_request(after) is after
    bp.add_middleware(
        lambda request, call_next: seen.append("middleware") or call_next(request), priority=1
    )
    app.register_blueprint(bp)
    with TestClient(app) as client:
        for decorator, method in VERB_DECORATORS.items():
            answer = client.request(method, f"/bp/{decorator}")
            assert answer.json() == {"via": decorator}, decorator
        assert client.get("/bp/n/leaf").json() == {"via": "nested"}
    assert seen == ["middleware", "before", "after"] * (len(VERB_DECORATORS) + 1)
