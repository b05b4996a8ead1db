"""A chat with rooms: WebSockets, ``before_websocket`` and the app's manager.

Run it with ``gobstopper run examples.chat:app`` (or
``granian --interface rsgi examples.chat:app``) and open
http://127.0.0.1:8000/ in two browser tabs.

- ``GET /`` serves the page (``chat_static/chat.html``).
- ``WS /ws/chat/<room>?name=ann`` joins a room. Send text (or JSON
  ``{"text": "..."}``); everyone in the room gets
  ``{"type": "message", "room", "user", "text"}``. Joins and leaves are
  announced as ``{"type": "join"|"leave", "user", "members"}``.
- ``GET /rooms`` lists the rooms and how many are in each.

Room and user names are checked in a ``before_websocket`` hook, which refuses
the handshake (HTTP 403) before the connection is accepted. A browser cannot
read why a handshake failed, so the page checks room names itself (the input's
``pattern``, the same rule) and explains a refused room on the page.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import msgspec

from gobstopper import FileResponse, Gobstopper, Request
from gobstopper.websocket import Message, WebSocket

HERE = Path(__file__).resolve().parent
# fullmatch, not ^...$: "$" also matches before a trailing newline ("lobby\n").
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_TEXT = 500

app = Gobstopper(__name__)
manager = app.websocket_manager  # closed with 1001 when the app shuts down
encode = msgspec.json.Encoder().encode


def event(**fields: object) -> str:
    """One chat event as JSON text."""
    return encode(fields).decode()


@app.before_websocket
def check_names(websocket: WebSocket) -> bool | None:
    """Refuse bad room names; give every user a display name."""
    room = websocket.path_params.get("room", "")
    if not ROOM_NAME.fullmatch(room):
        return False
    name = (websocket.query_params.get("name") or "").strip()[:24]
    # Hooks attach data to the connection, as the reference shows.
    websocket.user_name = name or f"guest-{uuid.uuid4().hex[:4]}"
    return None


@app.get("/")
async def page(request: Request) -> FileResponse:
    return FileResponse(HERE / "chat_static" / "chat.html", as_attachment=False)


@app.get("/rooms")
async def rooms(request: Request) -> dict[str, dict[str, int]]:
    return {"rooms": {room: len(members) for room, members in sorted(manager.rooms.items())}}


@app.websocket("/ws/chat/<room>")
async def chat(websocket: WebSocket, room: str) -> None:
    conn_id = uuid.uuid4().hex
    user: str = websocket.user_name
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)
    try:
        await websocket.send_text(event(type="welcome", room=room, user=user))
        await announce(room, "join", user)
        async for message in websocket:
            text = message_text(message)
            if not text:
                continue
            if len(text) > MAX_TEXT:
                await websocket.send_text(event(type="error", error="message too long"))
                continue
            await manager.broadcast_to_room(
                room, event(type="message", room=room, user=user, text=text)
            )
    finally:
        manager.remove_connection(conn_id)
        await announce(room, "leave", user)


def message_text(message: Message) -> str:
    """The text of a chat message: plain text or ``{"text": ...}``."""
    text = message.text.strip()
    if text.startswith("{"):
        try:
            text = str(msgspec.json.decode(text).get("text", "")).strip()
        except (msgspec.DecodeError, AttributeError):
            return ""
    return text


async def announce(room: str, kind: str, user: str) -> None:
    """Tell the room someone joined or left."""
    members = len(manager.get_room_connections(room))
    await manager.broadcast_to_room(room, event(type=kind, user=user, members=members))
