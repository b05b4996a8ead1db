"""Restarts: stored tasks run again; a killed process loses none."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from gobstopper.tasks import TaskInfo, TaskQueue, TaskStorage, TaskStorageLockedError
from gobstopper.tasks.models import TaskPriority, TaskStatus
from gobstopper.tasks.transitions import utc_now
from tests.polling import DEADLINE, eventually, wait_for

from .conftest import MakeQueue, Store, on_each_file_store
from .helpers import database_held_by_another_process, wait_done, wait_status

CHILD = Path(__file__).with_name("crash_child.py")


def _stored(task_id: str, status: TaskStatus, **changes: object) -> TaskInfo:
    fields: dict[str, object] = {
        "id": task_id,
        "name": "job",
        "category": "default",
        "priority": TaskPriority.NORMAL,
        "status": status,
        "created_at": utc_now() - timedelta(minutes=5),
        "args": (task_id,),
    }
    fields.update(changes)
    return TaskInfo(**fields)  # type: ignore[arg-type]


async def test_pending_tasks_run_after_restart_in_priority_then_fifo_order(
    make_queue: MakeQueue,
) -> None:
    first = make_queue()
    first.register_task("record")(lambda label: label)
    plan = [
        ("a", TaskPriority.LOW),
        ("b", TaskPriority.HIGH),
        ("c", TaskPriority.NORMAL),
        ("d", TaskPriority.HIGH),
        ("e", TaskPriority.NORMAL),
        ("f", TaskPriority.URGENT),
    ]
    ids = [await first.add_task("record", "default", prio, 0, label) for label, prio in plan]
    await first.shutdown()

    ran: list[str] = []
    second = make_queue()
    second.register_task("record")(ran.append)
    await second.start_workers(worker_count=1)
    for task_id in ids:
        assert (await wait_done(second, task_id)).status is TaskStatus.SUCCESS
    assert ran == ["f", "b", "d", "c", "e", "a"]


@on_each_file_store
async def test_recovery_handles_each_unfinished_state(
    make_queue: MakeQueue, db_path: Path, store: Store
) -> None:
    seed = store(db_path)
    seed.save_tasks(
        [
            _stored("pending", TaskStatus.PENDING),
            _stored("retrying", TaskStatus.RETRY, retry_count=1, max_retries=2),
            _stored("crashed-with-retries", TaskStatus.STARTED, max_retries=2),
            _stored("crashed-no-retries", TaskStatus.STARTED, max_retries=1, retry_count=1),
            _stored("done", TaskStatus.SUCCESS, result="old"),
            _stored("other-category", TaskStatus.PENDING, category="elsewhere"),
        ]
    )
    seed.close()
    ran: list[str] = []
    queue = make_queue()
    queue.register_task("job")(ran.append)
    await queue.start_workers()

    for task_id in ("pending", "retrying", "crashed-with-retries"):
        assert (await wait_done(queue, task_id)).status is TaskStatus.SUCCESS
    rerun = await queue.get_task_info("crashed-with-retries")
    assert rerun is not None and rerun.retry_count == 1
    failed = await queue.get_task_info("crashed-no-retries")
    assert failed is not None
    assert (failed.status, failed.retry_count) == (TaskStatus.FAILED, 1)
    assert failed.error is not None and failed.error.startswith("Interrupted:")
    assert "no retries left" in failed.error
    assert failed.completed_at is not None and failed.completed_at >= failed.created_at
    assert sorted(ran) == ["crashed-with-retries", "pending", "retrying"]
    assert (await queue.get_task_info("done")).result == "old"  # type: ignore[union-attr]
    other = await queue.get_task_info("other-category")
    assert other is not None and other.status is TaskStatus.PENDING


async def test_concurrent_starts_run_a_queued_task_once(queue: TaskQueue) -> None:
    release = asyncio.Event()
    runs: list[int] = []

    @queue.register_task("once", category="c")
    async def once() -> None:
        runs.append(1)
        await release.wait()

    task_id = await queue.add_task("once", "c")
    # The first call recovers from storage (where the task is PENDING) while
    # the second already starts workers: the task must not be queued twice.
    await asyncio.gather(queue.start_workers("c", 2), queue.start_workers("c", 2))
    await wait_status(queue, task_id, TaskStatus.STARTED)
    stats = await wait_for(queue.get_task_stats, lambda s: s["running"] >= 1, "a running task")
    assert (stats["running"], stats["queued"], queue.queues["c"].qsize()) == (1, 0, 0)
    release.set()
    await wait_done(queue, task_id)
    assert runs == [1]


async def test_unregistered_tasks_are_left_in_storage(
    make_queue: MakeQueue, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seed = TaskStorage(db_path)
    seed.save_task(_stored("orphan", TaskStatus.STARTED, name="gone", max_retries=3))
    seed.close()
    queue = make_queue()
    with caplog.at_level(logging.WARNING, logger="gobstopper.tasks"):
        await queue.start_workers()
    assert "no function 'gone' is registered" in caplog.text
    orphan = await queue.get_task_info("orphan")
    assert orphan is not None
    assert (orphan.status, orphan.retry_count) == (TaskStatus.STARTED, 0)


async def test_cancelled_before_recovery_does_not_run(make_queue: MakeQueue, db_path: Path) -> None:
    seed = TaskStorage(db_path)
    seed.save_tasks(
        [_stored("cancel-me", TaskStatus.PENDING), _stored("run-me", TaskStatus.PENDING)]
    )
    seed.close()
    ran: list[str] = []
    queue = make_queue()
    queue.register_task("job")(ran.append)
    assert await queue.cancel_task("cancel-me") is True
    await queue.start_workers()
    await wait_done(queue, "run-me")
    assert ran == ["run-me"]
    cancelled = await queue.get_task_info("cancel-me")
    assert cancelled is not None and cancelled.status is TaskStatus.CANCELLED


async def test_recovery_pages_through_many_tasks(make_queue: MakeQueue, db_path: Path) -> None:
    seed = TaskStorage(db_path)
    # One more than a page of 1000: recovery must read the second page too.
    seed.save_tasks(_stored(f"t{i:04d}", TaskStatus.PENDING) for i in range(1001))
    seed.close()
    ran: list[str] = []
    queue = make_queue()
    queue.register_task("job")(ran.append)
    await queue.start_workers(worker_count=32)
    await eventually(lambda: len(ran) >= 1001, "all 1001 tasks to run")
    assert sorted(ran) == [f"t{i:04d}" for i in range(1001)]


def _wait_for_files(paths: list[Path], child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not all(path.exists() for path in paths):
        assert child.poll() is None, "the child process died early"
        assert time.monotonic() < deadline, "the child's tasks never started"
        time.sleep(0.02)


@on_each_file_store
async def test_tasks_of_a_killed_process_are_recovered(
    make_queue: MakeQueue, db_path: Path, tmp_path: Path, store: Store
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    with subprocess.Popen(
        [sys.executable, str(CHILD), str(db_path), str(markers), store.__name__],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            retry_id, once_id, parked_id = child.stdout.readline().split()
            _wait_for_files([markers / "retry", markers / "once"], child)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    queue = make_queue()

    async def quick(label: str) -> str:
        return f"{label} again"

    queue.register_task("slow_retry", category="a")(quick)
    queue.register_task("slow_once", category="b")(quick)
    queue.register_task("parked", category="c")(quick)
    for category in ("a", "b", "c"):
        await queue.start_workers(category)

    rerun = await wait_done(queue, retry_id)
    assert (rerun.status, rerun.result, rerun.retry_count) == (TaskStatus.SUCCESS, "retry again", 1)
    interrupted = await wait_done(queue, once_id)
    assert interrupted.status is TaskStatus.FAILED
    assert interrupted.error is not None and "Interrupted" in interrupted.error
    parked = await wait_done(queue, parked_id)
    assert (parked.status, parked.result) == (TaskStatus.SUCCESS, "parked again")


@on_each_file_store
async def test_second_process_fails_at_startup_and_loses_nothing(
    make_queue: MakeQueue, db_path: Path, store: Store
) -> None:
    seed = store(db_path)
    seed.save_task(_stored("waiting", TaskStatus.PENDING))
    seed.close()
    queue = make_queue()
    queue.register_task("job")(lambda label: label)
    with database_held_by_another_process(db_path, store.__name__):
        with pytest.raises(TaskStorageLockedError, match="run one worker process"):
            await queue.start_workers()
        with pytest.raises(TaskStorageLockedError, match="another worker of the same server"):
            await queue.add_task("job", "default", TaskPriority.NORMAL, 0, "x")
        assert queue.workers == {}
    # The other process is gone: the same queue starts and runs the stored task.
    await queue.start_workers()
    assert (await wait_done(queue, "waiting")).result == "waiting"
