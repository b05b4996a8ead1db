"""TaskStatus, TaskPriority and TaskInfo as the reference documents them."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
import pytest

from gobstopper.tasks.models import TaskInfo, TaskPriority, TaskStatus, new_task_id

from .helpers import task_info


def test_status_values() -> None:
    assert {s.name: s.value for s in TaskStatus} == {
        "PENDING": "pending",
        "STARTED": "started",
        "SUCCESS": "success",
        "FAILED": "failed",
        "CANCELLED": "cancelled",
        "RETRY": "retry",
    }


def test_priority_values_and_urgent_alias() -> None:
    assert [(p.name, p.value) for p in TaskPriority] == [
        ("LOW", 1),
        ("NORMAL", 2),
        ("HIGH", 3),
        ("CRITICAL", 4),
    ]
    assert TaskPriority.URGENT is TaskPriority.CRITICAL
    assert TaskPriority(4) is TaskPriority.URGENT
    assert TaskPriority["URGENT"].value == 4


def test_priority_importable_from_queue_module() -> None:
    from gobstopper.tasks.queue import TaskPriority as FromQueue

    assert FromQueue is TaskPriority


def _task(**changes: object) -> TaskInfo:
    fields: dict[str, object] = {
        "name": "send_email",
        "category": "notifications",
        "priority": TaskPriority.HIGH,
        "created_at": datetime(2025, 1, 2, 3, 4, 5),
    }
    return task_info("task-123", **{**fields, **changes})


def test_task_info_defaults() -> None:
    task = _task()
    assert (task.started_at, task.completed_at, task.result, task.error) == (None,) * 4
    assert (task.elapsed_seconds, task.retry_count, task.max_retries) == (0.0, 0, 0)
    assert (task.args, task.kwargs) == ((), {})
    assert (task.progress, task.progress_message) == (0.0, "")


def test_kwargs_default_is_not_shared() -> None:
    first, second = _task(), _task()
    first.kwargs["a"] = 1
    assert second.kwargs == {}


def test_task_info_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        TaskInfo("id", "name", "category", TaskPriority.LOW, TaskStatus.PENDING, datetime.now())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("status", "running", "completed"),
    [
        (TaskStatus.PENDING, False, False),
        (TaskStatus.STARTED, True, False),
        (TaskStatus.RETRY, False, False),
        (TaskStatus.SUCCESS, False, True),
        (TaskStatus.FAILED, False, True),
        (TaskStatus.CANCELLED, False, True),
    ],
)
def test_is_running_and_is_completed(status: TaskStatus, running: bool, completed: bool) -> None:
    task = _task(status=status)
    assert task.is_running is running
    assert task.is_completed is completed


def test_reference_example_create_and_track() -> None:
    # The TaskInfo class example, unchanged apart from the imports above.
    task = TaskInfo(
        id="550e8400-e29b-41d4-a716-446655440000",
        name="send_welcome_email",
        category="notifications",
        priority=TaskPriority.HIGH,
        status=TaskStatus.PENDING,
        created_at=datetime.now(),
        max_retries=3,
        args=("user@example.com",),
        kwargs={"template": "welcome.html", "language": "en"},
    )
    task.progress = 50.0
    task.progress_message = "Rendering email template..."
    assert task.progress == 50.0
    task.status = TaskStatus.SUCCESS
    task.completed_at = datetime.now()
    task.elapsed_seconds = 2.5
    task.progress = 100.0
    assert task.is_completed and not task.is_running


def test_msgspec_round_trip() -> None:
    task = _task(args=("a", 1), kwargs={"k": [1, 2]}, result={"ok": True})
    decoded = msgspec.json.decode(msgspec.json.encode(task), type=TaskInfo)
    assert decoded == task
    assert decoded.priority is TaskPriority.HIGH


def test_new_task_id_is_a_canonical_random_uuid4() -> None:
    ids = [new_task_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lower-case, dashed, 36 characters
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every one of the 122 random bits varies across 2,000 ids.
    fixed = {(6, 0xF0), (8, 0xC0)}
    for index in range(16):
        seen = {uuid.UUID(text).bytes[index] for text in ids}
        mask = next((bits for position, bits in fixed if position == index), 0)
        assert len({value & ~mask & 0xFF for value in seen}) > 1
