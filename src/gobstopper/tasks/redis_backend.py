"""The many-process backend: Redis streams with consumer groups.

Each category has one stream per priority (``redis_records``). In each
process a *fetcher* per category reads, for the workers that are idle, the
highest-priority streams first (``XREADGROUP`` in a Lua script, falling back
to a blocking ``XREADGROUP`` across all of them when they are empty). A read
message sits in the process's pending entries list until its outcome is
written, which acks it in the same script (Celery's ``acks_late``).

Delivery is at least once. While a task runs, a heartbeat resets its
message's idle time; when a process dies, its messages go idle, and after
``visibility_timeout`` seconds another process takes them with
``XAUTOCLAIM``. It finds the record still STARTED by the dead attempt and
treats that attempt as interrupted: the task runs again as a retry
(``retry_count`` + 1) or ends FAILED when it has no retries left (the same
rule as DuckDB recovery). Every record change is a compare-and-set on
(status, owner), so the dead attempt, should it be only stalled and come
back, can no longer write: a retry never runs concurrently with itself
unless a process stalls (event loop blocked) longer than the visibility
timeout. Retries wait out their backoff in a sorted set and are moved back
to their stream when due by whichever process looks first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from redis.exceptions import RedisError, ResponseError

from . import transitions
from .backend import TaskPage, TaskQuery, TaskTally
from .models import TaskInfo, TaskStatus
from .redis_batch import ScriptBatcher
from .redis_records import (
    BATCH,
    FETCH,
    GROUP,
    HEARTBEAT,
    PROMOTE,
    decode_record,
    encode_info,
    epoch_ms,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .redis_storage import RedisTaskStorage

logger = logging.getLogger("gobstopper.tasks")

#: Longest a fetcher blocks in one XREADGROUP, in ms.
BLOCK_MS = 1000
#: Seconds between two housekeeping rounds at most (promote, heartbeat, reclaim).
MAX_TICK = 0.5
#: Seconds to wait before reading again after Redis failed.
ERROR_PAUSE = 1.0


@dataclass
class Delivery:
    """A message read from a stream, with the record it named."""

    stream: str
    message: str
    task_id: str
    status: str | None
    owner: str
    info: str | None


class RedisBackend:
    """Tasks shared by every process on one Redis server."""

    def __init__(self, storage: RedisTaskStorage) -> None:
        from redis.asyncio import Redis

        self._storage = storage
        self._keys = storage.keys
        self._client: Redis = Redis.from_url(storage.url, decode_responses=True)
        self._batch = ScriptBatcher(self._client.register_script(BATCH))
        self._fetch = self._client.register_script(FETCH)
        self._promote = self._client.register_script(PROMOTE)
        self._heartbeat = self._client.register_script(HEARTBEAT)
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._buffers: dict[str, asyncio.Queue[Delivery]] = {}
        self._idle: dict[str, int] = {}
        self._wanted: dict[str, asyncio.Event] = {}
        self._taken: dict[str, Delivery] = {}
        self._running: dict[str, tuple[Delivery, str]] = {}  # task id -> (delivery, owner)
        self._loops: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._tick = min(MAX_TICK, storage.visibility_timeout / 4)

    @property
    def queues(self) -> Mapping[str, asyncio.Queue[Any]]:
        """Category name to the tasks read for this process's idle workers."""
        return self._buffers

    def queued(self) -> int:
        """Count the tasks read for this process and not started yet."""
        return sum(buffer.qsize() for buffer in self._buffers.values())

    async def submit(self, info: TaskInfo) -> None:
        """Write the record, index it and add it to its stream, atomically."""
        keys = self._keys
        await self._batch.call(
            "submit",
            [keys.record(info.id), keys.stream(info.category, info.priority.value), keys.index],
            [info.id, encode_info(info), repr(epoch_ms(info.created_at))],
        )

    async def prepare(self, category: str) -> None:
        """Join the category's consumer groups and start its fetcher."""
        if category in self._buffers:
            return
        for stream in self._keys.streams(category):
            try:
                await self._client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._buffers[category] = asyncio.Queue()
        self._idle[category] = 0
        self._wanted[category] = asyncio.Event()
        self._loops.append(asyncio.create_task(self._fetch_loop(category)))
        if len(self._buffers) == 1:
            self._loops.append(asyncio.create_task(self._housekeeping()))

    async def take(self, category: str) -> TaskInfo:
        """Wait for a message read for this worker; return its task."""
        buffer = self._buffers[category]
        while True:
            self._idle[category] += 1
            self._wanted[category].set()
            try:
                delivery = await buffer.get()
            finally:
                self._idle[category] -= 1
            info = decode_record(delivery.status, delivery.info)
            if info is None:
                # The record is gone (expired or deleted): nothing to run.
                self._ack(delivery)
                continue
            self._taken[info.id] = delivery
            return info

    async def start(self, info: TaskInfo) -> bool:
        """Take ownership of the task (compare-and-set) and mark it STARTED."""
        delivery = self._taken.pop(info.id)
        status = info.status
        if status is TaskStatus.STARTED:
            # Read again after the visibility timeout: the attempt that
            # started it stopped without an outcome.
            if not transitions.recover_interrupted(info):
                await self._write(delivery, info, ack=True)
                return False
        elif status is not TaskStatus.PENDING:
            if info.is_completed or status is TaskStatus.RETRY:
                self._ack(delivery)  # cancelled, finished, or already re-queued
            return False
        owner = f"{self.consumer}/{delivery.message}"
        transitions.start(info)
        if not await self._write(delivery, info, owner=owner):
            return False  # changed meanwhile: cancelled, or taken by another
        self._running[info.id] = (delivery, owner)
        return True

    def record(self, info: TaskInfo) -> asyncio.Future[Any]:
        """Write progress, or the outcome (acking the message)."""
        delivery, owner = self._running[info.id]
        mine = (TaskStatus.STARTED.value, owner)
        if info.status is TaskStatus.STARTED:
            return self._swap_call(delivery, info, mine, owner=owner)
        del self._running[info.id]
        return self._swap_call(delivery, info, mine, ack=True, ttl=self._storage.ttl_ms)

    def retry_later(self, info: TaskInfo, delay: float) -> None:
        """Ack; queue again now, or park in the delayed set until due."""
        delivery, owner = self._running.pop(info.id)
        mine = (TaskStatus.STARTED.value, owner)
        if delay <= 0:
            info.status = TaskStatus.PENDING
            self._swap_call(delivery, info, mine, ack=True, then="enqueue")
        else:
            due = time.time() * 1000 + delay * 1000
            self._swap_call(delivery, info, mine, ack=True, then="delay", due=due)
            loop = asyncio.get_running_loop()
            self._timers = {timer for timer in self._timers if timer.when() > loop.time()}
            self._timers.add(loop.call_later(delay, self._promote_due))

    def release(self, info: TaskInfo) -> None:
        """Ack and add the task to its stream again, PENDING."""
        delivery, owner = self._running.pop(info.id)
        self._swap_call(delivery, info, (TaskStatus.STARTED.value, owner), ack=True, then="enqueue")

    async def get(self, task_id: str) -> TaskInfo | None:
        """Read the task's record."""
        reply = await self._client.hmget(self._keys.record(task_id), ["status", "info"])
        status, info = cast("list[str | None]", reply)
        return decode_record(status, info)

    async def cancel(self, task_id: str) -> bool:
        """Cancel the task if its record is still PENDING."""
        return await asyncio.to_thread(self._storage.cancel, task_id) is not None

    async def retry(self, task_id: str, runnable: Callable[[TaskInfo], bool]) -> bool:
        """Queue a FAILED task again if ``runnable`` accepts it."""
        info = await self.get(task_id)
        if info is None or not runnable(info):
            return False
        return await asyncio.to_thread(self._storage.requeue_failed, task_id) is not None

    async def find(self, query: TaskQuery) -> TaskPage:
        """One page of the matching tasks and their count (a bounded walk of the index)."""
        return await asyncio.to_thread(self._storage.find_tasks, query)

    async def tally(self) -> TaskTally:
        """Count the kept records by status, category and priority (a walk of the index)."""
        return await asyncio.to_thread(self._storage.tally)

    async def recent(self, limit: int) -> list[TaskInfo]:
        """The newest tasks of the index."""
        return await asyncio.to_thread(self._storage.get_tasks, limit=limit)

    async def close(self) -> None:
        """Stop reading, hand unstarted messages back, flush, disconnect."""
        for timer in self._timers:
            timer.cancel()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for buffer in self._buffers.values():
            while not buffer.empty():
                self._give_back(buffer.get_nowait())
        for delivery in self._taken.values():
            self._give_back(delivery)
        try:
            await self._batch.close()
        finally:
            await self._client.aclose()

    def _give_back(self, delivery: Delivery) -> None:
        info = decode_record(delivery.status, delivery.info)
        if info is not None and info.status is TaskStatus.PENDING:
            self._swap_call(
                delivery, info, (TaskStatus.PENDING.value, ""), ack=True, then="enqueue"
            )

    def _ack(self, delivery: Delivery) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.xack(delivery.stream, GROUP, delivery.message)
        pipe.xdel(delivery.stream, delivery.message)
        task = asyncio.ensure_future(pipe.execute())
        task.add_done_callback(_log_failure)

    async def _write(
        self, delivery: Delivery, info: TaskInfo, *, owner: str = "", ack: bool = False
    ) -> bool:
        """Change the record from the state it was read in; False if it moved on."""
        ttl = self._storage.ttl_ms if info.is_completed else 0
        expect = (delivery.status or "", delivery.owner)
        try:
            return bool(
                await self._swap_call(delivery, info, expect, owner=owner, ack=ack, ttl=ttl)
            )
        except RedisError:
            logger.exception("task %s: could not mark it started", info.id)
            return False

    def _swap_call(
        self,
        delivery: Delivery,
        info: TaskInfo,
        expect: tuple[str, str],
        *,
        owner: str = "",
        ack: bool = False,
        ttl: int = 0,
        then: str = "none",
        due: float = 0,
    ) -> asyncio.Future[Any]:
        """Write ``info`` if the record is still in state ``expect`` (status, owner)."""
        keys = [self._keys.record(info.id), delivery.stream, self._keys.delayed]
        args = [
            *expect,
            info.status.value,
            owner,
            encode_info(info),
            delivery.message if ack else "",
            GROUP,
            str(ttl),
            then,
            repr(due),
            info.id,
        ]
        future = self._batch.call("swap", keys, args)
        future.add_done_callback(_log_failure)
        return future

    async def _fetch_loop(self, category: str) -> None:
        streams = self._keys.streams(category)
        buffer, wanted = self._buffers[category], self._wanted[category]
        while True:
            await wanted.wait()
            want = self._idle[category] - buffer.qsize()
            if want <= 0:
                wanted.clear()
                continue
            try:
                deliveries = await self._read(streams, want)
            except RedisError as exc:
                logger.warning("task fetcher for %r: Redis failed (%s); retrying", category, exc)
                await asyncio.sleep(ERROR_PAUSE)
                continue
            for delivery in deliveries:
                buffer.put_nowait(delivery)

    async def _read(self, streams: list[str], want: int) -> list[Delivery]:
        rows = await self._fetch(
            keys=streams, args=[GROUP, self.consumer, want, self._keys.record_prefix]
        )
        if rows:
            return [Delivery(row[0], row[1], row[2], row[3], row[4] or "", row[5]) for row in rows]
        # Nothing ready: block until a message arrives in any of the streams.
        reply = await self._client.xreadgroup(
            GROUP, self.consumer, dict.fromkeys(streams, ">"), count=want, block=BLOCK_MS
        )
        read = cast("list[tuple[str, list[tuple[str, dict[str, str]]]]] | None", reply)
        entries = [
            (stream, message, fields["id"])
            for stream, messages in read or []
            for message, fields in messages
        ]
        return await self._with_records(entries)

    async def _with_records(self, entries: list[tuple[str, str, str]]) -> list[Delivery]:
        if not entries:
            return []
        pipe = self._client.pipeline(transaction=False)
        for _, _, task_id in entries:
            pipe.hmget(self._keys.record(task_id), ["status", "owner", "info"])
        records = await pipe.execute()
        return [
            Delivery(stream, message, task_id, status, owner or "", info)
            for (stream, message, task_id), (status, owner, info) in zip(
                entries, records, strict=True
            )
        ]

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            try:
                await self._promote(
                    keys=[self._keys.delayed],
                    args=[int(time.time() * 1000), self._keys.record_prefix, 100],
                )
                await self._beat()
                await self._reclaim()
            except RedisError as exc:
                logger.warning("task housekeeping: Redis failed (%s); retrying", exc)

    def _promote_due(self) -> None:
        task = asyncio.ensure_future(
            self._promote(
                keys=[self._keys.delayed],
                args=[int(time.time() * 1000) + 1, self._keys.record_prefix, 100],
            )
        )
        task.add_done_callback(_log_failure)

    async def _beat(self) -> None:
        by_stream: dict[str, list[str]] = {}
        for delivery, _ in self._running.values():
            by_stream.setdefault(delivery.stream, []).append(delivery.message)
        if not by_stream:
            return
        pipe = self._client.pipeline(transaction=False)
        for stream, messages in by_stream.items():
            await self._heartbeat(
                keys=[stream], args=[GROUP, self.consumer, *messages], client=pipe
            )
        await pipe.execute()

    async def _reclaim(self) -> None:
        idle_ms = int(self._storage.visibility_timeout * 1000)
        for category, buffer in self._buffers.items():
            want = self._idle[category] - buffer.qsize()
            for stream in self._keys.streams(category):
                if want <= 0:
                    break
                reply = await self._client.xautoclaim(
                    stream, GROUP, self.consumer, idle_ms, "0-0", count=want
                )
                claimed = cast("list[tuple[str, dict[str, str] | None]]", reply[1])
                entries = [(stream, message, fields["id"]) for message, fields in claimed if fields]
                for delivery in await self._with_records(entries):
                    buffer.put_nowait(delivery)
                    want -= 1


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("a task state could not be written to Redis", exc_info=future.exception())
