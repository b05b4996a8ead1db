"""CPU time of the server and of the load client over a measured window, and percentiles.

The server's CPU is read from /proc for its whole process tree (Granian's main process,
its worker and their Rust threads), as the HTTP benchmark does. The client's is its own
process time: a client near 100 % of one core is the bottleneck, not the server. On a
shared machine other processes run on the same cores, so the busy time of the server's
core (/proc/stat) minus the server's own CPU time says how much of that core it did not get.
"""

from __future__ import annotations

import os
import time
from array import array
from dataclasses import dataclass

from benchmarks.driver.cpus import SERVER_CORE
from benchmarks.driver.proctree import cpu_microseconds

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def core_busy_s(core: str) -> float:
    """Return the time CPU ``core`` has spent busy since boot (not idle nor waiting on I/O)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(field) for field in line.split()[1:]]
                # user nice system idle iowait irq softirq steal ...: drop idle and iowait.
                return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _TICKS_PER_SECOND
    return 0.0


@dataclass(frozen=True)
class Usage:
    """Wall time and CPU time of one measured window."""

    elapsed_s: float
    server_cpu_us: float
    client_cpu_s: float
    server_core_busy_s: float

    def per_unit(self, unit: str, count: int) -> dict[str, float]:
        """Return the figures of the window, the server's CPU divided over ``count`` units."""
        return {
            "elapsed_s": self.elapsed_s,
            f"server_cpu_us_per_{unit}": self.server_cpu_us / count,
            "server_cpu_share": self.server_cpu_us / 1e6 / self.elapsed_s,
            "client_cpu_share": self.client_cpu_s / self.elapsed_s,
            "others_on_server_core": max(0.0, self.server_core_busy_s - self.server_cpu_us / 1e6)
            / self.elapsed_s,
        }


class Meter:
    """Reads the CPU clocks at ``start`` and ``stop``."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._server_us = 0.0
        self._client_s = 0.0
        self._core_s = 0.0

    def start(self) -> None:
        """Mark the beginning of the measured window."""
        self._server_us = cpu_microseconds(self.server_pid)
        self._client_s = time.process_time()
        self._core_s = core_busy_s(SERVER_CORE)

    def stop(self, elapsed_ns: int) -> Usage:
        """Return the usage since ``start``, over a window of ``elapsed_ns``."""
        return Usage(
            elapsed_s=elapsed_ns / 1e9,
            server_cpu_us=cpu_microseconds(self.server_pid) - self._server_us,
            client_cpu_s=time.process_time() - self._client_s,
            server_core_busy_s=core_busy_s(SERVER_CORE) - self._core_s,
        )


def percentiles(samples_ns: array[int]) -> dict[str, float]:
    """Return the median, 99th percentile and maximum of ``samples_ns``, in milliseconds."""
    ordered = sorted(samples_ns)
    if not ordered:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    last = len(ordered) - 1
    return {
        "p50_ms": ordered[last // 2] / 1e6,
        "p99_ms": ordered[min(last, round(last * 0.99))] / 1e6,
        "max_ms": ordered[last] / 1e6,
    }
