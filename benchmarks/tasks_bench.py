"""Background task throughput through DuckDB storage.

Run: ``python benchmarks/tasks_bench.py`` (``--help`` for options).

Runs N no-op tasks end to end on an enabled TaskQueue with DuckDB storage in
a temporary directory: ``producers`` coroutines call ``add_task`` (like
concurrent request handlers) while ``workers`` run the tasks. The clock
stops when every task's SUCCESS is committed (``shutdown`` flushes the last
saves), and the stored SUCCESS count is checked. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from gobstopper.tasks import TaskQueue, TaskStorage


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks to run (default 5000)")
    parser.add_argument("--workers", type=int, default=32, help="queue workers (default 32)")
    parser.add_argument("--producers", type=int, default=64, help="concurrent add_task callers")
    return parser.parse_args()


async def _produce(queue: TaskQueue, count: int, latencies: list[float]) -> None:
    for _ in range(count):
        began = time.perf_counter()
        await queue.add_task("noop")
        latencies.append(time.perf_counter() - began)


async def run_noop_tasks(db_path: Path, tasks: int, workers: int, producers: int) -> dict:
    """Run ``tasks`` no-op tasks and return the measurements."""
    queue = TaskQueue(enabled=True, storage_factory=lambda: TaskStorage(db_path))
    finished = asyncio.Event()
    done = 0

    @queue.register_task("noop")
    async def noop() -> None:
        nonlocal done
        done += 1
        if done == tasks:
            finished.set()

    await queue.start_workers(worker_count=workers)
    latencies: list[float] = []
    shares = [tasks // producers + (i < tasks % producers) for i in range(producers)]
    began = time.perf_counter()
    await asyncio.gather(*(_produce(queue, share, latencies) for share in shares if share))
    enqueued = time.perf_counter() - began
    await asyncio.wait_for(finished.wait(), timeout=max(60.0, tasks / 20))
    await queue.shutdown()
    elapsed = time.perf_counter() - began

    summary = TaskStorage(db_path)
    stored = summary.summarize()["by_status"].get("success", 0)
    summary.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "seconds": round(elapsed, 3),
        "tasks_per_second": round(tasks / elapsed, 1),
        "enqueue_seconds": round(enqueued, 3),
        "enqueue_p50_ms": round(cuts[49] * 1000, 2),
        "enqueue_p99_ms": round(cuts[98] * 1000, 2),
        "stored_success": stored,
    }


def main() -> int:
    """Run the benchmark, print its JSON line; 1 if tasks went missing."""
    args = _parse()
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(
            run_noop_tasks(Path(folder) / "bench.duckdb", args.tasks, args.workers, args.producers)
        )
    line = {
        "benchmark": "tasks_noop_end_to_end",
        "tasks": args.tasks,
        "workers": args.workers,
        "producers": args.producers,
        **result,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    print(json.dumps(line))
    return 0 if result["stored_success"] == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
