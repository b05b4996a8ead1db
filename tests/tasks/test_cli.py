"""The ``gobstopper tasks`` sub-commands, run through argparse."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gobstopper.tasks import SQLiteTaskStorage, TaskInfo, TaskStorage
from gobstopper.tasks.cli import add_tasks_commands
from gobstopper.tasks.models import TaskStatus
from gobstopper.tasks.transitions import utc_now

from .conftest import Store
from .helpers import database_held_by_another_process, task_info


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gobstopper")
    add_tasks_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tasks", *argv])
    return args.func(args)


def _task(task_id: str, status: TaskStatus, minutes: int, **changes: object) -> TaskInfo:
    fields: dict[str, object] = {
        "name": "send_email",
        "category": "email",
        "status": status,
        "created_at": datetime(2025, 1, 1) + timedelta(minutes=minutes),
    }
    return task_info(task_id, **{**fields, **changes})


@pytest.fixture(params=[TaskStorage, SQLiteTaskStorage], ids=["duckdb", "sqlite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Every test on ``db`` runs on each file store: ``--db`` tells them apart by header."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def db(db_path: Path, store: Store) -> str:
    storage = store(db_path)
    storage.save_tasks(
        [
            _task("p1", TaskStatus.PENDING, 1),
            _task(
                "f1",
                TaskStatus.FAILED,
                2,
                error="boom",
                retry_count=2,
                max_retries=2,
                completed_at=utc_now(),
            ),
            _task(
                "s1",
                TaskStatus.SUCCESS,
                3,
                category="reports",
                result={"rows": 3},
                completed_at=utc_now(),
            ),
            _task("old", TaskStatus.SUCCESS, 0, completed_at=utc_now() - timedelta(days=400)),
        ]
    )
    storage.close()
    return str(db_path)


def _stored(db: str, task_id: str) -> TaskInfo:
    storage = SQLiteTaskStorage(db) if db.endswith(SQLiteTaskStorage.SUFFIX) else TaskStorage(db)
    try:
        info = storage.get_task(task_id)
    finally:
        storage.close()
    assert info is not None
    return info


def test_list_newest_first_with_filters(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list", "--db", db) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["s1", "f1", "p1", "old"]
    assert "failed" in lines[1] and "email/send_email" in lines[1]
    assert run("list", "--db", db, "--category", "email", "--status", "failed") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["f1"]
    assert run("list", "--db", db, "--limit", "1", "--offset", "1") == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["f1"]
    assert run("list", "--db", db, "--category", "none") == 0
    assert capsys.readouterr().out == "no tasks\n"


def test_show_prints_json(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "s1", "--db", db) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["status"], shown["result"]) == ("s1", "success", {"rows": 3})
    assert run("show", "nope", "--db", db) == 1
    assert "no task nope" in capsys.readouterr().err


def test_retry_only_failed(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("retry", "p1", "--db", db) == 1
    assert "only failed tasks" in capsys.readouterr().err
    assert run("retry", "f1", "--db", db) == 0
    retried = _stored(db, "f1")
    assert (retried.status, retried.error, retried.retry_count) == (TaskStatus.PENDING, None, 2)
    assert run("retry", "missing", "--db", db) == 1


def test_cancel_only_pending(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("cancel", "s1", "--db", db) == 1
    assert "only pending tasks" in capsys.readouterr().err
    assert run("cancel", "p1", "--db", db) == 0
    assert _stored(db, "p1").status is TaskStatus.CANCELLED


def test_stats(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("stats", "--db", db) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "total: 4"
    assert "  success: 2" in out and "  pending: 1" in out and "  reports: 1" in out


def test_cleanup(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("cleanup", "--db", db) == 1
    assert "--days" in capsys.readouterr().err
    assert run("cleanup", "--db", db, "--months", "6", "--days", "10") == 0
    assert capsys.readouterr().out == "deleted 1 finished task(s)\n"
    assert run("cleanup", "--db", db, "--years", "1") == 0
    assert capsys.readouterr().out == "deleted 0 finished task(s)\n"


def test_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.duckdb"
    assert run("list", "--db", str(missing)) == 1
    assert "no task database" in capsys.readouterr().err
    assert not missing.exists()


def test_default_db_and_bad_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser(prog="gobstopper")
    add_tasks_commands(parser.add_subparsers(dest="command", required=True))
    assert parser.parse_args(["tasks", "stats"]).db == "wopr_tasks.duckdb"
    for bad in (
        ["tasks"],
        ["tasks", "list", "--status", "bogus"],
        ["tasks", "list", "--limit", "-1"],
    ):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(bad)
        assert exited.value.code == 2


def test_locked_database_explains_the_fix(
    db: str, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with database_held_by_another_process(Path(db), store.__name__):
        assert run("stats", "--db", db) == 1
    err = capsys.readouterr().err
    assert "locked by another process" in err and "run one worker process" in err


def test_every_command_works_on_a_redis_store(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import uuid

    from gobstopper.tasks.redis_storage import RedisTaskStorage

    prefix = f"test:cli:{uuid.uuid4().hex}"
    storage = RedisTaskStorage(redis_url, prefix=prefix)
    try:
        storage.save_task(_task("p1", TaskStatus.PENDING, 1))
        storage.save_task(_task("f1", TaskStatus.FAILED, 2, error="boom", completed_at=utc_now()))
    finally:
        storage.close()
    where = ("--redis", redis_url, "--prefix", prefix)
    assert run("list", *where) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["f1", "p1"]
    assert run("show", "f1", *where) == 0
    assert json.loads(capsys.readouterr().out)["error"] == "boom"
    assert run("retry", "f1", *where) == 0
    assert "is queued again" in capsys.readouterr().out
    assert run("cancel", "p1", *where) == 0
    assert run("cancel", "p1", *where) == 1
    assert "only pending tasks" in capsys.readouterr().err
    assert run("stats", *where) == 0
    out = capsys.readouterr().out
    assert "  pending: 1" in out and "  cancelled: 1" in out


def test_an_unreachable_redis_store_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.servers import free_port

    assert run("list", "--redis", f"redis://127.0.0.1:{free_port()}/0") == 1
    assert capsys.readouterr().err.startswith("error: ")
