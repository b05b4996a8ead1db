"""WebSocket connections in process: the reference's examples, limits, errors."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.testing import AsyncTestClient, TestClient, WebSocketRejected
from gobstopper.websocket import ConnectionClosed, WebSocket


@pytest.fixture
def app():
    return Gobstopper(__name__)


# -- the reference's examples --------------------------------------------------------
def test_reference_async_for_echo_formats_messages_as_text(app):
    @app.websocket("/ws/echo")
    async def echo_handler(websocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(f"Echo: {message}")

    with TestClient(app) as client, client.websocket_connect("/ws/echo") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "Echo: hello"
        ws.send_bytes("hé".encode())
        assert ws.receive_text() == "Echo: hé"


def test_reference_receive_loop_echoes_until_close(app):
    ended = []

    @app.websocket("/ws/echo")
    async def echo(websocket):
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message.type == "close":
                ended.append(message.code)
                break
            if message.type == "text":
                await websocket.send_text(f"Echo: {message.data}")

    with TestClient(app) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("one")
            ws.send_bytes(b"ignored")
            ws.send_text("two")
            assert ws.receive_text() == "Echo: one"
            assert ws.receive_text() == "Echo: two"
            ws.close(4000, "bye")
        assert ended == [4000]


def test_reference_receive_iter_echoes_binary(app):
    @app.websocket("/ws/data")
    async def data_handler(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket.receive_iter():
            if message.type == "bytes":
                await websocket.send_bytes(message.data[::-1])

    with TestClient(app) as client, client.websocket_connect("/ws/data") as ws:
        ws.send_bytes(b"\x00\x01\x02")
        assert ws.receive_bytes() == b"\x02\x01\x00"


def test_reference_chat_loop_with_connection_closed_ends_cleanly(app, caplog):
    got = []

    @app.websocket("/ws/chat")
    async def chat_handler(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message.type == "text":
                    got.append(message.data)
        except ConnectionClosed:
            got.append("closed")

    with TestClient(app) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_text("a")
        assert got == ["a", "closed"]
    assert "Traceback" not in caplog.text


def test_reference_auth_example_close_before_accept_is_http_403(app):
    @app.websocket("/ws/notifications")
    async def notifications(websocket):
        token = websocket.query_params.get("token")
        if token != "good":
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await websocket.send_json({"notification": "hi"})

    with TestClient(app) as client:
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect("/ws/notifications", params={"token": "bad"})
        assert refused.value.status_code == 403
        with client.websocket_connect("/ws/notifications", params={"token": "good"}) as ws:
            assert ws.receive_json() == {"notification": "hi"}


# -- routing ----------------------------------------------------------------------------
def test_path_params_are_converted_and_passed_as_kwargs(app):
    @app.websocket("/ws/<int:user_id>/<uuid:token>/<path:rest>")
    async def typed(websocket, user_id: int, token: uuid.UUID, rest: str):
        await websocket.accept()
        await websocket.send_json(
            {
                "user_id": user_id,
                "int": isinstance(user_id, int),
                "uuid": isinstance(token, uuid.UUID),
                "rest": rest,
                "path_params": sorted(websocket.path_params),
            }
        )

    token = uuid.uuid4()
    with TestClient(app) as client, client.websocket_connect(f"/ws/7/{token}/a/b") as ws:
        assert ws.receive_json() == {
            "user_id": 7,
            "int": True,
            "uuid": True,
            "rest": "a/b",
            "path_params": ["rest", "token", "user_id"],
        }


def test_unknown_path_is_404_and_failed_conversion_400_before_accept(app):
    calls = []

    @app.websocket("/ws/<int:n>")
    async def handler(websocket, n):
        calls.append(n)
        await websocket.accept()

    with TestClient(app) as client:
        with pytest.raises(WebSocketRejected) as missing:
            client.websocket_connect("/nope")
        assert missing.value.status_code == 404
        with pytest.raises(WebSocketRejected) as bad:
            client.websocket_connect("/ws/abc")
        assert bad.value.status_code == 400
        with pytest.raises(WebSocketRejected) as too_long:
            client.websocket_connect("/ws/" + "1" * 9000)
        assert too_long.value.status_code == 414
    assert calls == []


def test_blueprint_prefix_applies_to_websocket_routes(app):
    bp = Blueprint("live", url_prefix="/live")

    @bp.websocket("/feed/<name>")
    async def feed(websocket, name):
        await websocket.accept()
        await websocket.send_text(f"{websocket.endpoint}:{name}")

    app.register_blueprint(bp)
    with TestClient(app) as client:
        with client.websocket_connect("/live/feed/x") as ws:
            assert ws.receive_text() == "live.feed:x"
        with pytest.raises(WebSocketRejected):
            client.websocket_connect("/feed/x")


def test_headers_query_params_and_client(app):
    @app.websocket("/ws")
    async def info(websocket):
        await websocket.accept()
        await websocket.send_json(
            {
                "agent": websocket.headers.get("user-agent"),
                "upgrade": websocket.headers.get("upgrade"),
                "q": websocket.query_params.get("q"),
                "all": websocket.query_params.getlist("q"),
                "missing": websocket.query_params.get("nope"),
                "client": list(websocket.client),
                "path": websocket.path,
            }
        )

    with TestClient(app, client="10.1.2.3:4567") as client:
        ws = client.websocket_connect("/ws?q=1&q=2", headers={"User-Agent": "pytest"})
        assert ws.receive_json() == {
            "agent": "pytest",
            "upgrade": "websocket",
            "q": "1",
            "all": ["1", "2"],
            "missing": None,
            "client": ["10.1.2.3", 4567],
            "path": "/ws",
        }
        ws.close()


def test_too_many_query_params_refuse_the_handshake_with_400(app):
    @app.websocket("/ws")
    async def handler(websocket):
        websocket.query_params.get("a")
        await websocket.accept()

    many = "&".join(f"k{i}=v" for i in range(1500))
    with TestClient(app) as client, pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect(f"/ws?{many}")
    assert refused.value.status_code == 400


# -- sending and receiving --------------------------------------------------------------
def test_send_json_text_and_binary_and_receive_json(app):
    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})
        await websocket.send_json([1, 2], mode="binary")

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_json({"x": 1})
        assert ws.receive_json() == {"got": {"x": 1}}
        assert ws.receive_bytes() == b"[1,2]"


def test_send_before_accept_raises_runtime_error(app):
    errors = []

    @app.websocket("/ws")
    async def handler(websocket):
        for attempt in (
            websocket.send_text("x"),
            websocket.send_bytes(b"x"),
            websocket.send_json({}),
            websocket.receive(),
        ):
            try:
                await attempt
            except RuntimeError as exc:
                errors.append(str(exc))
        await websocket.accept()
        with pytest.raises(RuntimeError):
            await websocket.accept()
        await websocket.send_text(f"{len(errors)} errors")

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "4 errors"
    assert all("accept" in message for message in errors)


def test_send_rejects_wrong_types(app):
    outcomes = []

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        for call in (
            lambda: websocket.send(42),
            lambda: websocket.send_text(b"x"),
            lambda: websocket.send_bytes("x"),
            lambda: websocket.send_json({}, mode="xml"),
        ):
            try:
                await call()
            except (TypeError, ValueError) as exc:
                outcomes.append(type(exc).__name__)
        await websocket.send(bytearray(b"ok"))

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_bytes() == b"ok"
    assert outcomes == ["TypeError", "TypeError", "TypeError", "ValueError"]


def test_receive_and_send_after_the_peer_left_raise_connection_closed(app):
    seen = []
    done = asyncio.Event()

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        first = await websocket.receive()
        seen.append((first.type, first.code))
        for attempt in (websocket.receive(), websocket.send_text("late")):
            try:
                await attempt
            except ConnectionClosed as exc:
                seen.append(exc.code)
        seen.append([m async for m in websocket])  # iteration just ends
        done.set()

    with TestClient(app) as client:
        ws = client.websocket_connect("/ws")
        ws.close(4001, "going")
        client.run(asyncio.wait_for(done.wait(), 5))
    assert seen == [("close", 4001), 4001, 4001, []]


def test_messages_are_sent_in_order_under_concurrent_senders(app):
    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()

        async def burst(tag):
            for i in range(50):
                await websocket.send_text(f"{tag}{i}")

        await asyncio.gather(burst("a"), burst("b"))

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        received = [ws.receive_text() for _ in range(100)]
    for tag in "ab":
        assert [m for m in received if m[0] == tag] == [f"{tag}{i}" for i in range(50)]


# -- closing ----------------------------------------------------------------------------
def test_server_close_code_reaches_the_client(app):
    @app.websocket("/ws/close/<int:code>")
    async def closer(websocket, code):
        await websocket.accept()
        await websocket.close(code, "bye")
        await websocket.close(1000)  # a second close does nothing
        assert websocket.close_code == code and websocket.close_reason == "bye"

    with TestClient(app) as client:
        for code in (1000, 1001, 1008, 4000, 4999):
            with client.websocket_connect(f"/ws/close/{code}") as ws:
                assert ws.wait_closed() == code
                with pytest.raises(ConnectionClosed):
                    ws.receive_text()


def test_close_validates_code_and_reason(app):
    problems = []

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        for code, reason in ((999, ""), (1005, ""), (5000, ""), (1000, "x" * 124)):
            try:
                await websocket.close(code, reason)
            except ValueError:
                problems.append(code)
        await websocket.send_text("still open")

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "still open"
        assert ws.wait_closed() == 1000
    assert problems == [999, 1005, 5000, 1000]


def test_close_from_another_task_wakes_a_pending_receive(app):
    results = []

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, lambda: asyncio.ensure_future(websocket.close(4002, "kicked")))
        message = await asyncio.wait_for(websocket.receive(), 5)
        results.append((message.type, message.code, message.reason))

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.wait_closed() == 4002
    assert results == [("close", 4002, "kicked")]


def test_handler_that_never_accepts_is_refused_cleanly(app):
    @app.websocket("/ws")
    async def lazy(websocket):
        return None

    with TestClient(app) as client, pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/ws")
    assert refused.value.status_code == 403


def test_handler_that_returns_is_closed_with_1000(app):
    @app.websocket("/ws")
    async def brief(websocket):
        await websocket.accept()
        await websocket.send_text("hi")

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"
        assert ws.wait_closed() == 1000


def test_handler_exception_closes_with_1011_is_logged_and_app_keeps_serving(app, caplog):
    @app.websocket("/ws/boom")
    async def boom(websocket):
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("secret internals")

    @app.websocket("/ws/early")
    async def early(websocket):
        raise RuntimeError("before accept")

    @app.websocket("/ws/ok")
    async def ok(websocket):
        await websocket.accept()
        await websocket.send_text("fine")

    with TestClient(app) as client:
        with caplog.at_level(logging.ERROR, logger="gobstopper.websocket"):
            with client.websocket_connect("/ws/boom") as ws:
                ws.send_text("go")
                with pytest.raises(ConnectionClosed) as closed:
                    ws.receive_text()
                assert closed.value.code == 1011
            with pytest.raises(WebSocketRejected) as refused:
                client.websocket_connect("/ws/early")
            assert refused.value.status_code == 500
        assert "secret internals" in caplog.text and "boom" in caplog.text
        with client.websocket_connect("/ws/ok") as ws:
            assert ws.receive_text() == "fine"


# -- size limits ------------------------------------------------------------------------
def test_oversized_incoming_message_closes_with_1009_and_app_keeps_serving(app, monkeypatch):
    monkeypatch.setenv("MAX_WS_MESSAGE_BYTES", "1000")
    seen = []

    @app.websocket("/ws")
    async def echo(websocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message.data)
        seen.append(websocket.close_code)

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("x" * 1000)
            assert ws.receive_text() == "x" * 1000
            ws.send_text("é" * 501)  # 501 characters, 1002 UTF-8 bytes
            assert ws.wait_closed() == 1009
        with client.websocket_connect("/ws") as ws:
            ws.send_bytes(b"y" * 1001)
            assert ws.wait_closed() == 1009
        with client.websocket_connect("/ws") as ws:
            ws.send_text("still serving")
            assert ws.receive_text() == "still serving"
    assert seen[:2] == [1009, 1009]


def test_default_limit_is_one_mib(app):
    @app.websocket("/ws")
    async def echo(websocket):
        await websocket.accept()
        assert websocket.max_message_bytes == 1024 * 1024
        assert websocket.send_chunk_bytes == 64 * 1024
        async for message in websocket:
            await websocket.send_bytes(message.data)

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"z" * (1024 * 1024))
        assert len(ws.receive_bytes()) == 1024 * 1024  # one message, never split
        ws.send_bytes(b"z" * (1024 * 1024 + 1))
        assert ws.wait_closed() == 1009


def test_oversized_outgoing_message_closes_with_1009(app, monkeypatch, caplog):
    monkeypatch.setenv("MAX_WS_MESSAGE_BYTES", "100")
    outcome = []

    @app.websocket("/ws")
    async def sender(websocket):
        await websocket.accept()
        await websocket.send_text("x" * 100)
        try:
            await websocket.send_bytes(b"y" * 101)
        except ConnectionClosed as exc:
            outcome.append(exc.code)

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "x" * 100
        assert ws.wait_closed() == 1009
    assert outcome == [1009]
    assert "exceeds MAX_WS_MESSAGE_BYTES" in caplog.text


# -- the async test client ----------------------------------------------------------------
async def test_async_test_client_websocket():
    app = Gobstopper(__name__)

    @app.websocket("/ws/<name>")
    async def hello(websocket, name):
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{text}, {name}")

    async with AsyncTestClient(app) as client:
        async with client.websocket_connect("/ws/bob") as ws:
            await ws.send_text("hi")
            assert await ws.receive_text() == "hi, bob"
            assert await ws.wait_closed() == 1000
        ws = await client.websocket_connect("/ws/amy")
        await ws.send_text("yo")
        assert await ws.receive_text() == "yo, amy"
        await ws.close()
        with pytest.raises(WebSocketRejected):
            await client.websocket_connect("/missing")


def test_mounted_apps_serve_websockets_under_their_prefix(app):
    sub = Gobstopper("sub")

    @sub.websocket("/ws/<int:n>")
    async def inner(websocket, n):
        await websocket.accept()
        await websocket.send_text(f"sub {n} at {websocket.path}")

    app.mount("/sub", sub)
    with TestClient(app) as client:
        with client.websocket_connect("/sub/ws/3") as ws:
            assert ws.receive_text() == "sub 3 at /ws/3"
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect("/ws/3")
        assert refused.value.status_code == 404
