"""Run every storage call on one dedicated thread, group-committing saves.

DuckDB calls block and a connection is not for concurrent use, so the queue
never calls storage on the event loop: it goes through a single-thread
executor. Saves are group-committed: everything saved in the same turn of
the event loop, or while the thread is busy, is written together, in one
transaction (``TaskStorage.write``: one multi-row INSERT for new tasks, one
multi-row UPDATE for changed ones), and only the latest state of each task
is written. A save's future resolves once its batch is committed.

Every job runs in submission order, and a read first hands the thread any
batch still waiting for the end of the turn, so a read made after a save
sees that save (read-your-writes).

PERF: a batch costs a round trip between threads (a wake-up of the storage
thread, one of the loop, and the GIL passed both ways: 20-40 µs of CPU)
whatever its size. Flushing at the first save of a turn, when the storage
thread was idle, made batches of 1-2 saves under a steady trickle of
requests; waiting for the end of the turn (``call_soon``) collects every save
the turn's handlers and workers make.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .models import TaskInfo

T = TypeVar("T")
Waiters = dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]]


class StorageGateway:
    """The single thread through which a TaskQueue reaches its storage."""

    def __init__(
        self,
        get_storage: Callable[[], Any],
        on_lost_inserts: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Reach ``get_storage()`` through one thread.

        ``on_lost_inserts(task_ids)`` is called on the loop that saved them
        when a batch inserting new tasks fails, before anyone waiting for that
        batch or a later one resumes, whether or not their callers still wait.
        """
        self._get_storage = get_storage
        self._on_lost_inserts = on_lost_inserts
        self._executor: ThreadPoolExecutor | None = None
        # Task id -> (latest snapshot, never stored before).
        self._batch: dict[str, tuple[TaskInfo, bool]] = {}
        self._waiters: Waiters = {}
        # The loop whose turn ends with a flush, or whether a flush is on the
        # thread and has not swapped out the batch yet: at most one of each.
        self._flush_scheduled: asyncio.AbstractEventLoop | None = None
        self._flush_submitted = False
        # Saves add to the batch on the loop thread while the storage thread
        # swaps it out; the lock keeps a save from landing in a swapped batch.
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="gobstopper-task-storage")
        return self._executor

    async def call(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(storage)`` on the storage thread and return its result."""
        loop = asyncio.get_running_loop()
        self._submit_flush()  # saves made before this call are written before it runs
        return await loop.run_in_executor(self._pool(), self._apply, fn)

    def _apply(self, fn: Callable[[Any], T]) -> T:
        return fn(self._get_storage())

    def insert(self, info: TaskInfo) -> asyncio.Future[None]:
        """Queue a new task's first record; the future resolves on commit."""
        return self._add(info, new=True)

    def save(self, info: TaskInfo) -> asyncio.Future[None]:
        """Queue the new state of a stored task; the future resolves on commit."""
        return self._add(info, new=False)

    def _add(self, info: TaskInfo, *, new: bool) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        snapshot = copy.copy(info)
        with self._lock:
            queued = self._batch.get(info.id)
            # Inserted and changed in one batch: still one insert, of the latest state.
            self._batch[info.id] = (snapshot, new or (queued is not None and queued[1]))
            self._waiters.setdefault(loop, []).append(future)
            scheduled = self._flush_scheduled
            # A loop closed before its turn ended never runs the flush: take it over.
            schedule = not self._flush_submitted and (scheduled is None or scheduled.is_closed())
            if schedule:
                self._flush_scheduled = loop
        if schedule:
            loop.call_soon(self._submit_flush)
        return future

    def _submit_flush(self) -> None:
        """Hand the storage thread the scheduled flush, if there is one."""
        with self._lock:
            submit = self._flush_scheduled is not None
            self._flush_scheduled = None
            self._flush_submitted |= submit
        if submit:
            self._pool().submit(self._flush)

    def _swap(self) -> tuple[list[TaskInfo], list[TaskInfo], Waiters]:
        with self._lock:
            batch, waiters = self._batch, self._waiters
            self._batch, self._waiters, self._flush_submitted = {}, {}, False
        inserted = [info for info, new in batch.values() if new]
        updated = [info for info, new in batch.values() if not new]
        return inserted, updated, waiters

    def _flush(self) -> None:
        inserted, updated, waiters = self._swap()
        error: BaseException | None = None
        try:
            _write(self._get_storage(), inserted, updated)
        except Exception as exc:
            error = exc
        lost = None
        if error is not None and inserted and self._on_lost_inserts is not None:
            lost = functools.partial(self._on_lost_inserts, [info.id for info in inserted])
        # PERF: one wake-up per loop per batch, not one per waiter: each
        # call_soon_threadsafe writes to the loop's self-pipe (a syscall).
        for loop, futures in waiters.items():
            try:
                loop.call_soon_threadsafe(_settle, futures, error, lost)
            except RuntimeError:
                # The loop that asked has closed; nobody is waiting any more.
                pass

    async def close(self) -> None:
        """Write what is pending, close the storage and stop the thread."""
        if self._executor is None:
            return
        await self.call(_close_storage)
        self._executor.shutdown(wait=True)
        self._executor = None


def _write(storage: Any, inserted: list[TaskInfo], updated: list[TaskInfo]) -> None:
    # A custom storage (a test double, say) may have only the documented
    # save_task; look methods up on the type so a Mock's auto-attributes are
    # not mistaken for them.
    kind = type(storage)
    if callable(getattr(kind, "write", None)):
        storage.write(inserted, updated)
    elif callable(getattr(kind, "save_tasks", None)):
        storage.save_tasks([*inserted, *updated])
    else:
        for info in (*inserted, *updated):
            storage.save_task(info)


def _close_storage(storage: Any) -> None:
    if callable(getattr(type(storage), "close", None)):
        storage.close()


def _settle(
    futures: list[asyncio.Future[None]],
    error: BaseException | None,
    lost: Callable[[], None] | None,
) -> None:
    if lost is not None:
        lost()  # idempotent: run on every loop that waited for the batch
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
