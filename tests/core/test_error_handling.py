"""Exceptions become responses: user handlers, themed defaults, fallbacks."""

from __future__ import annotations

import logging

import pytest

from gobstopper import Gobstopper, JSONResponse, Response, abort
from gobstopper.core.error_handling import ErrorHandlers, wants_json
from gobstopper.http import errors
from gobstopper.http.request import Request
from gobstopper.testing import TestClient, build_request

HTML = {"accept": "text/html,application/xhtml+xml"}
JSON = {"accept": "application/json"}


def boom_app(debug: bool = False) -> Gobstopper:
    app = Gobstopper("errors", debug=debug)

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/sync-boom")
    def sync_boom(request):
        raise KeyError("sync secret")

    @app.get("/abort/<int:status>")
    async def aborted(request, status):
        abort(status)

    return app


@pytest.mark.parametrize("path", ["/boom", "/sync-boom"])
@pytest.mark.parametrize("headers", [HTML, JSON, {}])
def test_unhandled_exceptions_are_500_without_internals_unless_debug(path, headers, caplog):
    with TestClient(boom_app()) as client, caplog.at_level(logging.ERROR):
        response = client.get(path, headers=headers)
    assert response.status_code == 500
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "unhandled exception in GET" in caplog.text


def test_debug_mode_shows_the_traceback_in_html_and_the_exception_in_json():
    with TestClient(boom_app(debug=True)) as client:
        html = client.get("/boom", headers=HTML)
        data = client.get("/boom", headers=JSON)
    assert html.status_code == 500
    assert "Traceback" in html.text and "secret internals" in html.text
    assert data.json()["exception"].startswith("RuntimeError: secret internals")


def test_default_pages_are_html_for_browsers_and_json_for_clients():
    app = Gobstopper("defaults")
    with TestClient(app) as client:
        page = client.get("/missing", headers=HTML)
        data = client.get("/missing", headers=JSON)
        curl = client.get("/missing", headers={"accept": "*/*"})
    assert page.headers["content-type"].startswith("text/html")
    assert "404" in page.text and "<html" in page.text.lower()
    assert data.json() == {"error": "Not Found", "status": 404}
    assert curl.json()["status"] == 404


@pytest.mark.parametrize("path", ["/<script>alert(1)</script>", "/%3Cimg%20src=x%20onerror=1%3E"])
def test_404_page_never_reflects_the_path_unescaped(path):
    with TestClient(Gobstopper("xss")) as client:
        response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in response.text
    assert "<img src=x onerror=1>" not in response.text


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 408, 409, 413, 414, 415, 422, 429, 500, 503, 418, 451, 502]
)
def test_abort_answers_with_the_status(status):
    with TestClient(boom_app()) as client:
        response = client.get(f"/abort/{status}", headers=JSON)
    assert response.status_code == status
    assert response.json()["status"] == status


def test_error_handlers_customise_answers_and_receive_the_exception():
    app = boom_app()
    seen: list[BaseException] = []

    @app.error_handler(404)
    async def not_found(request, error):
        seen.append(error)
        return {"missing": request.path}

    @app.error_handler(500)
    def server_error(request, error):
        seen.append(error)
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

    with TestClient(app) as client:
        missing = client.get("/nowhere")
        boom = client.get("/boom")
        limited = client.get("/abort/429")
    assert (missing.status_code, missing.json()) == (404, {"missing": "/nowhere"})
    assert boom.status_code == 500 and len(boom.json()["request_id"]) == 32
    assert limited.headers["retry-after"] == "60"
    assert isinstance(seen[0], errors.NotFound)
    assert isinstance(seen[1], RuntimeError)


def test_405_handler_keeps_the_allow_header():
    app = Gobstopper("allow")
    app.get("/r")(lambda request: "r")
    app.error_handler(405)(lambda request, error: "custom 405")
    with TestClient(app) as client:
        response = client.post("/r")
    assert response.status_code == 405
    assert response.text == "custom 405"
    assert response.headers["allow"] == "GET, HEAD"


def test_a_failing_error_handler_falls_back_to_plain_text(caplog):
    app = boom_app()

    @app.error_handler(500)
    def broken(request, error):
        raise ValueError("handler bug")

    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"
    assert "error handler for 500 failed" in caplog.text


def test_error_handler_needs_an_error_status():
    app = Gobstopper("bad")
    with pytest.raises(ValueError):
        app.error_handler(200)(lambda request, error: "x")
    registry = ErrorHandlers()
    with pytest.raises(ValueError):
        registry.register("404", lambda r, e: None)  # type: ignore[arg-type]


def test_http_exception_headers_reach_the_client():
    app = Gobstopper("headers")

    @app.get("/")
    async def index(request):
        raise errors.Unauthorized(headers={"WWW-Authenticate": "Bearer"})

    with TestClient(app) as client:
        response = client.get("/", headers=JSON)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_body_validation_errors_list_their_problems():
    app = Gobstopper("validation")

    @app.get("/")
    async def index(request):
        raise errors.BodyValidationError(errors=[{"loc": ["name"], "msg": "required"}])

    with TestClient(app) as client:
        response = client.get("/", headers=JSON)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": ["name"], "msg": "required"}]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", True),
        ("application/json", True),
        ("text/html", False),
        ("*/*", True),
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("image/png", False),
    ],
)
def test_wants_json(accept, expected):
    scope, _ = build_request("GET", "/", headers={"accept": accept} if accept else {})
    if not accept:
        scope.headers = type(scope.headers)([])
    assert wants_json(Request(scope, None)) is expected


def test_plain_responses_from_handlers_for_errors_keep_their_status():
    app = Gobstopper("status")
    app.error_handler(404)(lambda request, error: Response("gone fishing"))
    with TestClient(app) as client:
        response = client.get("/x")
    assert (response.status_code, response.text) == (404, "gone fishing")


def test_exception_headers_do_not_duplicate_a_header_the_handler_set_in_other_case():
    app = Gobstopper("dup")

    @app.get("/limited")
    async def limited(request):
        raise errors.TooManyRequests("slow down", headers={"Retry-After": "30"})

    app.error_handler(429)(
        lambda request, error: Response("wait", status=429, headers={"retry-after": "5"})
    )
    with TestClient(app) as client:
        response = client.get("/limited")
    assert response.status_code == 429
    assert response.headers.get_all("retry-after") == ["5"]


def test_json_error_bodies_stay_right_when_descriptions_vary_per_request():
    """Plain JSON error bodies are remembered, but never one request's text for another's."""
    from gobstopper.core import error_handling

    app = Gobstopper("varying")

    @app.get("/users/<int:user_id>")
    async def missing_user(request, user_id):
        abort(404, f"no user {user_id}")

    count = error_handling._CACHED_BODIES + 44
    with TestClient(app) as client:
        for user_id in range(count):
            response = client.get(f"/users/{user_id}", headers=JSON)
            assert response.status_code == 404
            assert response.json() == {"error": f"no user {user_id}", "status": 404}
    assert len(error_handling._json_bodies) <= error_handling._CACHED_BODIES
