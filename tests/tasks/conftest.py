"""Fixtures for the task tests: a database path and queues on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gobstopper.tasks import TaskQueue, TaskStorage

MakeQueue = Callable[..., TaskQueue]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A task database path in the test's own directory (not created)."""
    return tmp_path / "tasks.duckdb"


@pytest.fixture
async def make_queue(db_path: Path) -> AsyncIterator[MakeQueue]:
    """Build enabled queues on ``db_path`` (no backoff); shut all down after."""
    queues: list[TaskQueue] = []

    def make(**options: object) -> TaskQueue:
        options.setdefault("backoff", lambda retry: 0.0)
        options.setdefault("storage_factory", lambda: TaskStorage(db_path))
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
