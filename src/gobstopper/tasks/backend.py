"""The seam between TaskQueue and where tasks are kept and handed out.

``TaskQueue`` owns what is the same everywhere: registration, argument
checks, the worker loops, calling task functions, the status rules
(``transitions``) and progress. A backend owns durability and dispatch:

- ``LocalBackend`` (``local.py``): one process. The ready queue is in memory
  (one ``asyncio.PriorityQueue`` per category) and rebuilt from storage when
  workers start; every change is group-committed to a storage object (DuckDB
  ``TaskStorage`` by default, ``SQLiteTaskStorage``, or whatever
  ``storage_factory`` builds).
- ``RedisBackend`` (``redis_backend.py``): many processes and machines. The
  ready queue is one Redis stream per category and priority, read through a
  consumer group; records are Redis hashes.

A storage object selects its backend: one whose class has ``open_backend()``
(``RedisTaskStorage``) supplies it; any other is wrapped in a LocalBackend.

Both deliver at least once: a task whose process dies while running it is
run again as a retry (``retry_count`` + 1), or ends FAILED as interrupted
when it has no retries left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from .models import TaskInfo


class TaskBackend(Protocol):
    """Durable task records plus the ready queue workers take tasks from."""

    @property
    def queues(self) -> Mapping[str, asyncio.Queue[Any]]:
        """Category name to this process's queue of tasks ready to run."""

    def queued(self) -> int:
        """Count the tasks this process holds ready to run."""

    async def submit(self, info: TaskInfo) -> None:
        """Store a new PENDING task durably, then make it ready to run."""

    async def prepare(self, category: str) -> None:
        """Get ``category`` ready for its first workers in this process."""

    async def take(self, category: str) -> TaskInfo:
        """Wait for the next task of ``category`` (the worker is idle meanwhile)."""

    async def start(self, info: TaskInfo) -> bool:
        """Mark a taken task STARTED durably; False if it must not run now."""

    def record(self, info: TaskInfo) -> asyncio.Future[None]:
        """Store a claimed task's progress (STARTED) or outcome (terminal)."""

    def retry_later(self, info: TaskInfo, delay: float) -> None:
        """Store a claimed task as RETRY; it is ready again after ``delay`` s."""

    def release(self, info: TaskInfo) -> None:
        """Give a claimed task back as PENDING, to run again from the start."""

    async def get(self, task_id: str) -> TaskInfo | None:
        """Return a snapshot of the task, or None if it is unknown."""

    async def cancel(self, task_id: str) -> bool:
        """Cancel a PENDING task; False for any other state."""

    async def retry(self, task_id: str, runnable: Callable[[TaskInfo], bool]) -> bool:
        """Queue a FAILED task again if ``runnable(task)``; False otherwise."""

    async def recent(self, limit: int) -> list[TaskInfo]:
        """Return up to ``limit`` stored tasks, newest first."""

    async def close(self) -> None:
        """Flush what is pending and release connections and threads."""
