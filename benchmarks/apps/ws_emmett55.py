"""emmett55 WebSocket app: a chat room as a set of connected websockets, and an echo.

Emmett's websocket routes take no argument for the connection: the ``websocket`` context
proxy is the current one. A room therefore keeps the connection object itself
(``current.websocket``), and a broadcast awaits ``send`` on each member in turn, as a
Starlette room does. Served by Granian's RSGI interface.
"""

from __future__ import annotations

from typing import Any

from emmett55 import App, current, websocket

app = App(__name__)
ROOMS: dict[str, set[Any]] = {}


@app.websocket("/ws/room/<str:room>")
async def room(room: str) -> None:
    """Join ``room`` and broadcast every message received to all its members."""
    await websocket.accept()
    me = current.websocket
    members = ROOMS.setdefault(room, set())
    members.add(me)
    try:
        while True:
            message = await websocket.receive()
            for member in list(members):
                await member.send(message)
    finally:
        members.discard(me)


@app.websocket("/ws/echo")
async def echo() -> None:
    """Send every message back unchanged."""
    while True:
        message = await websocket.receive()
        await websocket.send(message)
