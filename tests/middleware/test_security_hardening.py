"""SecurityMiddleware hardening (issue 15) in-process: token rotation and masking,
headers on every response, a store outage, shared caches."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gobstopper import Blueprint, Gobstopper, Response
from gobstopper.middleware import CORSMiddleware
from gobstopper.middleware.csrf import CSRF_FIELD, rotate_token, session_token, token_matches
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.testing import FakeHTTPProtocol, TestClient, build_request
from tests.middleware.security_app import SECRET, FailingStorage, build, login_token
from tests.vary import vary_of

ORIGIN = "https://app.example"


# -- item 3: regeneration rotates the token ------------------------------------------------
def test_a_token_issued_before_regeneration_is_refused_after_it():
    storage = MemorySessionStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        before = login_token(client)
        secret_before = storage.load(client.cookies.values["session_id"])[CSRF_FIELD]
        assert client.post("/login", headers={"X-CSRF-Token": before}).status_code == 200
        secret_after = storage.load(client.cookies.values["session_id"])[CSRF_FIELD]
        assert secret_after != secret_before
        assert client.post("/submit", headers={"X-CSRF-Token": before}).status_code == 403
        assert client.post("/submit", data={"csrf_token": before}).status_code == 403
        assert (
            client.post("/submit", headers={"X-CSRF-Token": login_token(client)}).status_code == 200
        )


def test_rotate_token_gives_a_session_a_new_secret():
    session: dict[str, Any] = {}
    token = session_token(session)
    rotate_token(session)
    assert not token_matches(session, token)
    assert token_matches(session, session_token(session))


# -- item 4: masked tokens --------------------------------------------------------------
def test_every_masking_of_one_secret_validates_and_none_embeds_it():
    session: dict[str, Any] = {}
    tokens = {session_token(session) for _ in range(50)}
    secret = session[CSRF_FIELD]
    assert len(tokens) == 50
    assert all(secret not in token and token_matches(session, token) for token in tokens)


def _unmasked(token: str) -> bytes:
    raw = base64.urlsafe_b64decode(token + "==")
    return bytes(a ^ b for a, b in zip(raw[:32], raw[32:], strict=True))


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda session, token: session[CSRF_FIELD], id="the-bare-secret"),
        pytest.param(
            lambda session, token: token[:-1] + ("B" if token[-1] == "A" else "A"),
            id="last-char-changed",
        ),
        pytest.param(
            lambda session, token: (
                token[:-1] + chr(ord(token[-1]) + 1)
                if token[-1] in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy"
                else token[:-1] + "A"
            ),
            id="spare-bits-set",
        ),
        pytest.param(lambda session, token: token.upper(), id="upper-cased"),
        pytest.param(lambda session, token: token + "=", id="padding"),
        pytest.param(lambda session, token: "", id="empty"),
        pytest.param(lambda session, token: "\udcff" * 86, id="lone-surrogates"),
        pytest.param(lambda session, token: "٣" * 86, id="unicode-digits"),
    ],
)
def test_forged_tokens_do_not_match(forge):
    session: dict[str, Any] = {}
    token = session_token(session)
    forged = forge(session, token)
    if forged != token:
        assert not token_matches(session, forged)


def test_a_malformed_stored_secret_is_replaced_and_never_matches():
    session: dict[str, Any] = {CSRF_FIELD: "x"}
    assert not token_matches(session, "A" * 86)
    token = session_token(session)
    assert session[CSRF_FIELD] != "x" and token_matches(session, token)
    assert _unmasked(token) == base64.urlsafe_b64decode(session[CSRF_FIELD] + "=")


def test_a_session_without_a_secret_matches_nothing():
    assert not token_matches({}, session_token({}))
    assert not token_matches({CSRF_FIELD: 42}, "A" * 86)


# -- item 5: the headers on every response --------------------------------------------------
def guarded_app(**security_options: Any) -> tuple[Gobstopper, SecurityMiddleware]:
    guard = SecurityMiddleware(
        secret_key=SECRET, session_storage=MemorySessionStorage(), **security_options
    )
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(origins=[ORIGIN]), priority=10)
    app.add_middleware(guard)

    @app.get("/crash")
    async def crash(request):
        raise RuntimeError("bug")

    @app.get("/own")
    async def own(request):
        return Response("ok", headers={"X-Frame-Options": "SAMEORIGIN", "VARY": "Accept"})

    @app.error_handler(500)
    async def custom_500(request, error):
        return Response("oops", headers={"Content-Security-Policy": "default-src 'none'"})

    return app, guard


def assert_guarded(response) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"origin", "cookie"} <= vary_of(response)


def test_an_unhandled_500_and_its_custom_page_get_the_headers():
    app, _ = guarded_app()
    with TestClient(app) as client:
        response = client.get("/crash", headers={"Origin": ORIGIN})
        assert response.status == 500 and response.text == "oops"
        assert_guarded(response)
        assert response.headers["content-security-policy"] == "default-src 'none'"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/missing", 404), ("POST", "/crash", 403), ("GET", "/" + "a" * 9000, 414)],
)
def test_framework_answers_get_the_headers(method, path, status):
    app, _ = guarded_app()
    with TestClient(app) as client:
        response = client.request(method, path, headers={"Origin": ORIGIN})
        assert response.status == status
        assert_guarded(response)


async def test_a_failed_startup_answer_gets_the_headers():
    app, _ = guarded_app()

    @app.on_startup
    def broken() -> None:
        raise RuntimeError("database down")

    scope, body = build_request("GET", "/own", headers={"Origin": ORIGIN})
    proto = FakeHTTPProtocol(body)
    await app.__rsgi__(scope, proto)  # startup runs, and fails, on the first request
    headers = dict(proto.headers)
    assert proto.status == 500
    assert headers["x-frame-options"] == "DENY"
    assert headers["access-control-allow-origin"] == ORIGIN


def test_a_response_that_cannot_be_sent_becomes_a_500_with_the_headers():
    app, _ = guarded_app()

    @app.get("/bad-header")
    async def bad_header(request):
        response = Response("x")
        response.headers["x-injected"] = "a\r\nb"
        return response

    with TestClient(app) as client:
        response = client.get("/bad-header", headers={"Origin": ORIGIN})
        assert response.status == 500
        assert_guarded(response)


def test_slash_redirects_get_the_headers():
    app = Gobstopper(__name__, slash_policy="redirect")
    app.add_middleware(
        SecurityMiddleware(secret_key=SECRET, session_storage=MemorySessionStorage())
    )

    @app.get("/page")
    async def page(request):
        return "page"

    with TestClient(app) as client:
        response = client.get("/page/")
        assert response.status == 308 and response.headers["x-frame-options"] == "DENY"


def test_blueprint_security_covers_its_own_error_pages_only():
    app = Gobstopper(__name__)
    guarded = Blueprint("guarded", url_prefix="/guarded")
    guarded.add_middleware(
        SecurityMiddleware(secret_key=SECRET, session_storage=MemorySessionStorage())
    )

    @guarded.get("/crash")
    async def crash(request):
        raise RuntimeError("bug")

    @app.get("/crash")
    async def plain_crash(request):
        raise RuntimeError("bug")

    app.register_blueprint(guarded)
    with TestClient(app) as client:
        assert client.get("/guarded/crash").headers["x-frame-options"] == "DENY"
        assert "x-frame-options" not in client.get("/crash").headers


def test_handler_headers_still_win_and_vary_merges_in_any_case():
    app, _ = guarded_app()
    with TestClient(app) as client:
        response = client.get("/own", headers={"Origin": ORIGIN})
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        (vary,) = response.headers.get_all("vary")
        assert vary.startswith("Accept, ") and vary_of(response) == {"accept", "origin", "cookie"}


def test_a_failing_finalize_response_is_logged_not_fatal(caplog):
    class Broken:
        async def __call__(self, request, call_next):
            return await call_next(request)

        def finalize_response(self, request, response):
            raise ValueError("broken finisher")

    app = Gobstopper(__name__)
    app.add_middleware(Broken())

    @app.get("/crash")
    async def crash(request):
        raise RuntimeError("bug")

    with TestClient(app) as client:
        assert client.get("/crash").status == 500
    assert "finalize_response failed" in caplog.text


# -- item 9: a store outage is a 503 on unsafe requests --------------------------------------
def test_a_store_outage_answers_unsafe_requests_503_and_safe_ones_without_a_session():
    storage = FailingStorage()
    app, _ = build(session_storage=storage)
    with TestClient(app) as client:
        token = login_token(client)
        storage.fail_load = True
        outage = client.post("/submit", headers={"X-CSRF-Token": token})
        assert outage.status == 503
        assert outage.json() == {"error": "Session storage unavailable", "status": 503}
        assert app.handled == []
        assert client.get("/session").json()["data"] == {}
        assert outage.headers["x-frame-options"] == "DENY"


def test_a_store_outage_without_csrf_runs_the_handler():
    storage = FailingStorage()
    app, _ = build(session_storage=storage, enable_csrf=False)
    with TestClient(app) as client:
        client.get("/set/a/1")
        storage.fail_load = True
        assert client.post("/submit").status == 200


def test_a_forged_token_is_still_403_while_the_store_is_up():
    app, _ = build()
    with TestClient(app) as client:
        login_token(client)
        assert client.post("/submit", headers={"X-CSRF-Token": "A" * 86}).status == 403


# -- item 10: shared caches --------------------------------------------------------------
def test_session_responses_are_private_and_vary_on_cookie():
    app, _ = build()
    with TestClient(app) as client:
        anonymous = client.get("/session")
        assert "cache-control" not in anonymous.headers and vary_of(anonymous) == {"cookie"}
        created = client.get("/set/a/1")
        assert created.headers["cache-control"] == "private"
        again = client.get("/session")
        assert again.headers["cache-control"] == "private" and vary_of(again) == {"cookie"}
        cleared = client.get("/clear")  # ends the session: its cookie is expired
        assert cleared.headers["cache-control"] == "private"


def test_a_stale_cookie_makes_the_answer_private():
    app, _ = build()
    with TestClient(app) as client:
        client.cookies.values["session_id"] = "A" * 43
        response = client.get("/session")
        assert response.headers["cache-control"] == "private"


def test_the_handlers_cache_control_is_kept():
    app, _ = build()

    @app.get("/public")
    async def public(request):
        request.session["seen"] = True
        return Response("hi", headers={"Cache-Control": "public, max-age=60"})

    with TestClient(app) as client:
        response = client.get("/public")
        assert response.headers.get_all("cache-control") == ["public, max-age=60"]
        assert "cookie" in vary_of(response)


def test_error_pages_of_a_session_are_private():
    app, _ = build()
    with TestClient(app) as client:
        client.get("/set/a/1")
        response = client.get("/forbidden")
        assert response.status == 403 and response.headers["cache-control"] == "private"
