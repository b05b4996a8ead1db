"""shutdown(): finish in time, else store for a re-run; restart."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gobstopper.tasks import TaskQueue, TaskStorage
from gobstopper.tasks.models import TaskPriority, TaskStatus

from .conftest import MakeQueue
from .helpers import wait_done, wait_status


async def test_shutdown_is_idempotent(queue: TaskQueue) -> None:
    queue.register_task("job")(lambda: None)
    await queue.start_workers(worker_count=2)
    await queue.shutdown()
    assert queue.shutdown_event.is_set()
    assert queue.workers == {}
    await queue.shutdown()
    await queue.shutdown(timeout=0)


async def test_running_task_finishes_within_the_timeout(queue: TaskQueue) -> None:
    release = asyncio.Event()

    @queue.register_task("slow")
    async def slow() -> str:
        await release.wait()
        return "finished"

    await queue.start_workers()
    task_id = await queue.add_task("slow")
    await wait_status(queue, task_id, TaskStatus.STARTED)
    stopping = asyncio.create_task(queue.shutdown(timeout=30))
    await asyncio.wait_for(queue.shutdown_event.wait(), 5)
    assert not stopping.done()
    with pytest.raises(RuntimeError, match="shutting down"):
        await queue.add_task("slow")
    with pytest.raises(RuntimeError, match="shutting down"):
        await queue.start_workers()
    release.set()
    await asyncio.wait_for(stopping, 10)
    info = await queue.get_task_info(task_id)
    assert info is not None
    assert (info.status, info.result) == (TaskStatus.SUCCESS, "finished")


async def test_overdue_async_task_is_stored_pending_and_rerun(make_queue: MakeQueue) -> None:
    first = make_queue()

    @first.register_task("stuck")
    async def stuck(n: int) -> None:
        await asyncio.Event().wait()

    await first.start_workers()
    task_id = await first.add_task("stuck", "default", TaskPriority.NORMAL, 0, 5)
    await wait_status(first, task_id, TaskStatus.STARTED)
    await first.shutdown(timeout=0.05)
    stored = await asyncio.to_thread(first.storage.get_task, task_id)
    assert stored is not None
    assert (stored.status, stored.retry_count, stored.started_at) == (TaskStatus.PENDING, 0, None)

    second = make_queue()

    @second.register_task("stuck")
    async def unstuck(n: int) -> int:
        return n * 2

    await second.start_workers()
    done = await wait_done(second, task_id)
    assert (done.status, done.result, done.retry_count) == (TaskStatus.SUCCESS, 10, 0)


async def test_overdue_sync_task_is_stored_pending(queue: TaskQueue) -> None:
    release = threading.Event()

    @queue.register_task("blocking")
    def blocking() -> None:
        release.wait(10)

    await queue.start_workers()
    task_id = await queue.add_task("blocking")
    await wait_status(queue, task_id, TaskStatus.STARTED)
    try:
        await queue.shutdown(timeout=0.05)
    finally:
        release.set()
    stored = await asyncio.to_thread(queue.storage.get_task, task_id)
    assert stored is not None and stored.status is TaskStatus.PENDING


async def test_queued_and_retrying_tasks_stay_stored(make_queue: MakeQueue) -> None:
    first = make_queue(backoff=lambda retry: 3600.0)
    first.register_task("broken")(lambda: 1 / 0)
    first.register_task("parked", category="idle")(lambda: "parked")
    await first.start_workers()
    retrying = await first.add_task("broken", "default", TaskPriority.NORMAL, 1)
    parked = await first.add_task("parked", "idle")
    await wait_status(first, retrying, TaskStatus.RETRY)
    await first.shutdown()

    second = make_queue()
    second.register_task("broken")(lambda: "fixed")
    second.register_task("parked", category="idle")(lambda: "parked")
    await second.start_workers()
    await second.start_workers("idle")
    fixed = await wait_done(second, retrying)
    assert (fixed.status, fixed.result, fixed.retry_count) == (TaskStatus.SUCCESS, "fixed", 1)
    assert (await wait_done(second, parked)).result == "parked"


async def test_queue_can_start_again_after_shutdown(queue: TaskQueue) -> None:
    queue.register_task("double")(lambda n: n * 2)
    await queue.start_workers()
    first = await queue.add_task("double", "default", TaskPriority.NORMAL, 0, 1)
    await wait_done(queue, first)
    await queue.shutdown()
    queued = await queue.add_task("double", "default", TaskPriority.NORMAL, 0, 2)
    await queue.start_workers()
    assert (await wait_done(queue, queued)).result == 4


def test_queue_survives_a_new_event_loop(db_path: Path) -> None:
    # An app's test client runs startup and shutdown on one loop per session.
    queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(db_path))
    queue.register_task("double")(lambda n: n * 2)

    async def session(n: int) -> object:
        await queue.start_workers()
        try:
            task_id = await queue.add_task("double", "default", TaskPriority.NORMAL, 0, n)
            return (await wait_done(queue, task_id)).result
        finally:
            await queue.shutdown()

    assert asyncio.run(session(1)) == 2
    assert asyncio.run(session(5)) == 10
