"""SQLite storage for task records: the standard library's OLTP engine.

The same ``tasks`` table, queries and guarantees as the DuckDB
``TaskStorage`` (shared in ``sql_storage.py``), on ``sqlite3`` in WAL mode:
select it with ``TaskQueue(storage_factory=lambda:
SQLiteTaskStorage("tasks.sqlite3"))``. Times are stored as ISO 8601 text
(``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC, fixed width so it sorts);
result, args and kwargs as JSON text.

One process at a time: the connection uses ``locking_mode=EXCLUSIVE`` and
takes the write lock when it opens, so a second process gets
``TaskStorageLockedError`` at once, as with DuckDB (the queue keeps its ready
queue in memory; two processes on one file would run each other's tasks).

PERF: a SQLite commit costs tens of microseconds of CPU where DuckDB's costs
milliseconds, so a worker coroutine waits far less for its task's STARTED
commit. ``synchronous`` decides what waits for the disk
(docs/tasks.md#sqlite): ``"FULL"`` (the default) syncs the log on every
commit, so a task whose ``add_task`` returned survives a power cut, as with
DuckDB; ``"NORMAL"`` syncs only at checkpoints, so a commit survives the
process being killed (``kill -9``, OOM) but the last ones may be lost in an
operating-system crash or power cut (the file is never corrupted).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from .models import TaskInfo
from .sql_storage import MUTABLE, NAMES, SQLTaskStorage, json_text, naive_utc

__all__ = ["SQLiteTaskStorage"]

Synchronous = Literal["FULL", "NORMAL"]

# UPDATE's parameters, picked from an INSERT row: the mutable columns, then id.
_UPDATE_PARAMETERS = itemgetter(*(NAMES.index(name) for name in (*MUTABLE, "id")))
_INSERT = f"INSERT INTO tasks ({', '.join(NAMES)}) VALUES ({', '.join('?' for _ in NAMES)})"


class SQLiteTaskStorage(SQLTaskStorage):
    """SQLite-backed task storage (WAL mode, one process per file).

    Attributes:
        db_path: Path of the database file (created on first use).
        connection: The ``sqlite3`` connection, or None until first use.
        synchronous: ``"FULL"`` or ``"NORMAL"`` (see the module docstring).
    """

    ENGINE = "SQLite"
    SUFFIX = ".sqlite3"
    TYPES = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "time": "TEXT", "json": "TEXT"}
    STATEMENT_IS_ATOMIC = False  # executemany in autocommit commits row by row
    INSERT = _INSERT
    UPSERT = _INSERT.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
    UPDATE = f"UPDATE tasks SET {', '.join(f'{name} = ?' for name in MUTABLE)} WHERE id = ?"

    def __init__(
        self, db_path: str | Path = "wopr_tasks.sqlite3", *, synchronous: Synchronous = "FULL"
    ) -> None:
        """Prepare storage for ``db_path`` without touching the file.

        Raises:
            ValueError: ``synchronous`` is neither ``"FULL"`` nor ``"NORMAL"``.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        super().__init__(db_path)
        self.synchronous = synchronous

    def _open(self) -> Any:
        import sqlite3  # 6 ms: imported when the store is first used, not with gobstopper.tasks

        # isolation_level=None: transactions are the explicit BEGIN/COMMIT of
        # the base class. timeout=0: a held file fails now, not after a wait.
        connection = sqlite3.connect(
            self.db_path, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            # EXCLUSIVE before WAL: the WAL index then lives in this process's
            # memory (no -shm file), and the lock, once taken, is never let go.
            connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            connection.execute("BEGIN IMMEDIATE")  # takes the lock now, not at first write
            for statement in self.schema():
                connection.execute(statement)
            connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            connection.close()
            if "locked" in str(exc).lower():
                raise self._locked(str(exc)) from exc
            raise
        return connection

    def _rows(self, tasks: Sequence[TaskInfo]) -> list[tuple[Any, ...]]:
        return [
            (
                task.id,
                task.name,
                task.category,
                task.priority.value,
                task.status.value,
                _time_text(task.created_at),
                _optional_time_text(task.started_at),
                _optional_time_text(task.completed_at),
                task.elapsed_seconds,
                None if task.result is None else json_text(task.result),
                task.error,
                task.retry_count,
                task.max_retries,
                json_text(task.args),
                json_text(task.kwargs),
                task.progress,
                task.progress_message,
            )
            for task in tasks
        ]

    def _changes(self, tasks: Sequence[TaskInfo]) -> list[tuple[Any, ...]]:
        return [_UPDATE_PARAMETERS(row) for row in self._rows(tasks)]

    def _execute_batch(self, connection: Any, sql: str, batch: list[tuple[Any, ...]]) -> None:
        connection.executemany(sql, batch)

    def _time_parameter(self, value: datetime) -> str:
        return _time_text(value)

    def _read_time(self, value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def _time_text(value: datetime) -> str:
    # Fixed width (microseconds always written), so text order is time order.
    return naive_utc(value).isoformat(" ", "microseconds")


def _optional_time_text(value: datetime | None) -> str | None:
    return None if value is None else _time_text(value)
