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
from gobstopper.tasks.gateway import StorageGateway
from gobstopper.tasks.models import TaskPriority, TaskStatus
from gobstopper.tasks.transitions import utc_now
from tests.polling import wait_for

from .conftest import MakeQueue
from .helpers import task_info, wait_done


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
    assert storage.batches == [200]  # made in one loop turn: one commit
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


class FailsFirstWrite(TaskStorage):
    """TaskStorage whose first batch fails, as a full disk would."""

    failed = False

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("disk full")
        super().write(inserted, updated)


async def test_storage_errors_reach_add_task_and_the_task_never_runs(
    make_queue: MakeQueue, db_path: Path
) -> None:
    storage = FailsFirstWrite(db_path)
    queue = make_queue(storage_factory=lambda: storage)
    ran: list[str] = []
    queue.register_task("job")(ran.append)
    await queue.start_workers()  # idle: it takes the task before its insert commits
    with pytest.raises(OSError, match="disk full"):
        await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "lost")
    assert (await queue.get_task_stats())["queued"] == 0
    kept = await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "kept")
    assert (await wait_done(queue, kept)).status is TaskStatus.SUCCESS
    assert ran == ["kept"]
    assert [task.id for task in storage.get_tasks()] == [kept]


class InsertFailsWhenReleased(TaskStorage):
    """TaskStorage whose batch inserting the task ``lost`` fails once ``release`` is set."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self.entered, self.release = threading.Event(), threading.Event()

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        if any(task.args == ("lost",) for task in inserted):
            self.entered.set()
            assert self.release.wait(30), "never released"
            raise OSError("disk full")
        super().write(inserted, updated)


@pytest.mark.parametrize("caller_gives_up", [False, True], ids=["caller waits", "caller cancelled"])
async def test_a_task_taken_while_its_failing_insert_commits_never_runs(
    make_queue: MakeQueue, db_path: Path, caller_gives_up: bool
) -> None:
    # A cancelled add_task caller no longer awaits the insert's outcome: the
    # task must not run all the same.
    storage = InsertFailsWhenReleased(db_path)
    queue = make_queue(storage_factory=lambda: storage)
    ran: list[str] = []
    busy = asyncio.Event()

    @queue.register_task("job")
    async def job(label: str) -> None:
        ran.append(label)
        if label == "blocker":
            await busy.wait()

    await queue.start_workers(worker_count=1)
    await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "blocker")
    await wait_for(lambda: asyncio.sleep(0, ran), lambda seen: seen == ["blocker"], "the blocker")
    lost = asyncio.create_task(queue.add_task("job", "default", TaskPriority.NORMAL, 0, "lost"))
    await wait_for(lambda: asyncio.sleep(0, storage.entered.is_set()), bool, "the insert")
    if caller_gives_up:
        lost.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lost
    busy.set()  # the worker finishes the blocker and takes "lost", its insert in flight
    await wait_for(lambda: asyncio.sleep(0, queue.backend.queued()), lambda n: n == 0, "a take")
    storage.release.set()
    if not caller_gives_up:
        with pytest.raises(OSError, match="disk full"):
            await lost
    follow = await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "after")
    await wait_done(queue, follow)
    assert ran == ["blocker", "after"]
    assert [task.args for task in storage.get_tasks()] == [("after",), ("blocker",)]


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


def _pending(task_id: str) -> TaskInfo:
    return task_info(task_id, created_at=utc_now())


async def test_a_read_sees_a_save_still_waiting_for_the_end_of_the_turn(db_path: Path) -> None:
    storage = ThreadRecordingStorage(db_path)
    gateway = StorageGateway(lambda: storage)
    saved = gateway.insert(_pending("a"))  # its batch waits for the end of this turn
    stored = await gateway.call(lambda store: store.get_task("a"))
    assert stored is not None and stored.status is TaskStatus.PENDING
    await saved
    await gateway.close()
    assert storage.batches == [1]


def test_a_flush_left_on_a_stopped_loop_is_taken_over(db_path: Path) -> None:
    storage = ThreadRecordingStorage(db_path)
    gateway = StorageGateway(lambda: storage)
    loop = asyncio.new_event_loop()

    async def save_then_stop() -> None:
        gateway.insert(_pending("a"))
        loop.stop()  # the turn's end, which would flush, never comes

    saver = loop.create_task(save_then_stop())
    loop.run_forever()
    assert saver.done()
    loop.close()

    async def save_on_a_new_loop() -> None:
        await asyncio.wait_for(gateway.insert(_pending("b")), timeout=30)
        await gateway.close()

    asyncio.run(save_on_a_new_loop())
    assert storage.batches == [2]  # "a" was still in the batch
    assert {task.id for task in storage.get_tasks()} == {"a", "b"}
