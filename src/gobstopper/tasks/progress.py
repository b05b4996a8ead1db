"""Progress reporting from inside a running task.

A task function calls :func:`report_progress`; the queue has bound the
running task to a context variable, so no argument has to be threaded
through. It works in async tasks and in sync tasks (which run in a thread
with a copy of the context)::

    from gobstopper.tasks.progress import report_progress

    @queue.register_task("import_rows", category="imports")
    async def import_rows(rows: list) -> dict:
        for done, row in enumerate(rows, 1):
            await store(row)
            report_progress(100 * done / len(rows), f"{done}/{len(rows)} rows")
        return {"imported": len(rows)}

The new value is visible at once through ``TaskQueue.get_task_info`` and is
written to storage in the background, at most one write in flight per task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .models import TaskInfo, TaskStatus

__all__ = ["report_progress"]

logger = logging.getLogger("gobstopper.tasks")

Reporter = Callable[[float, str], None]

_reporter: ContextVar[Reporter | None] = ContextVar("gobstopper_task_progress", default=None)


def report_progress(percent: float, message: str = "") -> None:
    """Set the running task's progress (0-100) and progress message.

    Raises:
        RuntimeError: called outside a task run by a TaskQueue worker.
        ValueError: ``percent`` is not a number between 0 and 100.
    """
    reporter = _reporter.get()
    if reporter is None:
        raise RuntimeError("report_progress() must be called from inside a running task")
    value = float(percent)
    if math.isnan(value) or not 0.0 <= value <= 100.0:
        raise ValueError(f"progress must be between 0 and 100, got {percent!r}")
    reporter(value, str(message))


@contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Bind ``reporter`` as the target of report_progress() in this context."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


class ProgressRecorder:
    """Apply progress reports to a running task and persist them.

    Called from the event loop or from a worker thread. The TaskInfo is
    updated at once; persistence is scheduled on the loop, and while one
    write is in flight later reports are folded into a single follow-up
    write, so a chatty task cannot flood storage.
    """

    def __init__(
        self,
        info: TaskInfo,
        loop: asyncio.AbstractEventLoop,
        persist: Callable[[TaskInfo], asyncio.Future[None]],
    ) -> None:
        self._info = info
        self._loop = loop
        self._persist = persist
        self._lock = threading.Lock()
        self._in_flight = False
        self._dirty = False

    def __call__(self, percent: float, message: str) -> None:
        """Record a report; schedule a write unless one is in flight."""
        self._info.progress = percent
        self._info.progress_message = message
        with self._lock:
            if self._in_flight:
                self._dirty = True
                return
            self._in_flight = True
        try:
            self._loop.call_soon_threadsafe(self._write)
        except RuntimeError:
            # The loop has closed: the task was already recorded for a re-run.
            pass

    def _write(self) -> None:
        if self._info.status is not TaskStatus.STARTED:
            # The final save already carries the latest progress.
            with self._lock:
                self._in_flight = self._dirty = False
            return
        self._persist(self._info).add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("could not save task progress", exc_info=future.exception())
        with self._lock:
            again, self._dirty = self._dirty, False
            self._in_flight = again
        if again:
            self._write()
