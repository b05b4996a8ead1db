"""What only SQLiteTaskStorage has: WAL, the durability choice, a file other tools read.

The contract it shares with DuckDB's TaskStorage runs on both stores in
test_storage.py; recovery after a crash in test_recovery.py and over a real
server in tests/e2e/test_tasks_duckdb_crash.py.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from gobstopper.tasks import SQLiteTaskStorage, TaskInfo
from gobstopper.tasks.models import TaskPriority, TaskStatus

# PRAGMA synchronous answers a number: 1 is NORMAL, 2 is FULL.
_SYNCHRONOUS = {"NORMAL": 1, "FULL": 2}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tasks.sqlite3"


def _pragma(storage: SQLiteTaskStorage, name: str) -> object:
    storage.get_task("x")  # opens the file
    return storage.connection.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_wal_mode_with_the_chosen_synchronous(path: Path, synchronous: str) -> None:
    storage = SQLiteTaskStorage(path, synchronous=synchronous)  # type: ignore[arg-type]
    assert _pragma(storage, "journal_mode") == "wal"
    assert _pragma(storage, "synchronous") == _SYNCHRONOUS[synchronous]
    assert _pragma(storage, "locking_mode") == "exclusive"
    storage.close()


def test_full_is_the_default_and_other_values_are_refused(path: Path) -> None:
    storage = SQLiteTaskStorage(path)
    assert storage.synchronous == "FULL"
    assert _pragma(storage, "synchronous") == _SYNCHRONOUS["FULL"]
    storage.close()
    with pytest.raises(ValueError, match="'FULL' or 'NORMAL'"):
        SQLiteTaskStorage(path, synchronous="OFF")  # type: ignore[arg-type]


def test_the_file_is_plain_sqlite_with_iso_times_and_json_values(path: Path) -> None:
    storage = SQLiteTaskStorage(path)
    storage.save_task(
        TaskInfo(
            id="t1",
            name="send_email",
            category="email",
            priority=TaskPriority.HIGH,
            status=TaskStatus.SUCCESS,
            created_at=datetime(2025, 1, 2, 3, 4, 5),
            completed_at=datetime(2025, 1, 2, 3, 4, 6, 7),
            result={"sent": True},
            args=("ada@example.com",),
            kwargs={"subject": "Hi"},
        )
    )
    storage.close()
    with sqlite3.connect(path) as other:  # the store let go of the file on close
        row = other.execute(
            "SELECT priority, status, created_at, completed_at, result, args, kwargs FROM tasks"
        ).fetchone()
    other.close()
    assert row == (
        3,
        "success",
        "2025-01-02 03:04:05.000000",  # fixed width: text order is time order
        "2025-01-02 03:04:06.000007",
        '{"sent":true}',
        '["ada@example.com"]',
        '{"subject":"Hi"}',
    )
