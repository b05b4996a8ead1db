"""Import cost and idle memory: what a framework costs before it serves anything.

Import time is read from ``python -X importtime``: the cumulative time of each top-level
import that the bare interpreter does not already do at startup, summed, median of a few
runs (a fresh process each time, so nothing is cached in ``sys.modules``).
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

#: Fresh processes per measurement; the median of 11 barely moves on a busy shared machine.
IMPORTTIME_RUNS = 11


def _top_level_imports(stderr: str) -> dict[str, int]:
    """Map each top-level module in an ``-X importtime`` report to its cumulative µs."""
    found: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        name = parts[2][1:]  # one space separates the column from the name
        if name == name.lstrip():  # nested imports are indented
            found[name.strip()] = int(parts[1])
    return found


def _importtime(python: Path, code: str) -> dict[str, int]:
    done = subprocess.run(
        [str(python), "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{done.stderr[-1500:]}")
    return _top_level_imports(done.stderr)


def import_microseconds(python: Path, statement: str) -> int:
    """Return the median cost, in µs, of running ``statement`` in a fresh ``python``."""
    startup = set(_importtime(python, "pass"))
    samples = []
    for _ in range(IMPORTTIME_RUNS):
        imports = _importtime(python, statement)
        samples.append(sum(us for name, us in imports.items() if name not in startup))
    return int(statistics.median(samples))
