"""A small app served by Granian in the foundation's end-to-end tests."""

import asyncio
import os

from gobstopper import Blueprint, Gobstopper, Response

app = Gobstopper(__name__)
STARTED: list[str] = []


@app.on_startup
async def started() -> None:
    STARTED.append("yes")


@app.get("/")
async def index(request):
    return {"message": "hello", "pid": os.getpid(), "started": bool(STARTED)}


@app.get("/users/<int:user_id>")
async def user(request, user_id: int):
    return {"user_id": user_id, "q": request.args.get("q", [""])[0]}


@app.get("/sync")
def sync_handler(request):
    return "sync ok"


@app.post("/echo")
async def echo(request):
    return Response(await request.get_data(), content_type="application/octet-stream")


@app.get("/slow")
async def slow(request):
    await asyncio.sleep(float(request.args.get("s", ["1"])[0]))
    return "slow done"


@app.get("/boom")
async def boom(request):
    raise RuntimeError("secret internals")


api = Blueprint("api", url_prefix="/api")


@api.get("/ping")
async def ping(request):
    return {"pong": True}


app.register_blueprint(api)
