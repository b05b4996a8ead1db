"""The task dashboard in-process: auth hook required, 403, listing, CSRF on actions."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from gobstopper import Gobstopper
from gobstopper.middleware.security import SecurityMiddleware
from gobstopper.ops.dashboard import tasks_dashboard
from gobstopper.sessions.storage import MemorySessionStorage
from gobstopper.tasks import TaskPriority, TaskQueue, TaskStorage
from gobstopper.testing import AsyncTestClient
from tests.polling import wait_for

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


@pytest.fixture
async def parked(tmp_path):
    """A dashboard at /tasks over a DuckDB queue whose ``parked`` tasks never run."""
    queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(tmp_path / "p.duckdb"))

    @queue.register_task("parked", category="parked")
    async def parked_task():
        return None

    @queue.register_task("elsewhere", category="other")
    async def elsewhere():
        return None

    app = Gobstopper("host")
    app.mount("/tasks", tasks_dashboard(queue, authorize=lambda request: True, poll_seconds=0.01))
    async with AsyncTestClient(app) as client:
        yield queue, client
    await queue.shutdown(timeout=5)


async def test_pages_come_from_the_store_and_bad_input_is_a_400(parked):
    queue, client = parked
    ids = [await queue.add_task("parked", category="parked") for _ in range(30)]
    second = await client.get("/tasks/?category=parked&page=2")
    assert "page 2 of 2" in second.text and "30 tasks" in second.text
    assert second.text.count("data-task-id=") == 5
    assert f'data-task-id="{ids[0]}"' in second.text  # the oldest is on the last page
    far = await client.get("/tasks/?category=parked&page=99999999999999999999")
    assert far.status_code == 200 and "page 2 of 2" in far.text
    for bad, message in [
        ("status=bogus", "unknown status 'bogus': one of pending, started,"),
        ("priority=low", "unknown priority 'low': one of LOW, NORMAL, HIGH, CRITICAL"),
        ("page=abc", "page must be a whole number from 1"),
        ("page=0", "page must be a whole number from 1"),
        ("page=-3", "page must be a whole number from 1"),
    ]:
        answer = await client.get(f"/tasks/?{bad}")
        assert (answer.status_code, message in answer.text) == (400, True), bad
    assert (await client.get("/tasks/events?since=yesterday")).status_code == 400
    assert (await client.get("/tasks/events?status=bogus")).status_code == 400
    escaped = await client.get("/tasks/?q=%25")  # a literal '%', not a wildcard
    assert "0 tasks" in escaped.text


async def test_the_list_streams_row_changes_and_new_tasks(parked):
    queue, client = parked
    shown = await queue.add_task("parked", category="parked")
    page = await client.get("/tasks/?status=pending")
    events_url = page.text.split('data-events="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert f"ids={shown}" in events_url and "status=pending" in events_url
    assert await queue.cancel_task(shown)
    await queue.add_task("parked", category="parked")
    await queue.add_task("elsewhere", category="other")  # pending too: counted
    # retry frame, the shown row's change, then the count of new tasks each time it
    # grows (tasks keep coming until the client leaves, after its fourth frame).
    stream = asyncio.ensure_future(client.get(events_url, disconnect_after_chunks=4))
    for _ in range(500):
        if stream.done():
            break
        await queue.add_task("parked", category="parked")
        await asyncio.sleep(0.01)
    frames = [chunk.decode() for chunk in (await stream).chunks]
    assert frames[0] == "retry: 1000\n\n"
    assert frames[1].startswith("event: task\n") and '"status":"cancelled"' in frames[1]
    counts = [msgspec.json.decode(frame.split("data: ", 1)[1])["count"] for frame in frames[2:]]
    assert all(frame.startswith("event: new\n") for frame in frames[2:])
    assert 2 <= counts[0] < counts[1]


def _form_shown(page: str, form_id: str) -> bool:
    tag = page.split(f'<form id="{form_id}"', 1)[1].split(">", 1)[0]
    return " hidden" not in tag


async def test_a_task_page_shows_timings_result_and_only_the_allowed_action(tmp_path):
    queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(tmp_path / "d.duckdb"))

    @queue.register_task("sum", category="maths")
    async def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    app = Gobstopper("host")
    app.mount("/tasks", tasks_dashboard(queue, authorize=lambda request: True))
    async with AsyncTestClient(app) as client:
        pending_id = await queue.add_task("sum", "maths", TaskPriority.NORMAL, 0, 1, 2)
        pending = (await client.get(f"/tasks/task/{pending_id}")).text
        assert _form_shown(pending, "cancel-form") and not _form_shown(pending, "retry-form")
        assert '<dd id="started"></dd>' in pending and '<dd id="elapsed"></dd>' in pending
        assert "<code>[1, 2] {}</code>" in pending  # the arguments, as JSON

        await queue.start_workers("maths", 1)
        done = await wait_for(
            lambda: queue.get_task_info(pending_id),
            lambda info: info is not None and info.completed_at is not None,
            "the task to finish",
        )
        page = (await client.get(f"/tasks/task/{pending_id}")).text
        assert not _form_shown(page, "cancel-form") and not _form_shown(page, "retry-form")
        assert f'<dd id="started">{done.started_at.isoformat()}</dd>' in page
        assert f'<dd id="completed">{done.completed_at.isoformat()}</dd>' in page
        assert f'<dd id="elapsed">{done.elapsed_seconds:.3f} s</dd>' in page
        assert '<code id="result">{&#34;sum&#34;:3}</code>' in page
        assert '<dd id="retries">0 of 0</dd>' in page
    await queue.shutdown(timeout=5)
