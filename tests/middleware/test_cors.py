"""CORSMiddleware: preflights, actual requests, Vary, errors, levels, configuration."""

from __future__ import annotations

import pytest

from gobstopper import Blueprint, Gobstopper, Response, StreamResponse
from gobstopper.http.errors import Unauthorized
from gobstopper.middleware.cors import CORSMiddleware
from gobstopper.testing import TestClient

APP_ORIGIN = "https://app.example.com"
ADMIN_ORIGIN = "https://admin.example.com"
EVIL_ORIGIN = "https://evil.example"
CORS_NAMES = (
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
)


def preflight(
    client: TestClient,
    path: str,
    origin: str = APP_ORIGIN,
    method: str = "POST",
    headers: str | None = None,
):
    sent = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return client.options(path, headers=sent)


def cors_headers(response) -> dict[str, str]:
    return {name: response.headers[name] for name in CORS_NAMES if name in response.headers}


def make_app(cors: CORSMiddleware) -> tuple[Gobstopper, list[str]]:
    """An app with ``cors`` at app level; ``calls`` records every handler run."""
    app = Gobstopper(__name__)
    app.add_middleware(cors)
    calls: list[str] = []

    @app.get("/items")
    async def items(request):
        calls.append("items")
        return {"items": [1, 2]}

    @app.post("/submit")
    async def submit(request):
        calls.append("submit")
        return {"ok": True}

    @app.route("/own-options", methods=["PUT", "OPTIONS"])
    async def own_options(request):
        calls.append("own-options")
        return "handled"

    @app.get("/vary/<kind>")
    async def vary(request, kind):
        values = {"accept": "Accept-Encoding", "origin": "origin", "star": "*"}
        return Response("v", headers={"vary": values[kind]})

    @app.get("/none")
    async def nothing(request):
        return None

    @app.get("/tuple")
    def sync_tuple(request):
        return "made", 201, {"x-extra": "1"}

    @app.get("/stream")
    async def stream(request):
        async def chunks():
            yield b"a"
            yield b"b"

        return StreamResponse(chunks(), content_type="text/plain")

    @app.get("/private")
    async def private(request):
        raise Unauthorized()

    return app, calls


@pytest.fixture(scope="module")
def wildcard():
    app, calls = make_app(CORSMiddleware())
    with TestClient(app) as client:
        client.calls = calls  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def specific():
    cors = CORSMiddleware(
        origins=[APP_ORIGIN, ADMIN_ORIGIN],
        methods=["GET", "POST", "PUT", "DELETE"],
        headers=["Content-Type", "Authorization", "X-Custom-Header"],
        allow_credentials=True,
        max_age=7200,
    )
    app, calls = make_app(cors)
    with TestClient(app) as client:
        client.calls = calls  # type: ignore[attr-defined]
        yield client


# -- defaults: any origin, no credentials --------------------------------------


