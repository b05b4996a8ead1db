"""DuckDB storage for task records (the default store).

One table, ``tasks``, keyed on ``id`` (the table, queries and row conversion
are shared with the SQLite store: ``sql_storage.py``). The file is created on
first use, not when ``TaskStorage`` is built, and ``duckdb`` is imported only
by the constructor, so importing this module costs nothing. DuckDB lets one
*process* open the file: a second process gets ``TaskStorageLockedError``,
which names the fix.

PERF: DuckDB's cost is per statement and per bound parameter, not per row
(duckdb 2.0.1, 2 cores). A whole batch of transitions - new tasks inserted,
changed tasks updated in place, no upsert - is one transaction of at most
two statements (``write``). Several rows travel as *one* JSON parameter
(msgspec encodes the TaskInfo structs) that DuckDB unpacks with
``from_json``: about 2.5 ms per statement plus 50 µs per row, where a
3,400-parameter INSERT of 200 rows cost 49 ms. One row is cheaper as a
plain parameterised statement (insert 1.2 ms, update 0.8-1.3 ms, against
2.5-3.5 ms through ``from_json``), and a batch of one row is what a single
worker coroutine mostly writes. UPDATE unpacks only the id and mutable
columns (0.7-0.9 ms less per batch). There is no index but the primary key:
DuckDB turns an UPDATE of an indexed column into a delete and an insert in
the index, which cost 20-30 % more per batch; the list queries scan (a
column scan with zone maps, milliseconds for a million rows). Databases
made by earlier versions lose those indexes when opened. Each commit waits
for one ``fdatasync`` of the write-ahead log (7-12 ms on the benchmark
machine's disk), which is what bounds a queue on DuckDB: see
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
    INDEXED,
    MUTABLE,
    NAMES,
    REDIS_HINT,
    ROW_SQL,
    RowWrite,
    SQLTaskStorage,
    TaskStorageLockedError,
    json_text,
    naive_utc,
    row_parameters,
)

__all__ = ["REDIS_HINT", "TaskStorage", "TaskStorageLockedError"]

_TYPES = {
    "text": "VARCHAR",
    "int": "INTEGER",
    "real": "DOUBLE",
    "time": "TIMESTAMP",
    "json": "VARCHAR",
}


def _unpacked_rows(names: tuple[str, ...]) -> str:
    """A subquery unpacking a JSON array parameter into rows of the ``names`` columns.

    result/args/kwargs arrive as JSON and are stored as their JSON text; keys
    of the objects not in ``names`` are ignored.
    """
    shape = ", ".join(
        f'"{name}": "{"JSON" if kind == "json" else _TYPES[kind]}"'
        for name, kind in COLUMNS
        if name in names
    )
    return f"(SELECT unnest(from_json(?::JSON, '[{{{shape}}}]'), recursive := true))"


_INSERT = (
    f"INSERT INTO tasks ({', '.join(NAMES)}) SELECT {', '.join(NAMES)} FROM {_unpacked_rows(NAMES)}"
)
#: Batches this small are written a row per statement, larger ones in one statement.
_ROW_BY_ROW_AT_MOST = 2
#: Each write as one statement taking a JSON array of rows.
_BATCH_SQL: dict[RowWrite, str] = {
    "insert": _INSERT,
    "update": (
        f"UPDATE tasks SET {', '.join(f'{name} = v.{name}' for name in MUTABLE)} "
        f"FROM {_unpacked_rows(('id', *MUTABLE))} AS v WHERE tasks.id = v.id"
    ),
    "upsert": _INSERT.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1),
}


class TaskStorage(SQLTaskStorage):
    """DuckDB-backed task storage with upsert, queries and cleanup.

    Attributes:
        db_path: Path of the database file (created on first use).
        connection: The DuckDB connection, or None until first use.
    """

    ENGINE = "DuckDB"
    SUFFIX = ".duckdb"
    TYPES = _TYPES
    INDEXES = ()

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
        for column in INDEXED:  # made by earlier versions: they slow every UPDATE
            connection.execute(f"DROP INDEX IF EXISTS idx_tasks_{column}")
        return connection

    def _write_rows(self, connection: Any, write: RowWrite, tasks: Sequence[TaskInfo]) -> None:
        if len(tasks) <= _ROW_BY_ROW_AT_MOST:
            for task in tasks:
                connection.execute(ROW_SQL[write], row_parameters(write, task, naive_utc))
        else:
            # One JSON array for ``from_json``, times as naive UTC.
            connection.execute(_BATCH_SQL[write], [json_text([_naive(task) for task in tasks])])

    def _is_one_statement(self, tasks: Sequence[TaskInfo]) -> bool:
        return len(tasks) == 1 or len(tasks) > _ROW_BY_ROW_AT_MOST

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
