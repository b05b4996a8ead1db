"""DuckDB storage for task records (the default store).

One table, ``tasks``, indexed on category, status, created_at and priority
(the table, queries and row conversion are shared with the SQLite store:
``sql_storage.py``). The file is created on first use, not when
``TaskStorage`` is built, and ``duckdb`` is imported only by the
constructor, so importing this module costs nothing. DuckDB lets one
*process* open the file: a second process gets ``TaskStorageLockedError``,
which names the fix.

PERF: DuckDB's cost is per statement and per bound parameter, not per row
(duckdb 2.0.1, 2 cores: a one-row ``INSERT OR REPLACE`` costs 5.7-7 ms CPU,
a 200-row one with 3,400 ``?`` parameters 49 ms). So rows travel as *one*
JSON parameter (msgspec encodes the TaskInfo structs) that DuckDB unpacks
with ``from_json``: 200 rows cost 10 ms, and a whole batch of transitions -
new tasks inserted, changed tasks updated in place, no upsert - is one
transaction of at most two statements (``write``): 200 inserts plus 400
updates in 13-25 ms, against 4 ms for one row the old way. Each commit
waits for one ``fdatasync`` of the write-ahead log (7-12 ms on the
benchmark machine's disk), which is what bounds a queue on DuckDB: see
docs/tasks.md#performance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from .models import TaskInfo
from .sql_storage import (
    COLUMNS,
    MUTABLE,
    NAMES,
    REDIS_HINT,
    SQLTaskStorage,
    TaskStorageLockedError,
    json_text,
    naive_utc,
)

__all__ = ["REDIS_HINT", "TaskStorage", "TaskStorageLockedError"]

_TYPES = {
    "text": "VARCHAR",
    "int": "INTEGER",
    "real": "DOUBLE",
    "time": "TIMESTAMP",
    "json": "VARCHAR",
}
# The shape ``from_json`` unpacks a batch into: result/args/kwargs arrive as
# JSON and are stored as their JSON text.
_SHAPE = ", ".join(
    f'"{name}": "{"JSON" if kind == "json" else _TYPES[kind]}"' for name, kind in COLUMNS
)
_ROWS = f"(SELECT unnest(from_json(?::JSON, '[{{{_SHAPE}}}]'), recursive := true))"
_INSERT = f"INSERT INTO tasks ({', '.join(NAMES)}) SELECT {', '.join(NAMES)} FROM {_ROWS}"


class TaskStorage(SQLTaskStorage):
    """DuckDB-backed task storage with upsert, queries and cleanup.

    Attributes:
        db_path: Path of the database file (created on first use).
        connection: The DuckDB connection, or None until first use.
    """

    ENGINE = "DuckDB"
    SUFFIX = ".duckdb"
    TYPES = _TYPES
    STATEMENT_IS_ATOMIC = True
    INSERT = _INSERT
    UPSERT = _INSERT.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
    UPDATE = (
        f"UPDATE tasks SET {', '.join(f'{name} = v.{name}' for name in MUTABLE)} "
        f"FROM {_ROWS} AS v WHERE tasks.id = v.id"
    )

    def __init__(self, db_path: str | Path = "wopr_tasks.duckdb") -> None:
        """Prepare storage for ``db_path`` without touching the file.

        Raises:
            ImportError: duckdb is not installed (``pip install gobstopper[tasks]``).
        """
        try:
            import duckdb  # heavy: imported only when task storage is really used
        except ImportError as exc:
            raise ImportError(
                "TaskStorage needs DuckDB: install it with `pip install gobstopper[tasks]`"
            ) from exc
        super().__init__(db_path)
        self._duckdb = duckdb

    def _open(self) -> Any:
        duckdb = self._duckdb
        try:
            connection = duckdb.connect(str(self.db_path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise self._locked(str(exc)) from exc
            raise
        # PERF: the queue's statements are small; on one thread they skip
        # waking DuckDB's pool: 5-20% less CPU per commit (duckdb 2.0.1, 2 cores).
        connection.execute("SET threads = 1")
        for statement in self.schema():
            connection.execute(statement)
        return connection

    def _rows(self, tasks: Sequence[TaskInfo]) -> str:
        # One JSON array for ``from_json``, times as naive UTC.
        return json_text([_naive(task) for task in tasks])

    def _changes(self, tasks: Sequence[TaskInfo]) -> str:
        # UPDATE reads the id and mutable fields of the same rows.
        return self._rows(tasks)

    def _execute_batch(self, connection: Any, sql: str, batch: str) -> None:
        connection.execute(sql, [batch])

    def _time_parameter(self, value: datetime) -> datetime:
        return value

    def _read_time(self, value: datetime | None) -> datetime | None:
        return value


def _naive(task: TaskInfo) -> TaskInfo:
    times = (task.created_at, task.started_at, task.completed_at)
    if all(value is None or value.tzinfo is None for value in times):
        return task
    return msgspec.structs.replace(
        task,
        created_at=naive_utc(task.created_at),
        started_at=None if task.started_at is None else naive_utc(task.started_at),
        completed_at=None if task.completed_at is None else naive_utc(task.completed_at),
    )
