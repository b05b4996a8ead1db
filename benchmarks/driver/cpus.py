"""Pin the server and the load generator to different CPU cores.

On a 2-core machine, letting the scheduler mix Granian and wrk on the same
core makes req/s swing by a third between identical runs. With ``taskset``
available, the server runs on core 0 and wrk on core 1 for every framework
alike; without it (or with fewer than 2 cores) nothing is pinned.
"""

from __future__ import annotations

import os
import shutil

SERVER_CORE = "0"
LOAD_CORE = "1"


def _pinning_available() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(command: list[str], core: str) -> list[str]:
    """``command`` prefixed with ``taskset -c core`` when pinning is possible."""
    if not _pinning_available():
        return command
    return ["taskset", "-c", core, *command]


def describe() -> str:
    """One line for RESULTS.md saying how processes were placed."""
    if _pinning_available():
        return f"server pinned to CPU {SERVER_CORE}, wrk to CPU {LOAD_CORE} (taskset)"
    return "no CPU pinning (taskset missing or a single core)"
