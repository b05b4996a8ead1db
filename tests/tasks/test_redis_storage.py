"""The Redis backend: the TaskQueue API over Redis streams, shared by queues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gobstopper.tasks import TaskQueue, report_progress
from gobstopper.tasks.models import TaskInfo, TaskPriority, TaskStatus
from gobstopper.tasks.redis_records import GROUP, encode_info, epoch_ms
from gobstopper.tasks.redis_storage import RedisTaskStorage
from gobstopper.tasks.transitions import utc_now
from tests.polling import wait_for

from .helpers import task_info, wait_done, wait_status

MakeRedisQueue = Callable[..., TaskQueue]


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own: tests share the session's redis-server."""
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
def storage(redis_url: str, prefix: str) -> Iterator[RedisTaskStorage]:
    store = RedisTaskStorage(redis_url, prefix=prefix, visibility_timeout=0.5)
    yield store
    store.close()


@pytest.fixture
async def make_queue(redis_url: str, prefix: str) -> AsyncIterator[MakeRedisQueue]:
    """Queues on one prefix, like processes sharing a server; shut down after."""
    queues: list[TaskQueue] = []

    def make(**options: object) -> TaskQueue:
        options.setdefault("backoff", lambda retry: 0.0)
        store_options = {"visibility_timeout": options.pop("visibility_timeout", 0.5)}
        queue = TaskQueue(
            enabled=True,
            storage_factory=lambda: RedisTaskStorage(redis_url, prefix=prefix, **store_options),
            **options,
        )  # type: ignore[arg-type]
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        await queue.shutdown(timeout=5)


async def test_runs_tasks_in_priority_order_with_results(make_queue: MakeRedisQueue) -> None:
    queue = make_queue()
    ran: list[str] = []

    @queue.register_task("record")
    async def record(label: str) -> str:
        ran.append(label)
        return label.upper()

    plan = [
        ("low", TaskPriority.LOW),
        ("normal", TaskPriority.NORMAL),
        ("high", TaskPriority.HIGH),
        ("urgent", TaskPriority.URGENT),
        ("normal-2", TaskPriority.NORMAL),
    ]
    ids = [await queue.add_task("record", "default", prio, 0, label) for label, prio in plan]
    stored = await queue.get_task_info(ids[0])
    assert stored is not None and stored.status is TaskStatus.PENDING
    await queue.start_workers(worker_count=1)
    infos = [await wait_done(queue, task_id) for task_id in ids]
    assert ran == ["urgent", "high", "normal", "normal-2", "low"]
    assert [info.result for info in infos] == ["LOW", "NORMAL", "HIGH", "URGENT", "NORMAL-2"]
    assert all(info.status is TaskStatus.SUCCESS and info.progress == 100.0 for info in infos)
    stats = await queue.get_task_stats()
    assert (stats["total"], stats["by_status"], stats["running"]) == (5, {"success": 5}, 0)


async def test_two_queues_share_the_work_and_run_each_task_once(make_queue: MakeRedisQueue) -> None:
    runs: dict[int, int] = {}
    queues = [make_queue(), make_queue()]
    for queue in queues:

        @queue.register_task("count")
        async def count(n: int) -> None:
            runs[n] = runs.get(n, 0) + 1
            await asyncio.sleep(0)

    ids = [
        await queues[0].add_task("count", "default", TaskPriority.NORMAL, 0, n) for n in range(200)
    ]
    for queue in queues:
        await queue.start_workers(worker_count=4)
    for task_id in ids:
        await wait_done(queues[1], task_id)
    assert runs == dict.fromkeys(range(200), 1)


async def test_automatic_retries_with_and_without_backoff(make_queue: MakeRedisQueue) -> None:
    queue = make_queue(backoff=lambda retry: 0.0 if retry == 1 else 0.3)
    attempts: list[int] = []

    @queue.register_task("flaky")
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError(f"attempt {len(attempts)}")
        return "done"

    await queue.start_workers()
    task_id = await queue.add_task("flaky", "default", TaskPriority.NORMAL, 3)
    waiting = await wait_status(queue, task_id, TaskStatus.RETRY)  # the 0.3 s backoff
    assert waiting.retry_count == 2
    assert waiting.error is not None and waiting.error.startswith("TimeoutError: attempt 2")
    done = await wait_done(queue, task_id)
    assert (done.status, done.result, done.retry_count, done.error) == (
        TaskStatus.SUCCESS,
        "done",
        2,
        None,
    )


