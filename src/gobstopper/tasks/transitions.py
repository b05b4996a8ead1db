"""Status changes a task may go through, as plain functions.

The queue and the ``gobstopper tasks`` CLI both change task states; keeping
the rules here means a manual retry from the shell obeys the same rules as
``TaskQueue.retry_task``.
"""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

from .models import TaskInfo, TaskStatus

# A stored error stays readable in a terminal; the tail of a traceback is enough.
_TRACEBACK_FRAMES = 5
_MAX_ERROR_CHARS = 4000


def utc_now() -> datetime:
    """Return the current time as a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


def default_backoff(retry_count: int) -> float:
    """Return the delay before retry number ``retry_count``: min(2**n, 60)."""
    return float(min(2**retry_count, 60))


def describe_error(exc: BaseException) -> str:
    """Return ``Type: message`` followed by the last traceback frames."""
    headline = f"{type(exc).__name__}: {exc}"
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-_TRACEBACK_FRAMES))
    text = f"{headline}\nTraceback (most recent call last):\n{frames}" if frames else headline
    return text[:_MAX_ERROR_CHARS]


def start(info: TaskInfo) -> None:
    """Mark a task as picked up by a worker."""
    info.status = TaskStatus.STARTED
    info.started_at = utc_now()
    info.completed_at = None
    info.progress = 0.0
    info.progress_message = ""


def succeed(info: TaskInfo, result: object, elapsed: float) -> None:
    """Record a task's successful result."""
    info.status = TaskStatus.SUCCESS
    info.result = result
    info.error = None
    info.completed_at = utc_now()
    info.elapsed_seconds = elapsed
    info.progress = 100.0


def fail(info: TaskInfo, error: str, elapsed: float, *, retryable: bool = True) -> bool:
    """Record a failure; return True if the task gets another attempt.

    A retryable failure with retries left goes to RETRY with ``retry_count``
    raised by one; otherwise the task ends FAILED.
    """
    info.error = error
    info.elapsed_seconds = elapsed
    if retryable and info.retry_count < info.max_retries:
        info.retry_count += 1
        info.status = TaskStatus.RETRY
        return True
    info.status = TaskStatus.FAILED
    info.completed_at = utc_now()
    return False


def requeue(info: TaskInfo) -> None:
    """Put a task back to PENDING so a worker runs it from the start."""
    info.status = TaskStatus.PENDING
    info.started_at = None
    info.completed_at = None
    info.progress = 0.0
    info.progress_message = ""


def recover_interrupted(info: TaskInfo) -> bool:
    """Handle a task left STARTED by a process that died; True if re-run.

    The lost attempt counts as a retry. With no retries left the task ends
    FAILED with an error saying it was interrupted, so it is never dropped.
    """
    note = "Interrupted: the process running this task stopped before it finished"
    if info.retry_count < info.max_retries:
        info.retry_count += 1
        requeue(info)
        info.error = f"{note}; re-run as retry {info.retry_count} of {info.max_retries}"
        return True
    info.status = TaskStatus.FAILED
    info.completed_at = utc_now()
    info.error = f"{note}; no retries left (max_retries={info.max_retries})"
    return False


def cancel(info: TaskInfo) -> bool:
    """Cancel a PENDING task; return False for any other status."""
    if info.status is not TaskStatus.PENDING:
        return False
    info.status = TaskStatus.CANCELLED
    info.completed_at = utc_now()
    return True


def reset_for_retry(info: TaskInfo) -> bool:
    """Reset a FAILED task to PENDING for a manual retry.

    Clears error, result, timing and progress; ``retry_count`` is kept.
    Returns False for any status other than FAILED.
    """
    if info.status is not TaskStatus.FAILED:
        return False
    requeue(info)
    info.error = None
    info.result = None
    info.elapsed_seconds = 0.0
    return True
