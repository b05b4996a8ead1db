"""Listing and counting stored tasks: filters, search, count, paging and tallies by each store.

``find_tasks`` runs on DuckDB, SQLite and Redis, and ``find_stored`` on a
custom storage that has only the documented ``get_tasks``; all must answer
the same way, over every stored task (not a window of the newest).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gobstopper.tasks import (
    RedisTaskStorage,
    SQLiteTaskStorage,
    TaskInfo,
    TaskPriority,
    TaskQueue,
    TaskStatus,
    TaskStorage,
)
from gobstopper.tasks.backend import TaskPage, TaskQuery, find_stored, tally_stored

BASE = datetime(2024, 5, 1, 12, 0, 0)
# Names the search must take literally: LIKE wildcards, its escape, case.
NAMES = ["Report_daily", "reportXdaily", "mail 50%", "mail 50x", "path\\to", "other"]


def task(n: int, **fields: Any) -> TaskInfo:
    """Task ``n``: created ``n`` seconds after BASE, so a larger ``n`` is newer."""
    values: dict[str, Any] = {
        "id": f"t{n:05d}",
        "name": NAMES[n % len(NAMES)],
        "category": "emails" if n % 2 else "reports",
        "priority": TaskPriority.HIGH if n % 3 == 0 else TaskPriority.LOW,
        "status": TaskStatus.FAILED if n % 4 == 0 else TaskStatus.SUCCESS,
        "created_at": BASE + timedelta(seconds=n),
    }
    return TaskInfo(**{**values, **fields})


class OnlyDocumentedCalls:
    """A custom storage with just the reference's ``get_tasks`` (and ``save_tasks`` to fill it)."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskInfo] = {}

    def save_tasks(self, tasks: list[TaskInfo]) -> None:
        self.tasks.update((info.id, info) for info in tasks)

    def get_tasks(
        self,
        category: str | None = None,
        status: TaskStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskInfo]:
        kept = [
            info
            for info in self.tasks.values()
            if category in (None, info.category) and status in (None, info.status)
        ]
        kept.sort(key=lambda info: info.created_at, reverse=True)
        return kept[offset : offset + limit]


