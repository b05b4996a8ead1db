"""Hooks into the life of tasks, for metrics and tracing (``TaskQueue.add_observer``).

A ``TaskObserver`` is told when a task is queued (in the caller's context,
before the task is stored, so it may add to the record: tracing stores the
queuing span's ``traceparent`` there), wraps each attempt at running it (a
context manager entered in the worker around the function, so what it makes
current, a span, is current in the function too, thread-pool functions
included), and hears how each attempt ended while still inside that context.

A queue has no observers unless ``enable_metrics``/``enable_tracing`` (or the
user) adds some; without any, it costs one falsy check per queued task and
per attempt. An observer that raises is logged and ignored: it never fails a
task or stops a worker. An attempt cancelled by a shutdown that ran out of
time leaves its context but is not reported as ended (its task is stored
PENDING to run again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Protocol

from .models import TaskInfo

__all__ = [
    "TaskObserver",
    "attempt_context",
    "observe_app_tasks",
    "report_ended",
    "report_queued",
]

logger = logging.getLogger("gobstopper.tasks")


class TaskObserver(Protocol):
    """What a task queue calls as tasks are queued and run."""

    def task_queued(self, info: TaskInfo) -> None:
        """Called by ``add_task`` in the caller's context, before the task is stored.

        Fields set on ``info`` here are stored with the task.
        """

    def task_running(self, info: TaskInfo) -> AbstractContextManager[object]:
        """Return a context entered around one attempt (lookup, function, outcome).

        It is entered in the worker's context before the function is called,
        so context variables it sets are seen by the function, sync or async.
        """

    def attempt_ended(self, info: TaskInfo, seconds: float, error: BaseException | None) -> None:
        """Called, still inside ``task_running``, once the attempt's outcome is known.

        ``info.status`` tells it: ``SUCCESS``, ``RETRY`` (failed, will run
        again) or ``FAILED`` (for good). ``seconds`` is the attempt's run time;
        ``error`` the exception the function raised, if it raised one (a
        failure without one, such as a result that cannot be stored, has
        ``info.error`` only).
        """


def report_queued(observers: Sequence[TaskObserver], info: TaskInfo) -> None:
    """Tell each observer ``info`` is being queued; a failing one is logged."""
    for observer in observers:
        try:
            observer.task_queued(info)
        except Exception:
            logger.exception("task observer %r failed on queuing %s", observer, info.id)


def attempt_context(observers: Sequence[TaskObserver], info: TaskInfo) -> ExitStack:
    """Enter every observer's ``task_running`` context, in order; exiting the stack leaves them.

    Each is guarded: one that fails to enter or exit is logged and skipped,
    and none can swallow what the attempt raises (a shutdown's cancellation).
    """
    stack = ExitStack()
    for observer in observers:
        stack.enter_context(_Guarded(observer, info))
    return stack


def report_ended(
    observers: Sequence[TaskObserver], info: TaskInfo, seconds: float, error: BaseException | None
) -> None:
    """Tell each observer how the attempt ended; a failing one is logged."""
    for observer in observers:
        try:
            observer.attempt_ended(info, seconds, error)
        except Exception:
            logger.exception("task observer %r failed after an attempt of %s", observer, info.id)


class _Guarded:
    """One observer's ``task_running`` context, its errors logged, never raised."""

    __slots__ = ("_entered", "_info", "_observer")

    def __init__(self, observer: TaskObserver, info: TaskInfo) -> None:
        self._observer = observer
        self._info = info
        self._entered: AbstractContextManager[object] | None = None

    def __enter__(self) -> None:
        try:
            context = self._observer.task_running(self._info)
            context.__enter__()
        except Exception:
            logger.exception("task observer %r failed to start %s", self._observer, self._info.id)
        else:
            self._entered = context

    def __exit__(self, *exc_info: Any) -> None:
        # Returns None whatever the observer's exit says: nothing is swallowed.
        if self._entered is not None:
            try:
                self._entered.__exit__(*exc_info)
            except Exception:
                logger.exception("task observer %r failed to end %s", self._observer, self._info.id)


def observe_app_tasks(app: Any, observer: TaskObserver) -> None:
    """Add ``observer`` to ``app``'s task queue now, if it has one, and again at startup.

    Never creates a queue. The second try covers a queue assigned after the
    ``enable_*`` call (``app.task_queue = TaskQueue(...)``); adding is idempotent.
    """

    def attach() -> None:
        if app.has_task_queue:
            app.task_queue.add_observer(observer)

    attach()
    app.on_startup(attach)
