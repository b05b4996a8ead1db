"""``TaskInfo.trace_parent`` is kept by every store: DuckDB, SQLite (old files too), Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import duckdb
import msgspec
import pytest

from gobstopper.tasks import RedisTaskStorage, TaskQueue
from gobstopper.tasks.models import TaskInfo, TaskStatus
from gobstopper.tasks.sql_storage import COLUMNS, NAMES, SQLTaskStorage

from .conftest import Store, on_each_file_store
from .helpers import task_info, wait_done

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _task(task_id: str, trace_parent: str | None = PARENT) -> TaskInfo:
    return task_info(task_id, name="report", trace_parent=trace_parent)


@pytest.fixture
def storage(db_path: Path, store: Store) -> Iterator[SQLTaskStorage]:
    opened = store(db_path)
    yield opened
    opened.close()


@on_each_file_store
@pytest.mark.parametrize("count", [1, 3], ids=["row by row", "one statement"])
def test_file_stores_keep_it_through_insert_update_and_upsert(
    storage: SQLTaskStorage, count: int
) -> None:
    # DuckDB writes 1-2 rows a statement each, more as one JSON parameter (storage.py).
    tasks = [_task(f"t{i}", PARENT if i % 2 == 0 else None) for i in range(count)]
    storage.write(tasks, [])
    assert [storage.get_task(task.id) for task in tasks] == tasks
    # An update changes what a run changes; the link to the queuing span stays.
    done = [msgspec.structs.replace(t, status=TaskStatus.SUCCESS, trace_parent=None) for t in tasks]
    storage.write([], done)
    assert [storage.get_task(task.id).trace_parent for task in tasks] == [  # type: ignore[union-attr]
        task.trace_parent for task in tasks
    ]
    storage.save_tasks([msgspec.structs.replace(tasks[0], trace_parent="00-other")])
    assert storage.get_task("t0").trace_parent == "00-other"  # type: ignore[union-attr]


def _old_table(store: Store) -> str:
    """The ``tasks`` table as versions before ``trace_parent`` made it."""
    columns = ", ".join(
        f"{name} {store.TYPES[kind]}" + (" PRIMARY KEY" if name == "id" else "")
        for name, kind in COLUMNS
        if name != "trace_parent"
    )
    return f"CREATE TABLE tasks ({columns})"


_OLD_ROW = (
    "old",
    "report",
    "default",
    2,
    "success",
    "2025-01-01 00:00:00.000000",
    None,
    "2025-01-01 00:00:01.000000",
    1.0,
    "7",
    None,
    0,
    0,
    "[]",
    "{}",
    100.0,
    "",
)


@on_each_file_store
def test_a_database_made_without_the_column_gets_it(db_path: Path, store: Store) -> None:
    old_names = [name for name in NAMES if name != "trace_parent"]
    insert = f"INSERT INTO tasks ({', '.join(old_names)}) VALUES ({', '.join('?' * len(_OLD_ROW))})"
    if store.ENGINE == "DuckDB":
        connection = duckdb.connect(str(db_path))
    else:
        import sqlite3

        connection = sqlite3.connect(db_path)  # type: ignore[assignment]
    connection.execute(_old_table(store))
    connection.execute(insert, _OLD_ROW)
    connection.commit()
    connection.close()

    storage = store(db_path)
    old = storage.get_task("old")
    assert old is not None and old.result == 7 and old.trace_parent is None
    storage.save_task(_task("new"))
    storage.close()

    reopened = store(db_path)  # opening again finds the column there: nothing to add
    assert reopened.get_task("new") == _task("new")
    assert sorted(task.id for task in reopened.get_tasks()) == ["new", "old"]
    reopened.close()


async def test_redis_keeps_it_through_the_queue_retries_and_the_store(redis_url: str) -> None:
    """Records are the TaskInfo as JSON: the scripts that move them pass it on whole."""
    prefix = f"test:{uuid.uuid4().hex}"
    queue = TaskQueue(
        enabled=True,
        storage_factory=lambda: RedisTaskStorage(redis_url, prefix=prefix),
        backoff=lambda retry: 0.0,
    )

    class Stamp:
        """Sets the field as tracing would, when the task is queued."""

        def task_queued(self, info: TaskInfo) -> None:
            info.trace_parent = PARENT

        def task_running(self, info: TaskInfo) -> AbstractContextManager[object]:
            return nullcontext()

        def attempt_ended(self, info: TaskInfo, seconds: float, error: object) -> None:
            return None

    runs: list[int] = []

    @queue.register_task("flaky")
    async def flaky() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("again")
        return "ok"

    queue.add_observer(Stamp())
    task_id = await queue.add_task("flaky", max_retries=1)
    try:
        queued = await queue.get_task_info(task_id)
        assert queued is not None and queued.trace_parent == PARENT
        await queue.start_workers("default", 1)
        done = await wait_done(queue, task_id)
        assert (done.status, done.retry_count, done.trace_parent) == (
            TaskStatus.SUCCESS,
            1,
            PARENT,
        )
    finally:
        await queue.shutdown(timeout=5)

    storage = RedisTaskStorage(redis_url, prefix=prefix)
    try:
        assert storage.get_task(task_id).trace_parent == PARENT  # type: ignore[union-attr]
        for task in (_task("direct"), _task("none", None)):
            storage.save_task(task)
            assert storage.get_task(task.id) == task
    finally:
        storage.close()
