"""TaskQueue: enable, register, queue, order, cancel, retry, stats."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from gobstopper.tasks import NoopStorage, TaskQueue, TaskStorage
from gobstopper.tasks.models import TaskPriority, TaskStatus
from tests.polling import wait_for

from .conftest import MakeQueue
from .helpers import wait_done, wait_status


@pytest.mark.parametrize("value", ["1", "true", "True", "yes"])
def test_env_enables(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WOPR_TASKS_ENABLED", value)
    assert TaskQueue().enabled is True


@pytest.mark.parametrize("value", ["0", "false", "no", "", "maybe"])
def test_env_other_values_leave_it_disabled(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WOPR_TASKS_ENABLED", value)
    assert TaskQueue().enabled is False


def test_disabled_by_default_and_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TaskQueue().enabled is False
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "1")
    assert TaskQueue(enabled=False).enabled is False
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "0")
    assert TaskQueue(enabled=True).enabled is True


async def test_disabled_queue_does_nothing() -> None:
    queue = TaskQueue(enabled=False, storage_factory=lambda: pytest.fail("storage built"))
    assert isinstance(queue.storage, NoopStorage)

    @queue.register_task("job")
    async def job() -> None:
        pytest.fail("a disabled queue ran a task")

    with pytest.raises(RuntimeError, match="WOPR_TASKS_ENABLED"):
        await queue.add_task("job")
    await queue.start_workers("default", worker_count=3)
    assert queue.workers == {}
    assert await queue.get_task_info("x") is None
    assert await queue.cancel_task("x") is False
    assert await queue.retry_task("x") is False
    assert await queue.get_task_stats() == {
        "total": 0,
        "by_status": {},
        "by_category": {},
        "running": 0,
        "queued": 0,
    }
    await queue.shutdown()
    await queue.shutdown()


def test_noop_storage_returns_safe_defaults() -> None:
    storage = NoopStorage()
    assert storage.save_task(object()) is None  # type: ignore[arg-type]
    assert storage.get_task("x") is None
    assert storage.get_tasks(category="a", limit=5) == []
    assert storage.cleanup_old_tasks(days=1) == 0


DISABLED_PROBE = """
import asyncio, sys
from gobstopper.tasks.queue import TaskQueue

async def main():
    queue = TaskQueue()
    queue.register_task("job")(lambda: None)
    await queue.start_workers("default")
    assert await queue.get_task_info("x") is None
    assert (await queue.get_task_stats())["total"] == 0
    await queue.shutdown()
    queue.storage.save_task(None)

