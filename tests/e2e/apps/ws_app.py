"""A WebSocket app served by Granian in the end-to-end tests.

Granian sends close frames without a code, so the codes the app chose are
also reported over HTTP (``/closes``) for the tests to check.
"""

import asyncio
import collections
import time
import uuid

from gobstopper import Gobstopper
from gobstopper.websocket import ConnectionClosed, WebSocket, WebSocketManager

app = Gobstopper(__name__)
manager = WebSocketManager(send_timeout=1.0)
SEEN: collections.deque[WebSocket] = collections.deque(maxlen=2000)
FILLERS: dict[str, dict[str, object]] = {}
FILL_LIMIT = 64 * 1024 * 1024


@app.before_websocket
async def gate(websocket):
    if websocket.query_params.get("token") == "bad":
        return False
    SEEN.append(websocket)
    return None


@app.get("/closes")
async def closes(request):
    path = request.args.get("path", [""])[0]
    return [
        {"id": ws.query_params.get("id"), "code": ws.close_code, "reason": ws.close_reason}
        for ws in SEEN
        if ws.path == path and ws.closed
    ]


@app.websocket("/ws/echo")
async def echo(websocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message.data)


@app.websocket("/ws/typed/<int:n>/<uuid:token>")
async def typed(websocket, n, token):
    await websocket.accept()
    await websocket.send_json(
        {
            "n": n,
            "is_int": isinstance(n, int),
            "token": str(token),
            "is_uuid": isinstance(token, uuid.UUID),
        }
    )
    await websocket.receive()


@app.websocket("/ws/close/<int:code>")
async def close_with(websocket, code):
    await websocket.accept()
    await websocket.close(code, "server says bye")


@app.websocket("/ws/peer-close")
async def peer_close(websocket):
    await websocket.accept()
    await websocket.send_text("ready")
    await websocket.receive()


@app.websocket("/ws/boom")
async def boom(websocket):
    await websocket.accept()
    await websocket.receive_text()
    raise RuntimeError("secret internals")


@app.websocket("/ws/room/<room>")
async def room_member(websocket, room):
    conn_id = websocket.query_params.get("id") or str(uuid.uuid4())
    await websocket.accept()
    manager.add_connection(conn_id, websocket)
    manager.join_room(conn_id, room)
    await websocket.send_text("joined")
    filler = (
        asyncio.ensure_future(fill(conn_id, websocket))
        if websocket.query_params.get("fill")
        else None
    )
    try:
        async for _ in websocket:
            pass
    finally:
        manager.remove_connection(conn_id)
        if filler is not None:
            filler.cancel()


async def fill(conn_id, websocket):
    """Send to one member until a send stalls (its socket buffers are full)."""
    state = FILLERS[conn_id] = {"sent": 0, "stalled": False}
    chunk = b"f" * 65536
    while state["sent"] < FILL_LIMIT:
        try:
            await asyncio.wait_for(websocket.send_bytes(chunk), 0.5)
        except TimeoutError:
            state["stalled"] = True
            return
        except ConnectionClosed:
            return
        state["sent"] += len(chunk)


@app.get("/fill/<conn_id>")
async def fill_state(request, conn_id):
    return FILLERS.get(conn_id, {})


@app.get("/rooms/<room>")
async def room_state(request, room):
    return {"members": sorted(manager.get_room_connections(room))}


@app.post("/broadcast/<room>")
async def broadcast(request, room):
    count = int(request.args.get("count", ["1"])[0])
    started = time.monotonic()
    for i in range(count):
        await manager.broadcast_to_room(room, f"message {i}")
    return {
        "elapsed": time.monotonic() - started,
        "members": len(manager.get_room_connections(room)),
    }
