"""Task attempt metrics and the WebSocket rooms gauge (gobstopper.ops.metrics)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from gobstopper import Gobstopper
from gobstopper.ops.metrics import TaskAttempts
from gobstopper.tasks import SQLiteTaskStorage, TaskInfo, TaskPriority, TaskQueue, TaskStatus
from gobstopper.testing import AsyncTestClient
from tests.tasks.helpers import wait_done

from .test_metrics import samples


def labelled(found: dict, name: str) -> dict[tuple[str, ...], float]:
    """``{label values (sorted by label name, ``le`` left out): value}`` of one sample name."""
    return {
        tuple(value for key, value in labels if key != "le"): value
        for (sample, labels), value in found.items()
        if sample == name
    }


def make_app(tmp_path: Path) -> Gobstopper:
    app = Gobstopper("task-metrics")
    app.enable_metrics()
    # Assigned after enabling: the observer is added at startup.
    app.task_queue = TaskQueue(
        enabled=True,
        storage_factory=lambda: SQLiteTaskStorage(tmp_path / "tasks.sqlite3"),
        backoff=lambda retry: 0.0,
    )
    runs = {"flaky": 0}

    @app.task("ok", category="fast")
    async def ok() -> str:
        return "done"

    @app.task("flaky")
    def flaky() -> str:
        runs["flaky"] += 1
        if runs["flaky"] == 1:
            raise ValueError("first attempt fails")
        return "done"

    @app.task("broken")
    async def broken() -> None:
        raise RuntimeError("always")

    return app


async def test_durations_retries_and_failures_after_a_known_mix(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    queue = app.task_queue
    async with AsyncTestClient(app) as client:
        await app.start_task_workers("fast", 1)
        await app.start_task_workers("default", 1)
        ids = [await app.add_background_task("ok", "fast") for _ in range(3)]
        ids.append(await app.add_background_task("flaky", max_retries=1))
        ids.append(await app.add_background_task("broken", max_retries=1))
        finished = [await wait_done(queue, task_id) for task_id in ids]
        found = samples((await client.get("/metrics")).text)
    assert [info.status for info in finished] == [TaskStatus.SUCCESS] * 4 + [TaskStatus.FAILED]

    # Label values in label-name order: category, outcome, task.
    assert labelled(found, "gobstopper_task_duration_seconds_count") == {
        ("fast", "success", "ok"): 3,
        ("default", "retry", "flaky"): 1,
        ("default", "success", "flaky"): 1,
        ("default", "retry", "broken"): 1,
        ("default", "failed", "broken"): 1,
    }
    buckets = labelled(found, "gobstopper_task_duration_seconds_bucket")
    assert len(buckets) == 5  # the +Inf bucket of each series holds every attempt
    # Counters: category, task.
    assert labelled(found, "gobstopper_task_retries_total") == {
        ("default", "flaky"): 1,
        ("default", "broken"): 1,
    }
    assert labelled(found, "gobstopper_task_failures_total") == {("default", "broken"): 1}
    sums = labelled(found, "gobstopper_task_duration_seconds_sum")
    assert all(value >= 0 for value in sums.values()) and len(sums) == 5


async def test_counts_move_once_and_unknown_tasks_share_one_label(tmp_path: Path) -> None:
    """A scrape hands the plain counts over; an unregistered name never becomes a label."""
    app = make_app(tmp_path)
    queue = app.task_queue
    async with AsyncTestClient(app) as client:
        await app.start_task_workers("fast", 1)
        first = await app.add_background_task("ok", "fast")
        await wait_done(queue, first)
        await client.get("/metrics")
        second = await app.add_background_task("ok", "fast")
        await wait_done(queue, second)
        # An attempt at a name this process does not know (queued by another one).
        metrics_observer = next(o for o in queue.observers if isinstance(o, TaskAttempts))
        stray = TaskInfo(
            id="x",
            name="user-supplied-name",
            category="anything",
            priority=TaskPriority.NORMAL,
            status=TaskStatus.FAILED,
            created_at=datetime(2025, 1, 1),
        )
        metrics_observer.attempt_ended(stray, 0.5, None)
        found = samples((await client.get("/metrics")).text)
    assert labelled(found, "gobstopper_task_duration_seconds_count") == {
        ("fast", "success", "ok"): 2,
        ("<unregistered>", "failed", "<unregistered>"): 1,
    }
    assert labelled(found, "gobstopper_task_failures_total") == {
        ("<unregistered>", "<unregistered>"): 1
    }


async def test_websocket_rooms_are_sampled_at_scrape() -> None:
    app = Gobstopper("rooms")
    app.enable_metrics()
    async with AsyncTestClient(app) as client:
        found = samples((await client.get("/metrics")).text)
        assert app.__dict__.get("_websocket_manager") is None  # sampling made none
        manager = app.websocket_manager
        for connection in ("a", "b", "c"):
            manager.add_connection(connection, object())  # type: ignore[arg-type]
        manager.join_room("a", "lobby")
        manager.join_room("b", "lobby")
        manager.join_room("b", "game-1")
        manager.join_room("c", "game-2")
        three = samples((await client.get("/metrics")).text)
        manager.remove_connection("c")  # game-2 is left empty, so it is gone
        two = samples((await client.get("/metrics")).text)
        manager.connections.clear()
        manager.rooms.clear()
    assert found[("gobstopper_websocket_rooms", ())] == 0
    assert three[("gobstopper_websocket_rooms", ())] == 3
    assert two[("gobstopper_websocket_rooms", ())] == 2


_MULTIPROCESS_WORKER = """
import asyncio, sys
from gobstopper import Gobstopper
from gobstopper.tasks import SQLiteTaskStorage, TaskQueue
from gobstopper.testing import AsyncTestClient
from tests.tasks.helpers import wait_done


