"""SecurityMiddleware under a real Granian server: a login flow over the wire."""

from __future__ import annotations

import re

import httpx
import pytest

from gobstopper.sessions.storage import session_digest
from tests.servers import granian_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    env = {"SECRET_KEY": "e2e-secret-0123456789abcdef", "SESSION_DIR": str(root / "sessions")}
    with granian_server("security_app:app", root, env=env) as running:
        running.sessions = root / "sessions"  # type: ignore[attr-defined]
        yield running


def session_files(server) -> set[str]:
    """The ids' digests of the sessions stored on disk (their file names)."""
    return {path.stem for path in server.sessions.glob("*.session")}


def test_login_flow_with_form_csrf_and_session_cookie(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        page = client.get("/login")
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == "default-src 'self'; object-src 'none'"
        set_cookie = page.headers["set-cookie"]
        assert re.fullmatch(
            r"session_id=[\w-]{43}\.[\w-]{43}; Path=/; Max-Age=604800; HttpOnly; SameSite=Strict",
            set_cookie,
        )
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        anonymous_id = client.cookies["session_id"].partition(".")[0]
        assert session_files(server) == {session_digest(anonymous_id)}

        credentials = {"username": "alice", "password": "wonderland"}
        refused = client.post("/login", data=credentials)
        assert refused.status_code == 403
        assert refused.json() == {"error": "CSRF token missing or invalid", "status": 403}
        refused_page = client.post("/login", data=credentials, headers={"accept": "text/html"})
        assert refused_page.status_code == 403
        assert refused_page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>403 Forbidden</title>" in refused_page.text
        assert "CSRF token missing or invalid" in refused_page.text

        logged_in = client.post("/login", data={**credentials, "csrf_token": token})
        assert logged_in.status_code == 200
        assert logged_in.json() == {"user": "alice"}
        new_id = client.cookies["session_id"].partition(".")[0]
        assert new_id != anonymous_id  # regenerated: no session fixation
        assert session_files(server) == {session_digest(new_id)}
        assert client.get("/me").json() == {"user": "alice", "session_id": new_id}

        tampered = client.cookies["session_id"][:-1] + "A"
        if tampered == client.cookies["session_id"]:
            tampered = tampered[:-1] + "B"
        with httpx.Client(base_url=server.url, timeout=10) as attacker:
            attacker.cookies.set("session_id", tampered)
            assert attacker.get("/me").json() == {"user": None, "session_id": None}

        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        bye = client.post("/logout", headers={"X-CSRF-Token": token})
        assert bye.status_code == 200
        assert "Max-Age=0" in bye.headers["set-cookie"]
        assert "session_id" not in client.cookies
        assert session_files(server) == set()
        assert client.get("/me").json() == {"user": None, "session_id": None}
