"""The in-process test clients drive the real __rsgi__ on one loop."""

from __future__ import annotations

import asyncio

import pytest

from gobstopper import Gobstopper, Response
from gobstopper.testing import (
    AsyncTestClient,
    CookieJar,
    FakeHeaders,
    TestClient,
    build_request,
)


def echo_app() -> Gobstopper:
    app = Gobstopper("echo")

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def echo(request):
        return {
            "method": request.method,
            "path": request.path,
            "args": request.args,
            "headers": request.headers,
            "body": (await request.get_data()).decode(),
        }

    return app


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_every_verb_helper(method):
    with TestClient(echo_app()) as client:
        response = getattr(client, method)("/echo")
    assert response.status_code == 200
    assert response.json()["method"] == method.upper()


def test_head_helper_and_generic_request():
    with TestClient(echo_app()) as client:
        assert client.head("/echo").content == b""
        assert client.request("patch", "/echo").json()["method"] == "PATCH"


def test_json_data_content_headers_and_params():
    with TestClient(echo_app()) as client:
        as_json = client.post("/echo", json={"a": [1]}).json()
        form = client.post("/echo", data={"x": ["1", "2"], "y": "z"}).json()
        raw = client.post("/echo", content="raw text", headers={"Content-Type": "text/plain"})
        params = client.get("/echo?a=1", params={"b": ["2", "3"]}).json()
    assert as_json["body"] == '{"a":[1]}'
    assert as_json["headers"]["content-type"] == "application/json"
    assert as_json["headers"]["content-length"] == "9"
    assert form["body"] == "x=1&x=2&y=z"
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert raw.json()["body"] == "raw text"
    assert raw.json()["headers"]["content-type"] == "text/plain"
    assert params["args"] == {"a": ["1"], "b": ["2", "3"]}


def test_paths_are_percent_decoded_like_granian():
    with TestClient(echo_app()) as client:
        assert client.get("/ech%6F").json()["path"] == "/echo"


def test_response_object():
    app = Gobstopper("resp")
    app.get("/")(lambda request: Response("héllo", status=201, headers={"X-A": "1"}))
    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == response.status == 201
    assert response.headers["X-A"] == response.headers["x-a"] == "1"
    assert "x-a" in response.headers and "X-A" in response.headers
    assert response.content == "héllo".encode()
    assert response.text == "héllo"
    assert response.rsgi_call == "response_str"
    with pytest.raises(KeyError):
        response.headers["missing"]
    assert repr(response) == "<TestResponse 201>"


def test_cookie_jar_keeps_and_forgets_cookies():
    app = Gobstopper("jar")

    @app.get("/set")
    async def set_cookie(request):
        response = Response("set")
        response.set_cookie("token", "abc")
        return response

    @app.get("/clear")
    async def clear(request):
        response = Response("cleared")
        response.delete_cookie("token")
        return response

    app.get("/read")(lambda request: dict(request.cookies))
    with TestClient(app) as client:
        client.get("/set")
        assert client.cookies.values == {"token": "abc"}
        assert client.get("/read").json() == {"token": "abc"}
        assert client.get("/read", headers={"cookie": "other=1"}).json() == {"other": "1"}
        client.get("/clear")
        assert client.get("/read").json() == {}


def test_with_block_runs_startup_and_shutdown_on_one_loop():
    app = Gobstopper("loop")
    loops: dict[str, object] = {}

    @app.on_startup
    async def up():
        loops["startup"] = asyncio.get_running_loop()

    @app.on_shutdown
    async def down():
        loops["shutdown"] = asyncio.get_running_loop()

    @app.get("/")
    async def index(request):
        loops["request"] = asyncio.get_running_loop()
        return "ok"

    with TestClient(app) as client:
        client.get("/")
    assert loops["startup"] is loops["request"] is loops["shutdown"]


def test_the_client_thread_stops_on_exit():
    with TestClient(Gobstopper("threads")) as client:
        thread = client._portal()._thread
        assert thread.is_alive() and thread.name == "gobstopper-testclient"
        assert client.run(asyncio.sleep(0, "ran")) == "ran"
    assert not thread.is_alive()
    assert client._loop is None


def test_client_address_is_configurable():
    app = Gobstopper("addr")
    app.get("/")(lambda request: request.client_ip)
    with TestClient(app, client="192.0.2.1:1234") as client:
        assert client.get("/").text == "192.0.2.1"


def test_absolute_urls_set_the_host_header():
    app = Gobstopper("host")
    app.get("/")(lambda request: request.host)
    with TestClient(app) as client:
        assert client.get("http://example.com:8080/").text == "example.com:8080"
        assert client.get("/").text == "testserver"


async def test_async_client_on_the_callers_loop():
    app = Gobstopper("async")
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))
    app.get("/")(lambda request: "async ok")
    async with AsyncTestClient(app) as client:
        response = await client.get("/")
        assert started == [True]
    assert response.text == "async ok"


async def test_async_client_disconnects_streams():
    from gobstopper.http.response import StreamResponse

    app = Gobstopper("stream")
    closed: list[bool] = []

    @app.get("/stream")
    async def stream(request):
        async def chunks():
            try:
                for i in range(100):
                    yield f"{i},"
            finally:
                closed.append(True)

        return StreamResponse(chunks())

    async with AsyncTestClient(app) as client:
        response = await client.get("/stream", disconnect_after_chunks=3)
    assert response.chunks == [b"0,", b"1,", b"2,"]
    assert closed == [True]


def test_build_request_and_helpers():
    scope, body = build_request("post", "/p?q=1", json={"a": 1}, headers={"X-Test": "y"})
    assert (scope.method, scope.path, scope.query_string) == ("POST", "/p", "q=1")
    assert scope.headers.get("x-test") == "y" and body == b'{"a":1}'
    headers = FakeHeaders([("A", "1"), ("a", "2")])
    assert headers.get_all("a") == ["1", "2"] and list(headers) == ["a", "a"]
    assert len(headers) == 2 and headers.get("missing", "d") == "d"
    jar = CookieJar()
    assert jar.header() is None
