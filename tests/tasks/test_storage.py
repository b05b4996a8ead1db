"""The SQL task stores' contract, on DuckDB (TaskStorage) and SQLite.

Every test taking ``db_path`` or ``storage`` runs once per store: lazy file,
upsert, batches, queries, cleanup, the one-process lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from gobstopper.tasks.models import TaskInfo, TaskPriority, TaskStatus
from gobstopper.tasks.sql_storage import SQLTaskStorage
from gobstopper.tasks.sqlite_storage import SQLiteTaskStorage
from gobstopper.tasks.storage import TaskStorage, TaskStorageLockedError
from gobstopper.tasks.transitions import utc_now

from .conftest import Store
from .helpers import database_held_by_another_process, task_info

# The engine's catalogue query for the expressions indexed on ``tasks``.
_INDEXES = {
    TaskStorage: "SELECT expressions FROM duckdb_indexes() WHERE table_name = 'tasks'",
    SQLiteTaskStorage: "SELECT ii.name FROM pragma_index_list('tasks') AS il, "
    "pragma_index_info(il.name) AS ii",
}


@pytest.fixture(params=[TaskStorage, SQLiteTaskStorage], ids=["duckdb", "sqlite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Every test here that opens a store runs on each (overrides conftest's)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def storage(db_path: Path, store: Store) -> Iterator[SQLTaskStorage]:
    opened = store(db_path)
    yield opened
    opened.close()


def _task(task_id: str, **changes: object) -> TaskInfo:
    return task_info(task_id, **{"name": "process_data", "category": "analytics", **changes})


def test_file_created_on_first_use_not_on_construction(db_path: Path, store: Store) -> None:
    opened = store(db_path)
    assert opened.connection is None
    assert not db_path.exists()
    assert opened.get_task("nope") is None
    assert db_path.exists()
    opened.close()
    assert opened.connection is None


def test_default_path(store: Store) -> None:
    assert store().db_path == Path(f"wopr_tasks{store.SUFFIX}")


def _indexed_columns(storage: SQLTaskStorage) -> set[str]:
    rows = storage.connection.execute(_INDEXES[type(storage)]).fetchall()
    return {expression.strip("[]'\"") for (expression,) in rows}


def test_sqlite_indexes_the_filtered_columns(db_path: Path) -> None:
    storage = SQLiteTaskStorage(db_path)
    storage.get_task("x")
    assert {"category", "status", "created_at", "priority"} <= _indexed_columns(storage)
    storage.close()


def test_duckdb_indexes_nothing_but_the_key_and_drops_old_indexes(db_path: Path) -> None:
    # An index on status turns each UPDATE of it into a delete and an insert in
    # DuckDB; the list queries scan instead (see storage.py).
    storage = TaskStorage(db_path)
    storage.get_task("x")
    for column in ("category", "status", "created_at", "priority"):
        storage.connection.execute(f"CREATE INDEX idx_tasks_{column} ON tasks ({column})")
    storage.save_task(_task("kept"))
    storage.close()

    reopened = TaskStorage(db_path)
    assert reopened.get_task("kept") is not None
    assert _indexed_columns(reopened) == set()
    reopened.close()


def test_save_then_get_round_trips_every_field(storage: SQLTaskStorage) -> None:
    task = _task(
        "t1",
        priority=TaskPriority.CRITICAL,
        status=TaskStatus.SUCCESS,
        started_at=datetime(2025, 1, 1, 0, 0, 1),
        completed_at=datetime(2025, 1, 1, 0, 0, 3, 250),
        elapsed_seconds=2.5,
        result={"records": [1, 2], "ok": True},
        error=None,
        retry_count=1,
        max_retries=3,
        args=("user@example.com", 7),
        kwargs={"subject": "Welcome", "n": None},
        progress=100.0,
        progress_message="done",
    )
    storage.save_task(task)
    assert storage.get_task("t1") == task


@pytest.mark.parametrize("count", [1, 2, 3], ids=["one row", "two rows", "three rows"])
def test_write_inserts_then_updates_every_field(storage: SQLTaskStorage, count: int) -> None:
    # DuckDB writes one or two rows a statement each, more in one statement (storage.py).
    new = [_task(f"t{i}", args=(i, "x"), kwargs={"n": i}) for i in range(count)]
    storage.write(new, [])
    assert [storage.get_task(task.id) for task in new] == new

    finished = [
        msgspec.structs.replace(
            task,
            name="renamed",  # not mutable: the stored name stays
            status=TaskStatus.FAILED,
            started_at=datetime(2025, 1, 1, 0, 0, 1),
            completed_at=datetime(2025, 1, 1, 0, 0, 2, 500),
            elapsed_seconds=1.0,
            result=[i, {"deep": None}],
            error="boom",
            retry_count=2,
            progress=50.0,
            progress_message="half",
        )
        for i, task in enumerate(new)
    ]
    storage.write([], finished)
    expected = [msgspec.structs.replace(task, name="process_data") for task in finished]
    assert [storage.get_task(task.id) for task in new] == expected


def test_save_is_an_upsert(storage: SQLTaskStorage) -> None:
    task = _task("t1")
    storage.save_task(task)
    task.status = TaskStatus.SUCCESS
    task.result = {"records_processed": 1000}
    storage.save_task(task)
    stored = storage.get_task("t1")
    assert stored is not None
    assert stored.status is TaskStatus.SUCCESS
    assert stored.result == {"records_processed": 1000}
    assert len(storage.get_tasks()) == 1


def test_save_tasks_batch_last_record_wins(storage: SQLTaskStorage) -> None:
    batch = [_task(f"t{i}") for i in range(450)]  # more than one statement chunk
    batch.append(_task("t0", status=TaskStatus.FAILED))
    storage.save_tasks(batch)
    assert len(storage.get_tasks(limit=1000)) == 450
    first = storage.get_task("t0")
    assert first is not None and first.status is TaskStatus.FAILED


def test_write_inserts_and_updates_in_one_transaction(storage: SQLTaskStorage) -> None:
    storage.write([_task("a"), _task("b")], [])
    done = _task(
        "a",
        status=TaskStatus.SUCCESS,
        result={"n": 1},
        progress=100.0,
        name="renamed",
        completed_at=datetime(2025, 1, 2),
    )
    storage.write([_task("c")], [done])
    stored = storage.get_task("a")
    assert stored is not None
    assert (stored.status, stored.result, stored.progress) == (TaskStatus.SUCCESS, {"n": 1}, 100.0)
    assert stored.name == "process_data"  # fixed at queue time: not rewritten
    assert {t.id for t in storage.get_tasks()} == {"a", "b", "c"}


def test_failed_write_is_rolled_back(storage: SQLTaskStorage) -> None:
    storage.write([_task("a")], [])
    with pytest.raises(Exception, match=r"(?i)constraint|duplicate"):
        storage.write([_task("new"), _task("a")], [_task("a", status=TaskStatus.FAILED)])
    assert storage.get_task("new") is None
    stored = storage.get_task("a")
    assert stored is not None and stored.status is TaskStatus.PENDING


def test_failed_batch_is_rolled_back(storage: SQLTaskStorage) -> None:
    bad = _task("bad", result=object())
    with pytest.raises(TypeError):
        storage.save_tasks([_task("good"), bad])
    assert storage.get_task("good") is None


def test_aware_datetimes_are_stored_as_naive_utc(storage: SQLTaskStorage) -> None:
    plus_two = timezone(timedelta(hours=2))
    storage.save_task(_task("t1", created_at=datetime(2025, 1, 1, 12, tzinfo=plus_two)))
    stored = storage.get_task("t1")
    assert stored is not None and stored.created_at == datetime(2025, 1, 1, 10)


def test_get_tasks_filters_orders_newest_first_and_pages(storage: SQLTaskStorage) -> None:
    base = datetime(2025, 1, 1)
    for i in range(6):
        storage.save_task(
            _task(
                f"t{i}",
                category="email" if i % 2 else "analytics",
                status=TaskStatus.PENDING if i < 4 else TaskStatus.FAILED,
                created_at=base + timedelta(minutes=i),
            )
        )
    assert [t.id for t in storage.get_tasks()] == ["t5", "t4", "t3", "t2", "t1", "t0"]
    assert [t.id for t in storage.get_tasks(category="email")] == ["t5", "t3", "t1"]
    pending_email = storage.get_tasks(category="email", status=TaskStatus.PENDING)
    assert [t.id for t in pending_email] == ["t3", "t1"]
    assert [t.id for t in storage.get_tasks(status="failed")] == ["t5", "t4"]
    assert [t.id for t in storage.get_tasks(limit=2, offset=2)] == ["t3", "t2"]
    assert storage.get_tasks(category="nothing") == []


def test_get_tasks_rejects_bad_arguments(storage: SQLTaskStorage) -> None:
    with pytest.raises(ValueError):
        storage.get_tasks(status="bogus")
    with pytest.raises(ValueError):
        storage.get_tasks(limit=-1)


def test_cleanup_deletes_only_old_terminal_tasks(storage: SQLTaskStorage) -> None:
    now = utc_now()
    old, recent = now - timedelta(days=40), now - timedelta(days=5)
    for status in TaskStatus:
        storage.save_task(_task(f"old-{status.value}", status=status, completed_at=old))
        storage.save_task(_task(f"new-{status.value}", status=status, completed_at=recent))
    assert storage.cleanup_old_tasks(days=30) == 3
    left = {t.id for t in storage.get_tasks()}
    assert {"old-success", "old-failed", "old-cancelled"}.isdisjoint(left)
    assert {"old-pending", "old-started", "old-retry"} <= left
    assert len(left) == 9


def test_cleanup_without_period_deletes_nothing(storage: SQLTaskStorage) -> None:
    storage.save_task(_task("t", status=TaskStatus.SUCCESS, completed_at=datetime(2000, 1, 1)))
    assert storage.cleanup_old_tasks() == 0
    assert [(t.id, t.status) for t in storage.get_tasks()] == [("t", TaskStatus.SUCCESS)]


def test_cleanup_periods_are_cumulative(storage: SQLTaskStorage) -> None:
    now = utc_now()
    for age in (50, 100, 200, 400):
        completed = now - timedelta(days=age)
        storage.save_task(_task(f"age{age}", status=TaskStatus.SUCCESS, completed_at=completed))
    # 90 days + 6 months = 270 days: only the 400-day-old task goes.
    assert storage.cleanup_old_tasks(days=90, months=6) == 1
    # 1 year = 365 days: nothing older is left.
    assert storage.cleanup_old_tasks(years=1) == 0
    # 1 month + 10 days = 40 days.
    assert storage.cleanup_old_tasks(days=10, months=1) == 3
    with pytest.raises(ValueError):
        storage.cleanup_old_tasks(days=-1)


def test_cleanup_uses_created_at_when_completed_at_missing(storage: SQLTaskStorage) -> None:
    storage.save_task(_task("t", status=TaskStatus.CANCELLED, created_at=datetime(2000, 1, 1)))
    assert storage.cleanup_old_tasks(days=1) == 1


def test_summarize_counts_everything(storage: SQLTaskStorage) -> None:
    storage.save_task(_task("a"))
    storage.save_task(_task("b", status=TaskStatus.FAILED, category="email"))
    storage.save_task(_task("c", status=TaskStatus.FAILED, category="email"))
    assert storage.summarize() == {
        "total": 3,
        "by_status": {"failed": 2, "pending": 1},
        "by_category": {"analytics": 1, "email": 2},
    }


def test_data_survives_close_and_reopen(db_path: Path, store: Store) -> None:
    first = store(db_path)
    first.save_task(_task("keep", kwargs={"x": 1}))
    first.close()
    second = store(db_path)
    stored = second.get_task("keep")
    second.close()
    assert stored is not None and stored.kwargs == {"x": 1}


def test_reference_module_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = TaskStorage("my_tasks.duckdb")
    task = TaskInfo(
        id="task-123",
        name="process_data",
        category="analytics",
        priority=TaskPriority.NORMAL,
        status=TaskStatus.PENDING,
        created_at=datetime.now(),
    )
    storage.save_task(task)
    retrieved = storage.get_task("task-123")
    assert retrieved is not None and retrieved.status is TaskStatus.PENDING
    analytics_tasks = storage.get_tasks(category="analytics", limit=50)
    assert [t.id for t in analytics_tasks] == ["task-123"]
    deleted = storage.cleanup_old_tasks(days=30)
    assert deleted == 0
    pending = storage.get_tasks(status=TaskStatus.PENDING, limit=100)
    assert len(pending) == 1
    storage.close()
    assert (tmp_path / "my_tasks.duckdb").exists()


def test_second_process_gets_a_clear_lock_error(db_path: Path, store: Store) -> None:
    with database_held_by_another_process(db_path, store.__name__):
        opened = store(db_path)
        with pytest.raises(TaskStorageLockedError) as caught:
            opened.get_tasks()
    message = str(caught.value)
    assert "locked by another process" in message
    # The causes: another instance, the tasks CLI, or several workers.
    assert "second instance" in message and "`gobstopper tasks`" in message
    assert "more than one worker" in message
    # The fixes: the Redis backend for many processes, one worker per file, or another file.
    assert "Redis task backend" in message and "RedisTaskStorage('redis://" in message
    assert "run one worker process per task database file" in message
    assert f"{store.__name__}('other{store.SUFFIX}')" in message
    assert str(db_path) in message
    assert f"{store.ENGINE} said: " in message
    if store is TaskStorage:
        assert "PID" in message  # DuckDB's own detail names the holder
    assert opened.get_tasks() == []  # the holder is gone: the file opens now
    opened.close()


def test_tz_helper_is_naive_utc() -> None:
    now = utc_now()
    assert now.tzinfo is None
    assert abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(seconds=5)
