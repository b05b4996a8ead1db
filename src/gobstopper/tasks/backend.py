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

Listing (``find``) is filtered, counted and paged by the store over every
task it keeps: a ``TaskQuery`` in, a ``TaskPage`` out. The SQL stores answer
with two queries (``SQLTaskStorage.find_tasks``), Redis by walking
its creation index (``RedisTaskStorage.find_tasks``, bounded), and a custom
storage with only the documented ``get_tasks`` through ``find_stored``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .models import TaskInfo, TaskPriority, TaskStatus

if TYPE_CHECKING:
    import asyncio

#: Tasks read per ``get_tasks`` call when a custom storage is searched.
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which stored tasks to list, newest first: filters and one page.

    Every filter left at its default matches all tasks. ``search`` matches a
    case-insensitive substring of the task's id or name (taken literally:
    ``%`` and ``_`` are not wildcards). ``created_after`` keeps tasks created
    strictly later (naive UTC, like ``TaskInfo.created_at``).

    Raises:
        ValueError: ``limit`` or ``offset`` is negative.
    """

    status: TaskStatus | None = None
    category: str | None = None
    priority: TaskPriority | None = None
    search: str = ""
    created_after: datetime | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must not be negative")

    def matches(self, info: TaskInfo) -> bool:
        """Whether ``info`` passes every filter."""
        if self.created_after is not None and info.created_at <= self.created_after:
            return False
        if self.status is not None and info.status is not self.status:
            return False
        if self.category is not None and info.category != self.category:
            return False
        if self.priority is not None and info.priority is not self.priority:
            return False
        needle = self.search.lower()
        return not needle or needle in info.id.lower() or needle in info.name.lower()


class TaskPage(NamedTuple):
    """One page of a ``TaskQuery``'s answer and how many tasks match in all.

    ``counted_all`` is False when the store stopped looking at its scan
    limit (Redis): ``total`` then counts only the tasks it looked at, newest
    first, and is a lower bound.
    """

    tasks: list[TaskInfo]
    total: int
    counted_all: bool = True


def find_stored(storage: Any, query: TaskQuery) -> TaskPage:
    """Answer ``query`` from ``storage``: its ``find_tasks`` if it has one.

    A custom storage with only the documented ``get_tasks`` is read through
    in pages of 1,000 (status and category filtered by it, the rest here):
    it costs a read of every task it holds that passes those two filters.
    """
    # Looked up on the type, so a Mock's auto-attributes are not taken for it.
    if callable(getattr(type(storage), "find_tasks", None)):
        page: TaskPage = storage.find_tasks(query)
        return page
    tasks: list[TaskInfo] = []
    total = 0
    for info in _every_task(storage, query):
        if query.matches(info):
            if query.offset <= total < query.offset + query.limit:
                tasks.append(info)
            total += 1
    return TaskPage(tasks, total)


#: Stored tasks counted by (status value, category, priority name).
TaskTally = dict[tuple[str, str, str], int]


def tally_stored(storage: Any) -> TaskTally:
    """Count ``storage``'s tasks by status, category and priority: its ``tally`` if it has one.

    A custom storage with only the documented ``get_tasks`` is read through
    in pages of 1,000 (a read of every task it holds).
    """
    # Looked up on the type, so a Mock's auto-attributes are not taken for it.
    if callable(getattr(type(storage), "tally", None)):
        counts: TaskTally = storage.tally()
        return counts
    return count_tasks(_every_task(storage, TaskQuery()))


def count_tasks(tasks: Iterable[TaskInfo]) -> TaskTally:
    """Count ``tasks`` by status value, category and priority name."""
    return dict(Counter((info.status.value, info.category, info.priority.name) for info in tasks))


def _every_task(storage: Any, query: TaskQuery) -> Iterator[TaskInfo]:
    # Stops at a short page, or at a page with nothing new (a storage that
    # ignores ``offset`` cannot make it loop forever), like ``recovery``.
    seen: set[str] = set()
    offset = 0
    while True:
        page = storage.get_tasks(
            category=query.category, status=query.status, limit=_PAGE, offset=offset
        )
        fresh = [info for info in page if info.id not in seen]
        seen.update(info.id for info in fresh)
        yield from fresh
        if len(page) < _PAGE or not fresh:
            return
        offset += _PAGE


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

    async def find(self, query: TaskQuery) -> TaskPage:
        """Return the page of stored tasks ``query`` asks for, with their count."""

    async def tally(self) -> TaskTally:
        """Count every stored task by status, category and priority."""

    async def recent(self, limit: int) -> list[TaskInfo]:
        """Return up to ``limit`` stored tasks, newest first."""

    async def close(self) -> None:
        """Flush what is pending and release connections and threads."""
