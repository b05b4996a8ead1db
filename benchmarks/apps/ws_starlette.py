"""Starlette WebSocket app: a chat room as a set of connected websockets, and an echo.

The room is the idiom of Starlette's and FastAPI's documentation (a "connection manager"):
a set of accepted ``WebSocket`` objects per room, and a broadcast that awaits
``send_text`` on each member in turn. Served by Granian's ASGI interface.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

ROOMS: dict[str, set[WebSocket]] = {}


async def room(websocket: WebSocket) -> None:
    """Join the path's room and broadcast every text received to all its members."""
    members = ROOMS.setdefault(websocket.path_params["room"], set())
    await websocket.accept()
    members.add(websocket)
    try:
        async for text in websocket.iter_text():
            for member in list(members):
                await member.send_text(text)
    finally:
        members.discard(websocket)


async def echo(websocket: WebSocket) -> None:
    """Send every text message back unchanged."""
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


app = Starlette(routes=[WebSocketRoute("/ws/room/{room}", room), WebSocketRoute("/ws/echo", echo)])
