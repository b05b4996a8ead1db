"""The reference's Background Tasks examples, run as written.

Changes from the reference text, each marked ``# ref:`` below:
- calls that pass positional arguments after keyword ones are a
  SyntaxError in Python; they are written positionally instead;
- ``while True`` polling loops are bounded, as every test loop must be.
Everything runs in a temporary directory, so the default
``wopr_tasks.duckdb`` lands there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from unittest.mock import Mock

import pytest

from gobstopper.tasks.models import TaskInfo, TaskPriority, TaskStatus
from gobstopper.tasks.progress import report_progress
from gobstopper.tasks.queue import NoopStorage, TaskQueue
from gobstopper.tasks.storage import TaskStorage

from .helpers import wait_done

POLLS = 200


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def queue() -> AsyncIterator[TaskQueue]:
    made = TaskQueue(enabled=True, backoff=lambda retry: 0.0)
    yield made
    await made.shutdown()


async def test_module_example_basic_usage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "1")
    os.environ["WOPR_TASKS_ENABLED"] = "1"
    queue = TaskQueue(enabled=True)

    @queue.register_task("send_email", category="notifications")
    async def send_email(to: str, subject: str):
        return {"sent": True, "to": to}

    await queue.start_workers("notifications", worker_count=3)
    # ref: category=, priority=, max_retries= given positionally.
    task_id = await queue.add_task(
        "send_email", "notifications", TaskPriority.HIGH, 3, "user@example.com", subject="Welcome!"
    )
    task_info = await queue.get_task_info(task_id)
    print(f"Status: {task_info.status}")
    done = await wait_done(queue, task_id)
    assert done.result == {"sent": True, "to": "user@example.com"}
    await queue.shutdown()
    assert (tmp_path / "wopr_tasks.duckdb").exists()


def test_noop_storage_example(tmp_path: Path) -> None:
    queue = TaskQueue(enabled=False)
    assert isinstance(queue.storage, NoopStorage)
    assert list(tmp_path.iterdir()) == []


async def test_complete_workflow_example(capsys: pytest.CaptureFixture[str]) -> None:
    queue = TaskQueue(enabled=True)

    @queue.register_task("send_email", category="notifications")
    async def send_email(to: str, subject: str, body: str):
        await asyncio.sleep(1)  # Simulate work
        return {"sent": True, "to": to}

    @queue.register_task("process_data", category="analytics")
    def process_data(data: dict):
        return {"records": len(data)}

    await queue.start_workers("notifications", worker_count=3)
    await queue.start_workers("analytics", worker_count=5)

    task1 = await queue.add_task(
        "send_email",
        category="notifications",
        priority=TaskPriority.HIGH,
        max_retries=3,
        to="user@example.com",  # ref: was positional after keywords
        subject="Welcome",
        body="Thanks for signing up!",
    )
    # ref: category and priority positional, so the dict can follow them.
    task2 = await queue.add_task(
        "process_data", "analytics", TaskPriority.NORMAL, 0, {"users": 1000}
    )

    for _ in range(POLLS * 2):  # ref: bounded `while True`
        info = await queue.get_task_info(task1)
        if info.is_completed:
            if info.status == TaskStatus.SUCCESS:
                print(f"Result: {info.result}")
            else:
                print(f"Failed: {info.error}")
            break
        await asyncio.sleep(0.05)

    assert (await wait_done(queue, task2)).result == {"records": 1}
    stats = await queue.get_task_stats()
    print(f"Total tasks: {stats['total']}")
    print(f"Running: {stats['running']}")
    print(f"By status: {stats['by_status']}")
    await queue.shutdown()
    out = capsys.readouterr().out
    assert "Result: {'sent': True, 'to': 'user@example.com'}" in out
    assert "Total tasks: 2" in out
    assert "By status: {'success': 2}" in out


def test_constructor_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    os.environ["WOPR_TASKS_ENABLED"] = "1"
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "1")  # undone after the test
    queue1 = TaskQueue()
    queue2 = TaskQueue(enabled=True)
    queue3 = TaskQueue(enabled=False)
    mock_storage = Mock()
    queue4 = TaskQueue(enabled=True, storage_factory=lambda: mock_storage)
    assert (queue1.enabled, queue2.enabled, queue3.enabled) == (True, True, False)
    assert queue4.storage is mock_storage


async def test_register_and_add_task_examples(queue: TaskQueue) -> None:
    @queue.register_task("send_email", category="notifications")
    async def send_email(to: str, subject: str):
        return {"sent": True}

    @queue.register_task("process_file", category="analytics")
    def process_file(filename: str):
        return {"lines": 1000}

    @queue.register_task("cleanup")
    def cleanup():
        pass

    @queue.register_task("process_order", category="orders")
    async def process_order(order_id: int, customer_id: int) -> dict:
        return {"order": order_id, "customer": customer_id}

    @queue.register_task("send_alert", category="alerts")
    async def send_alert(alert_type: str) -> str:
        return alert_type

    for category in ("notifications", "default", "orders", "alerts"):
        await queue.start_workers(category)

    task_id1 = await queue.add_task("cleanup")
    # ref: category given positionally, with the default priority and retries.
    task_id2 = await queue.add_task(
        "send_email",
        "notifications",
        TaskPriority.NORMAL,
        0,
        "user@example.com",
        "Welcome to our service",
    )
    task_id3 = await queue.add_task(
        "process_order",
        category="orders",
        priority=TaskPriority.HIGH,
        max_retries=3,
        order_id=12345,
        customer_id=67890,
    )
    task_id4 = await queue.add_task(
        "send_alert",
        category="alerts",
        priority=TaskPriority.CRITICAL,
        alert_type="security_breach",
    )
    assert (await wait_done(queue, task_id1)).status is TaskStatus.SUCCESS
    assert (await wait_done(queue, task_id2)).result == {"sent": True}
    assert (await wait_done(queue, task_id3)).result == {"order": 12345, "customer": 67890}
    alert = await wait_done(queue, task_id4)
    assert (alert.result, alert.priority) == ("security_breach", TaskPriority.URGENT)


async def test_progress_monitoring_example(
    queue: TaskQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    @queue.register_task("long_process")
    async def long_process() -> str:
        for step in range(1, 4):
            report_progress(step * 25, f"step {step}")
            await asyncio.sleep(0.02)
        return "finished"

    await queue.start_workers()
    task_id = await queue.add_task("long_process")
    for _ in range(POLLS):  # ref: bounded `while True`
        info = await queue.get_task_info(task_id)
        if info:
            print(f"Status: {info.status.value}")
            print(f"Progress: {info.progress}%")
            print(f"Message: {info.progress_message}")
            if info.is_completed:
                if info.status == TaskStatus.SUCCESS:
                    print(f"Result: {info.result}")
                    print(f"Duration: {info.elapsed_seconds}s")
                else:
                    print(f"Error: {info.error}")
                break
        await asyncio.sleep(0.01)
    out = capsys.readouterr().out
    assert "Result: finished" in out
    assert "Progress: 100.0%" in out


async def test_cancel_example(queue: TaskQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.register_task("generate_report")(lambda: "report")
    task_id = await queue.add_task("generate_report", priority=TaskPriority.LOW)
    if await queue.cancel_task(task_id):
        print("Task cancelled successfully")
    else:
        print("Task already started or completed")
    assert capsys.readouterr().out == "Task cancelled successfully\n"


async def test_retry_example(queue: TaskQueue, capsys: pytest.CaptureFixture[str]) -> None:
    network = {"up": False}

    @queue.register_task("fetch")
    def fetch() -> str:
        if not network["up"]:
            raise ConnectionError("network unreachable")
        return "fetched"

    await queue.start_workers()
    task_id = await queue.add_task("fetch")
    await wait_done(queue, task_id)

    task = await queue.get_task_info(task_id)
    if task and task.status == TaskStatus.FAILED:
        print(f"Task failed: {task.error.splitlines()[0]}")
        network["up"] = True
        if await queue.retry_task(task_id):
            print("Task requeued for retry")
        else:
            print("Could not retry task")
    assert capsys.readouterr().out == (
        "Task failed: ConnectionError: network unreachable\nTask requeued for retry\n"
    )
    assert (await wait_done(queue, task_id)).result == "fetched"


async def test_stats_example(queue: TaskQueue, capsys: pytest.CaptureFixture[str]) -> None:
    queue.register_task("job", category="email")(lambda: None)
    await queue.add_task("job", "email")
    stats = await queue.get_task_stats()
    print(f"Total tasks: {stats['total']}")
    print(f"Currently running: {stats['running']}")
    print(f"Queued: {stats['queued']}")
    print("\nBy status:")
    for status, count in stats["by_status"].items():
        print(f"  {status}: {count}")
    print("\nBy category:")
    for category, count in stats["by_category"].items():
        print(f"  {category}: {count}")
    assert capsys.readouterr().out == (
        "Total tasks: 1\nCurrently running: 0\nQueued: 1\n\nBy status:\n  pending: 1\n"
        "\nBy category:\n  email: 1\n"
    )


async def test_start_workers_example(queue: TaskQueue) -> None:
    await queue.start_workers("notifications", worker_count=3)
    await queue.start_workers("analytics", worker_count=10)
    await queue.start_workers("admin", worker_count=1)
    assert {name: len(pool) for name, pool in queue.workers.items()} == {
        "notifications": 3,
        "analytics": 10,
        "admin": 1,
    }
    assert set(queue.queues) == {"notifications", "analytics", "admin"}
    await queue.shutdown()
    print("All workers stopped")


async def test_priority_example_with_args_and_kwargs(queue: TaskQueue) -> None:
    calls: list[object] = []
    queue.register_task("cleanup_temp_files")(lambda: calls.append("cleanup"))
    queue.register_task("send_email")(lambda to: calls.append(("email", to)))
    queue.register_task("send_alert")(lambda alert_type: calls.append(("alert", alert_type)))

    ids = [
        await queue.add_task("cleanup_temp_files", priority=TaskPriority.LOW),
        await queue.add_task("send_email", priority=TaskPriority.HIGH, args=("user@example.com",)),
        await queue.add_task(
            "send_alert", priority=TaskPriority.CRITICAL, kwargs={"alert_type": "security"}
        ),
    ]
    await queue.start_workers()
    for task_id in ids:
        await wait_done(queue, task_id)
    assert calls == [("alert", "security"), ("email", "user@example.com"), "cleanup"]


def test_status_check_example(capsys: pytest.CaptureFixture[str]) -> None:
    task = TaskInfo(
        id="task-123",
        name="send_email",
        category="notifications",
        priority=TaskPriority.HIGH,
        status=TaskStatus.STARTED,
        created_at=datetime.now(),
        progress=30.0,
    )
    if task.status == TaskStatus.PENDING:
        print("Task is waiting in queue")
    elif task.status == TaskStatus.STARTED:
        print(f"Task is running: {task.progress}% complete")
    elif task.status == TaskStatus.SUCCESS:
        print(f"Task completed in {task.elapsed_seconds}s")
    assert capsys.readouterr().out == "Task is running: 30.0% complete\n"


def test_storage_class_example() -> None:
    storage = TaskStorage("tasks.duckdb")
    assert not Path("tasks.duckdb").exists()
    task = TaskInfo(
        id="550e8400-e29b-41d4-a716-446655440000",
        name="send_email",
        category="notifications",
        priority=TaskPriority.HIGH,
        status=TaskStatus.PENDING,
        created_at=datetime.now(),
        args=("user@example.com",),
        kwargs={"subject": "Welcome"},
    )
    storage.save_task(task)
    assert Path("tasks.duckdb").exists()
    task.status = TaskStatus.SUCCESS
    task.completed_at = datetime.now()
    storage.save_task(task)
    pending = storage.get_tasks(status=TaskStatus.PENDING, limit=100)
    email_tasks = storage.get_tasks(category="notifications")
    assert pending == []
    assert [t.status for t in email_tasks] == [TaskStatus.SUCCESS]
    fetched = storage.get_task("550e8400-e29b-41d4-a716-446655440000")
    assert fetched is not None and fetched.status.value == "success"
    storage.close()
