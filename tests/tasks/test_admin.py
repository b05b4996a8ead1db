"""admin: cancel and retry stored tasks from the CLI, on DuckDB and on Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gobstopper.tasks import RedisTaskStorage, TaskQueue, TaskStorage
from gobstopper.tasks.admin import cancel_stored, retry_stored, storage_of
from gobstopper.tasks.models import TaskInfo, TaskStatus
from gobstopper.tasks.transitions import utc_now

from .helpers import task_info


def _task(task_id: str, status: TaskStatus) -> TaskInfo:
    return task_info(task_id, status=status, created_at=utc_now(), error="E: x")


@pytest.fixture(params=["duckdb", "redis"])
def storage(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "duckdb":
        store: TaskStorage | RedisTaskStorage = TaskStorage(tmp_path / "t.duckdb")
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisTaskStorage(url, prefix=f"test:{uuid.uuid4().hex}")
    yield store
    store.close()


def test_cancel_and_retry_follow_the_queue_rules(storage) -> None:  # type: ignore[no-untyped-def]
    storage.save_task(_task("p", TaskStatus.PENDING))
    storage.save_task(_task("f", TaskStatus.FAILED))
    info, changed = cancel_stored(storage, "p")
    assert changed and info is not None and info.status is TaskStatus.CANCELLED
    assert storage.get_task("p").status is TaskStatus.CANCELLED
    info, changed = cancel_stored(storage, "f")
    assert not changed and info is not None and info.status is TaskStatus.FAILED
    info, changed = retry_stored(storage, "f")
    assert changed and info is not None and (info.status, info.error) == (TaskStatus.PENDING, None)
    assert storage.get_task("f").status is TaskStatus.PENDING
    assert retry_stored(storage, "f") == (storage.get_task("f"), False)
    assert cancel_stored(storage, "missing") == (None, False)


def test_storage_of_builds_without_opening(tmp_path: Path) -> None:
    queue = TaskQueue(enabled=False, storage_factory=lambda: TaskStorage(tmp_path / "a.duckdb"))
    storage = storage_of(queue)
    assert isinstance(storage, TaskStorage) and not (tmp_path / "a.duckdb").exists()