def test_wildcard_actual_request_gets_star(wildcard):
    response = wildcard.get("/items", headers={"origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.json() == {"items": [1, 2]}
    assert cors_headers(response) == {"access-control-allow-origin": "*"}
    assert "vary" not in response.headers


def test_wildcard_request_without_origin_is_untouched(wildcard):
    response = wildcard.get("/items")
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert "vary" not in response.headers


def test_wildcard_empty_origin_is_not_allowed(wildcard):
    response = wildcard.get("/items", headers={"origin": ""})
    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_wildcard_preflight_for_post_only_path(wildcard):
    before = list(wildcard.calls)
    response = preflight(wildcard, "/submit", headers="content-type")
    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
        "access-control-allow-headers": "Content-Type, Authorization",
        "access-control-max-age": "3600",
    }
    assert response.headers["vary"] == (
        "Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    assert "content-type" not in response.headers
    assert wildcard.calls == before


def test_wildcard_preflight_for_unrouted_path(wildcard):
    assert preflight(wildcard, "/nothing/here").status_code == 204


def test_preflight_does_not_call_an_options_handler(wildcard):
    before = list(wildcard.calls)
    assert preflight(wildcard, "/own-options", method="PUT").status_code == 204
    assert wildcard.calls == before


def test_plain_options_with_origin_is_an_actual_request(wildcard):
    handled = wildcard.options("/own-options", headers={"origin": APP_ORIGIN})
    assert handled.text == "handled"
    assert handled.headers["access-control-allow-origin"] == "*"
    automatic = wildcard.options("/submit", headers={"origin": APP_ORIGIN})
    assert automatic.status_code == 204
    assert automatic.headers["allow"] == "OPTIONS, POST"
    assert automatic.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-methods" not in automatic.headers


def test_preflight_header_names_are_case_insensitive(wildcard):
    response = preflight(wildcard, "/submit", headers="Content-Type, AUTHORIZATION")
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("method", "headers", "reason"),
    [
        ("PATCH", None, "method"),
        ("post", None, "method"),
        ("", None, "method"),
        ("POST", "x-other", "header"),
        ("POST", "content-type, x-other", "header"),
    ],
)
def test_preflight_refused_for_method_or_header(wildcard, method, headers, reason):
    response = preflight(wildcard, "/submit", method=method, headers=headers)
    assert response.status_code == 403
    assert response.text == f"CORS preflight refused: {reason} not allowed"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert cors_headers(response) == {}


def test_wildcard_preflight_from_empty_origin_is_refused(wildcard):
    response = preflight(wildcard, "/submit", origin="")
    assert response.status_code == 403
    assert cors_headers(response) == {}


def test_http_exception_responses_carry_cors_headers(wildcard):
    missing = wildcard.get("/nothing/here", headers={"origin": APP_ORIGIN})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"
    wrong_method = wildcard.delete("/submit", headers={"origin": APP_ORIGIN})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.headers["access-control-allow-origin"] == "*"
    assert (
        wildcard.get("/private", headers={"origin": APP_ORIGIN}).headers[
            "access-control-allow-origin"
        ]
        == "*"
    )


@pytest.mark.parametrize(("path", "status"), [("/none", 204), ("/tuple", 201), ("/stream", 200)])
def test_any_return_value_gets_the_headers(wildcard, path, status):
    response = wildcard.get(path, headers={"origin": APP_ORIGIN})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == "*"


def test_head_request_gets_the_headers(wildcard):
    response = wildcard.head("/items", headers={"origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


# -- specific origins with credentials -----------------------------------------


@pytest.mark.parametrize("origin", [APP_ORIGIN, ADMIN_ORIGIN])
def test_allowed_origin_is_echoed_with_credentials(specific, origin):
    response = specific.get("/items", headers={"origin": origin})
    assert response.status_code == 200
    assert cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
    }
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin", [EVIL_ORIGIN, "", "null", APP_ORIGIN + "/", f"{APP_ORIGIN}, {EVIL_ORIGIN}"]
)
def test_disallowed_origin_passes_through_without_cors_headers(specific, origin):
    response = specific.get("/items", headers={"origin": origin})
    assert response.status_code == 200
    assert response.json() == {"items": [1, 2]}
    assert cors_headers(response) == {}
    assert response.headers["vary"] == "Origin"


def test_no_origin_gets_only_vary_with_specific_origins(specific):
    response = specific.get("/items")
    assert cors_headers(response) == {}
    assert response.headers["vary"] == "Origin"


def test_specific_preflight(specific):
    before = list(specific.calls)
    response = preflight(
        specific,
        "/submit",
        origin=ADMIN_ORIGIN,
        method="DELETE",
        headers="x-custom-header,authorization",
    )
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": ADMIN_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, POST, PUT, DELETE",
        "access-control-allow-headers": "Content-Type, Authorization, X-Custom-Header",
        "access-control-max-age": "7200",
    }
    assert response.headers["vary"] == (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    assert specific.calls == before


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        (EVIL_ORIGIN, "POST", None),
        ("", "POST", None),
        (APP_ORIGIN, "OPTIONS", None),
        (APP_ORIGIN, "POST", "x-requested-with"),
    ],
)
def test_specific_preflight_refused(specific, origin, method, headers):
    response = preflight(specific, "/submit", origin=origin, method=method, headers=headers)
    assert response.status_code == 403
    assert cors_headers(response) == {}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("accept", "Accept-Encoding, Origin"),
        ("origin", "origin"),
        ("star", "*"),
    ],
)
def test_vary_is_merged_not_replaced(specific, kind, expected):
    response = specific.get(f"/vary/{kind}", headers={"origin": APP_ORIGIN})
    assert response.headers["vary"] == expected
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


