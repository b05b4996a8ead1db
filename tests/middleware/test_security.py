"""SecurityMiddleware in-process: sessions, signed ids, CSRF, headers, production rules."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from typing import Any

import pytest

from gobstopper import Response
from gobstopper.middleware.csrf import CSRFError
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.middleware.security_settings import default_session_dir
from gobstopper.sessions.storage import (
    AsyncBaseSessionStorage,
    MemorySessionStorage,
    session_digest,
)
from gobstopper.testing import TestClient
from tests.bodies import MULTIPART, multipart_body
from tests.clock import FakeClock
from tests.middleware.security_app import SECRET, FailingStorage, build, login_token

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; object-src 'none'",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


class AsyncDictStorage(AsyncBaseSessionStorage):
    """A minimal async store: proves AsyncBaseSessionStorage backends work."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    async def load(self, session_id: str) -> dict[str, Any] | None:
        self.calls.append("load")
        await asyncio.sleep(0)
        stored = self.data.get(session_id)
        return dict(stored) if stored is not None else None

    async def save(self, session_id: str, data: dict[str, Any]) -> None:
        self.calls.append("save")
        await asyncio.sleep(0)
        self.data[session_id] = dict(data)

    async def delete(self, session_id: str) -> None:
        self.calls.append("delete")
        self.data.pop(session_id, None)


def set_cookies(response) -> list[str]:
    return response.headers.get_all("set-cookie")


def attributes(cookie: str) -> dict[str, str]:
    """``Set-Cookie`` attributes by lower-case name (flags map to '')."""
    _, *attrs = cookie.split(";")
    pairs = (attr.strip().partition("=") for attr in attrs)
    return {name.lower(): value for name, _, value in pairs}


# -- sessions -----------------------------------------------------------------
def test_empty_session_sets_no_cookie_and_stores_nothing():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        response = client.get("/session")
        assert response.json() == {"data": {}, "id": None, "via_api": None}
        assert set_cookies(response) == []
        assert storage.cleanup() == 0 and storage._sessions == {}


def test_round_trip_sets_the_cookie_once_and_keeps_the_data():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        first = client.get("/set/colour/blue")
        (cookie,) = set_cookies(first)
        session_id = client.cookies.values["session_id"]
        assert len(session_id) == 43
        assert first.json() == {"id": None}  # a new session gets its id after the handler
        assert attributes(cookie) == {
            "path": "/",
            "max-age": "604800",
            "secure": "",
            "httponly": "",
            "samesite": "Strict",
        }
        second = client.get("/session")
        assert second.json() == {
            "data": {"colour": "blue"},
            "id": session_id,
            "via_api": session_id,
        }
        assert set_cookies(second) == []
        assert storage.load(session_id) == {"colour": "blue"}
        client.get("/set/size/large")
        assert storage.load(session_id) == {"colour": "blue", "size": "large"}
        assert client.cookies.values["session_id"] == session_id


def test_nested_mutation_is_saved():
    app, _ = build()
    with TestClient(app) as client:
        client.get("/append/apple")
        client.get("/append/pear")
        assert client.get("/session").json()["data"] == {"cart": {"items": ["apple", "pear"]}}


def test_clearing_deletes_the_session_and_expires_the_cookie():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage, cookie_secure=False)
    with TestClient(app) as client:
        client.get("/set/a/1")
        session_id = client.cookies.values["session_id"]
        (cookie,) = set_cookies(client.get("/clear"))
        assert cookie.startswith("session_id=;")
        # Expired with the flags it was set with (no Secure here: plain-HTTP development).
        assert attributes(cookie) == {
            "path": "/",
            "max-age": "0",
            "httponly": "",
            "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
            "samesite": "Strict",
        }
        assert storage.load(session_id) is None
        assert client.cookies.values == {}
        assert set_cookies(client.get("/session")) == []


def test_an_unknown_id_is_never_adopted():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        chosen = "A" * 43  # an id an attacker planted in the victim's browser
        client.cookies.values["session_id"] = chosen
        assert client.get("/session").json()["id"] is None
        client.get("/set/user/bob")
        assert client.cookies.values["session_id"] != chosen
        assert storage.load(chosen) is None


