"""The SecurityMiddleware app the in-process security tests drive.

``build`` gives an app whose routes use every part of the session and CSRF
API (tests/middleware/test_security.py, test_security_hardening.py).
"""

from __future__ import annotations

from typing import Any

from gobstopper import Gobstopper, Response
from gobstopper.http.errors import Forbidden
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.testing import TestClient

SECRET = "test-secret-key-that-is-long-enough-0123456789"


class FailingStorage(MemorySessionStorage):
    """Loads or saves raise, as a store whose server is down would."""

    def __init__(self, fail_load: bool = False, fail_save: bool = False) -> None:
        super().__init__()
        self.fail_load, self.fail_save = fail_load, fail_save

    def load(self, session_id: str) -> dict[str, Any] | None:
        if self.fail_load:
            raise ConnectionError("storage password=hunter2 unreachable")
        return super().load(session_id)

    def save(self, session_id: str, data: dict[str, Any]) -> None:
        if self.fail_save:
            raise ConnectionError("storage password=hunter2 unreachable")
        super().save(session_id, data)


def build(**options: Any) -> tuple[Gobstopper, SecurityMiddleware]:
    """An app whose routes exercise every part of the session API."""
    options.setdefault("secret_key", SECRET)
    options.setdefault("session_storage", MemorySessionStorage())
    security = SecurityMiddleware(**options)
    app = Gobstopper(__name__, trusted_proxies="127.0.0.1")
    app.add_middleware(security)
    app.handled = []  # type: ignore[attr-defined]

    @app.get("/session")
    async def show(request):
        return {
            "data": request.session,
            "id": request.session_id,
            "via_api": security.get_session_id(request),
        }

    @app.get("/set/<key>/<value>")
    async def set_value(request, key, value):
        request.session[key] = value
        return {"id": request.session_id}

    @app.get("/append/<value>")
    async def append(request, value):
        request.session.setdefault("cart", {"items": []})["items"].append(value)
        return "ok"

    @app.get("/clear")
    async def clear(request):
        request.session.clear()
        return "cleared"

    @app.get("/token")
    async def token(request):
        return {"token": security.generate_csrf_token(request.session)}

    @app.route("/submit", methods=["POST", "PUT", "PATCH", "DELETE"])
    async def submit(request):
        app.handled.append(request.method)  # type: ignore[attr-defined]
        form = await request.get_form()
        files = await request.get_files()
        return {"form": form, "files": {name: f.filename for name, f in files.items()}}

    @app.post("/login")
    async def login(request):
        old = request.session_id
        new = await security.regenerate_session_id(request)
        request.session["user"] = "alice"
        return {"old": old, "new": new, "now": request.session_id}

    @app.post("/logout")
    async def logout(request):
        await security.destroy_session(security.get_session_id(request))
        if request.query_string == "flash":
            request.session["flash"] = "bye"
        return "bye"

    add_error_routes(app)
    return app, security


def add_error_routes(app: Gobstopper) -> None:
    """Routes whose handlers set headers, raise or store bad data."""

    @app.get("/own-headers")
    async def own_headers(request):
        return Response(
            "mine",
            headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src *"},
        )

    @app.get("/forbidden")
    async def forbidden(request):
        raise Forbidden("no")

    @app.get("/fail-after-change")
    async def fail_after_change(request):
        request.session["lost"] = True
        raise RuntimeError("handler failed")

    @app.get("/not-json")
    async def not_json(request):
        request.session["bad"] = {1, 2}
        return "ok"


def login_token(client: TestClient) -> str:
    """A CSRF token for the client's session (starting one if needed)."""
    return client.get("/token").json()["token"]