def test_error_responses_echo_the_origin(specific):
    response = specific.get("/private", headers={"origin": APP_ORIGIN})
    assert response.status_code == 401
    assert cors_headers(response) == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
    }
    assert response.headers["vary"] == "Origin"
    refused = specific.get("/private", headers={"origin": EVIL_ORIGIN})
    assert cors_headers(refused) == {}
    assert refused.headers["vary"] == "Origin"


def test_custom_error_handler_response_gets_the_headers():
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(origins=[APP_ORIGIN]))

    @app.error_handler(404)
    def not_found(request, error):
        return {"missing": request.path}

    with TestClient(app) as client:
        response = client.get("/gone", headers={"origin": APP_ORIGIN})
    assert response.status_code == 404
    assert response.json() == {"missing": "/gone"}
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in response.headers


def test_configured_origin_case_does_not_matter():
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(origins=["HTTPS://App.Example.COM"]))
    app.get("/")(lambda request: "ok")
    with TestClient(app) as client:
        response = client.get("/", headers={"origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


def test_wildcard_methods_and_headers_echo_the_request():
    app = Gobstopper(__name__)
    app.add_middleware(
        CORSMiddleware(origins=[APP_ORIGIN], methods=["*"], headers=["*"], allow_credentials=True)
    )
    with TestClient(app) as client:
        response = preflight(client, "/anything", method="PATCH", headers="X-One, x-two")
        bare = preflight(client, "/anything", method="PATCH")
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "PATCH"
    assert response.headers["access-control-allow-headers"] == "x-one, x-two"
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-headers" not in bare.headers


def test_empty_methods_and_headers_refuse_every_preflight():
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(methods=[], headers=[], max_age=0))
    app.get("/")(lambda request: "ok")
    with TestClient(app) as client:
        assert preflight(client, "/", method="GET").status_code == 403
        assert (
            client.get("/", headers={"origin": APP_ORIGIN}).headers["access-control-allow-origin"]
            == "*"
        )


# -- blueprint and route level -------------------------------------------------


@pytest.fixture(scope="module")
def layered():
    app = Gobstopper(__name__)
    api = Blueprint("api", url_prefix="/api")
    api.add_middleware(CORSMiddleware(origins=[APP_ORIGIN]))

    @api.get("/data")
    async def data(request):
        return {"data": 1}

    @api.route("/submit", methods=["POST", "OPTIONS"])
    async def api_submit(request):
        return {"ok": True}

    app.register_blueprint(api)

    @app.route(
        "/route",
        methods=["PUT", "OPTIONS"],
        middleware=[CORSMiddleware(origins=[ADMIN_ORIGIN], methods=["PUT"])],
    )
    async def route_level(request):
        return "put"

    @app.get("/plain")
    async def plain(request):
        return "plain"

    with TestClient(app) as client:
        yield client


def test_blueprint_level_cors(layered):
    response = layered.get("/api/data", headers={"origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    allowed = preflight(layered, "/api/submit", headers="content-type")
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight(layered, "/api/submit", origin=ADMIN_ORIGIN).status_code == 403


def test_route_level_cors(layered):
    allowed = preflight(layered, "/route", origin=ADMIN_ORIGIN, method="PUT")
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-methods"] == "PUT"
    assert preflight(layered, "/route", origin=ADMIN_ORIGIN, method="POST").status_code == 403
    put = layered.put("/route", headers={"origin": ADMIN_ORIGIN})
    assert put.text == "put"
    assert put.headers["access-control-allow-origin"] == ADMIN_ORIGIN


def test_routes_outside_the_level_get_no_cors(layered):
    response = layered.get("/plain", headers={"origin": APP_ORIGIN})
    assert cors_headers(response) == {}
    assert "vary" not in response.headers


# -- configuration -------------------------------------------------------------


def test_defaults():
    cors = CORSMiddleware()
    assert cors.origins == ("*",)
    assert cors.methods == ("GET", "POST", "PUT", "DELETE", "OPTIONS")
    assert cors.headers == ("Content-Type", "Authorization")
    assert cors.allow_credentials is False
    assert cors.max_age == 3600
    assert "origins=['*']" in repr(cors)


def test_configuration_is_normalised():
    cors = CORSMiddleware(
        origins=("https://A.example", "https://a.example", "null"), methods=["get", "Post"]
    )
    assert cors.origins == ("https://a.example", "null")
    assert cors.methods == ("GET", "POST")


@pytest.mark.parametrize("origins", [None, ["*"]])
def test_wildcard_with_credentials_is_refused(origins):
    with pytest.raises(
        ValueError,
        match=r"cannot be used with allow_credentials=True.*"
        r"origins=\['https://app\.example\.com'\]",
    ):
        CORSMiddleware(origins=origins, allow_credentials=True)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"origins": APP_ORIGIN}, TypeError),
        ({"origins": [APP_ORIGIN, 1]}, TypeError),
        ({"origins": []}, ValueError),
        ({"origins": ["*", APP_ORIGIN]}, ValueError),
        ({"origins": [APP_ORIGIN + "/"]}, ValueError),
        ({"origins": ["app.example.com"]}, ValueError),
        ({"origins": [APP_ORIGIN + "/path"]}, ValueError),
        ({"methods": "GET"}, TypeError),
        ({"methods": ["GET", "*"]}, ValueError),
        ({"methods": ["GE T"]}, ValueError),
        ({"headers": ["X-Ok", b"X-Bytes"]}, TypeError),
        ({"headers": ["X-Bad\r\nInjected: 1"]}, ValueError),
        ({"headers": [""]}, ValueError),
        ({"allow_credentials": "yes"}, TypeError),
        ({"max_age": -1}, ValueError),
        ({"max_age": "60"}, TypeError),
        ({"max_age": 1.5}, TypeError),
        ({"max_age": True}, TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        CORSMiddleware(**kwargs)


@pytest.mark.parametrize(
    ("origins", "credentials", "allow_origin"),
    [(["*"], False, "*"), ([APP_ORIGIN], True, APP_ORIGIN)],
)
def test_unhandled_500s_carry_the_cors_headers(origins, credentials, allow_origin):
    # The page can read the status of a crash, and a cache keeps the answers apart.
    app = Gobstopper(__name__)
    app.add_middleware(CORSMiddleware(origins=origins, allow_credentials=credentials))

    @app.get("/crash")
    async def crash(request):
        raise RuntimeError("bug")

    with TestClient(app) as client:
        response = client.get("/crash", headers={"origin": APP_ORIGIN})
        assert response.status == 500
        assert response.headers["access-control-allow-origin"] == allow_origin
        assert ("vary" in response.headers) is (origins != ["*"])
        foreign = client.get("/crash", headers={"origin": EVIL_ORIGIN})
        assert ("access-control-allow-origin" in foreign.headers) is (origins == ["*"])


@pytest.mark.parametrize(("origin", "method"), [(EVIL_ORIGIN, "POST"), (APP_ORIGIN, "PATCH")])
def test_refused_preflights_carry_vary_too(specific, wildcard, origin, method):
    # A cache must not answer another origin's (or method's) preflight with a refusal.
    refused = preflight(specific, "/submit", origin=origin, method=method)
    assert refused.status_code == 403
    assert refused.headers["vary"] == (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    refused = preflight(wildcard, "/items", origin="", method="GET")
    assert refused.status_code == 403
    assert refused.headers["vary"] == (
        "Access-Control-Request-Method, Access-Control-Request-Headers"
    )
