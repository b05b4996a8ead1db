"""Background tasks: a priority queue with workers, on DuckDB, SQLite or Redis.

Importing this package imports neither DuckDB nor redis; that happens only
when an enabled queue first touches its storage.
"""

from __future__ import annotations

from .models import TaskInfo, TaskPriority, TaskStatus
from .multiprocess import refuse_duckdb_with_many_workers
from .progress import report_progress
from .queue import NoopStorage, TaskQueue
from .redis_storage import RedisTaskStorage
from .sqlite_storage import SQLiteTaskStorage
from .storage import TaskStorage, TaskStorageLockedError

__all__ = [
    "NoopStorage",
    "RedisTaskStorage",
    "SQLiteTaskStorage",
    "TaskInfo",
    "TaskPriority",
    "TaskQueue",
    "TaskStatus",
    "TaskStorage",
    "TaskStorageLockedError",
    "refuse_duckdb_with_many_workers",
    "report_progress",
]
