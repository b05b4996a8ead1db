"""Storage goes through one thread, off the event loop, batched."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest

from gobstopper.tasks import TaskInfo, TaskQueue, TaskStorage
from gobstopper.tasks.models import TaskPriority, TaskStatus
from tests.polling import wait_for

from .conftest import MakeQueue
from .helpers import wait_done


class ThreadRecordingStorage(TaskStorage):
    """TaskStorage noting which thread made each call, and batch sizes."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self.threads: set[int] = set()
        self.batches: list[int] = []

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        self.threads.add(threading.get_ident())
        self.batches.append(len(inserted) + len(updated))
        super().write(inserted, updated)

    def get_task(self, task_id: str) -> TaskInfo | None:
        self.threads.add(threading.get_ident())
        return super().get_task(task_id)

    def get_tasks(self, *args: Any, **kwargs: Any) -> list[TaskInfo]:
        self.threads.add(threading.get_ident())
        return super().get_tasks(*args, **kwargs)


async def test_storage_runs_on_one_thread_off_the_loop(
    make_queue: MakeQueue, db_path: Path
) -> None:
    storage = ThreadRecordingStorage(db_path)
    queue = make_queue(storage_factory=lambda: storage)
    queue.register_task("job")(lambda: None)
    queue.register_task("parked", category="idle")(lambda: None)
    await queue.start_workers(worker_count=4)
    ids = [await queue.add_task("job") for _ in range(5)]
    parked = await queue.add_task("parked", "idle")
    for task_id in ids:
        await wait_done(queue, task_id)
    await queue.cancel_task(parked)
    await queue.get_task_stats()
    assert len(storage.threads) == 1
    assert threading.get_ident() not in storage.threads


async def test_concurrent_saves_are_group_committed(make_queue: MakeQueue, db_path: Path) -> None:
    storage = ThreadRecordingStorage(db_path)
    queue = make_queue(storage_factory=lambda: storage)
    queue.register_task("job")(lambda: None)
    ids = await asyncio.gather(*(queue.add_task("job") for _ in range(200)))
    assert len(set(ids)) == 200
    assert sum(storage.batches) == 200
    assert len(storage.batches) < 100  # many adds share one commit
    stored = await asyncio.to_thread(storage.get_tasks, limit=500)
    assert len(stored) == 200


async def test_custom_storage_with_only_save_task() -> None:
    mock_storage = Mock()
    queue = TaskQueue(enabled=True, storage_factory=lambda: mock_storage)
    assert queue.storage is mock_storage
    queue.register_task("job")(lambda: None)
    task_id = await queue.add_task("job", "default", TaskPriority.HIGH)
    mock_storage.save_tasks.assert_not_called()
    mock_storage.save_task.assert_called_once()
    (saved,) = mock_storage.save_task.call_args.args
    assert (saved.id, saved.status, saved.priority) == (
        task_id,
        TaskStatus.PENDING,
        TaskPriority.HIGH,
    )
    await queue.shutdown()


async def test_storage_errors_reach_add_task_and_nothing_is_queued() -> None:
    class Broken:
        def save_task(self, task_info: TaskInfo) -> None:
            raise OSError("disk full")

        def get_tasks(self, **filters: Any) -> list[TaskInfo]:
            return []

    queue = TaskQueue(enabled=True, storage_factory=Broken)
    queue.register_task("job")(lambda: None)
    with pytest.raises(OSError, match="disk full"):
        await queue.add_task("job")
    assert (await queue.get_task_stats())["queued"] == 0
    assert sum(q.qsize() for q in queue.queues.values()) == 0
    await queue.shutdown()


class StartedSaveFails(TaskStorage):
    """TaskStorage that cannot write STARTED records while ``broken``."""

    broken = True

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        if self.broken and any(task.status is TaskStatus.STARTED for task in updated):
            raise OSError("disk hiccup")
        super().write(inserted, updated)


async def test_task_is_not_run_when_started_cannot_be_stored(
    make_queue: MakeQueue, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = StartedSaveFails(db_path)
    queue = make_queue(storage_factory=lambda: storage)
    ran: list[str] = []
    queue.register_task("job")(ran.append)
    task_id = await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "x")
    with caplog.at_level(logging.ERROR, logger="gobstopper.tasks"):
        await queue.start_workers()

        async def logged() -> str:
            return caplog.text

        await wait_for(logged, lambda text: "could not mark it started" in text, "the error log")
    assert ran == []
    stored = await queue.get_task_info(task_id)
    assert stored is not None and stored.status is TaskStatus.PENDING
    storage.broken = False
    await queue.shutdown()
    await queue.start_workers()  # the next start finds it in storage
    assert (await wait_done(queue, task_id)).status is TaskStatus.SUCCESS
    assert ran == ["x"]
