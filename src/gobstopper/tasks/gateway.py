"""Run every storage call on one dedicated thread, batching saves.

DuckDB calls block and a connection is not for concurrent use, so the queue
never calls storage on the event loop: it goes through a single-thread
executor. Saves are group-committed: saves requested while the thread is
busy are written together in one transaction, and only the latest state of
each task is written. A save's future resolves once its batch is committed.

Every job runs in submission order, so a read submitted after a save sees
that save (read-your-writes).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .models import TaskInfo

T = TypeVar("T")
Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]


class StorageGateway:
    """The single thread through which a TaskQueue reaches its storage."""

    def __init__(self, get_storage: Callable[[], Any]) -> None:
        self._get_storage = get_storage
        self._executor: ThreadPoolExecutor | None = None
        self._batch: dict[str, TaskInfo] = {}
        self._waiters: list[Waiter] = []
        self._flush_queued = False
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
        return await loop.run_in_executor(self._pool(), self._apply, fn)

    def _apply(self, fn: Callable[[Any], T]) -> T:
        return fn(self._get_storage())

    def save(self, info: TaskInfo) -> asyncio.Future[None]:
        """Queue a snapshot of ``info``; the future resolves on commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        snapshot = copy.copy(info)
        with self._lock:
            self._batch[info.id] = snapshot
            self._waiters.append((loop, future))
            submit, self._flush_queued = not self._flush_queued, True
        if submit:
            self._pool().submit(self._flush)
        return future

    def _swap(self) -> tuple[list[TaskInfo], list[Waiter]]:
        with self._lock:
            batch, waiters = list(self._batch.values()), self._waiters
            self._batch, self._waiters, self._flush_queued = {}, [], False
        return batch, waiters

    def _flush(self) -> None:
        batch, waiters = self._swap()
        error: BaseException | None = None
        try:
            _write(self._get_storage(), batch)
        except Exception as exc:
            error = exc
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_settle, future, error)
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


def _write(storage: Any, batch: list[TaskInfo]) -> None:
    # A custom storage (a test double, say) may only have save_task; look the
    # batch method up on the type so a Mock's auto-attributes are not mistaken.
    if callable(getattr(type(storage), "save_tasks", None)):
        storage.save_tasks(batch)
    else:
        for info in batch:
            storage.save_task(info)


def _close_storage(storage: Any) -> None:
    if callable(getattr(type(storage), "close", None)):
        storage.close()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
