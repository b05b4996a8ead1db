"""Task setup on a disabled queue is reported when the app starts."""

from __future__ import annotations

import logging

import pytest

from gobstopper import Gobstopper
from gobstopper.tasks import TaskQueue
from gobstopper.testing import TestClient


@pytest.fixture(autouse=True)
def _tasks_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WOPR_TASKS_ENABLED", raising=False)


def _tasks_app() -> Gobstopper:
    app = Gobstopper(__name__)

    @app.task("send_email", category="notifications")
    async def send_email(to: str) -> dict[str, bool]:
        return {"sent": True}

    @app.on_startup
    async def start_workers() -> None:
        await app.start_task_workers("notifications", worker_count=2)

    return app


def _task_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "gobstopper.tasks" and r.levelno == logging.WARNING
    ]


def test_startup_warns_that_a_disabled_queue_ignores_tasks_and_workers(caplog):
    app = _tasks_app()
    with caplog.at_level(logging.WARNING), TestClient(app):
        pass
    [message] = _task_warnings(caplog)
    assert "disabled" in message
    assert "task 'send_email'" in message and "workers for 'notifications'" in message
    assert "WOPR_TASKS_ENABLED=1" in message and "TaskQueue(enabled=True)" in message
    assert "Redis" not in message


def test_queueing_on_a_disabled_queue_names_the_same_fix():
    app = _tasks_app()
    with TestClient(app) as client, pytest.raises(RuntimeError) as caught:
        client.run(app.add_background_task("send_email", "notifications", None, 0, "a@b.c"))
    assert "WOPR_TASKS_ENABLED=1" in str(caught.value)
    assert "TaskQueue(enabled=True)" in str(caught.value)


def test_no_warning_when_tasks_are_enabled_or_unused(caplog, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # an enabled queue would create its database here
    unused = Gobstopper("unused")
    enabled = Gobstopper("enabled")
    enabled.task_queue = TaskQueue(enabled=True)
    enabled.task("job")(lambda: None)
    with caplog.at_level(logging.WARNING):
        for app in (unused, enabled):
            with TestClient(app):
                pass
    assert _task_warnings(caplog) == []
    assert unused._task_queue is None  # checking did not create a queue


def test_a_task_database_held_elsewhere_fails_startup_with_the_fix(tmp_path, monkeypatch):
    from gobstopper.tasks import TaskStorageLockedError
    from tests.tasks.helpers import database_held_by_another_process

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WOPR_TASKS_ENABLED", "1")
    app = _tasks_app()
    client = TestClient(app)
    with database_held_by_another_process(tmp_path / "wopr_tasks.duckdb"):
        with pytest.raises(TaskStorageLockedError) as caught, client:
            pass
    client.run(app.shutdown(timeout=1))  # stops the queue's storage thread
    client.close()
    message = str(caught.value)
    assert str(tmp_path / "wopr_tasks.duckdb") in message
    assert "run one worker process per task database file" in message
    assert "RedisTaskStorage(" in message  # the backend that several processes can share
