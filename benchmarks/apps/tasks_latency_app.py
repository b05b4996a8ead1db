"""Gobstopper app for the task-latency benchmark: HTTP answers while tasks run.

``POST /enqueue?n=N`` queues N no-op tasks from a background coroutine and
returns at once; ``GET /ping`` is the endpoint whose latency is measured;
``GET /progress`` reports how many tasks have finished. The DuckDB file is
``$TASKS_BENCH_DB``.
"""

from __future__ import annotations

import asyncio
import os

from gobstopper import Gobstopper
from gobstopper.tasks import TaskQueue, TaskStorage

app = Gobstopper(__name__)
app.task_queue = TaskQueue(
    enabled=True, storage_factory=lambda: TaskStorage(os.environ["TASKS_BENCH_DB"])
)
STATE = {"queued": 0, "done": 0}
_background: set[asyncio.Task[None]] = set()


@app.task("noop")
async def noop() -> None:
    STATE["done"] += 1


@app.on_startup
async def start_workers() -> None:
    await app.start_task_workers("default", worker_count=16)


async def _enqueue(count: int) -> None:
    for _ in range(count):
        await app.add_background_task("noop")
        STATE["queued"] += 1


@app.post("/enqueue")
async def enqueue(request):
    count = int(request.args.get("n", ["10000"])[0])
    task = asyncio.create_task(_enqueue(count))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"enqueuing": count}, 202


@app.get("/ping")
async def ping(request):
    return {"ok": True}


@app.get("/progress")
async def progress(request):
    return dict(STATE)