@pytest.mark.parametrize("value", ["../../etc/passwd", "short", "x" * 200, "bad id!"])
def test_malformed_cookie_values_are_no_session(value):
    storage = AsyncDictStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.cookies.values["session_id"] = value
        response = client.get("/session")
        assert response.json()["id"] is None
        assert storage.calls == []  # never handed to the storage (paths, keys)
        assert attributes(set_cookies(response)[0])["max-age"] == "0"  # the junk is expired


def test_signed_ids_round_trip_and_reject_tampering():
    storage = MemorySessionStorage()
    app, security = build(session_storage=storage, sign_session_id=True)
    with TestClient(app) as client:
        client.get("/set/role/user")
        value = client.cookies.values["session_id"]
        session_id, _, signature = value.partition(".")
        assert value == security.signed_session_id(session_id)
        assert len(signature) == 43
        assert storage.load(session_id) == {"role": "user"}
        assert client.get("/session").json()["data"] == {"role": "user"}

        for forged in (
            f"{session_id}.{'A' * 43}",
            session_id,
            f"{session_id}.",
            f"{session_id}.{signature}x",
            f"{session_id}.sé",
        ):
            client.cookies.values["session_id"] = forged
            assert client.get("/session").json() == {"data": {}, "id": None, "via_api": None}

        client.cookies.values["session_id"] = value
        assert client.get("/session").json()["id"] == session_id


def test_signatures_depend_on_the_secret_key():
    one = SecurityMiddleware(secret_key="one", sign_session_id=True)
    two = SecurityMiddleware(secret_key="two", sign_session_id=True)
    session_id = one.create_session_id()
    assert one.signed_session_id(session_id) != two.signed_session_id(session_id)
    assert two._verified_id(one.signed_session_id(session_id)) is None
    assert one._verified_id(one.signed_session_id(session_id)) == session_id
    unsigned = SecurityMiddleware(secret_key="one")
    assert unsigned.signed_session_id(session_id) == session_id


def test_create_session_and_destroy_session():
    storage = MemorySessionStorage()
    app, security = build(session_storage=storage, sign_session_id=True)
    with TestClient(app) as client:
        session_id = client.run(security.create_session({"user": "carol"}))
        assert storage.load(session_id) == {"user": "carol"}
        client.cookies.values["session_id"] = security.signed_session_id(session_id)
        assert client.get("/session").json()["data"] == {"user": "carol"}
        client.run(security.destroy_session(session_id))
        client.run(security.destroy_session(session_id))  # a missing one is fine
        assert storage.load(session_id) is None
        assert client.get("/session").json()["data"] == {}


def test_create_session_id_is_random_and_url_safe():
    security = SecurityMiddleware(secret_key=SECRET)
    ids = {security.create_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 43 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_regenerate_moves_the_data_and_changes_the_cookie():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        token = login_token(client)
        old = client.cookies.values["session_id"]
        response = client.post("/login", headers={"X-CSRF-Token": token})
        assert response.status_code == 200
        body = response.json()
        assert body["old"] == old and body["new"] == body["now"] != old
        assert client.cookies.values["session_id"] == body["new"]
        assert storage.load(old) is None
        stored = storage.load(body["new"])
        assert stored is not None and stored["user"] == "alice"
        assert client.get("/session").json()["data"]["user"] == "alice"


def test_regenerate_without_a_session_returns_none():
    app, _ = build(enable_csrf=False)
    with TestClient(app) as client:
        body = client.post("/login").json()
        assert body == {"old": None, "new": None, "now": None}
        assert "session_id" in client.cookies.values  # the new session gets a fresh id anyway


def test_logout_via_destroy_session_ends_the_session_and_its_cookie():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage, rolling_sessions=True)
    with TestClient(app) as client:
        client.post("/login", headers={"X-CSRF-Token": login_token(client)})
        logged_in = client.cookies.values["session_id"]
        response = client.post("/logout", headers={"X-CSRF-Token": login_token(client)})
        assert attributes(set_cookies(response)[0])["max-age"] == "0"
        assert storage.load(logged_in) is None  # not saved back by rolling_sessions
        assert client.get("/session").json()["data"] == {}


def test_data_added_after_destroy_goes_to_a_new_session():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.post("/login", headers={"X-CSRF-Token": login_token(client)})
        logged_in = client.cookies.values["session_id"]
        client.post("/logout?flash", headers={"X-CSRF-Token": login_token(client)})
        assert client.cookies.values["session_id"] != logged_in
        assert storage.load(logged_in) is None
        assert client.get("/session").json()["data"] == {"flash": "bye"}


