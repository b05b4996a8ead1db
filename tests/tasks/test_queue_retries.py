"""Automatic retries: backoff, the RETRY state, FAILED with a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gobstopper.tasks import TaskQueue
from gobstopper.tasks.models import TaskPriority, TaskStatus
from gobstopper.tasks.transitions import default_backoff

from .conftest import MakeQueue
from .helpers import wait_done, wait_status


def test_default_backoff_is_capped_exponential() -> None:
    assert [default_backoff(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def _recording_backoff(delays: list[int], seconds: float = 0.0) -> Callable[[int], float]:
    def backoff(retry: int) -> float:
        delays.append(retry)
        return seconds

    return backoff


async def test_retries_until_success(make_queue: MakeQueue) -> None:
    delays: list[int] = []
    queue = make_queue(backoff=_recording_backoff(delays))
    attempts: list[int] = []

    @queue.register_task("flaky")
    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError(f"attempt {len(attempts)}")
        return "done"

    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("flaky", "default", TaskPriority.NORMAL, 3))
    assert (info.status, info.result, info.retry_count, info.error) == (
        TaskStatus.SUCCESS,
        "done",
        2,
        None,
    )
    assert delays == [1, 2]
    assert len(attempts) == 3


async def test_exhausted_retries_end_failed_with_traceback(make_queue: MakeQueue) -> None:
    delays: list[int] = []
    queue = make_queue(backoff=_recording_backoff(delays))

    @queue.register_task("broken")
    def broken(value: int) -> None:
        raise ValueError(f"boom {value}")

    await queue.start_workers()
    task_id = await queue.add_task("broken", "default", TaskPriority.NORMAL, 2, 7)
    info = await wait_done(queue, task_id)
    assert info.status is TaskStatus.FAILED
    assert info.retry_count == 2
    assert delays == [1, 2]
    assert info.error is not None
    lines = info.error.splitlines()
    assert lines[0] == "ValueError: boom 7"
    assert lines[1] == "Traceback (most recent call last):"
    assert "in broken" in info.error
    assert info.started_at is not None and info.completed_at is not None
    assert info.created_at <= info.started_at <= info.completed_at
    stored = await queue.get_task_info(task_id)
    assert stored == info


async def test_no_retries_by_default(make_queue: MakeQueue) -> None:
    delays: list[int] = []
    queue = make_queue(backoff=_recording_backoff(delays))
    queue.register_task("broken")(lambda: 1 / 0)
    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("broken"))
    assert (info.status, info.retry_count, delays) == (TaskStatus.FAILED, 0, [])
    assert info.error is not None and info.error.startswith("ZeroDivisionError")


async def test_retry_state_is_visible_during_backoff(make_queue: MakeQueue) -> None:
    queue = make_queue(backoff=lambda retry: 3600.0)
    queue.register_task("broken")(lambda: 1 / 0)
    await queue.start_workers()
    task_id = await queue.add_task("broken", "default", TaskPriority.NORMAL, 1)
    info = await wait_status(queue, task_id, TaskStatus.RETRY)
    assert info.retry_count == 1
    assert info.error is not None and info.error.startswith("ZeroDivisionError")
    assert not info.is_completed
    assert await queue.cancel_task(task_id) is False  # only PENDING can be cancelled
    stats = await queue.get_task_stats()
    assert stats["by_status"] == {"retry": 1}
    assert (stats["running"], stats["queued"]) == (0, 0)


async def test_unstorable_result_fails_without_retries(queue: TaskQueue) -> None:
    attempts: list[int] = []

    @queue.register_task("weird")
    async def weird() -> object:
        attempts.append(1)
        return object()

    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("weird", "default", TaskPriority.LOW, 3))
    assert info.status is TaskStatus.FAILED
    assert info.error is not None and "not JSON-serialisable" in info.error
    assert (info.retry_count, info.max_retries, len(attempts)) == (0, 3, 1)


async def test_result_is_stored_as_json(queue: TaskQueue) -> None:
    @queue.register_task("pair")
    def pair() -> tuple:
        return (1, {"a": (2, 3)})

    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("pair"))
    assert info.result == [1, {"a": [2, 3]}]


@pytest.mark.parametrize("exc", [KeyError("k"), RuntimeError(""), OSError(5, "io")])
async def test_error_headline_names_the_exception(queue: TaskQueue, exc: Exception) -> None:
    def fail() -> None:
        raise exc

    queue.register_task("fail")(fail)
    await queue.start_workers()
    info = await wait_done(queue, await queue.add_task("fail"))
    assert info.error is not None
    assert info.error.splitlines()[0] == f"{type(exc).__name__}: {exc}"
