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
from pathlib import Path
from typing import Any, Literal

from .models import TaskInfo
from .sql_storage import ROW_SQL, RowWrite, SQLTaskStorage, naive_utc, row_parameters

__all__ = ["SQLiteTaskStorage"]

Synchronous = Literal["FULL", "NORMAL"]


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

    def _write_rows(self, connection: Any, write: RowWrite, tasks: Sequence[TaskInfo]) -> None:
        # Not one statement: executemany in autocommit would commit row by row.
        connection.executemany(
            ROW_SQL[write], [row_parameters(write, task, _time_text) for task in tasks]
        )

    def _time_parameter(self, value: datetime) -> str:
        return _time_text(value)

    def _read_time(self, value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def _time_text(value: datetime) -> str:
    # Fixed width (microseconds always written), so text order is time order.
    return naive_utc(value).isoformat(" ", "microseconds")
