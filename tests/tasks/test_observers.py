"""The task observer seam (gobstopper.tasks.observers): what a queue tells its observers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import pytest

from gobstopper import Gobstopper
from gobstopper.tasks import TaskInfo, TaskQueue, TaskStatus
from gobstopper.testing import AsyncTestClient

from .conftest import MakeQueue
from .helpers import wait_done

#: Set by the caller of ``add_task`` and by the observer's running context.
caller: ContextVar[str] = ContextVar("caller", default="")
attempt: ContextVar[str] = ContextVar("attempt", default="")


class Recorder:
    """Records every call, with what the context held at the time."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def task_queued(self, info: TaskInfo) -> None:
        self.events.append(("queued", info.name, caller.get()))
        info.trace_parent = f"seen-by-{caller.get()}"  # stored with the task

    @contextmanager
    def task_running(self, info: TaskInfo) -> Iterator[None]:
        token = attempt.set(f"attempt-{info.id}-{info.retry_count}")
        self.events.append(("enter", info.name, info.retry_count))
        try:
            yield
        finally:
            attempt.reset(token)
            self.events.append(("exit", info.name, info.retry_count))

    def attempt_ended(self, info: TaskInfo, seconds: float, error: BaseException | None) -> None:
        assert seconds >= 0
        described = None if error is None else f"{type(error).__name__}: {error}"
        self.events.append(("ended", info.name, info.status, described, attempt.get()))


def events_of(recorder: Recorder, name: str) -> list[tuple[object, ...]]:
    return [event for event in recorder.events if event[1] == name]


async def test_hooks_see_the_callers_context_and_wrap_each_attempt(queue: TaskQueue) -> None:
    recorder = Recorder()
    queue.add_observer(recorder)
    queue.add_observer(recorder)  # idempotent: still one observer
    assert queue.observers == [recorder]
    seen: dict[str, str] = {}
    attempts: dict[str, int] = {}

    @queue.register_task("async_job")
    async def async_job() -> str:
        seen["async"] = attempt.get()
        return "ok"

    @queue.register_task("sync_job")
    def sync_job() -> str:
        seen["sync"] = attempt.get()  # in the thread pool, through the copied context
        return "ok"

    @queue.register_task("flaky")
    async def flaky() -> str:
        attempts["flaky"] = attempts.get("flaky", 0) + 1
        if attempts["flaky"] == 1:
            raise ValueError("first try")
        return "ok"

    @queue.register_task("broken")
    async def broken() -> None:
        raise RuntimeError("always")

    token = caller.set("handler")
    try:
        ids = {
            "async_job": await queue.add_task("async_job"),
            "sync_job": await queue.add_task("sync_job"),
            "flaky": await queue.add_task("flaky", "default", max_retries=1),
            "broken": await queue.add_task("broken"),
        }
    finally:
        caller.reset(token)
    stored = await queue.get_task_info(ids["sync_job"])
    assert stored is not None and stored.trace_parent == "seen-by-handler"
    await queue.start_workers("default", 1)
    for task_id in ids.values():
        await wait_done(queue, task_id)

    assert seen == {
        "async": f"attempt-{ids['async_job']}-0",
        "sync": f"attempt-{ids['sync_job']}-0",
    }
    assert events_of(recorder, "sync_job") == [
        ("queued", "sync_job", "handler"),
        ("enter", "sync_job", 0),
        ("ended", "sync_job", TaskStatus.SUCCESS, None, f"attempt-{ids['sync_job']}-0"),
        ("exit", "sync_job", 0),
    ]
    assert events_of(recorder, "flaky") == [
        ("queued", "flaky", "handler"),
        ("enter", "flaky", 0),
        ("ended", "flaky", TaskStatus.RETRY, "ValueError: first try", f"attempt-{ids['flaky']}-0"),
        ("exit", "flaky", 1),  # the failure counted the retry before the context closed
        ("enter", "flaky", 1),
        ("ended", "flaky", TaskStatus.SUCCESS, None, f"attempt-{ids['flaky']}-1"),
        ("exit", "flaky", 1),
    ]
    assert events_of(recorder, "broken")[2] == (
        "ended",
        "broken",
        TaskStatus.FAILED,
        "RuntimeError: always",
        f"attempt-{ids['broken']}-0",
    )


