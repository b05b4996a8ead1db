"""The room app the WebSocketManager tests connect to, in-process or via a backplane."""

from __future__ import annotations

from gobstopper import Gobstopper
from gobstopper.websocket import WebSocketManager


def room_app(manager: WebSocketManager) -> Gobstopper:
    """``/join``: join the rooms in ?rooms=a,b under id ?id=..., answer ``joined``.

    Each text message then names a room, which gets ``"<id> says hi"``.
    """
    app = Gobstopper(__name__)

    @app.websocket("/join")
    async def join(websocket):
        conn_id = websocket.query_params["id"]
        await websocket.accept()
        manager.add_connection(conn_id, websocket)
        for room in filter(None, websocket.query_params.get("rooms", "").split(",")):
            manager.join_room(conn_id, room)
        await websocket.send_text("joined")
        try:
            async for message in websocket:
                await manager.broadcast_to_room(message.text, f"{conn_id} says hi")
        finally:
            manager.remove_connection(conn_id)

    return app
