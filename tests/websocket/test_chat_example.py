"""The chat example (examples/chat.py): rooms, announcements, refusals."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gobstopper.testing import TestClient, WebSocketRejected

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat.py"


@pytest.fixture
def chat():
    """A fresh copy of the example module (its app and manager are module globals)."""
    spec = importlib.util.spec_from_file_location("chat_example_under_test", CHAT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def join(client, room: str, name: str, shown: str | None = None):
    ws = client.websocket_connect(f"/ws/chat/{room}", params={"name": name})
    assert ws.receive_json() == {"type": "welcome", "room": room, "user": shown or name}
    return ws


def test_page_is_served_and_escapes_messages(chat):
    with TestClient(chat.app) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers.get("content-type").startswith("text/html")
        assert "new WebSocket(" in page.text and "textContent" in page.text
        assert "innerHTML =" not in page.text


def test_messages_reach_their_room_only_with_join_and_leave_notices(chat):
    with TestClient(chat.app) as client:
        ann = join(client, "red", "ann")
        assert ann.receive_json() == {"type": "join", "user": "ann", "members": 1}
        bob = join(client, "red", "bob")
        assert bob.receive_json() == {"type": "join", "user": "bob", "members": 2}
        assert ann.receive_json() == {"type": "join", "user": "bob", "members": 2}
        cid = join(client, "blue", "cid")
        assert cid.receive_json() == {"type": "join", "user": "cid", "members": 1}
        assert client.get("/rooms").json() == {"rooms": {"blue": 1, "red": 2}}

        ann.send_text("hello red")
        expected = {"type": "message", "room": "red", "user": "ann", "text": "hello red"}
        assert ann.receive_json() == expected
        assert bob.receive_json() == expected
        cid.send_json({"text": "  hello blue  "})
        assert cid.receive_json() == {
            "type": "message",
            "room": "blue",
            "user": "cid",
            "text": "hello blue",
        }  # nothing from red came first

        bob.close()
        assert ann.receive_json() == {"type": "leave", "user": "bob", "members": 1}
        assert client.get("/rooms").json() == {"rooms": {"blue": 1, "red": 1}}
        ann.close()
        cid.close()
        assert client.get("/rooms").json() == {"rooms": {}}


def test_blank_and_bad_messages_are_ignored_and_long_ones_refused(chat):
    with TestClient(chat.app) as client:
        ann = join(client, "r1", "ann")
        ann.receive_json()  # her own join
        ann.send_text("   ")
        ann.send_text('{"not json')
        ann.send_text("x" * (chat.MAX_TEXT + 1))
        assert ann.receive_json() == {"type": "error", "error": "message too long"}
        ann.send_text("ok")
        assert ann.receive_json()["text"] == "ok"
        ann.close()


def test_bad_room_names_are_refused_and_names_default(chat):
    with TestClient(chat.app) as client:
        for room in ("a" * 33, "no%20spaces", "semi;colon", "lobby%0A", "%0Alobby"):
            with pytest.raises(WebSocketRejected) as refused:
                client.websocket_connect(f"/ws/chat/{room}")
            assert refused.value.status_code == 403
        ws = client.websocket_connect("/ws/chat/lobby")
        welcome = ws.receive_json()
        assert welcome["user"].startswith("guest-")
        ws.close()
        long_name = join(client, "lobby", " " + "n" * 30, shown="n" * 24)  # trimmed, cut
        long_name.close()


def test_shutdown_closes_chat_connections_with_1001(chat):
    client = TestClient(chat.app)
    with client:
        ann = join(client, "red", "ann")
        ann.receive_json()
        client.run(chat.app.shutdown(timeout=1))
        assert ann.wait_closed() == 1001