async def main():
    app = Gobstopper("worker")
    app.enable_metrics()
    app.task_queue = TaskQueue(
        enabled=True, storage_factory=lambda: SQLiteTaskStorage(sys.argv[1]), backoff=lambda n: 0.0
    )

    @app.task("boom")
    async def boom():
        raise ValueError("always")

    async with AsyncTestClient(app) as client:
        task_id = await app.add_background_task("boom", max_retries=1)
        await client.get("/metrics")  # one pending task, counted by the store
        await app.start_task_workers()
        await wait_done(app.task_queue, task_id)
        manager = app.websocket_manager
        manager.add_connection("a", object())
        manager.join_room("a", "lobby")
        print((await client.get("/metrics")).text)
        manager.remove_connection("a")


asyncio.run(main())
"""


def test_task_metrics_and_rooms_in_multiprocess_mode(tmp_path: Path) -> None:
    """Under ``PROMETHEUS_MULTIPROC_DIR`` (``--workers N``): summed counters, rooms per pid.

    A child process, as prometheus-client picks its mode at import; warnings are errors there.
    """
    import os
    import subprocess
    import sys

    shared = tmp_path / "metrics"
    shared.mkdir()
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-W", "error", "-c", _MULTIPROCESS_WORKER, str(tmp_path / "t.sqlite3")],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    found = samples(child.stdout)
    assert labelled(found, "gobstopper_task_retries_total") == {("default", "boom"): 1}
    assert labelled(found, "gobstopper_task_failures_total") == {("default", "boom"): 1}
    assert labelled(found, "gobstopper_task_duration_seconds_count") == {
        ("default", "retry", "boom"): 1,
        ("default", "failed", "boom"): 1,
    }
    (rooms,) = labelled(found, "gobstopper_websocket_rooms").items()
    assert rooms[1] == 1 and rooms[0][0].isdigit()  # one series per worker: a pid label
    # The pending series the first scrape saw is 0 now (not left stale at 1).
    assert labelled(found, "gobstopper_tasks") == {
        ("default", "NORMAL", "pending"): 0,
        ("default", "NORMAL", "failed"): 1,
    }
