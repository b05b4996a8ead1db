"""The foundation's e2e app: slash redirects, slow requests, shutdown records."""

import asyncio
import os

from gobstopper import Gobstopper, Response

app = Gobstopper(__name__, slash_policy="redirect")
mounted = Gobstopper("mounted")


def _record(event: str) -> None:
    path = os.environ.get("FOUNDATION_EVENTS")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {os.getpid()}\n")


@app.on_startup
def started() -> None:
    _record("startup")


@app.on_shutdown
async def stopped() -> None:
    _record("shutdown")


@app.get("/")
async def index(request):
    return {"pid": os.getpid()}


@app.get("/users/")
async def users(request):
    return {"users": []}


@app.get("/n/<int:n>")
async def number(request, n):
    return {"n": n}


@app.get("/files/<path:name>")
async def files(request, name):
    return {"name": name, "path": request.path}


@app.get("/slow")
async def slow(request):
    seconds = float(request.args.get("s", ["1"])[0])
    _record(f"slow-start {seconds}")
    await asyncio.sleep(seconds)
    _record("slow-end")
    return "slow done"


@app.get("/inject")
async def inject(request):
    response = Response("never sent")
    response.headers["x-evil"] = "a\r\nSet-Cookie: pwned=1"
    return response


@app.get("/boom")
async def boom(request):
    raise RuntimeError("secret internals")


@mounted.get("/where")
async def where(request):
    return {"path": request.path, "url": request.url, "link": mounted.url_for("where")}


app.mount("/sub", mounted)


@app.get("/q")
async def query(request):
    return {"count": len(request.args)}


@app.websocket("/ws/echo")
async def echo(websocket):
    await websocket.accept()
    _record("ws-open")
    async for message in websocket:
        await websocket.send(f"Echo: {message}")
    _record("ws-closed")
