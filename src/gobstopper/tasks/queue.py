"""The background task queue: registration, queuing, workers, recovery.

Tasks are grouped by category; each category has a priority queue (higher
priority first, FIFO within a priority) and its own pool of asyncio workers.
Async task functions run on the event loop; sync ones run in a thread pool.
Where tasks are kept and how workers get them is the backend's business
(``backend.py``): in one process, an in-memory queue over DuckDB written by
one storage thread (``local.py``); across processes, Redis streams
(``redis_backend.py``), chosen with ``storage_factory=lambda:
RedisTaskStorage(url)``.

The queue is off unless ``TaskQueue(enabled=True)`` or ``WOPR_TASKS_ENABLED``
is 1/true/True/yes. Off, it uses :class:`NoopStorage`: no file is created and
DuckDB is never imported.

Delivery is at-least-once. A task is stored PENDING before ``add_task``
returns, and STARTED before its function runs; a task left STARTED by a
process that died is re-run as a retry (or ends FAILED as interrupted when no
retries are left). Register task functions before ``start_workers`` so
recovery can find them.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec

from ..config import shutdown_timeout, tasks_enabled
from . import transitions
from .backend import TaskBackend
from .local import LocalBackend
from .models import TaskInfo, TaskPriority, TaskStatus, new_task_id
from .observers import TaskObserver, attempt_context, report_ended, report_queued
from .payload import storable_arguments, storable_result
from .progress import ProgressRecorder, reporting_to

__all__ = ["ENABLE_HINT", "NoopStorage", "TaskPriority", "TaskQueue"]

logger = logging.getLogger("gobstopper.tasks")

F = TypeVar("F", bound=Callable[..., Any])

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
        queues: Category name to this process's queue of ready tasks.
        running_tasks: Task id to TaskInfo for tasks being executed.
        workers: Category name to its list of worker ``asyncio.Task``.
        shutdown_event: Set when ``shutdown()`` begins.
        task_functions: Task name to its registered function.
        ignored_starts: Categories whose ``start_workers`` did nothing
            because the queue is disabled (the app warns at startup).
        observers: Told as tasks are queued and run (``add_observer``;
            metrics and tracing add theirs); empty by default.
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
                (DuckDB file ``wopr_tasks.duckdb`` in the working directory,
                one process). ``SQLiteTaskStorage(path)`` keeps the same
                records in SQLite (one process, faster commits);
                ``RedisTaskStorage(url)`` selects the Redis backend (many
                processes and machines).
            backoff: Seconds to wait before retry number n (n starts at 1);
                default ``min(2**n, 60)``. Tests pass ``lambda n: 0``.
        """
        self.enabled = tasks_enabled() if enabled is None else bool(enabled)
        self.running_tasks: dict[str, TaskInfo] = {}
        self.workers: dict[str, list[asyncio.Task[None]]] = {}
        self.shutdown_event = asyncio.Event()
        self.task_functions: dict[str, Callable[..., Any]] = {}
        self.ignored_starts: set[str] = set()
        self.observers: list[TaskObserver] = []
        self._task_categories: dict[str, str] = {}
        self._storage: Any = None
        self._storage_factory = storage_factory
        self._storage_lock = threading.Lock()
        self._backoff = backoff
        self._backend: TaskBackend | None = None
        self._last_created = datetime.min
        self._busy: set[asyncio.Task[Any]] = set()
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

    @property
    def queues(self) -> Mapping[str, asyncio.Queue[Any]]:
        """Category name to this process's queue of tasks ready to run."""
        return {} if self._backend is None else self._backend.queues

    @property
    def backend(self) -> TaskBackend:
        """The backend keeping and handing out tasks, built on first use.

        A storage whose class has ``open_backend()`` (``RedisTaskStorage``)
        supplies its own; any other storage gets the one-process
        ``LocalBackend``.
        """
        if self._backend is None:
            storage = self.storage
            if callable(getattr(type(storage), "open_backend", None)):
                self._backend = storage.open_backend()
            else:
                self._backend = LocalBackend(lambda: self.storage, self._task_categories.get)
        return self._backend

    def add_observer(self, observer: TaskObserver) -> None:
        """Tell ``observer`` about every task queued and run from now on (idempotent).

        See ``gobstopper.tasks.observers``: metrics and tracing use this.
        """
        if observer not in self.observers:
            self.observers.append(observer)

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
        whether it runs now or after a restart. Returns once the task is
        committed to storage (group-committed with concurrent calls).

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
            id=new_task_id(),
            name=name,
            category=category,
            # PERF: an enum call costs 0.5 µs; most callers pass a TaskPriority.
            priority=priority if type(priority) is TaskPriority else TaskPriority(priority),
            status=TaskStatus.PENDING,
            created_at=self._next_created_at(),
            max_retries=max_retries,
            args=call_args,
            kwargs=call_kwargs,
        )
        if self.observers:
            report_queued(self.observers, info)
        await self.backend.submit(info)
        return info.id

    async def get_task_info(self, task_id: str) -> TaskInfo | None:
        """Return a snapshot of the task, or None if unknown or disabled.

        Tasks running in this process are answered from memory, with live
        progress; others from the backend.
        """
        if not self.enabled:
            return None
        info = self.running_tasks.get(task_id)
        if info is not None:
            return msgspec.structs.replace(info)
        return await self.backend.get(task_id)

    get_task = get_task_info

    async def cancel_task(self, task_id: str) -> bool:
        """Cancel a PENDING task; False if unknown, not PENDING or disabled."""
        if not self.enabled:
            return False
        return await self.backend.cancel(task_id)

    async def retry_task(self, task_id: str) -> bool:
        """Queue a FAILED task again as PENDING, keeping its retry_count.

        Returns False if the task is unknown, not FAILED, its function is not
        registered in this process, or tasks are disabled.
        """
        if not self.enabled:
            return False
        return await self.backend.retry(
            task_id, lambda info: self._task_categories.get(info.name) == info.category
        )

    async def get_task_stats(self) -> dict[str, Any]:
        """Return counts: total, by_status, by_category, running, queued.

        ``total``, ``by_status`` (keyed by status value) and ``by_category``
        cover the 1000 most recent stored tasks; ``running`` and ``queued``
        are this process's in-memory counts.
        """
        if not self.enabled:
            return {"total": 0, "by_status": {}, "by_category": {}, "running": 0, "queued": 0}
        backend = self.backend
        recent = await backend.recent(_STATS_WINDOW)
        return {
            "total": len(recent),
            "by_status": dict(Counter(info.status.value for info in recent)),
            "by_category": dict(Counter(info.category for info in recent)),
            "running": len(self.running_tasks),
            "queued": backend.queued(),
        }

    async def start_workers(self, category: str = "default", worker_count: int = 1) -> None:
        """Start ``worker_count`` more workers for ``category``.

        The first call for a category first gets it ready: the one-process
        backend re-queues that category's unfinished tasks from storage (see
        the module docstring); the Redis backend joins its consumer group.

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
        backend = self.backend
        await backend.prepare(category)
        pool = self.workers.setdefault(category, [])
        for _ in range(worker_count):
            pool.append(asyncio.create_task(self._work(backend, category)))

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
            if self._backend is not None:
                await self._backend.close()
        finally:
            if self._thread_pool is not None:
                self._thread_pool.shutdown(wait=False, cancel_futures=True)
                self._thread_pool = None
            self._backend = None
            self.workers = {}
            self.running_tasks.clear()
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

    async def _work(self, backend: TaskBackend, category: str) -> None:
        worker = asyncio.current_task()
        assert worker is not None
        while not self.shutdown_event.is_set():
            info = await backend.take(category)
            self._busy.add(worker)
            try:
                if await backend.start(info):
                    await self._run(backend, info)
            finally:
                self._busy.discard(worker)

    async def _run(self, backend: TaskBackend, info: TaskInfo) -> None:
        self.running_tasks[info.id] = info
        try:
            observers = self.observers
            if observers:
                with attempt_context(observers, info):
                    seconds, error = await self._attempt(backend, info)
                    report_ended(observers, info, seconds, error)
            else:
                await self._attempt(backend, info)
        except asyncio.CancelledError:
            if info.status is TaskStatus.STARTED:
                # Shutdown ran out of time: store it PENDING so it runs again.
                transitions.requeue(info)
                backend.release(info)
            raise
        finally:
            self.running_tasks.pop(info.id, None)

    async def _attempt(
        self, backend: TaskBackend, info: TaskInfo
    ) -> tuple[float, BaseException | None]:
        """Run the task once and store the outcome; return its seconds and any error raised."""
        began = time.perf_counter()
        func = self.task_functions.get(info.name)
        if func is None or self._task_categories[info.name] != info.category:
            # Only another process's queue can hand out such a task.
            error = (
                f"KeyError: no task {info.name!r} is registered in category "
                f"{info.category!r} in the worker process that took it"
            )
            self._fail(backend, info, error, 0.0, retryable=False)
            return 0.0, None
        try:
            result = await self._invoke(backend, func, info)
        except Exception as exc:
            elapsed = time.perf_counter() - began
            self._fail(backend, info, transitions.describe_error(exc), elapsed)
            return elapsed, exc
        elapsed = time.perf_counter() - began
        self._succeed(backend, info, result, elapsed)
        return elapsed, None

    async def _invoke(self, backend: TaskBackend, func: Callable[..., Any], info: TaskInfo) -> Any:
        loop = asyncio.get_running_loop()
        recorder = ProgressRecorder(info, loop, backend.record)
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

    def _succeed(self, backend: TaskBackend, info: TaskInfo, result: Any, elapsed: float) -> None:
        try:
            stored = storable_result(result)
        except TypeError as exc:
            # Running it again cannot make the result storable: no retries.
            self._fail(backend, info, f"TypeError: {exc}", elapsed, retryable=False)
            return
        transitions.succeed(info, stored, elapsed)
        backend.record(info).add_done_callback(_log_failed_save)

    def _fail(
        self,
        backend: TaskBackend,
        info: TaskInfo,
        error: str,
        elapsed: float,
        *,
        retryable: bool = True,
    ) -> None:
        if transitions.fail(info, error, elapsed, retryable=retryable):
            backend.retry_later(info, self._backoff(info.retry_count))
        else:
            backend.record(info).add_done_callback(_log_failed_save)

    async def _stop_workers(self, timeout: float) -> None:
        workers = [worker for pool in self.workers.values() for worker in pool]
        busy = [worker for worker in workers if worker in self._busy]
        for worker in workers:
            if worker not in self._busy:
                worker.cancel()  # idle: waiting for a task
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