class Store:
    """One kind of store, filled with ``save`` and asked with ``find``."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def save(self, tasks: list[TaskInfo]) -> None:
        if isinstance(self.storage, RedisTaskStorage):
            for info in tasks:
                self.storage.save_task(info)
        else:
            self.storage.save_tasks(tasks)

    def find(self, **query: Any) -> TaskPage:
        return find_stored(self.storage, TaskQuery(**query))


@pytest.fixture(params=["duckdb", "sqlite", "redis", "custom"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    if kind == "redis":
        storage: Any = RedisTaskStorage(
            request.getfixturevalue("redis_url"), prefix=f"test:{uuid.uuid4().hex}"
        )
    elif kind == "custom":
        storage = OnlyDocumentedCalls()
    else:
        storage = {"duckdb": TaskStorage, "sqlite": SQLiteTaskStorage}[kind](tmp_path / "t.db")
    yield Store(storage)
    close = getattr(storage, "close", None)
    if close is not None:
        close()


def ids(page: TaskPage) -> list[str]:
    return [info.id for info in page.tasks]


def test_filters_count_every_stored_task_not_a_window(store: Store) -> None:
    store.save([task(n) for n in range(1200)])
    everything = store.find(limit=3)
    assert (ids(everything), everything.total, everything.counted_all) == (
        ["t01199", "t01198", "t01197"],
        1200,
        True,
    )
    failed_reports = store.find(status=TaskStatus.FAILED, category="reports", limit=2, offset=299)
    # Every 4th task is FAILED (and even, so a report): 300 of them; the last page holds t00000.
    assert (ids(failed_reports), failed_reports.total) == (["t00000"], 300)
    high_emails = store.find(category="emails", priority=TaskPriority.HIGH, limit=1000)
    assert high_emails.total == 200  # odd multiples of 3 below 1200
    assert all(info.priority is TaskPriority.HIGH for info in high_emails.tasks)
    assert ids(high_emails)[-1] == "t00003"
    assert store.find(status=TaskStatus.PENDING).total == 0
    beyond = store.find(limit=25, offset=5000)
    assert (beyond.tasks, beyond.total) == ([], 1200)


def test_tally_counts_every_stored_task_by_status_category_and_priority(store: Store) -> None:
    tasks = [task(n) for n in range(1200)]
    store.save(tasks)
    expected = Counter((info.status.value, info.category, info.priority.name) for info in tasks)
    assert tally_stored(store.storage) == dict(expected)
    assert len(expected) == 6  # 2 categories x 2 priorities succeeded; only reports failed


def test_search_is_a_case_insensitive_literal_substring_of_id_or_name(store: Store) -> None:
    store.save([task(n) for n in range(12)])

    def found(text: str) -> list[str]:
        page = store.find(search=text, limit=50)
        assert page.total == len(page.tasks)
        return sorted(f"{info.name}#{info.id}" for info in page.tasks)

    assert found("REPORT_") == ["Report_daily#t00000", "Report_daily#t00006"]
    assert found("50%") == ["mail 50%#t00002", "mail 50%#t00008"]
    assert found("h\\t") == ["path\\to#t00004", "path\\to#t00010"]
    assert found("_") == ["Report_daily#t00000", "Report_daily#t00006"]
    assert found("T0001") == ["other#t00011", "path\\to#t00010"]
    assert found("nothing like it") == []


def test_created_after_keeps_only_newer_tasks(store: Store) -> None:
    store.save([task(n) for n in range(10)])
    newer = store.find(created_after=BASE + timedelta(seconds=6), search="t0000")
    assert (ids(newer), newer.total) == (["t00009", "t00008", "t00007"], 3)


def test_bad_pages_are_refused_before_reaching_a_store() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        TaskQuery(limit=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        TaskQuery(offset=-25)


def test_redis_stops_at_its_scan_limit_and_says_so(redis_url: str) -> None:
    storage = RedisTaskStorage(redis_url, prefix=f"test:{uuid.uuid4().hex}")
    storage.find_scan_limit = 1000
    try:
        for n in range(1200):
            storage.save_task(task(n))
        capped = storage.find_tasks(TaskQuery(status=TaskStatus.FAILED, limit=2))
        # It looked at the newest 1,000 (t00200..t01199): 250 of them are FAILED.
        assert (ids(capped), capped.total, capped.counted_all) == (["t01196", "t01192"], 250, False)
        recent = storage.find_tasks(TaskQuery(created_after=BASE + timedelta(seconds=1000)))
        assert (recent.total, recent.counted_all) == (199, True)
    finally:
        storage.close()


def test_redis_walks_past_tasks_created_in_the_same_millisecond(redis_url: str) -> None:
    storage = RedisTaskStorage(redis_url, prefix=f"test:{uuid.uuid4().hex}")
    try:
        for n in range(2100):  # more than two slices of the index, all at one score
            storage.save_task(task(n, created_at=BASE))
        storage.client.delete(storage.keys.record("t01000"))
        page = storage.find_tasks(TaskQuery(limit=3000))
        assert (page.total, len({info.id for info in page.tasks})) == (2099, 2099)
        window = storage.find_tasks(TaskQuery(status=TaskStatus.FAILED, limit=10, offset=520))
        assert (window.total, len({info.id for info in window.tasks})) == (524, 4)  # t01000 gone
    finally:
        storage.close()


def test_redis_skips_and_prunes_expired_records(redis_url: str) -> None:
    storage = RedisTaskStorage(redis_url, prefix=f"test:{uuid.uuid4().hex}")
    try:
        for n in range(6):
            storage.save_task(task(n, category="a:b"))  # a ':' in a category
        storage.client.delete(storage.keys.record("t00004"))  # as when result_ttl ends
        page = storage.find_tasks(TaskQuery(category="a:b", priority=TaskPriority.HIGH))
        assert (ids(page), page.total) == (["t00003", "t00000"], 2)
        assert storage.find_tasks(TaskQuery()).total == 5
        assert storage.client.zscore(storage.keys.index, "t00004") is None
    finally:
        storage.close()


@pytest.mark.parametrize("kind", ["duckdb", "redis"])
async def test_the_queue_backend_finds_what_add_task_stored(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        storage: Any = RedisTaskStorage(url, prefix=f"test:{uuid.uuid4().hex}")
    else:
        storage = TaskStorage(tmp_path / "q.duckdb")
    queue = TaskQueue(enabled=True, storage_factory=lambda: storage)

    @queue.register_task("export_csv", category="exports")
    async def export_csv() -> None:
        """Never runs: no worker is started."""

    try:
        added = [
            await queue.add_task("export_csv", "exports", TaskPriority.CRITICAL) for _ in range(3)
        ]
        page = await queue.backend.find(
            TaskQuery(search="CSV", priority=TaskPriority.CRITICAL, limit=2)
        )
        assert (ids(page), page.total) == (added[::-1][:2], 3)
        assert (await queue.backend.find(TaskQuery(category="other"))).total == 0
    finally:
        await queue.shutdown(timeout=5)
