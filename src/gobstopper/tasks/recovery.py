"""Find a category's unfinished tasks in storage after a restart.

Runs on the storage thread as one job, so no save interleaves with the
paging: every PENDING, RETRY and STARTED task is seen exactly once.
"""

from __future__ import annotations

from typing import Any

from .models import TaskInfo, TaskStatus

UNFINISHED = (TaskStatus.PENDING, TaskStatus.RETRY, TaskStatus.STARTED)
_PAGE = 1000


def find_recoverable(storage: Any, category: str) -> list[TaskInfo]:
    """Return every unfinished task of ``category`` held in ``storage``.

    Uses only the documented ``get_tasks`` call, so custom storages work.
    Paging stops at a short page, or at a page with nothing new (a storage
    that ignores ``offset`` cannot make it loop forever).
    """
    found: dict[str, TaskInfo] = {}
    for status in UNFINISHED:
        offset = 0
        while True:
            page = storage.get_tasks(category=category, status=status, limit=_PAGE, offset=offset)
            fresh = [info for info in page if info.id not in found]
            found.update((info.id, info) for info in fresh)
            if len(page) < _PAGE or not fresh:
                break
            offset += _PAGE
    return list(found.values())
