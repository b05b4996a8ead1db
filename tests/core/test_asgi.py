"""The ASGI entry, in process: ``TestClient(app, interface="asgi")`` and raw ASGI calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from gobstopper import FileResponse, Gobstopper, Response, StreamResponse
from gobstopper.core import asgi
from gobstopper.core.asgi import ASGIHTTPConnection, HeaderEncoder, StreamAborted
from gobstopper.core.asgi_scope import ASGIScope
from gobstopper.http.request import Request
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.testing import AsyncTestClient, TestClient, WebSocketRejected
from gobstopper.testing_asgi import LifespanFailed
from gobstopper.websocket import ConnectionClosed


def make_app(tmp_path) -> Gobstopper:
    app = Gobstopper("asgi_test")
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(range(256)) * 2048)  # 512 KiB: several 256 KiB chunks
    app.events = []  # type: ignore[attr-defined]

    @app.on_startup
    def started() -> None:
        app.events.append("startup")  # type: ignore[attr-defined]

    @app.on_shutdown
    def stopped() -> None:
        app.events.append("shutdown")  # type: ignore[attr-defined]

    @app.get("/")
    async def index(request):
        return {"q": request.args.get("q", [""])[0], "root": request.root_path}

    @app.post("/echo")
    async def echo(request):
        return await request.get_data()

    @app.get("/file")
    async def data_file(request):
        return FileResponse(data)

    @app.get("/stream")
    async def stream(request):
        async def chunks():
            for n in range(3):
                yield f"chunk {n}\n"

        return StreamResponse(chunks())

    @app.get("/broken")
    async def broken(request):
        async def chunks():
            yield "first\n"
            raise RuntimeError("the source failed")

        return StreamResponse(chunks())

    add_websocket_routes(app)
    return app


def add_websocket_routes(app: Gobstopper) -> None:
    @app.websocket("/ws")
    async def ws(websocket):
        await websocket.accept()
        message = await websocket.receive()
        if message.type == "close":
            app.client_close = (message.code, message.reason)  # type: ignore[attr-defined]
            return
        if message.data == "close":
            await websocket.close(4001, "custom")
        elif message.data == "boom":
            raise RuntimeError("boom")
        else:
            await websocket.send_text("echo " + message.data)
            await websocket.receive()

    @app.websocket("/refuse")
    async def refuse(websocket):
        await websocket.reject(401)


@pytest.fixture
def client(tmp_path):
    with TestClient(make_app(tmp_path), interface="asgi") as test_client:
        yield test_client


def test_lifespan_runs_startup_and_shutdown(tmp_path):
    app = make_app(tmp_path)
    with TestClient(app, interface="asgi") as client:
        assert app.events == ["startup"]  # type: ignore[attr-defined]
        assert client.get("/?q=1").json() == {"q": "1", "root": ""}
    assert app.events == ["startup", "shutdown"]  # type: ignore[attr-defined]


def test_a_failing_startup_reports_lifespan_startup_failed():
    app = Gobstopper()

    @app.on_startup
    def fail() -> None:
        raise ConnectionError("db down")

    client = TestClient(app, interface="asgi")
    with pytest.raises(LifespanFailed, match="ConnectionError: db down"):
        client.__enter__()
    client.close()


def test_bodies_files_ranges_streams_and_head(client):
    body = bytes(range(256)) * 1000  # several 64 KiB request chunks
    assert client.post("/echo", content=body).content == body
    served = client.get("/file")
    assert served.content == bytes(range(256)) * 2048
    assert served.rsgi_call == "http.response.pathsend"
    ranged = client.get("/file", headers={"range": "bytes=256-511"})
    assert ranged.status_code == 206 and ranged.content == bytes(range(256))
    assert client.get("/stream").chunks == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(client.get("/").content))
    assert client.get("/nowhere").status_code == 404


def test_a_client_that_leaves_mid_stream_stops_it(client):
    response = client.get("/stream", disconnect_after_chunks=1)
    assert response.chunks == [b"chunk 0\n"]


async def call(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[dict[str, Any]]:
    """Call the ASGI entry with ``scope``; the messages it sent."""
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "client": ("10.0.0.1", 1234),
        "server": ("example.com", 80),
        **extra,
    }


async def test_files_go_in_chunks_without_pathsend(tmp_path):
    app = make_app(tmp_path)
    sent = await call(app, http_scope("/file"))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m["body"] for m in sent[1:]]
    assert all(m["type"] == "http.response.body" for m in sent[1:])
    assert len(bodies) == 3 and bodies[-1] == b""  # two 256 KiB reads, then the end
    assert b"".join(bodies) == bytes(range(256)) * 2048


async def test_root_path_is_stripped_and_reported(tmp_path):
    app = make_app(tmp_path)
    sent = await call(app, http_scope("/api/", root_path="/api"))
    assert sent[1]["body"] == b'{"q":"","root":"/api"}'


async def test_a_stream_that_fails_after_it_started_makes_the_server_drop_it(tmp_path):
    app = make_app(tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(StreamAborted):
        await app(http_scope("/broken"), receive, send)
    assert [m.get("more_body") for m in sent[1:]] == [True]  # never the final chunk


def test_scope_reads_asgi_fields():
    scope = ASGIScope(
        http_scope(
            "/caf\u00e9",
            query_string=b"a=1&b=%20",
            headers=[(b"x-a", b"1"), (b"x-a", b"2"), (b"host", b"h")],
            client=("::1", 5000),
        )
    )
    assert (scope.proto, scope.method, scope.path) == ("http", "GET", "/caf\u00e9")
    assert scope.query_string == "a=1&b=%20"
    assert scope.headers.get_all("x-a") == ["1", "2"] and scope.headers["host"] == "h"
    assert scope.client == "[::1]:5000" and scope.server == "example.com:80"


def test_scope_defaults_when_optional_asgi_fields_are_missing():
    scope = ASGIScope(
        {"type": "websocket", "path": "/ws", "headers": [(b"host", b"h"), (b"x-b", b"2")]}
    )
    assert (scope.proto, scope.method, scope.scheme, scope.http_version) == (
        "ws",
        "GET",
        "ws",
        "1.1",
    )
    assert (scope.query_string, scope.root_path, scope.authority) == ("", "", None)
    assert (scope.client, scope.server, scope.rsgi_version) == (None, None, "1.5")
    assert scope.headers.items() == [("host", "h"), ("x-b", "2")]
    assert (scope.headers.keys(), scope.headers.values()) == (["host", "x-b"], ["h", "2"])
    assert "x-b" in scope.headers and "x-c" not in scope.headers and len(scope.headers) == 2
    assert scope.headers.get("x-c", "none") == "none" and scope.headers.get_all("x-c") == []


async def test_an_answer_is_one_start_and_one_body_message(tmp_path):
    app = make_app(tmp_path)

    @app.get("/empty")
    async def empty(request):
        return Response(status=204)

    sent = await call(app, http_scope("/", query_string=b"q=x", scheme="https"))
    json_type = [(b"content-type", b"application/json")]
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": json_type},
        {"type": "http.response.body", "body": b'{"q":"x","root":""}'},
    ]
    start, *rest = await call(app, http_scope("/empty"))
    assert (start["type"], start["status"]) == ("http.response.start", 204)
    assert rest == [{"type": "http.response.body", "body": b""}]


def plainly_encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def test_header_sets_come_out_encoded_alike_whether_seen_before_or_not():
    encoder = HeaderEncoder()
    encode = encoder.encode
    sets = [
        [("content-type", "text/plain"), ("x-a", "1")],
        [("content-type", "text/plain"), ("x-a", "2")],
        [("x-a", "1"), ("content-type", "text/plain")],  # same pairs, other order
        [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-caf\u00e9", "cr\u00e8me")],
        [],
    ]
    for _ in range(3):
        for headers in sets:
            assert encode(headers) == plainly_encoded(headers)
    pairs_as_lists = [["x-a", "1"]]  # not hashable: encoded, never kept
    assert encode(pairs_as_lists) == [(b"x-a", b"1")]  # type: ignore[arg-type]


def test_each_call_returns_a_list_of_its_own():
    encoder = HeaderEncoder()
    encode = encoder.encode
    headers = [("content-type", "text/plain")]
    first = encode(headers)
    first.append((b"content-encoding", b"gzip"))  # as ASGI middleware may do in place
    assert encode(headers) == [(b"content-type", b"text/plain")]
    encode(headers).clear()
    assert encode(headers) == [(b"content-type", b"text/plain")]


def test_a_header_set_is_kept_once_it_repeats():
    encoder = HeaderEncoder()
    headers = [("content-type", "text/plain"), ("x-a", "1")]
    encoder.encode(headers)
    assert encoder._known == {}  # seen once: maybe a request id, not kept
    encoder.encode(headers)
    assert encoder._known == {tuple(headers): plainly_encoded(headers)}


def test_the_security_headers_of_an_https_app_are_kept():
    app = Gobstopper(__name__, trusted_proxies="127.0.0.1")
    app.add_middleware(SecurityMiddleware(secret_key="k" * 32, debug=True))

    @app.get("/")
    async def index(request: Request) -> Response:
        response = Response("hi", content_type="text/plain")
        response.headers["access-control-allow-origin"] = "https://app.example.com"
        return response

    sent = TestClient(app).get("/", headers={"x-forwarded-proto": "https"})
    assert "strict-transport-security" in sent.headers
    headers = [(name, value) for name, value in sent.headers.items() if name != "set-cookie"]
    assert len(headers) >= 10
    encoder = HeaderEncoder()
    encoder.encode(headers)
    encoder.encode(headers)
    assert encoder._known == {tuple(headers): plainly_encoded(headers)}


def test_sets_that_never_repeat_are_never_kept():
    encoder = HeaderEncoder()
    for n in range(asgi.SLOTS * 2):
        headers = [("content-type", "text/plain"), ("x-request-id", str(n))]
        assert encoder.encode(headers) == plainly_encoded(headers)
    assert encoder._known == {}


def test_the_header_cache_stays_bounded_whatever_the_app_sends():
    encoder = HeaderEncoder()
    largest = 0
    for n in range(asgi.MAX_SETS * 3):
        headers = [("content-type", "text/plain"), ("x-request-id", str(n))]
        for _ in range(2):
            assert encoder.encode(headers) == plainly_encoded(headers)
        largest = max(largest, len(encoder._known))
        assert len(encoder._known) <= asgi.MAX_SETS
    assert largest == asgi.MAX_SETS  # it filled, then started again
    encoder._known.clear()
    too_many = [(f"x-{n}", "1") for n in range(asgi.MAX_PAIRS + 1)]
    too_long = [("x-big", "v" * asgi.MAX_BYTES)]
    for headers in (too_many, too_long, too_many, too_long):
        assert encoder.encode(headers) == plainly_encoded(headers)
    assert encoder._known == {}


def test_a_header_latin_1_cannot_carry_fails_every_time():
    encoder = HeaderEncoder()
    encode = encoder.encode
    for _ in range(2):
        with pytest.raises(UnicodeEncodeError):
            encode([("x-price", "10 \u20ac")])
    assert encoder._known == {}


async def test_headers_are_checked_and_sent_as_the_app_set_them_each_time(tmp_path):
    app = make_app(tmp_path)

    @app.get("/header")
    async def header(request):
        return Response("ok", headers={"x-v": request.args["v"][0]})

    async def answer(value: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
        start, _ = await call(app, http_scope("/header", query_string=b"v=" + value))
        return start["status"], start["headers"]

    ok = (200, [(b"content-type", b"text/html; charset=utf-8"), (b"x-v", b"ok")])
    assert await answer(b"ok") == ok
    assert (await answer(b"a%0Db"))[0] == 500  # CR: refused, though the name is known
    assert (await answer(b"%E2%82%AC"))[0] == 500  # not latin-1: the app answers 500
    assert await answer(b"ok") == ok


async def test_asgi_middleware_that_edits_headers_in_place_leaves_the_next_answer_alone(
    tmp_path,
):
    app = make_app(tmp_path)

    async def gzip_like(scope, receive, send):
        async def edit(message):
            if message["type"] == "http.response.start":
                message["headers"].append((b"content-encoding", b"gzip"))
            await send(message)

        await app(scope, receive, edit)

    await call(app, http_scope("/"))  # the header set is known before it is edited
    edited, _ = await call(gzip_like, http_scope("/"))
    plain, _ = await call(app, http_scope("/"))
    assert edited["headers"] == [
        (b"content-type", b"application/json"),
        (b"content-encoding", b"gzip"),
    ]
    assert plain["headers"] == [(b"content-type", b"application/json")]


def test_a_second_response_call_is_refused_and_the_first_kept():
    async def never(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent while the app answers")

    conn = ASGIHTTPConnection(http_scope("/"), never, never)  # type: ignore[arg-type]
    conn.response_str(201, [("content-type", "text/plain")], "first")
    with pytest.raises(RuntimeError, match="response already sent; got response_bytes"):
        conn.response_bytes(500, [], b"second")
    assert conn.start == {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"content-type", b"text/plain")],
    }
    assert conn.body == {"type": "http.response.body", "body": b"first"}


@pytest.mark.parametrize(
    ("messages", "body"),
    [
        ([(b"", False)], b""),
        ([(b'{"one": "message"}', False)], b'{"one": "message"}'),
        ([(b"ab", True), (b"", True), (b"cd", True), (b"e", False)], b"abcde"),
        ([(b"ab", True), (b"", False)], b"ab"),
    ],
    ids=["empty", "one-message", "four-messages", "empty-last-message"],
)
async def test_the_body_is_read_whole_however_it_was_split(messages, body):
    queue = [{"type": "http.request", "body": chunk, "more_body": more} for chunk, more in messages]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    conn = ASGIHTTPConnection(http_scope("/", method="POST"), receive, None)  # type: ignore[arg-type]
    assert await conn() == body
    assert not queue  # every message was read, and none asked for past the last


async def test_a_body_read_ahead_while_waiting_for_a_disconnect_is_kept():
    queue: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    conn = ASGIHTTPConnection(http_scope("/", method="POST"), receive, None)  # type: ignore[arg-type]
    await conn.client_disconnect()
    assert await conn() == b"abcd"


async def test_unknown_scope_types_are_refused():
    with pytest.raises(ValueError, match="unsupported ASGI scope type"):
        await Gobstopper()({"type": "webtransport"}, None, None)  # type: ignore[arg-type]


# -- WebSockets ---------------------------------------------------------------------------------
def test_the_apps_close_code_and_reason_reach_the_client(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text("close")
        assert ws.wait_closed() == 4001
        assert ws.close_reason == "custom"


def test_the_clients_close_code_reaches_the_handler(client):
    with client.websocket_connect("/ws") as ws:
        ws.close(4002, "bye")
    assert client.app.client_close == (4002, "bye")


def test_a_handler_error_closes_with_1011_and_too_big_with_1009(tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_WS_MESSAGE_BYTES", "8")
    with TestClient(make_app(tmp_path), interface="asgi") as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("boom")
            assert ws.wait_closed() == 1011
        with client.websocket_connect("/ws") as ws:
            ws.send_text("x" * 9)
            assert ws.wait_closed() == 1009


def test_refusals_are_http_statuses(client):
    with pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/refuse")
    assert refused.value.status_code == 401
    with pytest.raises(WebSocketRejected) as missing:
        client.websocket_connect("/nowhere")
    assert missing.value.status_code == 404


async def test_without_the_http_response_extension_a_refusal_closes_before_accept(tmp_path):
    app = make_app(tmp_path)
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {**http_scope("/refuse"), "type": "websocket", "scheme": "ws"}
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_async_client_echoes_over_asgi(tmp_path):
    async with AsyncTestClient(make_app(tmp_path), interface="asgi") as client:
        async with client.websocket_connect("/ws") as ws:
            await ws.send_text("hi")
            assert await ws.receive_text() == "echo hi"
        with pytest.raises(ConnectionClosed):
            await ws.receive_text()


def test_rsgi_close_codes_are_noted_once_at_debug_level(tmp_path, caplog):
    import gobstopper.websocket.connection as connection

    connection._codes_noted = False
    caplog.set_level(logging.DEBUG, logger="gobstopper.websocket")
    with TestClient(make_app(tmp_path)) as client:
        for _ in range(2):
            with client.websocket_connect("/ws") as ws:
                ws.send_text("close")
                assert ws.wait_closed() == 4001  # the RSGI fake passes the code on
                assert ws.close_reason == ""  # RSGI has no reason to pass
    notes = [r for r in caplog.records if "without a code or reason" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.DEBUG
