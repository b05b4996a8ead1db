"""Fixtures for the task tests: a store, a database path and queues on it.

Queues use DuckDB's ``TaskStorage``; a test decorated with
``@on_each_file_store`` runs once on it and once on ``SQLiteTaskStorage``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gobstopper.tasks import SQLiteTaskStorage, TaskQueue, TaskStorage
from gobstopper.tasks.sql_storage import SQLTaskStorage

MakeQueue = Callable[..., TaskQueue]
Store = type[SQLTaskStorage]

#: Run the decorated test once per file store (it sets the ``store`` fixture).
on_each_file_store = pytest.mark.parametrize(
    "store", [TaskStorage, SQLiteTaskStorage], ids=["duckdb", "sqlite"], indirect=True
)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Store:
    """The file store class: ``TaskStorage`` unless ``@on_each_file_store`` says otherwise."""
    return getattr(request, "param", TaskStorage)  # type: ignore[no-any-return]


@pytest.fixture
def db_path(tmp_path: Path, store: Store) -> Path:
    """A database path for ``store`` in the test's own directory (not created)."""
    return tmp_path / f"tasks{store.SUFFIX}"


@pytest.fixture
async def make_queue(db_path: Path, store: Store) -> AsyncIterator[MakeQueue]:
    """Build enabled queues on ``db_path`` (no backoff); shut all down after."""
    queues: list[TaskQueue] = []

    def make(**options: object) -> TaskQueue:
        options.setdefault("backoff", lambda retry: 0.0)
        options.setdefault("storage_factory", lambda: store(db_path))
        queue = TaskQueue(enabled=True, **options)  # type: ignore[arg-type]
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        await queue.shutdown(timeout=5)


@pytest.fixture
def queue(make_queue: MakeQueue) -> TaskQueue:
    """An enabled queue on a fresh database."""
    return make_queue()


@pytest.fixture(autouse=True)
def _no_tasks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose enabled explicitly; the developer's env must not leak in."""
    monkeypatch.delenv("WOPR_TASKS_ENABLED", raising=False)