def test_rolling_sessions_resend_the_cookie_and_extend_the_expiry():
    clock = FakeClock(1_000_000.0)
    storage = MemorySessionStorage(ttl=100, clock=clock)
    app, _ = build(session_storage=storage, rolling_sessions=True, cookie_max_age=100)
    with TestClient(app) as client:
        client.get("/set/a/1")
        for _ in range(3):
            clock.now += 60  # past the first save's expiry by the third request
            (cookie,) = set_cookies(client.get("/session"))
            assert attributes(cookie)["max-age"] == "100"
        assert client.get("/session").json()["data"] == {"a": "1"}


def test_without_rolling_an_unchanged_session_is_not_saved_again():
    clock = FakeClock(1_000_000.0)
    storage = MemorySessionStorage(ttl=100, clock=clock)
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.get("/set/a/1")
        clock.now += 60
        assert set_cookies(client.get("/session")) == []
        clock.now += 60
        assert client.get("/session").json()["data"] == {}  # expired: never re-saved


def test_async_storage():
    storage = AsyncDictStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.get("/set/k/v")
        session_id = client.cookies.values["session_id"]
        assert storage.data == {session_id: {"k": "v"}}
        assert client.get("/session").json()["data"] == {"k": "v"}
        client.get("/clear")
        assert storage.data == {}
        assert storage.calls == ["save", "load", "load", "delete"]


def test_a_storage_whose_load_raises_means_no_session(caplog):
    storage = FailingStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.get("/set/a/1")
        storage.fail_load = True
        with caplog.at_level(logging.ERROR, logger="gobstopper.security"):
            response = client.get("/session")
        assert response.status_code == 200
        assert response.json()["data"] == {}
        assert "failed to load" in caplog.text
        assert set_cookies(response) == []  # an outage must not log everybody out
        storage.fail_load = False
        assert client.get("/session").json()["data"] == {"a": "1"}


def test_a_storage_whose_save_raises_is_a_500_without_details():
    app, _ = build(session_storage=FailingStorage(fail_save=True))
    with TestClient(app) as client:
        response = client.get("/set/a/1")
        assert response.status_code == 500
        assert "hunter2" not in response.text
        assert set_cookies(response) == []


def test_non_json_session_data_is_a_500():
    app, _ = build()
    with TestClient(app) as client:
        assert client.get("/not-json").status_code == 500
        assert client.cookies.values == {}


def test_a_failing_handler_saves_nothing():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        client.get("/set/a/1")
        assert client.get("/fail-after-change").status_code == 500
        assert client.get("/session").json()["data"] == {"a": "1"}


def test_default_storage_is_a_private_folder_created_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    app, _ = build(session_storage=None)
    folder = tmp_path / f"gobstopper-sessions-{os.getuid()}"
    assert not folder.exists()
    with TestClient(app) as client:
        assert set_cookies(client.get("/session")) == []
        client.get("/set/a/1")
        session_file = folder / f"{session_digest(client.cookies.values['session_id'])}.session"
        assert session_file.is_file()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert client.get("/session").json()["data"] == {"a": "1"}


def test_default_folder_is_refused_when_others_can_read_it(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = tmp_path / f"gobstopper-sessions-{os.getuid()}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(RuntimeError, match="not a private directory"):
        default_session_dir()
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match="not a private directory"):
        default_session_dir()


# -- CSRF ---------------------------------------------------------------------
@pytest.mark.parametrize("header", ["X-CSRF-Token", "X-CSRFToken"])
def test_csrf_token_in_a_header(header):
    app, _ = build()
    with TestClient(app) as client:
        token = login_token(client)
        response = client.post("/submit", headers={header: token})
        assert response.status_code == 200
        assert app.handled == ["POST"]


def test_csrf_tokens_are_masked_afresh_per_render_and_all_validate():
    app, security = build()
    with TestClient(app) as client:
        tokens = [login_token(client) for _ in range(3)]
        assert len(set(tokens)) == 3
        for token in tokens:
            assert client.post("/submit", headers={"X-CSRF-Token": token}).status_code == 200
    session: dict[str, Any] = {}
    token = security.generate_csrf_token(session)
    secret = session["csrf_token"]
    assert len(token) == 86 and len(secret) == 43 and secret not in token
    assert security.generate_csrf_token(session) != token
    assert session == {"csrf_token": secret}  # one secret per session