async def test_exhausted_retries_fail_and_retry_task_requeues(make_queue: MakeRedisQueue) -> None:
    queue = make_queue()
    calls: list[int] = []

    @queue.register_task("broken")
    def broken() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise ValueError("boom")
        return "fixed"

    await queue.start_workers()
    task_id = await queue.add_task("broken", "default", TaskPriority.NORMAL, 1)
    failed = await wait_done(queue, task_id)
    assert (failed.status, failed.retry_count) == (TaskStatus.FAILED, 1)
    assert failed.error is not None and failed.error.startswith("ValueError: boom")
    assert await queue.retry_task("no-such-task") is False
    assert await queue.retry_task(task_id) is True
    assert await queue.retry_task(task_id) is False  # PENDING now
    done = await wait_done(queue, task_id)
    assert (done.status, done.result, done.retry_count) == (TaskStatus.SUCCESS, "fixed", 1)


async def test_cancel_only_pending(make_queue: MakeRedisQueue) -> None:
    queue = make_queue()
    ran: list[str] = []
    release = asyncio.Event()

    @queue.register_task("record")
    async def record(label: str) -> None:
        ran.append(label)
        await release.wait()

    doomed = await queue.add_task("record", "default", TaskPriority.HIGH, 0, "doomed")
    kept = await queue.add_task("record", "default", TaskPriority.LOW, 0, "kept")
    assert await queue.cancel_task(doomed) is True
    assert await queue.cancel_task(doomed) is False
    await queue.start_workers()
    await wait_status(queue, kept, TaskStatus.STARTED)
    assert await queue.cancel_task(kept) is False  # running
    release.set()
    await wait_done(queue, kept)
    cancelled = await queue.get_task_info(doomed)
    assert cancelled is not None and cancelled.status is TaskStatus.CANCELLED
    assert ran == ["kept"]


async def test_progress_is_live_and_stored(
    make_queue: MakeRedisQueue, storage: RedisTaskStorage
) -> None:
    queue = make_queue()
    release = asyncio.Event()

    @queue.register_task("long")
    async def long() -> None:
        report_progress(40, "step 2 of 5")
        await release.wait()

    await queue.start_workers()
    task_id = await queue.add_task("long")
    await wait_for(
        lambda: asyncio.to_thread(storage.get_task, task_id),
        lambda info: info is not None and info.progress == 40.0,
        "stored progress",
    )
    release.set()
    assert (await wait_done(queue, task_id)).progress_message == "step 2 of 5"


async def _plant_dead_attempt(storage: RedisTaskStorage, info: TaskInfo) -> None:
    """Queue ``info`` and leave it STARTED by a consumer that then died."""
    from redis.asyncio import Redis

    client = Redis.from_url(storage.url, decode_responses=True)
    keys = storage.keys
    stream = keys.stream(info.category, info.priority.value)
    try:
        if not await client.exists(stream):
            await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        storage.save_task(info)
        await client.xadd(stream, {"id": info.id})
        [(_, [(message, _)])] = await client.xreadgroup(GROUP, "dead", {stream: ">"}, count=1)
        info.status = TaskStatus.STARTED
        await client.hset(
            keys.record(info.id),
            mapping={"status": "started", "owner": f"dead/{message}", "info": encode_info(info)},
        )
    finally:
        await client.aclose()


def _task(task_id: str, **changes: object) -> TaskInfo:
    return task_info(task_id, **{"created_at": utc_now(), "args": (task_id,), **changes})


async def test_a_dead_workers_task_is_taken_over_after_the_visibility_timeout(
    make_queue: MakeRedisQueue, storage: RedisTaskStorage
) -> None:
    await _plant_dead_attempt(storage, _task("with-retries", max_retries=2))
    await _plant_dead_attempt(storage, _task("no-retries"))
    queue = make_queue()
    ran: list[str] = []
    queue.register_task("job")(ran.append)
    await queue.start_workers(worker_count=2)
    rerun = await wait_done(queue, "with-retries")
    assert (rerun.status, rerun.retry_count) == (TaskStatus.SUCCESS, 1)
    interrupted = await wait_done(queue, "no-retries")
    assert interrupted.status is TaskStatus.FAILED
    assert interrupted.error is not None and interrupted.error.startswith("Interrupted")
    assert ran == ["with-retries"]


