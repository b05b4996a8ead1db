"""Background tasks served by Granian, for tests/e2e/test_tasks_*.py.

Environment: ``REDIS_URL`` (always: tasks record their runs there),
``TASKS_BACKEND`` (``redis``, ``duckdb`` or ``sqlite``), ``TASKS_PREFIX`` (Redis
key prefix: servers with the same one share queues and run records),
``TASKS_DB`` (DuckDB or SQLite file), ``START_WORKERS`` (categories whose workers start
at startup, comma-separated) and ``VISIBILITY`` (seconds, Redis backend).

Tasks: ``record(label)`` (category ``work``) counts its runs per label and
appends ``label`` to a list, so a test sees run counts and start order;
``hold(label)`` (category ``hold``) blocks on its first run and returns
this process's pid on any later one.
"""

from __future__ import annotations

import asyncio
import os

from redis.asyncio import Redis

from gobstopper import Gobstopper
from gobstopper.tasks import SQLiteTaskStorage, TaskPriority, TaskQueue, TaskStorage
from gobstopper.tasks.redis_storage import RedisTaskStorage

PREFIX = os.environ["TASKS_PREFIX"]
runs = Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


def _storage() -> RedisTaskStorage | TaskStorage | SQLiteTaskStorage:
    if os.environ["TASKS_BACKEND"] == "sqlite":
        return SQLiteTaskStorage(os.environ["TASKS_DB"])
    if os.environ["TASKS_BACKEND"] == "redis":
        return RedisTaskStorage(
            os.environ["REDIS_URL"],
            prefix=PREFIX,
            visibility_timeout=float(os.environ.get("VISIBILITY", "30")),
        )
    return TaskStorage(os.environ["TASKS_DB"])


app = Gobstopper(__name__)
app.task_queue = TaskQueue(enabled=True, storage_factory=_storage)


@app.task("record", category="work")
async def record(label: str) -> str:
    await runs.hincrby(f"{PREFIX}:runs", label, 1)
    await runs.hincrby(f"{PREFIX}:pids", str(os.getpid()), 1)
    await runs.rpush(f"{PREFIX}:order", label)
    return label


@app.task("hold", category="hold")
async def hold(label: str) -> int:
    if await runs.hincrby(f"{PREFIX}:runs", label, 1) == 1:
        await runs.set(f"{PREFIX}:holder:{label}", os.getpid())
        await asyncio.sleep(120)
    return os.getpid()


@app.on_startup
async def start_workers() -> None:
    for category in filter(None, os.environ.get("START_WORKERS", "").split(",")):
        await app.start_task_workers(category, worker_count=4)


@app.post("/enqueue/<name>/<category>")
async def enqueue(request, name: str, category: str):
    count = int(request.args.get("n", ["1"])[0])
    priority = TaskPriority(int(request.args.get("priority", ["2"])[0]))
    retries = int(request.args.get("retries", ["0"])[0])
    tag = request.args.get("tag", [""])[0]
    labels = [f"{tag}{i}" for i in range(count)]
    ids = await asyncio.gather(
        *(app.add_background_task(name, category, priority, retries, label) for label in labels)
    )
    return {"ids": dict(zip(ids, labels, strict=True))}


@app.post("/start/<category>")
async def start(request, category: str):
    await app.start_task_workers(category, worker_count=4)
    return {"started": category}


@app.get("/task/<task_id>")
async def task(request, task_id: str):
    info = await app.task_queue.get_task_info(task_id)
    if info is None:
        return {"status": None}
    return {
        "status": info.status.value,
        "retry_count": info.retry_count,
        "result": info.result,
        "error": info.error,
    }


@app.get("/pid")
async def pid(request):
    return {"pid": os.getpid()}
