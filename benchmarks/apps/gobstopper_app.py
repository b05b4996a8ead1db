"""Gobstopper app, written only from the public API reference.

Served by Granian's RSGI interface from the project's own virtual environment. /mw lives
on a blueprint carrying the three header middlewares, so only that route pays for them.
POST /enqueue queues a no-op background task in a DuckDB file in a temporary directory;
the app's own task workers run them while the load goes on. The queue opens on the first
/enqueue, so the other endpoints (and the idle footprint) never load DuckDB.
``BENCH_TASKS_STORE=sqlite`` (or ``sqlite-normal``: ``synchronous="NORMAL"``) keeps the
tasks in SQLite instead, to compare the stores under HTTP load. ``BENCH_TASKS_STORE=redis``
(with ``BENCH_REDIS_URL``) queues them in Redis and runs no workers here, as a web process
whose tasks run in worker processes elsewhere: /enqueue then costs the request and the
queuing only. ``BENCH_TASK_WORKERS`` sets how many worker coroutines the first /enqueue
starts here (default 32, 0 with Redis); 0 measures what queuing alone costs on any store.
POST /accept answers like /enqueue without queuing, the control it is compared with.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from benchmarks.apps.common import (
    HELLO,
    ROWS,
    TEMPLATE_DIR,
    TEMPLATE_NAME,
    TEMPLATE_TITLE,
    extra_param_prefixes,
    extra_static_paths,
)
from gobstopper import Blueprint, Gobstopper, JSONResponse, Request, Response
from gobstopper.tasks import (
    RedisTaskStorage,
    SQLiteTaskStorage,
    TaskPriority,
    TaskQueue,
    TaskStorage,
)

CallNext = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, CallNext], Awaitable[Response]]


class Item(msgspec.Struct):
    """One order line."""

    sku: str
    name: str
    qty: int
    price: float


class Order(msgspec.Struct):
    """The /echo body model."""

    id: int
    customer: str
    email: str
    tags: list[str]
    items: list[Item]
    note: str


app = Gobstopper(__name__)
app.init_templates(TEMPLATE_DIR, use_rust=False, auto_reload=False)

TASKS_DIR = Path(tempfile.mkdtemp(prefix="gobstopper-bench-tasks-"))
STORES = {
    "duckdb": lambda: TaskStorage(TASKS_DIR / "tasks.duckdb"),
    "sqlite": lambda: SQLiteTaskStorage(TASKS_DIR / "tasks.sqlite3"),
    "sqlite-normal": lambda: SQLiteTaskStorage(TASKS_DIR / "tasks.sqlite3", synchronous="NORMAL"),
    "redis": lambda: RedisTaskStorage(
        os.environ["BENCH_REDIS_URL"], prefix=f"bench:{TASKS_DIR.name}"
    ),
}
STORE = os.environ.get("BENCH_TASKS_STORE", "duckdb")
TASK_WORKERS = int(os.environ.get("BENCH_TASK_WORKERS", "0" if STORE == "redis" else "32"))
"""Worker coroutines here: DuckDB commits one batch at a time, so more workers share each."""
app.task_queue = TaskQueue(enabled=True, storage_factory=STORES[STORE])
_workers_lock = asyncio.Lock()


@app.task("notify", category="bench")
async def notify(to: str) -> None:
    """The queued task: does nothing, like the other benchmarks' no-op tasks."""


async def ensure_task_workers() -> None:
    """Start the task workers once, on the first /enqueue."""
    async with _workers_lock:
        if "bench" not in app.task_queue.workers:
            await app.start_task_workers("bench", worker_count=TASK_WORKERS)


@app.on_shutdown
async def remove_task_database() -> None:
    """Delete the temporary task database (the app shuts its queue down first)."""
    await app.task_queue.shutdown()
    shutil.rmtree(TASKS_DIR, ignore_errors=True)


def header_middleware(name: str) -> Middleware:
    """Build a middleware adding the response header ``name: 1``."""

    async def middleware(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers[name] = "1"
        return response

    return middleware


def add_extra_routes() -> None:
    """Register the 50 static and 50 parameterized routes before the measured ones."""

    async def extra_static(request: Request) -> Response:
        return Response("ok", content_type="text/plain")

    async def extra_param(request: Request, id: int) -> Response:
        return Response(f"item {id}", content_type="text/plain")

    for i, path in enumerate(extra_static_paths()):
        app.get(path, name=f"static{i}")(extra_static)
    for i, prefix in enumerate(extra_param_prefixes()):
        app.get(prefix + "<int:id>", name=f"param{i}")(extra_param)


add_extra_routes()


@app.get("/plaintext")
async def plaintext(request: Request) -> Response:
    """Return the plain-text greeting."""
    return Response(HELLO, content_type="text/plain")


@app.get("/json")
async def json_hello(request: Request) -> dict[str, str]:
    """Return the greeting as JSON."""
    return {"message": HELLO}


@app.get("/users/<int:id>")
async def user(request: Request, id: int) -> dict[str, Any]:
    """Echo the int path parameter and the ``q`` query parameter."""
    return {"id": id, "q": request.args.get("q", [""])[0]}


@app.post("/echo")
async def echo(request: Request) -> JSONResponse:
    """Validate the JSON body into ``Order`` and send it back (msgspec encodes a Struct)."""
    return JSONResponse(await request.json(model=Order))


@app.post("/enqueue")
async def enqueue(request: Request) -> tuple[dict[str, str], int]:
    """Queue ``notify`` for the JSON body's ``to``; answer 202 with the task id."""
    if TASK_WORKERS and "bench" not in app.task_queue.workers:
        await ensure_task_workers()
    data = await request.json()
    task_id = await app.add_background_task("notify", "bench", TaskPriority.NORMAL, 0, data["to"])
    return {"id": task_id}, 202


@app.post("/accept")
async def accept(request: Request) -> tuple[dict[str, str], int]:
    """Answer like /enqueue (202 with an id) without queuing: its cost minus the queuing."""
    data = await request.json()
    if not isinstance(data.get("to"), str):
        return {"error": "to must be a string"}, 400
    return {"id": str(uuid.uuid4())}, 202


@app.get("/template")
async def template(request: Request) -> Response:
    """Render the 10-row table."""
    return await app.render_template(TEMPLATE_NAME, rows=ROWS, title=TEMPLATE_TITLE)


mw_blueprint = Blueprint("mw")
for _name in ("x-mw1", "x-mw2", "x-mw3"):
    mw_blueprint.add_middleware(header_middleware(_name))


@mw_blueprint.get("/mw")
async def mw(request: Request) -> Response:
    """Return the plain-text greeting through the three blueprint middlewares."""
    return Response(HELLO, content_type="text/plain")


app.register_blueprint(mw_blueprint)
