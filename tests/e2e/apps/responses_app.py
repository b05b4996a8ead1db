"""Files, streams, SSE and static folders, served by Granian in e2e tests.

The test prepares ``$RESPONSES_ROOT`` (static/, files/, big.bin, secret.txt
outside the folders) before the server starts; streams that end write a
marker file to ``$RESPONSES_ROOT/markers`` from their ``finally`` block.
"""

import asyncio
import os
from pathlib import Path

from gobstopper import Blueprint, FileResponse, Gobstopper, StreamResponse
from gobstopper.http.helpers import send_from_directory
from gobstopper.http.sse import SSEEvent, SSEStream, last_event_id
from gobstopper.middleware import (
    HybridStaticMiddleware,
    RustStaticMiddleware,
    StaticFileMiddleware,
)

ROOT = Path(os.environ["RESPONSES_ROOT"])
MARKERS = ROOT / "markers"

app = Gobstopper(__name__)
app.add_middleware(StaticFileMiddleware(str(ROOT / "static"), "/static"))
app.add_middleware(RustStaticMiddleware(str(ROOT / "static"), "/rs", expires=120))
app.add_middleware(HybridStaticMiddleware(str(ROOT / "static"), "/hy"))
app.register_blueprint(Blueprint("assets", "/bp", static_folder=str(ROOT / "static")))


def mark(tag: str) -> None:
    MARKERS.mkdir(exist_ok=True)
    (MARKERS / tag).write_text("closed")


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}


@app.get("/file")
async def file(request):
    return FileResponse(ROOT / "static" / "data.bin", filename="data.bin")


@app.get("/big")
async def big(request):
    return FileResponse(ROOT / "big.bin")


@app.get("/missing")
async def missing(request):
    return FileResponse(ROOT / "not-there.bin")


@app.get("/download/<path:name>")
async def download(request, name):
    return send_from_directory(ROOT / "files", name, as_attachment=True)


@app.get("/sse")
async def sse(request):
    count = int(request.args.get("n", ["10"])[0])
    start = int(last_event_id(request) or -1) + 1

    async def events():
        for n in range(start, start + count):
            yield SSEEvent(data=f"event {n}\nline two", event="tick", id=n)

    return SSEStream(events(), keep_alive=5)


@app.get("/forever")
async def forever(request):
    tag = request.args["tag"][0]

    async def chunks():
        try:
            n = 0
            while True:
                yield f"chunk {n}\n"
                n += 1
                await asyncio.sleep(0.01)
        finally:
            mark(tag)

    return StreamResponse(chunks())


@app.get("/idle")
async def idle(request):
    tag = request.args["tag"][0]

    async def quiet():
        try:
            yield SSEEvent(data="hello", id=1)
            await asyncio.Event().wait()  # nothing more, ever
        finally:
            mark(tag)

    return SSEStream(quiet(), keep_alive=None)


@app.get("/quiet")
async def quiet_then_more(request):
    async def slow():
        yield "first"
        await asyncio.sleep(0.5)
        yield "second"

    return SSEStream(slow(), keep_alive=0.1)
