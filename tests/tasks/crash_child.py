"""Child process for the SIGKILL recovery test (run as a script).

Usage: crash_child.py DB_PATH MARKER_DIR STORE, STORE naming the store class
in ``gobstopper.tasks`` (``TaskStorage``, ``SQLiteTaskStorage``). Queues three
tasks, prints their ids on one line, and runs the two slow ones until it is
killed; each slow task writes a marker file once it is running (so its
STARTED state is already committed). Exits by itself after 60 s if nobody kills it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import gobstopper.tasks
from gobstopper.tasks import TaskQueue
from gobstopper.tasks.models import TaskPriority


async def main(db_path: str, marker_dir: Path, store: str) -> None:
    opener = getattr(gobstopper.tasks, store)
    queue = TaskQueue(enabled=True, storage_factory=lambda: opener(db_path))

    async def slow(label: str) -> None:
        (marker_dir / label).write_text("running")
        await asyncio.sleep(60)

    queue.register_task("slow_retry", category="a")(slow)
    queue.register_task("slow_once", category="b")(slow)
    queue.register_task("parked", category="c")(slow)
    await queue.start_workers("a")
    await queue.start_workers("b")
    ids = [
        await queue.add_task("slow_retry", "a", TaskPriority.NORMAL, 1, "retry"),
        await queue.add_task("slow_once", "b", TaskPriority.NORMAL, 0, "once"),
        await queue.add_task("parked", "c", TaskPriority.NORMAL, 0, "parked"),
    ]
    print(*ids, flush=True)
    await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