def test_csrf_token_in_an_urlencoded_form_and_the_handler_still_reads_it():
    app, _ = build()
    with TestClient(app) as client:
        token = login_token(client)
        response = client.post("/submit", data={"csrf_token": token, "name": "ann"})
        assert response.status_code == 200
        assert response.json()["form"] == {"csrf_token": [token], "name": ["ann"]}


def test_csrf_token_in_a_multipart_form_and_the_handler_still_gets_files():
    app, _ = build()
    with TestClient(app) as client:
        token = login_token(client)
        body = multipart_body(
            {"csrf_token": token, "title": "cv"}, {"upload": ("cv.pdf", b"%PDF-1.7 data")}
        )
        response = client.post("/submit", content=body, headers=MULTIPART)
        assert response.status_code == 200
        assert response.json() == {
            "form": {"csrf_token": [token], "title": ["cv"]},
            "files": {"upload": "cv.pdf"},
        }


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("case", ["missing", "wrong", "json-body", "no-session", "empty"])
def test_csrf_failures_are_403_and_skip_the_handler(method, case):
    app, _ = build()
    with TestClient(app) as client:
        token = login_token(client) if case != "no-session" else "anything"
        kwargs: dict[str, Any] = {
            "missing": {},
            "wrong": {"headers": {"X-CSRF-Token": token + "x"}},
            "json-body": {"json": {"csrf_token": token}},
            "no-session": {"headers": {"X-CSRF-Token": token}},
            "empty": {"headers": {"X-CSRF-Token": ""}, "data": {"csrf_token": ""}},
        }[case]
        response = client.request(method, "/submit", **kwargs)
        assert response.status_code == 403
        assert response.json() == {"error": "CSRF token missing or invalid", "status": 403}
        assert response.headers["x-frame-options"] == "DENY"
        assert app.handled == []


def test_a_csrf_failure_is_the_themed_error_page_for_browsers_and_json_for_apis():
    app, _ = build()
    with TestClient(app) as client:
        login_token(client)
        page = client.post("/submit", data={"name": "ann"}, headers={"accept": "text/html"})
        api = client.post("/submit", json={}, headers={"accept": "application/json"})
    assert page.status_code == api.status_code == 403
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>403 Forbidden</title>" in page.text
    assert "<p>CSRF token missing or invalid</p>" in page.text
    assert page.headers["content-security-policy"] == "default-src 'self'; object-src 'none'"
    assert api.headers["content-type"] == "application/json"
    assert api.json() == {"error": "CSRF token missing or invalid", "status": 403}
    assert app.handled == []


def test_an_app_error_handler_for_403_renders_csrf_failures():
    app, _ = build()

    @app.error_handler(403)
    async def forbidden(request, exc):
        return {"refused": exc.description, "csrf": isinstance(exc, CSRFError)}

    with TestClient(app) as client:
        login_token(client)
        response = client.post("/submit")
    assert response.status_code == 403
    assert response.json() == {"refused": "CSRF token missing or invalid", "csrf": True}
    assert response.headers["x-frame-options"] == "DENY"


def test_a_non_ascii_token_is_refused_not_an_error():
    app, _ = build()
    with TestClient(app) as client:
        login_token(client)
        response = client.post("/submit", data={"csrf_token": "tökén"})
        assert response.status_code == 403


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_not_checked(method):
    app, _ = build()
    with TestClient(app) as client:
        assert client.request(method, "/session").status_code in (200, 204)


def test_csrf_can_be_disabled():
    app, _ = build(enable_csrf=False)
    with TestClient(app) as client:
        assert client.post("/submit").status_code == 200


# -- security headers ----------------------------------------------------------
def test_security_headers_on_every_response():
    app, _ = build()
    with TestClient(app) as client:
        for response in (
            client.get("/session"),
            client.get("/missing"),
            client.get("/forbidden"),
            client.post("/submit"),
        ):
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value, (response.status_code, name)
            assert "strict-transport-security" not in response.headers  # plain HTTP