async def test_a_long_task_keeps_its_message_by_heartbeat(make_queue: MakeRedisQueue) -> None:
    runs: list[int] = []
    first, second = make_queue(), make_queue()
    for queue in (first, second):

        @queue.register_task("slow")
        async def slow() -> None:
            runs.append(1)
            await asyncio.sleep(2.0)  # four visibility timeouts

    task_id = await first.add_task("slow", "default", TaskPriority.NORMAL, 3)
    await first.start_workers()
    await wait_status(first, task_id, TaskStatus.STARTED)
    await second.start_workers()
    done = await wait_done(first, task_id)
    assert (done.status, done.retry_count, runs) == (TaskStatus.SUCCESS, 0, [1])


async def test_shutdown_gives_unfinished_tasks_back(make_queue: MakeRedisQueue) -> None:
    first = make_queue()

    @first.register_task("stuck")
    async def stuck() -> None:
        await asyncio.Event().wait()

    task_id = await first.add_task("stuck")
    await first.start_workers()
    await wait_status(first, task_id, TaskStatus.STARTED)
    await first.shutdown(timeout=0.05)
    second = make_queue()
    second.register_task("stuck")(lambda: "ran again")
    await second.start_workers()
    done = await wait_done(second, task_id)
    assert (done.status, done.result, done.retry_count) == (TaskStatus.SUCCESS, "ran again", 0)


def test_storage_queries_and_cleanup(storage: RedisTaskStorage) -> None:
    now = utc_now()
    for i in range(6):
        storage.save_task(
            _task(
                f"t{i}",
                category="email" if i % 2 else "analytics",
                status=TaskStatus.PENDING if i < 4 else TaskStatus.SUCCESS,
                created_at=now - timedelta(minutes=10 - i),
                completed_at=now - timedelta(days=40) if i == 5 else None,
            )
        )
    assert [t.id for t in storage.get_tasks()] == ["t5", "t4", "t3", "t2", "t1", "t0"]
    assert [t.id for t in storage.get_tasks(category="email")] == ["t5", "t3", "t1"]
    assert [t.id for t in storage.get_tasks(status="success")] == ["t5", "t4"]
    assert [t.id for t in storage.get_tasks(limit=2, offset=2)] == ["t3", "t2"]
    assert storage.summarize() == {
        "total": 6,
        "by_status": {"pending": 4, "success": 2},
        "by_category": {"analytics": 3, "email": 3},
    }
    assert storage.cleanup_old_tasks() == 0
    assert storage.cleanup_old_tasks(days=30) == 1
    assert storage.get_task("t5") is None and len(storage.get_tasks()) == 5
    cancelled = storage.cancel("t0")
    assert cancelled is not None and cancelled.status is TaskStatus.CANCELLED
    assert storage.cancel("t0") is None and storage.requeue_failed("t1") is None
    with pytest.raises(ValueError):
        storage.get_tasks(limit=-1)


def test_storage_round_trips_every_field(storage: RedisTaskStorage) -> None:
    task = _task(
        "full",
        priority=TaskPriority.CRITICAL,
        status=TaskStatus.FAILED,
        started_at=datetime(2025, 1, 1, 0, 0, 1),
        completed_at=datetime(2025, 1, 1, 0, 0, 3, 250),
        elapsed_seconds=2.5,
        result={"a": [1, None]},
        error="E: x",
        retry_count=1,
        max_retries=3,
        args=("u@example.com", 7),
        kwargs={"n": None},
        progress=50.0,
        progress_message="half",
    )
    storage.save_task(task)
    assert storage.get_task("full") == task


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1970, 1, 1),
        datetime(2026, 12, 5, 1, 2, 3, 456789),
        datetime(2038, 1, 19, 3, 14, 7, 999999),
        datetime(1969, 12, 31, 23, 59, 59, 1),
    ],
)
def test_index_scores_of_naive_and_utc_times_agree(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    assert epoch_ms(moment) == epoch_ms(aware) == aware.timestamp() * 1000
