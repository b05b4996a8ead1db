"""report_progress(): live through get_task_info, persisted, coalesced."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from gobstopper.tasks import TaskInfo, TaskQueue, TaskStorage, report_progress
from gobstopper.tasks.models import TaskStatus
from gobstopper.tasks.progress import reporting_to
from tests.polling import wait_for

from .conftest import MakeQueue
from .helpers import wait_done


def test_report_progress_outside_a_task_raises() -> None:
    with pytest.raises(RuntimeError, match="inside a running task"):
        report_progress(10)


@pytest.mark.parametrize("bad", [-0.1, 100.5, math.nan, "ten"])
def test_report_progress_rejects_out_of_range(bad: object) -> None:
    seen: list[tuple[float, str]] = []
    with reporting_to(lambda percent, message: seen.append((percent, message))):
        with pytest.raises(ValueError):
            report_progress(bad)  # type: ignore[arg-type]
        report_progress(0)
        report_progress(100, "all")
    assert seen == [(0.0, ""), (100.0, "all")]


async def _stored(queue: TaskQueue, task_id: str) -> TaskInfo | None:
    return await asyncio.to_thread(queue.storage.get_task, task_id)


async def test_async_task_progress_is_live_and_persisted(queue: TaskQueue) -> None:
    release = asyncio.Event()

    @queue.register_task("long_process")
    async def long_process() -> str:
        report_progress(40, "step 2 of 5")
        await release.wait()
        return "ok"

    await queue.start_workers()
    task_id = await queue.add_task("long_process")
    live = await wait_for(
        lambda: queue.get_task_info(task_id),
        lambda info: info is not None and info.progress == 40.0,
        "live progress",
    )
    assert live.is_running and live.progress_message == "step 2 of 5"
    stored = await wait_for(
        lambda: _stored(queue, task_id),
        lambda info: info is not None and info.progress == 40.0,
        "stored progress",
    )
    assert stored.status is TaskStatus.STARTED
    assert stored.progress_message == "step 2 of 5"
    release.set()
    done = await wait_done(queue, task_id)
    assert (done.progress, done.progress_message) == (100.0, "step 2 of 5")


async def test_sync_task_reports_from_its_thread(queue: TaskQueue) -> None:
    release = threading.Event()

    @queue.register_task("crunch")
    def crunch() -> None:
        report_progress(75.5, "crunching")
        release.wait(10)

    await queue.start_workers()
    task_id = await queue.add_task("crunch")
    try:
        live = await wait_for(
            lambda: queue.get_task_info(task_id),
            lambda info: info is not None and info.progress == 75.5,
            "progress from the thread",
        )
        assert live.progress_message == "crunching"
        await wait_for(
            lambda: _stored(queue, task_id),
            lambda info: info is not None and info.progress == 75.5,
            "stored progress",
        )
    finally:
        release.set()
    assert (await wait_done(queue, task_id)).status is TaskStatus.SUCCESS


class CountingStorage(TaskStorage):
    """TaskStorage counting how many records of each task were written."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self.writes: dict[str, int] = {}

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        for task in (*inserted, *updated):
            self.writes[task.id] = self.writes.get(task.id, 0) + 1
        super().write(inserted, updated)


async def test_chatty_task_does_not_flood_storage(make_queue: MakeQueue, db_path: Path) -> None:
    storage = CountingStorage(db_path)
    queue = make_queue(storage_factory=lambda: storage)

    @queue.register_task("chatty")
    def chatty() -> None:
        for step in range(2000):
            report_progress(step / 20, f"step {step}")

    await queue.start_workers()
    task_id = await queue.add_task("chatty")
    done = await wait_done(queue, task_id)
    assert done.progress_message == "step 1999"
    # PENDING and STARTED (one row: the idle worker took it before its insert
    # committed), SUCCESS, plus a few coalesced progress writes.
    assert 2 <= storage.writes[task_id] < 50


async def test_progress_after_the_task_ended_is_ignored(queue: TaskQueue) -> None:
    leaked: list[object] = []

    @queue.register_task("leaky")
    async def leaky() -> None:
        leaked.append(_capture_reporter())

    await queue.start_workers()
    task_id = await queue.add_task("leaky")
    await wait_done(queue, task_id)
    with reporting_to(leaked[0]):  # type: ignore[arg-type]
        report_progress(5, "late")
    # Callbacks run in the order they were scheduled: once this one has run,
    # so has the write the report scheduled (the read below then queues on
    # the storage thread behind anything that write sent there).
    loop = asyncio.get_running_loop()
    report_handled = loop.create_future()
    loop.call_soon(report_handled.set_result, None)
    await report_handled
    stored = await queue.get_task_info(task_id)
    assert stored is not None
    assert (stored.status, stored.progress) == (TaskStatus.SUCCESS, 100.0)


def _capture_reporter() -> object:
    from gobstopper.tasks.progress import _reporter

    return _reporter.get()