asyncio.run(main())
print("duckdb" in sys.modules)
"""


def test_disabled_queue_imports_no_duckdb_and_creates_no_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DISABLED_PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "WOPR_TASKS_ENABLED"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []


def test_storage_is_lazy_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    queue = TaskQueue(enabled=True)
    assert queue._storage is None
    storage = queue.storage
    assert isinstance(storage, TaskStorage)
    assert storage.db_path == Path("wopr_tasks.duckdb")
    assert queue.storage is storage
    assert not (tmp_path / "wopr_tasks.duckdb").exists()


def test_register_returns_function_unchanged(queue: TaskQueue) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    assert queue.register_task("add", category="math")(add) is add
    assert add(2, 3) == 5
    assert queue.task_functions["add"] is add


def test_register_defaults_name_and_rejects_duplicates(queue: TaskQueue) -> None:
    @queue.register_task()
    def cleanup() -> None: ...

    assert queue.task_functions["cleanup"] is cleanup
    queue.register_task("cleanup")(cleanup)  # the same registration again is fine
    with pytest.raises(ValueError, match="already registered"):
        queue.register_task("cleanup", category="other")(cleanup)
    with pytest.raises(ValueError, match="already registered"):
        queue.register_task("cleanup")(lambda: None)


async def test_add_task_rejects_unknown_names_and_categories(queue: TaskQueue) -> None:
    queue.register_task("job", category="a")(lambda: None)
    with pytest.raises(KeyError, match="missing"):
        await queue.add_task("missing")
    with pytest.raises(KeyError, match="category 'b'"):
        await queue.add_task("job", "b")
    with pytest.raises(ValueError, match="max_retries"):
        await queue.add_task("job", "a", TaskPriority.NORMAL, -1)
    assert (await queue.get_task_stats())["total"] == 0


async def test_add_task_rejects_arguments_json_cannot_store(queue: TaskQueue) -> None:
    queue.register_task("job")(lambda *a, **k: None)
    with pytest.raises(TypeError, match="JSON"):
        await queue.add_task("job", "default", TaskPriority.NORMAL, 0, object())
    with pytest.raises(TypeError, match="JSON"):
        await queue.add_task("job", when=threading.Lock())
    with pytest.raises(TypeError, match="args="):
        await queue.add_task("job", args="not a tuple")
    with pytest.raises(TypeError, match="kwargs="):
        await queue.add_task("job", kwargs=["no"])
    with pytest.raises(TypeError, match="twice: a"):
        await queue.add_task("job", a=1, kwargs={"a": 2})
    assert (await queue.get_task_stats())["total"] == 0


async def test_add_task_stores_pending_before_returning(queue: TaskQueue) -> None:
    queue.register_task("job")(lambda: None)
    task_id = await queue.add_task("job", "default", TaskPriority.HIGH, 2)
    assert uuid.UUID(task_id).version == 4
    stored = await asyncio.to_thread(queue.storage.get_task, task_id)
    assert stored is not None
    assert (stored.status, stored.priority, stored.max_retries) == (
        TaskStatus.PENDING,
        TaskPriority.HIGH,
        2,
    )


async def test_arguments_reach_the_function_as_json_values(queue: TaskQueue) -> None:
    seen: list[object] = []

    @queue.register_task("echo")
    async def echo(*args: object, **kwargs: object) -> dict:
        seen.append((args, kwargs))
        return {"ok": True}

    await queue.start_workers()
    first = await queue.add_task("echo", "default", TaskPriority.NORMAL, 0, (1, 2), "x", k={3: 4})
    second = await queue.add_task("echo", args=("a",), kwargs={"b": 1}, c=2)
    await wait_done(queue, first)
    await wait_done(queue, second)
    assert seen == [(([1, 2], "x"), {"k": {"3": 4}}), (("a",), {"b": 1, "c": 2})]


async def test_priority_order_then_fifo(queue: TaskQueue) -> None:
    ran: list[str] = []

    @queue.register_task("record")
    async def record(label: str) -> None:
        ran.append(label)

    plan = [
        ("low-1", TaskPriority.LOW),
        ("normal-1", TaskPriority.NORMAL),
        ("high-1", TaskPriority.HIGH),
        ("normal-2", TaskPriority.NORMAL),
        ("critical-1", TaskPriority.CRITICAL),
        ("low-2", TaskPriority.LOW),
        ("urgent-2", TaskPriority.URGENT),
        ("high-2", TaskPriority.HIGH),
        ("normal-3", TaskPriority.NORMAL),
    ]
    ids = [await queue.add_task("record", "default", prio, 0, label) for label, prio in plan]
    await queue.start_workers("default", worker_count=1)
    for task_id in ids:
        await wait_done(queue, task_id)
    assert ran == [
        "critical-1",
        "urgent-2",
        "high-1",
        "high-2",
        "normal-1",
        "normal-2",
        "normal-3",
        "low-1",
        "low-2",
    ]


async def test_categories_have_separate_queues(queue: TaskQueue) -> None:
    queue.register_task("a_job", category="a")(lambda: "a")
    queue.register_task("b_job", category="b")(lambda: "b")
    a_id = await queue.add_task("a_job", "a")
    b_id = await queue.add_task("b_job", "b")
    await queue.start_workers("b")
    assert (await wait_done(queue, b_id)).result == "b"
    assert (await queue.get_task_info(a_id)).status is TaskStatus.PENDING  # type: ignore[union-attr]
    assert set(queue.queues) == {"a", "b"}
    await queue.start_workers("a")
    assert (await wait_done(queue, a_id)).result == "a"


async def test_sync_tasks_run_off_the_event_loop(queue: TaskQueue) -> None:
    loop_thread = threading.get_ident()

    @queue.register_task("where")
    def where() -> bool:
        return threading.get_ident() != loop_thread

    @queue.register_task("where_async")
    async def where_async() -> bool:
        return threading.get_ident() == loop_thread

    await queue.start_workers(worker_count=2)
    sync_id, async_id = await queue.add_task("where"), await queue.add_task("where_async")
    assert (await wait_done(queue, sync_id)).result is True
    assert (await wait_done(queue, async_id)).result is True


async def test_success_records_result_and_timing(queue: TaskQueue) -> None:
    @queue.register_task("work")
    async def work() -> dict:
        await asyncio.sleep(0.01)
        return {"sent": True}

    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("work"))
    assert info.status is TaskStatus.SUCCESS
    assert info.result == {"sent": True}
    assert info.error is None
    assert info.started_at is not None and info.completed_at is not None
    assert info.created_at <= info.started_at <= info.completed_at
    assert info.elapsed_seconds >= 0.01
    assert info.progress == 100.0


async def test_start_workers_adds_workers(queue: TaskQueue) -> None:
    release = asyncio.Event()
    running: list[int] = []

    @queue.register_task("hold")
    async def hold(n: int) -> None:
        running.append(n)
        await release.wait()

    await queue.start_workers("default", worker_count=2)
    await queue.start_workers("default", worker_count=1)
    assert len(queue.workers["default"]) == 3
    ids = [await queue.add_task("hold", "default", TaskPriority.NORMAL, 0, n) for n in range(4)]
    await wait_for(lambda: queue.get_task_stats(), lambda s: s["running"] == 3, "3 running")
    assert sorted(running) == [0, 1, 2]
    release.set()
    for task_id in ids:
        await wait_done(queue, task_id)
    with pytest.raises(ValueError):
        await queue.start_workers("default", worker_count=0)


async def test_cancel_pending_task(queue: TaskQueue) -> None:
    ran: list[str] = []
    queue.register_task("record")(ran.append)
    doomed = await queue.add_task("record", "default", TaskPriority.HIGH, 0, "doomed")
    kept = await queue.add_task("record", "default", TaskPriority.LOW, 0, "kept")
    assert await queue.cancel_task(doomed) is True
    assert await queue.cancel_task(doomed) is False
    info = await queue.get_task_info(doomed)
    assert info is not None and info.status is TaskStatus.CANCELLED
    assert info.completed_at is not None and info.completed_at >= info.created_at
    assert info.started_at is None  # cancelled before it ever ran
    await queue.start_workers()
    await wait_done(queue, kept)
    assert ran == ["kept"]
    assert (await queue.get_task_stats())["queued"] == 0


async def test_cancel_refuses_running_finished_and_unknown(queue: TaskQueue) -> None:
    release = asyncio.Event()

    @queue.register_task("hold")
    async def hold() -> None:
        await release.wait()

    await queue.start_workers()
    task_id = await queue.add_task("hold")
    await wait_status(queue, task_id, TaskStatus.STARTED)
    assert await queue.cancel_task(task_id) is False
    release.set()
    await wait_done(queue, task_id)
    assert await queue.cancel_task(task_id) is False
    assert await queue.cancel_task("no-such-task") is False


async def test_retry_task_requeues_failed_only(queue: TaskQueue) -> None:
    calls: list[int] = []

    @queue.register_task("flaky")
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("network down")
        return "ok"

    await queue.start_workers()
    task_id = await queue.add_task("flaky")
    failed = await wait_done(queue, task_id)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None and failed.error.startswith("ConnectionError: network down")
    assert await queue.retry_task(task_id) is True
    done = await wait_done(queue, task_id)
    assert (done.status, done.result, done.error, done.retry_count) == (
        TaskStatus.SUCCESS,
        "ok",
        None,
        0,
    )
    assert await queue.retry_task(task_id) is False  # SUCCESS
    assert await queue.retry_task("no-such-task") is False


async def test_retry_task_refuses_pending_and_unregistered(
    make_queue: MakeQueue,
) -> None:
    first = make_queue()
    first.register_task("job")(lambda: 1 / 0)
    first.register_task("parked", category="no-workers")(lambda: None)
    await first.start_workers()
    failed_id = await first.add_task("job")
    assert (await wait_done(first, failed_id)).status is TaskStatus.FAILED
    pending_id = await first.add_task("parked", "no-workers")
    assert await first.retry_task(pending_id) is False
    await first.shutdown()

    second = make_queue()  # nothing registered: it cannot run the task
    assert await second.retry_task(failed_id) is False
    info = await second.get_task_info(failed_id)
    assert info is not None and info.status is TaskStatus.FAILED


async def test_stats_keys_and_counts(queue: TaskQueue) -> None:
    release = asyncio.Event()

    @queue.register_task("hold", category="slow")
    async def hold() -> None:
        await release.wait()

    queue.register_task("idle", category="later")(lambda: None)
    running_id = await queue.add_task("hold", "slow")
    await queue.add_task("idle", "later")
    await queue.add_task("idle", "later")
    await queue.start_workers("slow")
    await wait_status(queue, running_id, TaskStatus.STARTED)
    stats = await queue.get_task_stats()
    assert stats == {
        "total": 3,
        "by_status": {"started": 1, "pending": 2},
        "by_category": {"slow": 1, "later": 2},
        "running": 1,
        "queued": 2,
    }
    release.set()
    await wait_done(queue, running_id)


async def test_get_task_alias_and_snapshots(queue: TaskQueue) -> None:
    assert TaskQueue.get_task is TaskQueue.get_task_info
    queue.register_task("job")(lambda: None)
    task_id = await queue.add_task("job")
    snapshot = await queue.get_task(task_id)
    assert snapshot is not None
    snapshot.status = TaskStatus.FAILED
    again = await queue.get_task_info(task_id)
    assert again is not None and again.status is TaskStatus.PENDING
    assert await queue.get_task("no-such-task") is None


async def test_a_caller_that_stops_waiting_does_not_stop_its_task(queue: TaskQueue) -> None:
    ran: list[str] = []
    queue.register_task("job")(ran.append)
    await queue.start_workers()
    adding = asyncio.create_task(queue.add_task("job", "default", TaskPriority.NORMAL, 0, "x"))
    await asyncio.sleep(0)  # add_task is now waiting for its commit
    adding.cancel()  # as a handler is when its client goes away
    with pytest.raises(asyncio.CancelledError):
        await adding
    await wait_for(
        queue.get_task_stats, lambda stats: stats["by_status"] == {"success": 1}, "a success"
    )
    assert ran == ["x"]
