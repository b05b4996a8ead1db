"""Change stored tasks from outside a running queue (the ``gobstopper tasks`` CLI).

Works on either storage: a DuckDB ``TaskStorage`` (the app must be stopped:
one process per file) or a ``RedisTaskStorage`` (while apps run: the change
is a compare-and-set, and a manual retry goes straight back on its stream).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import transitions
from .models import TaskInfo
from .redis_storage import RedisTaskStorage

__all__ = ["cancel_stored", "retry_stored", "storage_of"]


def storage_of(queue: Any) -> Any:
    """The storage ``queue`` is configured with, built (not opened) even if disabled."""
    queue.enabled = True  # the CLI's shell rarely has WOPR_TASKS_ENABLED set
    return queue.storage


def cancel_stored(storage: Any, task_id: str) -> tuple[TaskInfo | None, bool]:
    """Cancel a PENDING task: (the task or None if unknown, whether it changed)."""
    if isinstance(storage, RedisTaskStorage):
        return _redis(storage, task_id, storage.cancel)
    return _stored(storage, task_id, transitions.cancel)


def retry_stored(storage: Any, task_id: str) -> tuple[TaskInfo | None, bool]:
    """Reset a FAILED task to PENDING: (the task or None if unknown, whether it changed).

    With Redis the task is queued at once; with DuckDB it runs when workers
    next start for its category.
    """
    if isinstance(storage, RedisTaskStorage):
        return _redis(storage, task_id, storage.requeue_failed)
    return _stored(storage, task_id, transitions.reset_for_retry)


def _redis(
    storage: RedisTaskStorage, task_id: str, change: Callable[[str], TaskInfo | None]
) -> tuple[TaskInfo | None, bool]:
    changed = change(task_id)
    if changed is not None:
        return changed, True
    return storage.get_task(task_id), False


def _stored(
    storage: Any, task_id: str, change: Callable[[TaskInfo], bool]
) -> tuple[TaskInfo | None, bool]:
    info = storage.get_task(task_id)
    if info is None or not change(info):
        return info, False
    storage.save_task(info)
    return info, True
