"""Refuse, before forking, a task setup that cannot run in several processes.

One process at a time may open a DuckDB or SQLite task database, so an app
whose task queue stores tasks in one cannot run under ``gobstopper run
--workers N`` with N > 1: every worker but one would fail its startup.
``gobstopper run`` calls :func:`refuse_duckdb_with_many_workers` before
starting Granian, so the mistake is one clear message instead of N-1 failing
workers.
"""

from __future__ import annotations

from typing import Any

from .sql_storage import REDIS_HINT, SQLTaskStorage

__all__ = ["refuse_duckdb_with_many_workers"]


def refuse_duckdb_with_many_workers(app: Any, workers: int) -> str | None:
    """Return why ``app`` cannot run in ``workers`` processes, or None if it can.

    Only an enabled queue with registered tasks whose storage is a DuckDB
    ``TaskStorage`` or a ``SQLiteTaskStorage`` is refused; a disabled queue,
    an app without tasks, the Redis backend and custom storages pass. The
    storage object is built but not opened (no file is created, nothing
    connects).
    """
    if workers <= 1:
        return None
    queue = app.task_queue
    if not queue.enabled or not queue.task_functions:
        return None
    storage = queue.storage
    if not isinstance(storage, SQLTaskStorage):
        return None
    return (
        f"cannot run {workers} worker processes: this app's background tasks are stored in "
        f"{storage.ENGINE} ({str(storage.db_path)!r}), which one process at a time can open. "
        f"Use the Redis task backend, shared by every process: {REDIS_HINT}; or run with "
        "--workers 1."
    )
