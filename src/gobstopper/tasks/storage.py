"""DuckDB storage for task records.

One table, ``tasks``, indexed on category, status, created_at and priority.
The file is created on first use, not when ``TaskStorage`` is built, and
``duckdb`` is imported only by the constructor, so importing this module
costs nothing. A ``TaskStorage`` is safe to share between threads (calls are
serialised by a lock), but DuckDB lets only one *process* open the file:
a second process gets ``TaskStorageLockedError``, which names the fix.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from .models import TERMINAL_STATUSES, TaskInfo, TaskPriority, TaskStatus
from .transitions import utc_now

__all__ = ["TaskStorage", "TaskStorageLockedError"]

_COLUMNS = (
    "id",
    "name",
    "category",
    "priority",
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "elapsed_seconds",
    "result",
    "error",
    "retry_count",
    "max_retries",
    "args",
    "kwargs",
    "progress",
    "progress_message",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM tasks"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    elapsed_seconds DOUBLE NOT NULL,
    result VARCHAR,
    error VARCHAR,
    retry_count INTEGER NOT NULL,
    max_retries INTEGER NOT NULL,
    args VARCHAR NOT NULL,
    kwargs VARCHAR NOT NULL,
    progress DOUBLE NOT NULL,
    progress_message VARCHAR NOT NULL
)
"""
_INDEXED = ("category", "status", "created_at", "priority")
# PERF: one multi-row statement per chunk; DuckDB's per-statement cost dominates
# single-row upserts (~4 ms each here); a 200-row statement costs ~0.2 ms a row.
_CHUNK = 200
_TERMINAL_VALUES = tuple(sorted(s.value for s in TERMINAL_STATUSES))

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class TaskStorageLockedError(RuntimeError):
    """The task database is held by another process.

    DuckDB lets one process at a time open a database file. Raised when a
    second one tries: a second instance of the app, a ``gobstopper tasks``
    command while the app runs, or another worker of the same server.
    """

    def __init__(self, db_path: str | Path, detail: str) -> None:
        super().__init__(
            f"Task database {str(db_path)!r} is locked by another process: DuckDB lets only "
            "one process open it, and another one holds it: a second instance of the app, "
            "another worker of the same server (more than one worker process), or a "
            "`gobstopper tasks` command. Fix: run one worker process per task database file "
            "(`gobstopper run --workers 1`, `granian --workers 1`), stop the other process, or "
            "give each instance its own file with TaskQueue(storage_factory=lambda: "
            f"TaskStorage('other.duckdb')). DuckDB said: {detail}"
        )


