"""Task data models: status, priority and the TaskInfo record.

TaskInfo is a ``msgspec.Struct`` so it is cheap to copy and to encode for
storage. Datetimes are timezone-naive and, when the queue sets them, UTC.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import Enum
from typing import Any

import msgspec

__all__ = ["TaskInfo", "TaskPriority", "TaskStatus", "new_task_id"]


class TaskStatus(Enum):
    """Where a task is in its lifecycle.

    RETRY is transient: the task failed, waits out its backoff delay and is
    queued again as PENDING.
    """

    PENDING = "pending"
    STARTED = "started"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY = "retry"


class TaskPriority(Enum):
    """Queue order within a category: a higher value runs first.

    ``URGENT`` is another name for ``CRITICAL`` (same member, value 4): the
    reference uses both names for the top level.
    """

    LOW = 1
    NORMAL = 2
    HIGH = 3
    CRITICAL = 4
    URGENT = 4


TERMINAL_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskInfo(msgspec.Struct, kw_only=True):
    """A task's metadata, arguments and execution state.

    ``result``, ``args`` and ``kwargs`` must be JSON-serialisable: the queue
    checks them and stores them as JSON. ``progress`` runs from 0.0 to 100.0.
    ``trace_parent`` is the W3C ``traceparent`` of the span that queued the
    task, kept when tracing is enabled (``app.enable_tracing``) so the task's
    span, in whatever process runs it, links to it; None otherwise.
    """

    id: str
    name: str
    category: str
    priority: TaskPriority
    status: TaskStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    elapsed_seconds: float = 0.0
    result: Any = None
    error: str | None = None
    retry_count: int = 0
    max_retries: int = 0
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    progress: float = 0.0
    progress_message: str = ""
    trace_parent: str | None = None

    @property
    def is_running(self) -> bool:
        """True while a worker is executing the task (status STARTED)."""
        return self.status is TaskStatus.STARTED

    @property
    def is_completed(self) -> bool:
        """True in a terminal state: SUCCESS, FAILED or CANCELLED."""
        return self.status in TERMINAL_STATUSES


def new_task_id() -> str:
    """Return a random (version 4) UUID in its canonical text form.

    What ``str(uuid.uuid4())`` returns, from the same ``os.urandom``, without
    building a ``UUID`` object: 2 µs instead of 5 on the ``add_task`` path.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
