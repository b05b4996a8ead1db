"""Helpers shared by the task tests: a task record, waiting for a status, a locked database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from gobstopper.tasks import TaskInfo, TaskPriority, TaskQueue, TaskStatus
from tests.polling import wait_for


def task_info(task_id: str, **fields: object) -> TaskInfo:
    """A task record: PENDING, NORMAL, "job" in "default", made 2025-01-01; ``fields`` override."""
    values: dict[str, object] = {
        "id": task_id,
        "name": "job",
        "category": "default",
        "priority": TaskPriority.NORMAL,
        "status": TaskStatus.PENDING,
        "created_at": datetime(2025, 1, 1),
    }
    values.update(fields)
    return TaskInfo(**values)  # type: ignore[arg-type]


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
import gobstopper.tasks
storage = getattr(gobstopper.tasks, sys.argv[2])(sys.argv[1])
storage.get_tasks()
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def database_held_by_another_process(db_path: Path, store: str = "TaskStorage") -> Iterator[None]:
    """Keep ``db_path`` open with ``gobstopper.tasks.<store>`` in a child process."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db_path), store],
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
