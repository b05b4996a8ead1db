"""The one-process backend: an in-memory ready queue over group-committed storage.

Tasks wait in one ``asyncio.PriorityQueue`` per category (higher priority
first, FIFO within a priority); storage is the durable record, reached only
through the ``StorageGateway`` thread. The record is what survives: when
workers first start for a category, that category's PENDING and RETRY tasks
are queued again from storage, and tasks left STARTED by a process that died
are re-run as a retry (or end FAILED as interrupted with no retries left).

PERF: before its function runs, a task's record must be committed as
STARTED (so a crash mid-run is seen as an interrupted attempt), and
``add_task`` waits for its PENDING insert. A task is queued as soon as it is
submitted, so an idle worker's STARTED save joins the insert's batch: one
row, one commit before it runs. When workers are busy the insert commits
first and the STARTED update waits for a later batch. The outcome is written
in the background and usually shares the commit of the next task's STARTED
update; everything is group-committed with whatever else is in flight
(benchmarks/tasks_bench.py). A worker coroutine therefore waits about one
commit per task (DuckDB: 8-15 ms, mostly ``fdatasync``; SQLite: well under
one ms): throughput grows with ``worker_count``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from . import transitions
from .backend import TaskPage, TaskQuery, TaskTally, find_stored, tally_stored
from .gateway import StorageGateway
from .models import TaskInfo, TaskStatus
from .recovery import find_recoverable

logger = logging.getLogger("gobstopper.tasks")

QueueEntry = tuple[int, int, str]


class LocalBackend:
    """Tasks of one process: a priority queue per category, storage behind it.

    ``registered(name)`` gives the category a task function is registered in
    (None if unknown): recovery re-queues only tasks it can run.
    """

    def __init__(
        self, get_storage: Callable[[], Any], registered: Callable[[str], str | None]
    ) -> None:
        self._gateway = StorageGateway(get_storage, on_lost_inserts=self._forget_unsaved)
        self._registered = registered
        self._queues: dict[str, asyncio.PriorityQueue[QueueEntry]] = {}
        # Tasks this process holds: queued, waiting to retry, or running.
        self._live: dict[str, TaskInfo] = {}
        self._sequence = itertools.count()
        self._recovered: set[str] = set()
        self._timers: set[asyncio.Task[None]] = set()

    @property
    def queues(self) -> Mapping[str, asyncio.Queue[Any]]:
        """Category name to its priority queue of ready task ids."""
        return self._queues

    def queued(self) -> int:
        """Count the PENDING tasks held in memory."""
        return sum(1 for info in self._live.values() if info.status is TaskStatus.PENDING)

    async def submit(self, info: TaskInfo) -> None:
        """Queue the task and insert it; return once the insert is committed.

        PERF: queued before the commit, so an idle worker takes it at once and
        its STARTED save joins the same batch: one row written instead of an
        insert and an update, one commit before it runs instead of two. It
        still runs only after a commit holding its record (``start``).
        """
        # Held before the save so a concurrent recovery does not queue it twice.
        self._live[info.id] = info
        # Queued first: an idle worker then wakes before the batch is handed over.
        self._enqueue(info)
        # NOTE: a caller cancelled while waiting cancels this future, not the
        # insert: once committed the task runs all the same, and if the insert
        # fails the gateway tells ``_forget_unsaved``. (Not shielded:
        # asyncio.shield cost 10-30% more CPU per task at full load.)
        await self._gateway.insert(info)

    def _forget_unsaved(self, task_ids: list[str]) -> None:
        # Runs before anyone awaiting a later batch resumes, so a worker that
        # took one of these tasks sees it is gone (``start``) and does not run it.
        for task_id in task_ids:
            self._live.pop(task_id, None)

    async def prepare(self, category: str) -> None:
        """Re-queue the category's unfinished stored tasks, once per start."""
        self._queue(category)
        if category in self._recovered:
            return
        self._recovered.add(category)
        try:
            await self._recover(category)
        except BaseException:
            self._recovered.discard(category)
            raise

    async def take(self, category: str) -> TaskInfo:
        """Wait for the next queued task of ``category``."""
        queue = self._queue(category)
        while True:
            _, _, task_id = await queue.get()
            info = self._live.get(task_id)
            if info is not None:  # else cancelled while queued
                return info

    async def start(self, info: TaskInfo) -> bool:
        """Mark a taken task STARTED; False (logged) if that cannot be stored."""
        transitions.start(info)
        try:
            await self._gateway.save(info)
        except asyncio.CancelledError:
            transitions.requeue(info)
            self.release(info)
            raise
        except Exception:
            if self._live.pop(info.id, None) is not None:
                # Still PENDING in storage: the next start runs it.
                logger.exception("task %s (%r): could not mark it started", info.id, info.name)
            return False
        # Gone if its insert failed (add_task raised): an UPDATE then changed nothing.
        return self._live.get(info.id) is info

    def record(self, info: TaskInfo) -> asyncio.Future[None]:
        """Save the task's state; a finished task leaves memory."""
        if info.is_completed:
            self._live.pop(info.id, None)
        return self._save_in_background(info)

    def retry_later(self, info: TaskInfo, delay: float) -> None:
        """Save RETRY now; queue the task again after ``delay`` seconds."""
        timer = asyncio.create_task(self._retry_after(info, delay))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)
        self._save_in_background(info)

    def release(self, info: TaskInfo) -> None:
        """Save the task PENDING; it is queued again by the next start."""
        self._save_in_background(info)

    async def get(self, task_id: str) -> TaskInfo | None:
        """Answer from memory for tasks held here, else from storage."""
        info = self._live.get(task_id)
        if info is not None:
            return msgspec.structs.replace(info)
        return await self._gateway.call(lambda storage: storage.get_task(task_id))

    async def cancel(self, task_id: str) -> bool:
        """Cancel a PENDING task held here or found in storage."""
        info = self._live.get(task_id)
        if info is None:
            info = await self._gateway.call(lambda storage: storage.get_task(task_id))
            # Recovery may have queued it while storage was being read.
            info = self._live.get(task_id, info)
        if info is None or not transitions.cancel(info):
            return False
        self._live.pop(task_id, None)
        await self._gateway.save(info)
        return True

    async def retry(self, task_id: str, runnable: Callable[[TaskInfo], bool]) -> bool:
        """Reset a stored FAILED task to PENDING and queue it."""
        if task_id in self._live:
            return False
        info = await self._gateway.call(lambda storage: storage.get_task(task_id))
        if info is None or task_id in self._live or not runnable(info):
            return False
        if not transitions.reset_for_retry(info):
            return False
        self._live[info.id] = info
        await self._gateway.save(info)
        self._enqueue(info)
        return True

    async def find(self, query: TaskQuery) -> TaskPage:
        """Ask storage for one page of the matching tasks and their count."""
        page: TaskPage = await self._gateway.call(lambda storage: find_stored(storage, query))
        return page

    async def tally(self) -> TaskTally:
        """Ask storage to count its tasks by status, category and priority."""
        counts: TaskTally = await self._gateway.call(tally_stored)
        return counts

    async def recent(self, limit: int) -> list[TaskInfo]:
        """Return the newest stored tasks."""
        tasks: list[TaskInfo] = await self._gateway.call(
            lambda storage: storage.get_tasks(limit=limit)
        )
        return tasks

    async def close(self) -> None:
        """Stop retry timers, flush and close storage, forget what is held."""
        for timer in self._timers:
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        try:
            await self._gateway.close()
        finally:
            self._queues.clear()
            self._live.clear()
            self._recovered.clear()
            self._timers.clear()

    def _queue(self, category: str) -> asyncio.PriorityQueue[QueueEntry]:
        queue = self._queues.get(category)
        if queue is None:
            queue = self._queues[category] = asyncio.PriorityQueue()
        return queue

    def _enqueue(self, info: TaskInfo) -> None:
        entry = (-info.priority.value, next(self._sequence), info.id)
        self._queue(info.category).put_nowait(entry)

    def _save_in_background(self, info: TaskInfo) -> asyncio.Future[None]:
        # PERF: not awaited, so it joins the commit of the next STARTED save.
        # Order is kept (one storage thread) and close() flushes.
        future = self._gateway.save(info)
        future.add_done_callback(_log_failed_save)
        return future

    async def _retry_after(self, info: TaskInfo, delay: float) -> None:
        await asyncio.sleep(delay)
        info.status = TaskStatus.PENDING
        self._enqueue(info)
        self._save_in_background(info)

    async def _recover(self, category: str) -> None:
        found = await self._gateway.call(lambda storage: find_recoverable(storage, category))
        runnable, changed = [], []
        for info in found:
            if info.id in self._live:
                continue
            if self._registered(info.name) != category:
                logger.warning(
                    "task %s left in storage: no function %r is registered in category %r "
                    "(register task functions before start_workers)",
                    info.id,
                    info.name,
                    category,
                )
                continue
            if info.status is not TaskStatus.PENDING:
                changed.append(info)
                if info.status is TaskStatus.STARTED:
                    if not transitions.recover_interrupted(info):
                        continue
                else:
                    info.status = TaskStatus.PENDING  # RETRY: its backoff is over
            runnable.append(info)
        runnable.sort(key=lambda info: info.created_at)  # FIFO within each priority
        for info in runnable:
            self._live[info.id] = info
            self._enqueue(info)
        await asyncio.gather(*(self._gateway.save(info) for info in changed))
        if runnable:
            logger.info("re-queued %d unfinished %r tasks from storage", len(runnable), category)


def _log_failed_save(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("could not store a task's state", exc_info=future.exception())
