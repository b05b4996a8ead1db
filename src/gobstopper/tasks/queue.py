"""The background task queue: registration, queuing, workers, recovery.

Tasks are grouped by category; each category has a priority queue (higher
priority first, FIFO within a priority) and its own pool of asyncio workers.
Async task functions run on the event loop; sync ones run in a thread pool.
Every state change is written through one storage thread (see ``gateway``),
so storage never blocks the event loop.

The queue is off unless ``TaskQueue(enabled=True)`` or ``WOPR_TASKS_ENABLED``
is 1/true/True/yes. Off, it uses :class:`NoopStorage`: no file is created and
DuckDB is never imported.

Delivery is at-least-once. A task is stored PENDING before ``add_task``
returns; when workers start for a category, its PENDING and RETRY tasks in
storage are queued again, and tasks left STARTED by a process that died are
re-run as a retry (or end FAILED as interrupted when no retries are left).
Register task functions before ``start_workers`` so recovery can find them.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import itertools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec

from ..config import shutdown_timeout, tasks_enabled
from . import transitions
from .gateway import StorageGateway
from .models import TaskInfo, TaskPriority, TaskStatus
from .payload import storable_arguments, storable_result
from .progress import ProgressRecorder, reporting_to
from .recovery import find_recoverable

__all__ = ["ENABLE_HINT", "NoopStorage", "TaskPriority", "TaskQueue"]

logger = logging.getLogger("gobstopper.tasks")

F = TypeVar("F", bound=Callable[..., Any])
QueueEntry = tuple[int, int, str]

_STATS_WINDOW = 1000

#: How to turn tasks on, spelled as the reference documents it.
ENABLE_HINT = (
    "set WOPR_TASKS_ENABLED=1 in the environment (read when the queue is created), or create "
    "the queue with TaskQueue(enabled=True); for an app, assign app.task_queue = "
    "TaskQueue(enabled=True) before registering tasks"
)


class NoopStorage:
    """Storage that stores nothing, used while tasks are disabled."""

    def save_task(self, task_info: TaskInfo) -> None:
        """Ignore the task."""

    def get_task(self, task_id: str) -> TaskInfo | None:
        """Return None: nothing is stored."""
        return None

    def get_tasks(self, **kwargs: Any) -> list[TaskInfo]:
        """Return an empty list: nothing is stored."""
        return []

    def cleanup_old_tasks(self, **kwargs: Any) -> int:
        """Return 0: nothing is stored, nothing is deleted."""
        return 0


class TaskQueue:
    """Priority task queue with per-category worker pools.

    Attributes:
        enabled: Whether the task system is on.
        queues: Category name to ``asyncio.PriorityQueue`` of queued tasks.
        running_tasks: Task id to TaskInfo for tasks being executed.
        workers: Category name to its list of worker ``asyncio.Task``.
        shutdown_event: Set when ``shutdown()`` begins.
        task_functions: Task name to its registered function.
        ignored_starts: Categories whose ``start_workers`` did nothing
            because the queue is disabled (the app warns at startup).
    """

    def __init__(
        self,
        enabled: bool | None = None,
        storage_factory: Callable[[], Any] | None = None,
        *,
        backoff: Callable[[int], float] = transitions.default_backoff,
    ) -> None:
        """Create a queue; nothing is opened until it is used.

        Args:
            enabled: Turn tasks on or off; None reads ``WOPR_TASKS_ENABLED``.
            storage_factory: Builds the storage; default ``TaskStorage()``
                (DuckDB file ``wopr_tasks.duckdb`` in the working directory).
            backoff: Seconds to wait before retry number n (n starts at 1);
                default ``min(2**n, 60)``. Tests pass ``lambda n: 0``.
        """
        self.enabled = tasks_enabled() if enabled is None else bool(enabled)
        self.queues: dict[str, asyncio.PriorityQueue[QueueEntry]] = {}
        self.running_tasks: dict[str, TaskInfo] = {}
        self.workers: dict[str, list[asyncio.Task[None]]] = {}
        self.shutdown_event = asyncio.Event()
        self.task_functions: dict[str, Callable[..., Any]] = {}
        self.ignored_starts: set[str] = set()
        self._task_categories: dict[str, str] = {}
        self._storage: Any = None
        self._storage_factory = storage_factory
        self._storage_lock = threading.Lock()
        self._backoff = backoff
        self._gateway = StorageGateway(lambda: self.storage)
        # Tasks this process holds: queued, waiting to retry, or running.
        self._live: dict[str, TaskInfo] = {}
        self._sequence = itertools.count()
        self._last_created = datetime.min
        self._recovered: set[str] = set()
        self._busy: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[None]] = set()
        self._thread_pool: ThreadPoolExecutor | None = None
        self._stopping = False

    @property
    def storage(self) -> Any:
        """The storage backend, created on first access.

        NoopStorage while disabled; otherwise the factory's storage or a
        ``TaskStorage`` (DuckDB is imported here, not before).
        """
        if not self.enabled:
            return NoopStorage()
        if self._storage is None:
            # The storage thread and user code may both ask first: build once.
            with self._storage_lock:
                if self._storage is None:
                    self._storage = self._build_storage()
        return self._storage

    def _build_storage(self) -> Any:
        if self._storage_factory is not None:
            return self._storage_factory()
        from .storage import TaskStorage  # imports duckdb: only when used

        return TaskStorage()

    def register_task(self, name: str | None = None, category: str = "default") -> Callable[[F], F]:
        """Return a decorator registering a sync or async task function.

        ``name`` defaults to the function's ``__name__`` and must be unique
        across categories. The function is returned unchanged.

        Raises:
            ValueError: the name is already registered to another function
                or category.
        """

        def decorator(func: F) -> F:
            task_name = name or func.__name__
            known = self.task_functions.get(task_name)
            if known is not None and (
                known is not func or self._task_categories[task_name] != category
            ):
                raise ValueError(
                    f"task {task_name!r} is already registered in category "
                    f"{self._task_categories[task_name]!r}"
                )
            self.task_functions[task_name] = func
            self._task_categories[task_name] = category
            return func

        return decorator

    async def add_task(
        self,
        name: str,
        category: str = "default",
        priority: TaskPriority = TaskPriority.NORMAL,
        max_retries: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """Store a new task as PENDING, queue it and return its id.

        Extra positional and keyword arguments are passed to the task
        function. ``args=`` (a tuple or list) and ``kwargs=`` (a dict) are
        also accepted, Celery-style, and merged in. Arguments are checked and
        round-tripped through JSON here, so the function sees the same values
        whether it runs now or after a restart.

        Raises:
            RuntimeError: tasks are disabled or the queue is shutting down.
            KeyError: no task ``name`` is registered in ``category``.
            TypeError: an argument cannot be stored as JSON.
            ValueError: ``max_retries`` is negative.
        """
        self._check_open()
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if self._task_categories.get(name) != category:
            raise KeyError(f"no task {name!r} is registered in category {category!r}")
        call_args, call_kwargs = storable_arguments(args, kwargs)
        info = TaskInfo(
            id=str(uuid.uuid4()),
            name=name,
            category=category,
            priority=TaskPriority(priority),
            status=TaskStatus.PENDING,
            created_at=self._next_created_at(),
            max_retries=max_retries,
            args=call_args,
            kwargs=call_kwargs,
        )
        # Held before the save so a concurrent recovery does not queue it twice.
        self._live[info.id] = info
        try:
            await self._gateway.save(info)
        except BaseException:
            del self._live[info.id]
            raise
        self._enqueue(info)
        return info.id

    async def get_task_info(self, task_id: str) -> TaskInfo | None:
        """Return a snapshot of the task, or None if unknown or disabled.

        Tasks held by this process (queued, running, waiting to retry) are
        answered from memory, with live progress; others from storage.
        """
        if not self.enabled:
            return None
        info = self._live.get(task_id)
        if info is not None:
            return msgspec.structs.replace(info)
        return await self._gateway.call(lambda storage: storage.get_task(task_id))

    get_task = get_task_info

    async def cancel_task(self, task_id: str) -> bool:
        """Cancel a PENDING task; False if unknown, not PENDING or disabled."""
        if not self.enabled:
            return False
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

    async def retry_task(self, task_id: str) -> bool:
        """Queue a FAILED task again as PENDING, keeping its retry_count.

        Returns False if the task is unknown, not FAILED, its function is not
        registered in this process, or tasks are disabled.
        """
        if not self.enabled or task_id in self._live:
            return False
        info = await self._gateway.call(lambda storage: storage.get_task(task_id))
        if info is None or task_id in self._live:
            return False
        if self._task_categories.get(info.name) != info.category:
            return False
        if not transitions.reset_for_retry(info):
            return False
        self._live[info.id] = info
        await self._gateway.save(info)
        self._enqueue(info)
        return True

    async def get_task_stats(self) -> dict[str, Any]:
        """Return counts: total, by_status, by_category, running, queued.

        ``total``, ``by_status`` (keyed by status value) and ``by_category``
        cover the 1000 most recent stored tasks; ``running`` and ``queued``
        are this process's in-memory counts.
        """
        if not self.enabled:
            return {"total": 0, "by_status": {}, "by_category": {}, "running": 0, "queued": 0}
        recent = await self._gateway.call(lambda storage: storage.get_tasks(limit=_STATS_WINDOW))
        queued = sum(1 for info in self._live.values() if info.status is TaskStatus.PENDING)
        return {
            "total": len(recent),
            "by_status": dict(Counter(info.status.value for info in recent)),
            "by_category": dict(Counter(info.category for info in recent)),
            "running": len(self.running_tasks),
            "queued": queued,
        }

    async def start_workers(self, category: str = "default", worker_count: int = 1) -> None:
        """Start ``worker_count`` more workers for ``category``.

        The first call for a category first re-queues that category's
        unfinished tasks from storage (see the module docstring).

        Raises:
            ValueError: ``worker_count`` is less than 1.
            TaskStorageLockedError: another process holds the task database.
        """
        if not self.enabled:
            self.ignored_starts.add(category)
            return
        if worker_count < 1:
            raise ValueError("worker_count must be at least 1")
        self._check_open()
        if category not in self._recovered:
            self._recovered.add(category)
            try:
                await self._recover(category)
            except BaseException:
                self._recovered.discard(category)
                raise
        self._queue(category)
        pool = self.workers.setdefault(category, [])
        for _ in range(worker_count):
            pool.append(asyncio.create_task(self._work(category)))

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop workers, letting running tasks finish within ``timeout``.

        Tasks still running after ``timeout`` seconds (default
        ``WOPR_SHUTDOWN_TIMEOUT``, 10) are cancelled and stored PENDING so
        they run again next time; queued and retry-waiting tasks stay in
        storage. Storage is closed. Idempotent; the queue may be started
        again afterwards, on the same or another event loop.
        """
        if not self.enabled or self._stopping:
            return
        self._stopping = True
        self.shutdown_event.set()
        try:
            await self._stop_workers(shutdown_timeout() if timeout is None else timeout)
            for timer in self._timers:
                timer.cancel()
            await asyncio.gather(*self._timers, return_exceptions=True)
            await self._gateway.close()
        finally:
            if self._thread_pool is not None:
                self._thread_pool.shutdown(wait=False, cancel_futures=True)
                self._thread_pool = None
            self.queues, self.workers = {}, {}
            self._live.clear()
            self.running_tasks.clear()
            self._recovered.clear()
            self._timers.clear()
            self._stopping = False

    def _check_open(self) -> None:
        if not self.enabled:
            raise RuntimeError(f"the task queue is disabled: {ENABLE_HINT}")
        if self._stopping:
            raise RuntimeError("the task queue is shutting down")
        if self.shutdown_event.is_set():
            # Started again after a shutdown, possibly on a new event loop.
            self.shutdown_event = asyncio.Event()

    def _next_created_at(self) -> datetime:
        # Strictly increasing, so FIFO order survives a restart (recovery
        # sorts by created_at).
        now = transitions.utc_now()
        if now <= self._last_created:
            now = self._last_created + timedelta(microseconds=1)
        self._last_created = now
        return now

    def _queue(self, category: str) -> asyncio.PriorityQueue[QueueEntry]:
        queue = self.queues.get(category)
        if queue is None:
            queue = self.queues[category] = asyncio.PriorityQueue()
        return queue

    def _enqueue(self, info: TaskInfo) -> None:
        entry = (-info.priority.value, next(self._sequence), info.id)
        self._queue(info.category).put_nowait(entry)

    async def _recover(self, category: str) -> None:
        found = await self._gateway.call(lambda storage: find_recoverable(storage, category))
        runnable, changed = [], []
        for info in found:
            if info.id in self._live:
                continue
            if self._task_categories.get(info.name) != category:
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

    async def _work(self, category: str) -> None:
        queue = self._queue(category)
        worker = asyncio.current_task()
        assert worker is not None
        while not self.shutdown_event.is_set():
            _, _, task_id = await queue.get()
            info = self._live.get(task_id)
            if info is None:
                continue  # cancelled while queued
            self._busy.add(worker)
            try:
                await self._run(info)
            except Exception:
                # Storage failed before the function ran; the task is still
                # PENDING in storage, so the next start_workers runs it.
                self._live.pop(info.id, None)
                logger.exception("task %s (%r): could not mark it started", info.id, info.name)
            finally:
                self._busy.discard(worker)

    async def _run(self, info: TaskInfo) -> None:
        func = self.task_functions[info.name]
        transitions.start(info)
        self.running_tasks[info.id] = info
        try:
            # STARTED is committed before the function runs, so a crash is seen.
            # A storage error here propagates: the function has not run.
            await self._gateway.save(info)
            began = time.perf_counter()
            try:
                result = await self._invoke(func, info)
            except Exception as exc:
                self._fail(info, transitions.describe_error(exc), time.perf_counter() - began)
            else:
                self._succeed(info, result, time.perf_counter() - began)
        except asyncio.CancelledError:
            if info.status is TaskStatus.STARTED:
                # Shutdown ran out of time: store it PENDING so it runs again.
                transitions.requeue(info)
                self._save_in_background(info)
            raise
        finally:
            self.running_tasks.pop(info.id, None)

    async def _invoke(self, func: Callable[..., Any], info: TaskInfo) -> Any:
        loop = asyncio.get_running_loop()
        recorder = ProgressRecorder(info, loop, self._gateway.save)
        with reporting_to(recorder):
            if inspect.iscoroutinefunction(func):
                return await func(*info.args, **info.kwargs)
            context = contextvars.copy_context()
            call = functools.partial(context.run, func, *info.args, **info.kwargs)
            return await loop.run_in_executor(self._threads(), call)

    def _threads(self) -> ThreadPoolExecutor:
        if self._thread_pool is None:
            self._thread_pool = ThreadPoolExecutor(thread_name_prefix="gobstopper-task")
        return self._thread_pool

    def _succeed(self, info: TaskInfo, result: Any, elapsed: float) -> None:
        try:
            stored = storable_result(result)
        except TypeError as exc:
            # Running it again cannot make the result storable: no retries.
            self._fail(info, f"TypeError: {exc}", elapsed, retryable=False)
            return
        transitions.succeed(info, stored, elapsed)
        self._live.pop(info.id, None)
        self._save_in_background(info)

    def _fail(self, info: TaskInfo, error: str, elapsed: float, *, retryable: bool = True) -> None:
        if transitions.fail(info, error, elapsed, retryable=retryable):
            timer = asyncio.create_task(self._retry_later(info, self._backoff(info.retry_count)))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)
        else:
            self._live.pop(info.id, None)
        self._save_in_background(info)

    def _save_in_background(self, info: TaskInfo) -> None:
        # PERF: outcomes are not awaited, so the worker's next STARTED save joins
        # the same commit: one commit wait per task instead of two. Order is
        # kept (one storage thread) and shutdown flushes before closing.
        self._gateway.save(info).add_done_callback(_log_failed_save)

    async def _retry_later(self, info: TaskInfo, delay: float) -> None:
        await asyncio.sleep(delay)
        info.status = TaskStatus.PENDING
        self._enqueue(info)
        self._save_in_background(info)

    async def _stop_workers(self, timeout: float) -> None:
        workers = [worker for pool in self.workers.values() for worker in pool]
        busy = [worker for worker in workers if worker in self._busy]
        for worker in workers:
            if worker not in self._busy:
                worker.cancel()  # idle: waiting on an empty queue
        if busy:
            _, late = await asyncio.wait(busy, timeout=timeout)
            for worker in late:
                worker.cancel()
        for outcome in await asyncio.gather(*workers, return_exceptions=True):
            if isinstance(outcome, Exception):
                logger.error("task worker failed", exc_info=outcome)


def _log_failed_save(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("could not store a task's state", exc_info=future.exception())
