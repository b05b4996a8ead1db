"""One app for the third-party ASGI server smoke tests (uvicorn, hypercorn).

WebSocket close codes are reported over HTTP (``/closes``) so the tests can
check what the handler saw, as in ``ws_app``.
"""

import os
from pathlib import Path

from gobstopper import FileResponse, Gobstopper, Response
from gobstopper.http.sse import SSEEvent, SSEStream

app = Gobstopper(__name__)
EVENTS = os.environ.get("ASGI_APP_EVENTS")
CLOSES: list[dict[str, object]] = []
DATA = Path.cwd() / "asgi-app-data.bin"  # the tests run each server in a fresh folder
DATA.write_bytes(bytes(range(256)) * 4096)  # 1 MiB: several chunks without pathsend


def record(event: str) -> None:
    if EVENTS:
        with open(EVENTS, "a") as handle:
            handle.write(f"{event} {os.getpid()}\n")


@app.on_startup
async def started() -> None:
    if os.environ.get("ASGI_APP_FAIL_STARTUP"):
        raise ConnectionError("db.example:5432 refused the connection")
    record("startup")


@app.on_shutdown
async def stopped() -> None:
    record("shutdown")


@app.get("/")
async def index(request):
    return {"hello": "asgi", "q": request.args.get("q", [""])[0], "path": request.path}


@app.post("/echo")
async def echo(request):
    return Response(await request.get_data(), content_type="application/octet-stream")


@app.get("/file")
async def data_file(request):
    return FileResponse(DATA, filename="data.bin")


@app.get("/sse")
async def sse(request):
    async def events():
        for n in range(5):
            yield SSEEvent(data=f"event {n}", id=n)

    return SSEStream(events())


@app.get("/closes")
async def closes(request):
    return CLOSES


@app.websocket("/ws/close/<int:code>")
async def close_with(websocket, code):
    await websocket.accept()
    await websocket.close(code, "server says bye")


@app.websocket("/ws/peer-close")
async def peer_close(websocket):
    await websocket.accept()
    await websocket.send_text("ready")
    message = await websocket.receive()
    CLOSES.append({"code": message.code, "reason": message.reason})


@app.websocket("/ws/echo")
async def echo_ws(websocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message.data)


@app.websocket("/ws/boom")
async def boom(websocket):
    await websocket.accept()
    await websocket.receive_text()
    raise RuntimeError("secret internals")


@app.websocket("/ws/refuse")
async def refuse(websocket):
    await websocket.reject(401)
