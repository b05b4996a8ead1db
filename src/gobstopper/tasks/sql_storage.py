"""What the SQL task stores share: the ``tasks`` table, its queries, its rows.

``TaskStorage`` (DuckDB, ``storage.py``) and ``SQLiteTaskStorage``
(``sqlite_storage.py``) keep the same table with the same meaning and answer
the same calls. This base class holds everything that does not depend on the
engine: the columns, the read and delete queries, batching and transactions,
the one-lock-per-store threading rule, and the conversion of a row back to a
``TaskInfo``. A subclass supplies the connection, the column types, and how a
batch of rows reaches its engine (DuckDB: one row's parameters, or one JSON
parameter for several rows; SQLite: ``executemany``).

A store is safe to share between threads (calls are serialised by a lock),
and one *process* at a time may open a database file: a second one gets
``TaskStorageLockedError``, which names the fix. The queue keeps its ready
queue in memory, so two processes on one file would each re-queue, and run,
the other's tasks.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar, Literal

import msgspec

from .backend import TaskPage, TaskQuery, TaskTally
from .models import TERMINAL_STATUSES, TaskInfo, TaskPriority, TaskStatus
from .transitions import utc_now

__all__ = [
    "COLUMNS",
    "INDEXED",
    "MUTABLE",
    "NAMES",
    "REDIS_HINT",
    "ROW_SQL",
    "RowWrite",
    "SQLTaskStorage",
    "TaskStorageLockedError",
    "json_text",
    "naive_utc",
    "row_parameters",
]

#: How to select the task backend that works across processes and machines.
REDIS_HINT = (
    "TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage('redis://host:6379/0')) "
    "with RedisTaskStorage from gobstopper.tasks"
)

#: Every column of ``tasks``, in order, with its kind: text, int, real, time
#: (a naive UTC timestamp) or json (a value stored as its JSON text).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "text"),
    ("name", "text"),
    ("category", "text"),
    ("priority", "int"),
    ("status", "text"),
    ("created_at", "time"),
    ("started_at", "time"),
    ("completed_at", "time"),
    ("elapsed_seconds", "real"),
    ("result", "json"),
    ("error", "text"),
    ("retry_count", "int"),
    ("max_retries", "int"),
    ("args", "json"),
    ("kwargs", "json"),
    ("progress", "real"),
    ("progress_message", "text"),
    ("trace_parent", "text"),
)
#: Columns that may be NULL. A column added after the first release must be one:
#: ``add_missing_columns`` adds it to databases made before it existed.
_NULLABLE = frozenset({"started_at", "completed_at", "result", "error", "trace_parent"})
NAMES = tuple(name for name, _ in COLUMNS)
#: What a task's life changes; the rest is fixed when it is queued.
MUTABLE = (
    "status",
    "started_at",
    "completed_at",
    "elapsed_seconds",
    "result",
    "error",
    "retry_count",
    "progress",
    "progress_message",
)
INDEXED = ("category", "status", "created_at", "priority")
#: The writes a batch is made of: new rows, changed rows, or rows either way (``save_tasks``).
RowWrite = Literal["insert", "update", "upsert"]
_ROW_INSERT = f"INSERT INTO tasks ({', '.join(NAMES)}) VALUES ({', '.join('?' for _ in NAMES)})"
#: Each write as a statement taking one row's parameters (``row_parameters``).
ROW_SQL: Mapping[RowWrite, str] = {
    "insert": _ROW_INSERT,
    "update": f"UPDATE tasks SET {', '.join(f'{name} = ?' for name in MUTABLE)} WHERE id = ?",
    "upsert": _ROW_INSERT.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1),
}
# UPDATE's parameters, picked from an INSERT row: the mutable columns, then id.
_UPDATE_PARAMETERS = itemgetter(*(NAMES.index(name) for name in (*MUTABLE, "id")))
_TERMINAL_VALUES = tuple(sorted(s.value for s in TERMINAL_STATUSES))
_SELECT = f"SELECT {', '.join(NAMES)} FROM tasks"
#: What LIKE would take as a wildcard (or as its escape) in a search text.
_LIKE_SPECIAL = re.compile(r"[\\%_]")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class TaskStorageLockedError(RuntimeError):
    """The task database is held by another process.

    One process at a time may open a task database file. Raised when a
    second one tries: a second instance of the app, a ``gobstopper tasks``
    command while the app runs, or another worker of the same server.
    """

    def __init__(
        self,
        db_path: str | Path,
        detail: str,
        *,
        engine: str = "DuckDB",
        example: str = "TaskStorage('other.duckdb')",
    ) -> None:
        super().__init__(
            f"Task database {str(db_path)!r} is locked by another process: one process at a "
            "time may open it, and another one holds it: a second instance of the app, "
            "another worker of the same server (more than one worker process), or a "
            "`gobstopper tasks` command. Fix: for several worker processes or machines use "
            f"the Redis task backend ({REDIS_HINT}); otherwise run one worker process per task "
            "database file (`gobstopper run --workers 1`, `granian --workers 1`), stop the "
            "other process, or give each instance its own file with "
            f"TaskQueue(storage_factory=lambda: {example}). {engine} said: {detail}"
        )


class SQLTaskStorage(ABC):
    """Task records in one SQL table: upsert, batches, queries, cleanup.

    Attributes:
        db_path: Path of the database file (created on first use).
        connection: The engine's connection, or None until first use.
    """

    #: The engine's name, for messages.
    ENGINE: ClassVar[str]
    #: The file suffix of the engine's databases, for messages.
    SUFFIX: ClassVar[str]
    #: Engine type of each column kind (see ``COLUMNS``).
    TYPES: ClassVar[Mapping[str, str]]
    #: Columns with an index of their own.
    INDEXES: ClassVar[tuple[str, ...]] = INDEXED

    def __init__(self, db_path: str | Path) -> None:
        """Prepare storage for ``db_path`` without touching the file."""
        self.db_path = Path(db_path)
        self.connection: Any = None
        self._lock = threading.Lock()

    @abstractmethod
    def _open(self) -> Any:
        """Open the file, take it for this process, return the connection.

        Raises:
            TaskStorageLockedError: another process holds the file.
        """

    @abstractmethod
    def _write_rows(self, connection: Any, write: RowWrite, tasks: Sequence[TaskInfo]) -> None:
        """Insert, update or upsert the rows of ``tasks`` (at least one)."""

    def _is_one_statement(self, tasks: Sequence[TaskInfo]) -> bool:
        """Whether ``_write_rows`` writes ``tasks`` in one statement (atomic without BEGIN)."""
        return False

    @abstractmethod
    def _time_parameter(self, value: datetime) -> Any:
        """Return ``value`` (naive UTC) as the engine compares it with a column."""

    @abstractmethod
    def _read_time(self, value: Any) -> datetime | None:
        """Return a time column's value as a naive datetime (or None)."""

    @classmethod
    def schema(cls) -> list[str]:
        """Return the statements creating the table and its indexes."""
        columns = ", ".join(
            f"{name} {cls.TYPES[kind]}"
            + (" PRIMARY KEY" if name == "id" else "" if name in _NULLABLE else " NOT NULL")
            for name, kind in COLUMNS
        )
        return [f"CREATE TABLE IF NOT EXISTS tasks ({columns})"] + [
            f"CREATE INDEX IF NOT EXISTS idx_tasks_{column} ON tasks ({column})"
            for column in cls.INDEXES
        ]

    def _locked(self, detail: str) -> TaskStorageLockedError:
        """Build the error for a file another process holds."""
        return TaskStorageLockedError(
            self.db_path.absolute(),
            detail,
            engine=self.ENGINE,
            example=f"{type(self).__name__}('other{self.SUFFIX}')",
        )

    def _connect(self) -> Any:
        if self.connection is None:
            connection = self._open()
            self._add_missing_columns(connection)
            self.connection = connection
        return self.connection

    def _add_missing_columns(self, connection: Any) -> None:
        """Add the columns a database made by an earlier version lacks (``trace_parent``).

        Both engines list a table's columns with ``pragma_table_info``; the
        added columns are nullable, so existing rows read as None.
        """
        have = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM pragma_table_info('tasks')"
            ).fetchall()
        }
        for name, kind in COLUMNS:
            if name not in have:
                connection.execute(f"ALTER TABLE tasks ADD COLUMN {name} {self.TYPES[kind]}")

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
        """Insert or update several tasks in one statement.

        If the same id appears more than once, the last record wins.
        """
        rows = list({task.id: task for task in tasks}.values())
        if rows:
            self._transaction([("upsert", rows)])

    def write(self, inserted: Sequence[TaskInfo], updated: Sequence[TaskInfo]) -> None:
        """Insert new tasks and update stored ones in one transaction.

        The batch writer of a TaskQueue: ``inserted`` must not be stored yet,
        ``updated`` must be (each id once); an updated task's name, category,
        priority, created_at, max_retries and arguments are left as stored.
        All or nothing: on error the transaction is rolled back.
        """
        writes: list[tuple[RowWrite, Sequence[TaskInfo]]] = []
        if inserted:
            writes.append(("insert", inserted))
        if updated:
            writes.append(("update", updated))
        if writes:
            self._transaction(writes)

    def _transaction(self, writes: list[tuple[RowWrite, Sequence[TaskInfo]]]) -> None:
        with self._lock:
            connection = self._connect()
            if len(writes) == 1 and self._is_one_statement(writes[0][1]):
                # PERF: BEGIN/COMMIT around a statement that is atomic anyway cost time.
                self._write_rows(connection, *writes[0])
                return
            connection.execute("BEGIN")
            try:
                for write, tasks in writes:
                    self._write_rows(connection, write, tasks)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def get_task(self, task_id: str) -> TaskInfo | None:
        """Return the task with ``task_id``, or None if there is none."""
        with self._lock:
            row = self._connect().execute(f"{_SELECT} WHERE id = ?", [task_id]).fetchone()
        return None if row is None else self._from_row(row)

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
        return [self._from_row(row) for row in rows]

    def find_tasks(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query``, newest first, and their count.

        Both come from the table, over every stored task, in one lock so they
        agree (SQLite has indexes on the filtered columns; DuckDB scans them,
        milliseconds per million rows; a search reads each row's id and name).
        """
        clauses, params = [], []
        for column, value in (
            ("status", None if query.status is None else query.status.value),
            ("category", query.category),
            ("priority", None if query.priority is None else query.priority.value),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.created_after is not None:
            clauses.append("created_at > ?")
            params.append(self._time_parameter(naive_utc(query.created_after)))
        if query.search:
            # NOTE: lower() on both sides: SQLite folds ASCII letters only, DuckDB all.
            like = r"LIKE lower(?) ESCAPE '\'"
            clauses.append(f"(lower(id) {like} OR lower(name) {like})")
            pattern = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", query.search) + "%"
            params += [pattern, pattern]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        page = f"{_SELECT}{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        with self._lock:
            connection = self._connect()
            (total,) = connection.execute(f"SELECT count(*) FROM tasks{where}", params).fetchone()
            rows = connection.execute(page, [*params, query.limit, query.offset]).fetchall()
        return TaskPage([self._from_row(row) for row in rows], total)

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
        cutoff = self._time_parameter(utc_now() - keep)
        placeholders = ", ".join("?" for _ in _TERMINAL_VALUES)
        sql = (
            f"DELETE FROM tasks WHERE status IN ({placeholders}) "
            "AND COALESCE(completed_at, created_at) < ? RETURNING id"
        )
        with self._lock:
            return len(self._connect().execute(sql, [*_TERMINAL_VALUES, cutoff]).fetchall())

    def tally(self) -> TaskTally:
        """Count every stored task by status value, category and priority name."""
        sql = (
            "SELECT status, category, priority, count(*) FROM tasks "
            "GROUP BY status, category, priority"
        )
        with self._lock:
            counted = self._connect().execute(sql).fetchall()
        return {
            (status, category, TaskPriority(priority).name): count
            for status, category, priority, count in counted
        }

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

    def _from_row(self, row: Sequence[Any]) -> TaskInfo:
        read_time = self._read_time
        created_at = read_time(row[5])
        assert created_at is not None  # NOT NULL column
        return TaskInfo(
            id=row[0],
            name=row[1],
            category=row[2],
            priority=TaskPriority(row[3]),
            status=TaskStatus(row[4]),
            created_at=created_at,
            started_at=read_time(row[6]),
            completed_at=read_time(row[7]),
            elapsed_seconds=row[8],
            result=None if row[9] is None else _decode(row[9]),
            error=row[10],
            retry_count=row[11],
            max_retries=row[12],
            args=tuple(_decode(row[13])),
            kwargs=_decode(row[14]),
            progress=row[15],
            progress_message=row[16],
            trace_parent=row[17],
        )


def json_text(value: Any) -> str:
    """Encode a task's value as JSON text, naming the problem if it cannot."""
    try:
        return _encode(value).decode()
    except TypeError as exc:
        raise TypeError(f"a task's result or arguments are not JSON-serialisable: {exc}") from exc


def row_parameters(
    write: RowWrite, task: TaskInfo, time: Callable[[datetime], Any]
) -> tuple[Any, ...]:
    """Return ``ROW_SQL[write]``'s parameters for ``task``, times made by ``time``."""
    started, completed = task.started_at, task.completed_at
    row = (
        task.id,
        task.name,
        task.category,
        task.priority.value,
        task.status.value,
        time(task.created_at),
        None if started is None else time(started),
        None if completed is None else time(completed),
        task.elapsed_seconds,
        None if task.result is None else json_text(task.result),
        task.error,
        task.retry_count,
        task.max_retries,
        json_text(task.args),
        json_text(task.kwargs),
        task.progress,
        task.progress_message,
        task.trace_parent,
    )
    return _UPDATE_PARAMETERS(row) if write == "update" else row


def naive_utc(value: datetime) -> datetime:
    """Return ``value`` as a naive UTC datetime (naive values are kept)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
