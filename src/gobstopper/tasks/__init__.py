"""Background tasks: a priority queue with workers and DuckDB storage.

Importing this package does not import DuckDB; that happens only when an
enabled queue first touches its storage.
"""

from __future__ import annotations

from .models import TaskInfo, TaskPriority, TaskStatus
from .progress import report_progress
from .queue import NoopStorage, TaskQueue
from .storage import TaskStorage, TaskStorageLockedError

__all__ = [
    "NoopStorage",
    "TaskInfo",
    "TaskPriority",
    "TaskQueue",
    "TaskStatus",
    "TaskStorage",
    "TaskStorageLockedError",
    "report_progress",
]
