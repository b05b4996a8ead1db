"""The WebSocket entry: before_websocket hooks (app, then blueprints) before accept, refusals."""

from __future__ import annotations

import pytest

from gobstopper import Blueprint, Gobstopper
from gobstopper.http.errors import HTTPException, abort
from gobstopper.testing import TestClient, WebSocketRejected


def make_app(order: list[str]):
    app = Gobstopper(__name__)
    outer = Blueprint("outer", url_prefix="/outer")
    inner = Blueprint("inner", url_prefix="/inner")

    @app.before_websocket
    async def app_hook(websocket):
        order.append("app")
        token = websocket.query_params.get("token")
        if token == "bad":
            return False
        if token == "expired":
            abort(401)
        websocket.user = token

    @outer.before_websocket
    def outer_hook(websocket):  # sync hooks work too
        order.append("outer")

    @inner.before_websocket
    async def inner_hook(websocket):
        order.append("inner")
        if websocket.query_params.get("token") == "banned":
            raise HTTPException("banned", status_code=451)

    @inner.websocket("/feed")
    async def feed(websocket):
        order.append("handler")
        await websocket.accept()
        await websocket.send_text(f"hello {websocket.user}")

    @app.websocket("/plain")
    async def plain(websocket):
        order.append("handler")
        await websocket.accept()
        await websocket.send_text("plain")

    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    return app


def test_hooks_run_app_then_outer_then_inner_before_the_handler():
    order: list[str] = []
    with TestClient(make_app(order)) as client:
        with client.websocket_connect("/outer/inner/feed?token=alice") as ws:
            assert ws.receive_text() == "hello alice"
        assert order == ["app", "outer", "inner", "handler"]
        order.clear()
        with client.websocket_connect("/plain") as ws:
            assert ws.receive_text() == "plain"
        assert order == ["app", "handler"]


@pytest.mark.parametrize(
    ("token", "status", "ran"),
    [
        ("bad", 403, ["app"]),
        ("expired", 401, ["app"]),
        ("banned", 451, ["app", "outer", "inner"]),
    ],
)
def test_a_refusing_hook_rejects_before_accept(token, status, ran):
    order: list[str] = []
    with TestClient(make_app(order)) as client:
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect(f"/outer/inner/feed?token={token}")
        assert refused.value.status_code == status
        assert order == ran  # the handler never ran
        with client.websocket_connect("/outer/inner/feed?token=ok") as ws:
            assert ws.receive_text() == "hello ok"


def test_a_hook_that_raises_is_a_500_and_is_logged(caplog):
    app = Gobstopper(__name__)

    @app.before_websocket
    def broken(websocket):
        raise KeyError("hook bug")

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()

    with TestClient(app) as client, pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/ws")
    assert refused.value.status_code == 500
    assert "hook bug" in caplog.text


def test_a_hook_may_close_or_accept_itself():
    app = Gobstopper(__name__)

    @app.before_websocket
    async def gate(websocket):
        if websocket.path == "/closed":
            await websocket.close(1008)
        elif websocket.path == "/early":
            await websocket.accept()
            await websocket.send_text("accepted by hook")
            return False  # refuse after accept: closed with 1008

    @app.websocket("/closed")
    async def closed(websocket):
        raise AssertionError("not reached")

    @app.websocket("/early")
    async def early(websocket):
        raise AssertionError("not reached")

    with TestClient(app) as client:
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect("/closed")
        assert refused.value.status_code == 403
        with client.websocket_connect("/early") as ws:
            assert ws.receive_text() == "accepted by hook"
            assert ws.wait_closed() == 1008


def test_abort_after_accept_closes_with_policy_or_internal_error():
    app = Gobstopper(__name__)

    @app.websocket("/ws/<int:status>")
    async def handler(websocket, status):
        await websocket.accept()
        abort(status)

    with TestClient(app) as client:
        with client.websocket_connect("/ws/403") as ws:
            assert ws.wait_closed() == 1008
        with client.websocket_connect("/ws/503") as ws:
            assert ws.wait_closed() == 1011


def test_no_new_websockets_while_shutting_down():
    app = Gobstopper(__name__)

    @app.websocket("/ws")
    async def handler(websocket):
        await websocket.accept()

    client = TestClient(app)
    with client:
        client.run(app.shutdown(timeout=0))
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect("/ws")
        assert refused.value.status_code == 503
