"""Task records in Redis: the storage that selects the Redis backend.

``TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage(url))``
makes every process whose queue points at the same Redis server share one
set of queues: any process may queue a task and any process with workers for
its category may run it (see ``redis_backend`` for delivery rules).

This class is also the synchronous storage the reference documents
(``save_task``, ``get_task``, ``get_tasks``, ``cleanup_old_tasks``) plus what
``gobstopper tasks`` needs (``summarize``, ``cancel``, ``requeue_failed``).
Listing walks the creation index newest first and reads records in pages,
so it costs O(tasks kept); finished records expire after ``result_ttl``
seconds and their ids leave the index as listing meets them. ``find_tasks``
(the dashboard's query) walks the same way but reads only each record's
status and queue name (and its JSON when searching), and stops after
``find_scan_limit`` records.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from ..service_checks import ServiceCheck, redis_address
from . import transitions
from .backend import TaskPage, TaskQuery, TaskTally, count_tasks
from .models import TERMINAL_STATUSES, TaskInfo, TaskStatus
from .redis_records import (
    SCAN,
    SWAP,
    RedisKeys,
    decode_name,
    decode_record,
    encode_info,
    epoch_ms,
)

if TYPE_CHECKING:
    from redis import Redis

    from .redis_backend import RedisBackend

__all__ = ["RedisTaskStorage"]

#: Index entries one ``SCAN`` script call reads: it blocks Redis ~1-3 ms.
_SLICE = 1000
_WEEK = 7 * 24 * 3600.0
#: Tasks a slice of the index kept: (task id, status, info JSON or None).
Matches = list[tuple[str, str, str | None]]


class RedisTaskStorage:
    """Task records and queues on one Redis server, shared by many processes.

    Attributes:
        url: The ``redis://`` URL (``rediss://`` for TLS).
        keys: Key names under ``prefix``; queues with different prefixes
            on one server do not see each other.
        visibility_timeout: Seconds a task's message may go without a
            heartbeat before another process takes it over (its process is
            presumed dead). Larger than the longest event-loop stall.
        result_ttl: Seconds a finished task's record is kept.
        find_scan_limit: Most records one ``find_tasks`` looks at (newest
            first); a class default of 100,000, settable per instance.
    """

    find_scan_limit = 100_000

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "gobstopper:tasks",
        visibility_timeout: float = 30.0,
        result_ttl: float = _WEEK,
    ) -> None:
        """Configure; nothing connects until first use (needs ``redis``>=5)."""
        if visibility_timeout <= 0 or result_ttl <= 0:
            raise ValueError("visibility_timeout and result_ttl must be positive")
        self.url = url
        self.keys = RedisKeys(prefix)
        self.visibility_timeout = float(visibility_timeout)
        self.result_ttl = float(result_ttl)
        self._client: Redis | None = None

    @property
    def ttl_ms(self) -> int:
        """``result_ttl`` in milliseconds."""
        return int(self.result_ttl * 1000)

    def open_backend(self) -> RedisBackend:
        """Build the asyncio backend a TaskQueue runs on (one per event loop)."""
        from .redis_backend import RedisBackend

        return RedisBackend(self)

    @property
    def client(self) -> Redis:
        """The synchronous client, connected on first use."""
        if self._client is None:
            from redis import Redis

            self._client = Redis.from_url(self.url, decode_responses=True)
        return self._client

    def service_checks(self) -> list[ServiceCheck]:
        """The Redis server the task queue cannot work without (startup fails)."""
        url = redis_address(self.client)
        return [ServiceCheck(f"Redis task backend at {url}", self._ping, None)]

    async def _ping(self) -> object:
        return await asyncio.to_thread(self.client.ping)

    def close(self) -> None:
        """Close the synchronous client; the next call opens it again."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def save_task(self, task_info: TaskInfo) -> None:
        """Write the record of ``task_info`` (it is not queued to run)."""
        keys = self.keys
        record = keys.record(task_info.id)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            record,
            mapping={
                "status": task_info.status.value,
                "owner": "",
                "info": encode_info(task_info),
                "stream": keys.stream(task_info.category, task_info.priority.value),
            },
        )
        pipe.zadd(keys.index, {task_info.id: epoch_ms(task_info.created_at)})
        if task_info.is_completed:
            pipe.pexpire(record, self.ttl_ms)
        pipe.execute()

    def get_task(self, task_id: str) -> TaskInfo | None:
        """Return the task with ``task_id``, or None."""
        reply = self.client.hmget(self.keys.record(task_id), ["status", "info"])
        status, info = cast("list[str | None]", reply)
        return decode_record(status, info)

    def get_tasks(
        self,
        category: str | None = None,
        status: TaskStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskInfo]:
        """Return tasks matching the filters, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = None if status is None else TaskStatus(status)
        found: list[TaskInfo] = []
        skipped = 0
        for info in self._walk():
            if (category is not None and info.category != category) or (
                wanted is not None and info.status is not wanted
            ):
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(found) >= limit:
                break
            found.append(info)
        return found

    def find_tasks(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query``, newest first, and their count.

        Redis keeps no index by status, category or name, so this walks the
        creation index (only the part newer than ``created_after``, if set):
        a script reads 1,000 records at a time, counts those whose status and
        queue match and returns the ids of the page; a search instead gets
        every such record's JSON and matches names here. After
        ``find_scan_limit`` records (rounded up to 1,000) it stops: ``total``
        counts the tasks it looked at and ``counted_all`` is False.
        """
        needle = query.search.lower()
        wanted = range(query.offset, query.offset + query.limit)
        page: list[str] = []
        total = looked = 0
        slices = self._scan(query, with_info=bool(needle), window=None if needle else wanted)
        for read, matched, matches in slices:
            if looked >= self.find_scan_limit:
                return TaskPage(self._read(page), total, counted_all=False)
            looked += read
            if not needle:
                page += [task_id for task_id, _, _ in matches]
                total += matched
                continue
            for task_id, _, info in matches:
                if needle in task_id.lower() or (info and needle in decode_name(info).lower()):
                    if total in wanted:
                        page.append(task_id)
                    total += 1
        return TaskPage(self._read(page), total)

    def _read(self, task_ids: list[str]) -> list[TaskInfo]:
        """The tasks of ``task_ids`` still stored, in that order."""
        pipe = self.client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hmget(self.keys.record(task_id), ["status", "info"])
        tasks = [decode_record(status, info) for status, info in pipe.execute()]
        return [task for task in tasks if task is not None]

    def summarize(self) -> dict[str, Any]:
        """Count every stored task: ``total``, ``by_status``, ``by_category``."""
        tasks = list(self._walk())
        return {
            "total": len(tasks),
            "by_status": dict(sorted(Counter(info.status.value for info in tasks).items())),
            "by_category": dict(sorted(Counter(info.category for info in tasks).items())),
        }

    def tally(self) -> TaskTally:
        """Count every kept record by status, category and priority (reads them all)."""
        return count_tasks(self._walk())

    def cleanup_old_tasks(
        self, days: int | None = None, months: int | None = None, years: int | None = None
    ) -> int:
        """Delete tasks finished before ``days + 30*months + 365*years`` ago."""
        periods = (days, months, years)
        if all(period is None for period in periods):
            return 0
        if any(period is not None and period < 0 for period in periods):
            raise ValueError("retention periods must not be negative")
        keep = timedelta(days=(days or 0) + 30 * (months or 0) + 365 * (years or 0))
        cutoff = transitions.utc_now() - keep
        old = [
            info.id
            for info in self._walk()
            if info.status in TERMINAL_STATUSES and (info.completed_at or info.created_at) < cutoff
        ]
        if old:
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(*(self.keys.record(task_id) for task_id in old))
            pipe.zrem(self.keys.index, *old)
            pipe.execute()
        return len(old)

    def cancel(self, task_id: str) -> TaskInfo | None:
        """Cancel a PENDING task; return it, or None if it is not PENDING."""
        return self._change(task_id, transitions.cancel, "none")

    def requeue_failed(self, task_id: str) -> TaskInfo | None:
        """Queue a FAILED task again (a manual retry); None if not FAILED."""
        return self._change(task_id, transitions.reset_for_retry, "enqueue")

    def _change(
        self, task_id: str, change: Callable[[TaskInfo], bool], then: str
    ) -> TaskInfo | None:
        info = self.get_task(task_id)
        if info is None:
            return None
        before = info.status.value
        if not change(info):
            return None
        ttl = self.ttl_ms if info.is_completed else -1
        keys = [
            self.keys.record(task_id),
            self.keys.stream(info.category, info.priority.value),
            self.keys.delayed,
        ]
        args = [before, "", info.status.value, "", encode_info(info), "", "", ttl, then, 0, task_id]
        return info if self.client.eval(SWAP, len(keys), *keys, *args) else None

    def _walk(self) -> Iterator[TaskInfo]:
        """Every stored task, newest first."""
        for _, _, matches in self._scan(TaskQuery(), with_info=True):
            for _, status, info in matches:
                task = decode_record(status, info)
                if task is not None:
                    yield task

    def _scan(
        self, query: TaskQuery, *, with_info: bool, window: range | None = None
    ) -> Iterator[tuple[int, int, Matches]]:
        """Walk the index newest first; per slice: ids read, matches, matches returned.

        Matches pass ``query``'s status, category, priority and
        ``created_after``; the rest is the caller's. All are returned, or,
        given a ``window``, those whose position among all matches is in it.
        Each slice continues below the last one's score, so tasks added
        meanwhile (newer) are not met. Ids of expired records leave the index.
        """
        keys, after = self.keys, query.created_after
        scan = self.client.register_script(SCAN)
        filters: list[Any] = [
            "-inf" if after is None else f"({epoch_ms(after)!r}",
            _SLICE,
            keys.record_prefix,
            keys.queue_prefix,
            "" if query.status is None else query.status.value,
            "" if query.category is None else "=" + query.category,
            "" if query.priority is None else str(query.priority.value),
            "1" if with_info else "",
        ]
        width = 3 if with_info else 2
        top, ties, seen = "+inf", 0, 0
        while True:
            skip, take = 0, -1  # every match
            if window is not None:
                skip = max(0, window.start - seen)
                take = max(0, window.stop - max(seen, window.start))
            reply = scan(keys=[keys.index], args=[top, ties, *filters, skip, take])
            read, matched, top, ties, flat = cast("list[Any]", reply)
            if not read:
                return
            rows = [flat[i : i + width] for i in range(0, len(flat), width)]
            yield read, matched, [(row[0], row[1], row[2] if with_info else None) for row in rows]
            if read < _SLICE:
                return
            seen += matched
