"""Read CPU time and memory of a server's process tree from /proc.

Granian runs a main process and forks its worker(s); the CPU a request costs is spent in
the worker, plus the Rust runtime threads of both, so the driver sums the whole tree.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Return the fields of /proc/<pid>/stat after the command name, or None if gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Return the pids of every live descendant of ``pid`` (children, grandchildren…)."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_microseconds(pid: int) -> float:
    """Return user+system CPU time, in µs, of ``pid`` and all its live descendants."""
    ticks = 0
    for member in (pid, *descendants(pid)):
        fields = _stat_fields(member)
        if fields is not None:
            # Fields 14 and 15 of stat (utime, stime); index 0 here is field 3 (state).
            ticks += int(fields[11]) + int(fields[12])
    return ticks * 1_000_000 / _TICKS_PER_SECOND


def rss_kib(pid: int) -> int:
    """Return the resident set size of ``pid`` in KiB (0 if it is gone)."""
    try:
        status = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def group_members(pgid: int) -> list[int]:
    """Return the pids of live processes in process group ``pgid``."""
    members = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            # Field 5 of stat is the process group id.
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members
