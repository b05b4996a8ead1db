"""The task dashboard in-process: auth hook required, 403, listing, CSRF on actions."""

from __future__ import annotations

import pytest

from gobstopper import Gobstopper
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.ops.dashboard import tasks_dashboard
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.tasks import TaskQueue, TaskStorage
from gobstopper.testing import AsyncTestClient

ADMIN = {"X-Admin": "yes"}


def test_refuses_to_be_created_without_authorize():
    with pytest.raises(TypeError, match="needs authorize="):
        tasks_dashboard(TaskQueue(enabled=False))
    with pytest.raises(TypeError, match="needs authorize="):
        tasks_dashboard(TaskQueue(enabled=False), authorize="yes")  # type: ignore[arg-type]


async def test_lists_filters_and_acts_with_csrf(tmp_path):
    security = SecurityMiddleware(
        secret_key="k" * 40, session_storage=MemorySessionStorage(), cookie_secure=False
    )
    queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(tmp_path / "t.duckdb"))

    @queue.register_task("report", category="reports")
    async def report():
        return 1

    async def authorize(request) -> bool:
        return request.headers.get("x-admin") == "yes"

    app = Gobstopper("host")
    app.mount("/tasks", tasks_dashboard(queue, authorize=authorize, security=security))
    async with AsyncTestClient(app) as client:
        ids = [await queue.add_task("report", category="reports") for _ in range(3)]
        assert (await client.get("/tasks/")).status_code == 403
        listing = await client.get("/tasks/?q=REP&status=pending", headers=ADMIN)
        assert listing.text.count("data-task-id=") == 3
        assert 'href="/tasks/task/' in listing.text  # links carry the mount prefix
        none = await client.get("/tasks/?priority=LOW", headers=ADMIN)
        assert "0 tasks" in none.text
        page = await client.get(f"/tasks/task/{ids[0]}", headers=ADMIN)
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        url = f"/tasks/task/{ids[0]}/cancel"
        assert (await client.post(url, headers=ADMIN, data={})).status_code == 403
        done = await client.post(url, headers=ADMIN, data={"csrf_token": token})
        assert (done.status_code, done.headers["location"]) == (
            303,
            f"/tasks/task/{ids[0]}?done=cancel-ok",
        )
        again = await client.post(url, headers=ADMIN, data={"csrf_token": token})
        assert again.headers["location"].endswith("done=cancel-refused")
        assert (await client.get("/tasks/task/unknown", headers=ADMIN)).status_code == 404
    await queue.shutdown(timeout=5)
