"""The event file some e2e apps append to (``<event> <pid>`` per line), read by tests.

A server's startup and shutdown hooks and its slow handlers run in another
process; the line they write is the signal a test waits for.
"""

from __future__ import annotations

import time
from pathlib import Path


def wait_for_event(path: Path, text: str, count: int = 1, deadline: float = 15) -> None:
    """Poll ``path`` until ``text`` appears on ``count`` lines; fail after ``deadline`` s."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        lines = path.read_text().splitlines() if path.exists() else []
        if sum(text in line for line in lines) >= count:
            return
        time.sleep(0.02)
    raise TimeoutError(f"{text!r} not seen {count} time(s) in {path} after {deadline}s")