class TaskStorage:
    """DuckDB-backed task storage with upsert, queries and cleanup.

    Attributes:
        db_path: Path of the database file (created on first use).
        connection: The DuckDB connection, or None until first use.
    """

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
        self._duckdb = duckdb
        self.db_path = Path(db_path)
        self.connection: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        if self.connection is None:
            duckdb = self._duckdb
            try:
                connection = duckdb.connect(str(self.db_path))
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    raise TaskStorageLockedError(self.db_path.absolute(), str(exc)) from exc
                raise
            connection.execute(_SCHEMA)
            for column in _INDEXED:
                connection.execute(
                    f"CREATE INDEX IF NOT EXISTS idx_tasks_{column} ON tasks ({column})"
                )
            self.connection = connection
        return self.connection

    def close(self) -> None:
        """Close the connection; the next call opens it again."""
        with self._lock:
            if self.connection is not None:
                self.connection.close()
                self.connection = None

    def save_task(self, task_info: TaskInfo) -> None:
        """Insert or update one task (upsert on ``id``)."""
        self.save_tasks((task_info,))

    def save_tasks(self, tasks: Iterable[TaskInfo]) -> None:
        """Insert or update several tasks in one transaction.

        If the same id appears more than once, the last record wins.
        """
        rows = list({task.id: _to_row(task) for task in tasks}.values())
        if not rows:
            return
        with self._lock:
            connection = self._connect()
            if len(rows) <= _CHUNK:
                # One statement is atomic on its own; BEGIN/COMMIT would add cost.
                connection.execute(_upsert_sql(len(rows)), _flatten(rows))
                return
            connection.begin()
            try:
                for start in range(0, len(rows), _CHUNK):
                    chunk = rows[start : start + _CHUNK]
                    connection.execute(_upsert_sql(len(chunk)), _flatten(chunk))
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def get_task(self, task_id: str) -> TaskInfo | None:
        """Return the task with ``task_id``, or None if there is none."""
        with self._lock:
            row = self._connect().execute(f"{_SELECT} WHERE id = ?", [task_id]).fetchone()
        return None if row is None else _from_row(row)

    def get_tasks(
        self,
        category: str | None = None,
        status: TaskStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskInfo]:
        """Return tasks matching the filters, newest first.

        ``status`` may be a TaskStatus or its string value. ``limit`` and
        ``offset`` page through the results.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        clauses, params = [], []
        if category is not None:
            clauses.append("category = ?")
            params.append(category)
        if status is not None:
            clauses.append("status = ?")
            params.append(TaskStatus(status).value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{_SELECT}{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._connect().execute(sql, [*params, limit, offset]).fetchall()
        return [_from_row(row) for row in rows]

    def cleanup_old_tasks(
        self, days: int | None = None, months: int | None = None, years: int | None = None
    ) -> int:
        """Delete tasks finished before a cutoff; return how many.

        The retention period is ``days + 30*months + 365*years`` (cumulative).
        Only SUCCESS, FAILED and CANCELLED tasks are deleted; with no period
        given nothing is deleted and 0 is returned.
        """
        periods = (days, months, years)
        if all(period is None for period in periods):
            return 0
        if any(period is not None and period < 0 for period in periods):
            raise ValueError("retention periods must not be negative")
        keep = timedelta(days=(days or 0) + 30 * (months or 0) + 365 * (years or 0))
        cutoff = utc_now() - keep
        placeholders = ", ".join("?" for _ in _TERMINAL_VALUES)
        sql = (
            f"DELETE FROM tasks WHERE status IN ({placeholders}) "
            "AND COALESCE(completed_at, created_at) < ?"
        )
        with self._lock:
            row = self._connect().execute(sql, [*_TERMINAL_VALUES, cutoff]).fetchone()
        return int(row[0]) if row else 0

    def summarize(self) -> dict[str, Any]:
        """Count every stored task: ``total``, ``by_status``, ``by_category``."""
        with self._lock:
            connection = self._connect()
            by_status = connection.execute(
                "SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status"
            ).fetchall()
            by_category = connection.execute(
                "SELECT category, count(*) FROM tasks GROUP BY category ORDER BY category"
            ).fetchall()
        return {
            "total": sum(count for _, count in by_status),
            "by_status": dict(by_status),
            "by_category": dict(by_category),
        }


@lru_cache(maxsize=8)
def _upsert_sql(rows: int) -> str:
    one = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
    return f"INSERT OR REPLACE INTO tasks ({', '.join(_COLUMNS)}) VALUES " + ", ".join([one] * rows)


def _flatten(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _to_row(task: TaskInfo) -> tuple[Any, ...]:
    return (
        task.id,
        task.name,
        task.category,
        TaskPriority(task.priority).value,
        TaskStatus(task.status).value,
        _naive_utc(task.created_at),
        _naive_utc(task.started_at),
        _naive_utc(task.completed_at),
        float(task.elapsed_seconds),
        _encode(task.result).decode(),
        task.error,
        task.retry_count,
        task.max_retries,
        _encode(list(task.args)).decode(),
        _encode(task.kwargs).decode(),
        float(task.progress),
        task.progress_message,
    )


def _from_row(row: Sequence[Any]) -> TaskInfo:
    return TaskInfo(
        id=row[0],
        name=row[1],
        category=row[2],
        priority=TaskPriority(row[3]),
        status=TaskStatus(row[4]),
        created_at=row[5],
        started_at=row[6],
        completed_at=row[7],
        elapsed_seconds=row[8],
        result=None if row[9] is None else _decode(row[9]),
        error=row[10],
        retry_count=row[11],
        max_retries=row[12],
        args=tuple(_decode(row[13])),
        kwargs=_decode(row[14]),
        progress=row[15],
        progress_message=row[16],
    )
