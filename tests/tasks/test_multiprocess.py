"""refuse_duckdb_with_many_workers: the check `gobstopper run -w N` makes before forking.

It refuses every one-process file store: DuckDB and SQLite.
"""

from __future__ import annotations

from pathlib import Path

from gobstopper import Gobstopper
from gobstopper.tasks import (
    RedisTaskStorage,
    TaskQueue,
    TaskStorage,
    refuse_duckdb_with_many_workers,
)

from .conftest import Store, on_each_file_store


def _app(queue: TaskQueue, *, with_task: bool = True) -> Gobstopper:
    app = Gobstopper(__name__)
    app.task_queue = queue
    if with_task:
        app.task("job")(lambda: None)
    return app


@on_each_file_store
def test_file_stores_refuse_many_workers_naming_redis(db_path: Path, store: Store) -> None:
    app = _app(TaskQueue(enabled=True, storage_factory=lambda: store(db_path)))
    message = refuse_duckdb_with_many_workers(app, 4)
    assert message is not None
    assert "4 worker processes" in message and str(db_path) in message
    assert f"stored in {store.ENGINE} (" in message
    assert "Redis task backend" in message and "RedisTaskStorage('redis://" in message
    assert "--workers 1" in message
    assert refuse_duckdb_with_many_workers(app, 1) is None
    assert not db_path.exists()  # checked without opening the database


def test_setups_that_work_in_many_processes_pass(tmp_path: Path) -> None:
    redis = TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage("redis://nowhere"))
    assert refuse_duckdb_with_many_workers(_app(redis), 8) is None
    disabled = TaskQueue(enabled=False)
    assert refuse_duckdb_with_many_workers(_app(disabled), 8) is None
    unused = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(tmp_path / "x.duckdb"))
    assert refuse_duckdb_with_many_workers(_app(unused, with_task=False), 8) is None
    assert refuse_duckdb_with_many_workers(Gobstopper(__name__), 8) is None
