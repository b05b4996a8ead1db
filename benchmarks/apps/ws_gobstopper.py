"""Gobstopper WebSocket app: a chat room through the app's ``WebSocketManager``, and an echo.

Written as the API reference and docs/websockets.md show it: every connection to
``/ws/room/<room>`` registers with ``app.websocket_manager`` and joins the room, and each text
it sends is broadcast to every member (the sender included) with ``broadcast_to_room``.
``/ws/echo`` sends back every message it receives, text as text and bytes as bytes.
"""

from __future__ import annotations

import uuid
from typing import Any

from gobstopper import Gobstopper

app = Gobstopper(__name__)
manager = app.websocket_manager


@app.websocket("/ws/room/<room>")
async def room(websocket: Any, room: str) -> None:
    """Join ``room`` and broadcast every text received to all its members."""
    conn_id = uuid.uuid4().hex
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)
    try:
        async for message in websocket:
            await manager.broadcast_to_room(room, message.text)
    finally:
        manager.remove_connection(conn_id)


@app.websocket("/ws/echo")
async def echo(websocket: Any) -> None:
    """Send every message back unchanged."""
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message.data)