async def test_an_attempt_at_an_unregistered_task_is_a_failure_without_an_error(
    queue: TaskQueue,
) -> None:
    """What a worker reports when another process queued a task it does not know."""
    recorder = Recorder()
    queue.add_observer(recorder)

    @queue.register_task("elsewhere")
    async def elsewhere() -> None:
        return None

    task_id = await queue.add_task("elsewhere")
    del queue.task_functions["elsewhere"]  # as in a worker process without it
    await queue.start_workers("default", 1)
    info = await wait_done(queue, task_id)
    assert info.status is TaskStatus.FAILED and info.error is not None
    assert info.error.startswith("KeyError: no task 'elsewhere'")
    assert events_of(recorder, "elsewhere")[2][:4] == (
        "ended",
        "elsewhere",
        TaskStatus.FAILED,
        None,
    )


class Broken:
    """An observer failing in every hook."""

    def task_queued(self, info: TaskInfo) -> None:
        raise RuntimeError("queued hook bug")

    @contextmanager
    def task_running(self, info: TaskInfo) -> Iterator[None]:
        yield
        raise RuntimeError("exit hook bug")

    def attempt_ended(self, info: TaskInfo, seconds: float, error: BaseException | None) -> None:
        raise RuntimeError("ended hook bug")


class BrokenEntry(Recorder):
    """An observer that cannot even open its context."""

    def task_running(self, info: TaskInfo) -> Iterator[None]:  # type: ignore[override]
        raise RuntimeError("entry hook bug")


async def test_a_failing_observer_is_logged_and_never_fails_a_task(
    queue: TaskQueue, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    for observer in (Broken(), BrokenEntry(), recorder):
        queue.add_observer(observer)

    @queue.register_task("job")
    async def job(n: int) -> int:
        return n * 2

    with caplog.at_level(logging.ERROR, logger="gobstopper.tasks"):
        first = await queue.add_task("job", n=1)
        second = await queue.add_task("job", n=2)
        await queue.start_workers("default", 1)
        results = [(await wait_done(queue, task_id)).result for task_id in (first, second)]
    assert results == [2, 4]  # the worker survived the first task's observers
    messages = [record.getMessage() for record in caplog.records]
    for hook in ("on queuing", "failed to start", "failed to end", "after an attempt"):
        assert sum(hook in message for message in messages) == 2, hook
    # The healthy observer after the broken ones still heard everything.
    assert [event[0] for event in events_of(recorder, "job")].count("ended") == 2


async def test_an_app_gets_observers_on_a_queue_assigned_after_enabling(
    make_queue: MakeQueue,
) -> None:
    from gobstopper.tasks.observers import observe_app_tasks

    app = Gobstopper("late")
    recorder = Recorder()
    observe_app_tasks(app, recorder)
    assert not app.has_task_queue  # never creates a queue
    queue = app.task_queue = make_queue()

    @app.task("job")
    async def job() -> str:
        return "done"

    async with AsyncTestClient(app):
        assert queue.observers == [recorder]
        await app.start_task_workers("default", 1)
        task_id = await app.add_background_task("job")
        await wait_done(queue, task_id)
    assert [event[0] for event in events_of(recorder, "job")] == [
        "queued",
        "enter",
        "ended",
        "exit",
    ]


async def test_an_observer_added_to_a_queue_that_exists_is_added_at_once(
    queue: TaskQueue,
) -> None:
    from gobstopper.tasks.observers import observe_app_tasks

    app = Gobstopper("early")
    app.task_queue = queue
    recorder = Recorder()
    observe_app_tasks(app, recorder)
    assert queue.observers == [recorder]
