"""Helpers shared by the task tests: polling with a deadline."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from gobstopper.tasks import TaskInfo, TaskQueue

T = TypeVar("T")

DEADLINE = 30.0  # generous: polls return as soon as the condition holds


async def wait_for(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str) -> T:
    """Call ``probe`` until ``accept`` takes its value, or fail."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.01)


async def wait_done(queue: TaskQueue, task_id: str) -> TaskInfo:
    """Wait until the task reaches a terminal status and return it."""
    return await wait_for(
        lambda: queue.get_task_info(task_id),
        lambda info: info is not None and info.is_completed,
        f"task {task_id} to complete",
    )


async def wait_status(queue: TaskQueue, task_id: str, status: object) -> TaskInfo:
    """Wait until the task has ``status`` and return it."""
    return await wait_for(
        lambda: queue.get_task_info(task_id),
        lambda info: info is not None and info.status is status,
        f"task {task_id} to be {status}",
    )


_HOLDER = """
import sys
from gobstopper.tasks.storage import TaskStorage
storage = TaskStorage(sys.argv[1])
storage.get_tasks()
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def database_held_by_another_process(db_path: Path) -> Iterator[None]:
    """Keep ``db_path`` open in a child process for the ``with`` block."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline() == "ready\n", "the holder did not open the file"
            yield
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
    assert holder.returncode == 0
