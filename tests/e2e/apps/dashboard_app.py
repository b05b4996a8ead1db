"""An app with the task dashboard mounted at /admin/tasks (cookie ``role=admin`` only).

Tasks are kept in Redis at ``$DASHBOARD_REDIS`` (under the key prefix
``$DASHBOARD_PREFIX``) if set, else in DuckDB at ``$DASHBOARD_DB``.
``crunch`` reports progress in 5 steps of ``$CRUNCH_STEP`` seconds;
``flaky`` fails until the file ``$FLAKY_FIXED`` exists; ``parked`` goes to
category ``parked``, which no worker serves, so it stays pending.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from gobstopper import Gobstopper
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.ops.dashboard import tasks_dashboard
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.tasks import RedisTaskStorage, TaskQueue, TaskStorage
from gobstopper.tasks.progress import report_progress

security = SecurityMiddleware(
    secret_key="dashboard-test-secret-0123456789abcdef",
    session_storage=MemorySessionStorage(),
    cookie_secure=False,
)
app = Gobstopper(__name__)
app.add_middleware(security)


def storage() -> TaskStorage | RedisTaskStorage:
    if "DASHBOARD_REDIS" in os.environ:
        return RedisTaskStorage(
            os.environ["DASHBOARD_REDIS"], prefix=os.environ["DASHBOARD_PREFIX"]
        )
    return TaskStorage(os.environ["DASHBOARD_DB"])


app.task_queue = TaskQueue(enabled=True, storage_factory=storage)


@app.task("crunch")
async def crunch() -> str:
    step = float(os.environ.get("CRUNCH_STEP", "0.4"))
    for done in range(1, 6):
        await asyncio.sleep(step)
        report_progress(done * 20, f"step {done} of 5")
    return "crunched"


@app.task("flaky")
async def flaky() -> str:
    if not Path(os.environ["FLAKY_FIXED"]).exists():
        raise RuntimeError("flaky failed")
    return "fixed"


@app.task("parked", category="parked")
async def parked() -> str:
    return "never runs"


@app.on_startup
async def start_workers() -> None:
    await app.start_task_workers("default", 2)


@app.get("/enqueue/<name>")
async def enqueue(request, name):
    category = "parked" if name == "parked" else "default"
    return {"id": await app.add_background_task(name, category=category)}


def is_admin(request) -> bool:
    return request.cookies.get("role") == "admin"


app.mount("/admin/tasks", tasks_dashboard(app.task_queue, authorize=is_admin, security=security))