def test_hsts_only_over_https():
    app, _ = build(hsts_max_age=600)
    with TestClient(app) as client:
        response = client.get("/session", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    app, _ = build(hsts_include_subdomains=False)
    with TestClient(app) as client:
        response = client.get("/session", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_handler_headers_are_not_overwritten():
    app, _ = build()
    with TestClient(app) as client:
        response = client.get("/own-headers")
        assert response.headers.get_all("x-frame-options") == ["SAMEORIGIN"]
        assert response.headers.get_all("content-security-policy") == ["default-src *"]
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_custom_and_disabled_headers():
    app, _ = build(csp_policy="default-src 'none'", coep_policy="", referrer_policy="no-referrer")
    with TestClient(app) as client:
        response = client.get("/session")
        assert response.headers["content-security-policy"] == "default-src 'none'"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "cross-origin-embedder-policy" not in response.headers
    app, _ = build(enable_security_headers=False)
    with TestClient(app) as client:
        response = client.get("/session", headers={"X-Forwarded-Proto": "https"})
        assert not set(SECURITY_HEADERS) & set(response.headers.keys())
        assert "strict-transport-security" not in response.headers


# -- configuration and production rules -----------------------------------------
def test_production_forces_secure_cookie_flags(monkeypatch):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.delenv("WOPR_ALLOW_INSECURE_COOKIES", raising=False)
    app, _ = build(cookie_secure=False, cookie_httponly=False, cookie_samesite="Lax")
    with TestClient(app) as client:
        (cookie,) = set_cookies(client.get("/set/a/1"))
        flags = attributes(cookie)
        assert "secure" in flags and "httponly" in flags and flags["samesite"] == "Strict"


@pytest.mark.parametrize("flag", ["1", "true"])
def test_insecure_cookie_opt_out_does_not_relax_the_session_cookie(monkeypatch, flag):
    # The reference: "These cannot be disabled in production"; the variable is
    # Response.set_cookie's opt-out only.
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("WOPR_ALLOW_INSECURE_COOKIES", flag)
    app, _ = build(cookie_secure=False, cookie_httponly=False, cookie_samesite="Lax")

    @app.get("/own-cookie")
    async def own_cookie(request):
        response = Response("ok")
        response.set_cookie("theme", "dark", secure=False, httponly=False, samesite="Lax")
        return response

    with TestClient(app) as client:
        (cookie,) = set_cookies(client.get("/set/a/1"))
        assert attributes(cookie) == {
            "path": "/",
            "max-age": "604800",
            "secure": "",
            "httponly": "",
            "samesite": "Strict",
        }
        (own,) = set_cookies(client.get("/own-cookie"))
        assert attributes(own) == {"path": "/", "samesite": "Lax"}


def test_production_requires_a_secret_key(monkeypatch):
    monkeypatch.setenv("ENV", "production")
    for missing in (None, ""):
        with pytest.raises(ValueError, match="SECRET_KEY"):
            SecurityMiddleware(secret_key=missing, debug=True)
    SecurityMiddleware(secret_key=SECRET)


def test_a_missing_secret_key_outside_production_is_random_and_logged(monkeypatch, caplog):
    monkeypatch.delenv("ENV", raising=False)
    with caplog.at_level(logging.WARNING, logger="gobstopper.security"):
        one = SecurityMiddleware(sign_session_id=True)
    assert "several workers" in caplog.text
    two = SecurityMiddleware(sign_session_id=True)
    session_id = one.create_session_id()
    assert one.signed_session_id(session_id) != two.signed_session_id(session_id)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gobstopper.security"):
        SecurityMiddleware(debug=True)
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cookie_samesite": "None", "cookie_secure": False}, "requires cookie_secure"),
        ({"cookie_samesite": "sometimes"}, "cookie_samesite must be"),
        ({"cookie_name": "bad name"}, "invalid cookie name"),
        ({"cookie_path": "/a;b"}, "path"),
        ({"hsts_max_age": -1}, "hsts_max_age"),
        ({"csp_policy": "default-src 'self'\r\nX-Evil: 1"}, "content-security-policy"),
    ],
)
def test_bad_settings_fail_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        SecurityMiddleware(secret_key=SECRET, **options)


def test_samesite_none_with_secure_is_allowed():
    app, _ = build(cookie_samesite="none", cookie_domain="example.test")
    with TestClient(app) as client:
        (cookie,) = set_cookies(client.get("/set/a/1"))
        assert attributes(cookie)["samesite"] == "None"
        assert attributes(cookie)["domain"] == "example.test"
