"""Background tasks and WebSocket rooms as app attributes.

``app.task_queue`` and ``app.websocket_manager`` are created on first use,
so an app that uses neither imports neither.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from gobstopper.tasks.models import TaskPriority
    from gobstopper.tasks.queue import TaskQueue
    from gobstopper.websocket.manager import WebSocketManager

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _normal_priority() -> TaskPriority:
    """``TaskPriority.NORMAL``, imported on first use and kept.

    PERF: an ``import`` statement in ``add_background_task`` cost ~1 µs per call.
    """
    from gobstopper.tasks.models import TaskPriority

    return TaskPriority.NORMAL


class BackgroundTasksMixin:
    """``task``, ``add_background_task``, ``start_task_workers`` and the managers."""

    def _init_background_tasks(self) -> None:
        self._task_queue: TaskQueue | None = None
        self._websocket_manager: WebSocketManager | None = None

    @property
    def task_queue(self) -> TaskQueue:
        """The app's ``TaskQueue`` (enabled by ``WOPR_TASKS_ENABLED``)."""
        if self._task_queue is None:
            from gobstopper.tasks.queue import TaskQueue

            self._task_queue = TaskQueue()
        return self._task_queue

    @task_queue.setter
    def task_queue(self, queue: TaskQueue) -> None:
        self._task_queue = queue

    @property
    def has_task_queue(self) -> bool:
        """Whether the app has a task queue yet (reading ``task_queue`` would make one)."""
        return self._task_queue is not None

    @property
    def websocket_manager(self) -> WebSocketManager:
        """The app's ``WebSocketManager`` (rooms and broadcasts)."""
        if self._websocket_manager is None:
            from gobstopper.websocket.manager import WebSocketManager

            self._websocket_manager = WebSocketManager()
        return self._websocket_manager

    @websocket_manager.setter
    def websocket_manager(self, manager: WebSocketManager) -> None:
        self._websocket_manager = manager

    @property
    def has_websocket_manager(self) -> bool:
        """Whether the app has a WebSocket manager yet (reading ``websocket_manager`` makes one)."""
        return self._websocket_manager is not None

    def task(self, name: str | None = None, category: str = "default") -> Callable[[F], F]:
        """Register a background task function (async or sync) under ``name``."""

        def decorator(func: F) -> F:
            self.task_queue.register_task(name or func.__name__, category)(func)
            return func

        return decorator

    async def add_background_task(
        self,
        name: str,
        category: str = "default",
        priority: TaskPriority | None = None,
        max_retries: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """Queue task ``name``; returns its id (``KeyError`` if not registered)."""
        return await self.task_queue.add_task(
            name,
            category,
            priority if priority is not None else _normal_priority(),
            max_retries,
            *args,
            **kwargs,
        )

    async def start_task_workers(self, category: str = "default", worker_count: int = 1) -> None:
        """Start ``worker_count`` workers for ``category``."""
        await self.task_queue.start_workers(category, worker_count)

    def _warn_if_tasks_disabled(self) -> None:
        """Warn, once the app has started, about task setup a disabled queue ignores.

        ``task`` and ``start_task_workers`` quietly do nothing while tasks are
        off, so without this the mistake would first show as a 500 from
        ``add_background_task``.
        """
        queue = self._task_queue
        if queue is None or queue.enabled:
            return
        ignored = [
            *(f"task {name!r}" for name in sorted(queue.task_functions)),
            *(f"workers for {name!r}" for name in sorted(queue.ignored_starts)),
        ]
        if ignored:
            import logging  # loaded already: startup runs in an event loop

            from gobstopper.tasks.queue import ENABLE_HINT

            logging.getLogger("gobstopper.tasks").warning(
                "background tasks are disabled, so %s will never run: %s",
                ", ".join(ignored),
                ENABLE_HINT,
            )

    async def _ready_websocket_rooms(self) -> None:
        """Subscribe the app's room backplane before the first request is served,
        so a member here gets the first broadcast another process sends."""
        if self._websocket_manager is not None:
            await self._websocket_manager.ready()

    def _shutdown_cleanups(self) -> list[Callable[[], Any]]:
        """Cleanups run after the user's shutdown hooks."""
        cleanups: list[Callable[[], Any]] = []
        if self._websocket_manager is not None:
            cleanups.append(self._websocket_manager.close_all)
        if self._task_queue is not None:
            cleanups.append(self._task_queue.shutdown)
        return cleanups
