"""Rooms over a RedisBackplane, served by Granian in tests/e2e/test_rooms_scale_out.py.

``$REDIS_URL`` and ``$ROOMS_CHANNEL`` name the shared Redis and channel; servers
started with the same pair share their rooms.
"""

from __future__ import annotations

import os

from redis.asyncio import Redis

from gobstopper import Gobstopper
from gobstopper.websocket import RedisBackplane, WebSocketManager

app = Gobstopper(__name__)
app.websocket_manager = WebSocketManager(
    backplane=RedisBackplane(Redis.from_url(os.environ["REDIS_URL"]), os.environ["ROOMS_CHANNEL"])
)


@app.websocket("/join/<room>")
async def join(websocket, room: str):
    manager = app.websocket_manager
    connection_id = f"{id(websocket):x}"
    await websocket.accept()
    manager.add_connection(connection_id, websocket)
    manager.join_room(connection_id, room)
    await websocket.send_text(f"joined by {os.getpid()}")
    try:
        async for _ in websocket:
            pass
    finally:
        manager.remove_connection(connection_id)


@app.post("/say/<room>")
async def say(request, room: str):
    await app.websocket_manager.broadcast_to_room(room, (await request.get_data()).decode())
    return {"sent": True}
