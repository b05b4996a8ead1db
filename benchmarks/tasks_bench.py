"""Background task throughput: DuckDB, SQLite, the Redis backend, and arq beside them.

Run: ``python benchmarks/tasks_bench.py`` (``--help`` for options).

- ``duckdb`` and ``sqlite``: one process. ``producers`` coroutines call
  ``add_task`` (like concurrent request handlers) while ``workers``
  coroutines run the tasks; the clock stops when every SUCCESS is committed
  (``shutdown`` flushes the last saves), and the stored SUCCESS count is
  checked. SQLite runs once per ``--synchronous`` mode.
- ``redis``: 1 and 2 worker processes (``workers`` coroutines each) on a
  throwaway redis-server; this process queues the tasks from ``producers``
  coroutines. The clock stops when the workers have counted every run.
- ``arq``: the same on the same redis-server, arq's worker with
  ``max_jobs=workers`` and ``poll_delay=0.01``, installed in its own venv
  (``benchmarks/.venvs/arq``, created on first use).

CPU is the sum over every process involved (producer, workers and, for
``redis`` and ``arq``, redis-server) from the moment they are ready, per 1,000
tasks. Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROLES = BENCH / "tasks_bench_roles.py"
ARQ_VENV = BENCH / ".venvs" / "arq"
ARQ_REQUIREMENT = "arq==0.28.0"
SRC = BENCH.parent / "src"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks per run (default 5000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=10,
        help="worker coroutines per process (arq: max_jobs; default 10)",
    )
    parser.add_argument("--producers", type=int, default=64, help="concurrent add_task callers")
    parser.add_argument(
        "--task-ms",
        type=float,
        default=0.0,
        help="each task awaits this long (asyncio.sleep), like I/O; 0: a no-op (default)",
    )
    parser.add_argument(
        "--backend", choices=["duckdb", "sqlite", "redis", "arq", "all"], default="all"
    )
    parser.add_argument("--processes", default="1,2", help="worker processes (redis, arq)")
    parser.add_argument(
        "--synchronous", default="FULL,NORMAL", help="SQLite synchronous modes (default both)"
    )
    return parser.parse_args()


async def _produce(add: object, count: int, latencies: list[float]) -> None:
    for _ in range(count):
        began = time.perf_counter()
        await add("noop")  # type: ignore[operator]
        latencies.append(time.perf_counter() - began)


def _shares(tasks: int, producers: int) -> list[int]:
    return [
        share for i in range(producers) if (share := tasks // producers + (i < tasks % producers))
    ]


def _p50_ms(latencies: list[float]) -> float:
    return round(sorted(latencies)[len(latencies) // 2] * 1000, 2)


async def run_local(
    open_store: Callable[[], Any], tasks: int, workers: int, producers: int, task_ms: float
) -> dict:
    """Run ``tasks`` no-op tasks in this process on the file store ``open_store()`` opens."""
    from gobstopper.tasks import TaskQueue

    queue = TaskQueue(enabled=True, storage_factory=open_store)
    finished = asyncio.Event()
    done = 0

    @queue.register_task("noop")
    async def noop() -> None:
        nonlocal done
        if task_ms:
            await asyncio.sleep(task_ms / 1000)
        done += 1
        if done == tasks:
            finished.set()

    await queue.start_workers(worker_count=workers)
    latencies: list[float] = []
    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(
        *(_produce(queue.add_task, n, latencies) for n in _shares(tasks, producers))
    )
    await asyncio.wait_for(finished.wait(), timeout=max(60.0, tasks / 20))
    await queue.shutdown()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    summary = open_store()
    stored = summary.summarize()["by_status"].get("success", 0)
    summary.close()
    return _figures(tasks, elapsed, cpu, stored, latencies)


def _figures(
    tasks: int, elapsed: float, cpu: float, ran: int, latencies: list[float] | None = None
) -> dict:
    figures = {
        "seconds": round(elapsed, 3),
        "tasks_per_second": round(tasks / elapsed, 1),
        "cpu_s_per_1000_tasks": round(cpu / tasks * 1000, 3),
        "ran": ran,
    }
    if latencies:
        figures["enqueue_p50_ms"] = _p50_ms(latencies)
    return figures


@contextmanager
def _redis_server(folder: Path) -> Iterator[tuple[str, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0", server.pid
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def _workers(command: list[str], count: int) -> Iterator[list[subprocess.Popen[str]]]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _stop(procs: list[subprocess.Popen[str]]) -> float:
    """SIGTERM the workers; return the CPU seconds they report."""
    cpu = 0.0
    for proc in procs:
        proc.terminate()
    for proc in procs:
        out, _ = proc.communicate(timeout=30)
        cpu += json.loads(out.strip().splitlines()[-1])["cpu_s"]
    return cpu


def _wait_done(url: str, tasks: int) -> None:
    from redis import Redis

    client = Redis.from_url(url)
    deadline = time.monotonic() + max(60.0, tasks / 20)
    while int(client.get("done") or 0) < tasks:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {client.get('done')} of {tasks} tasks ran")
        time.sleep(0.002)
    client.close()


def _ran(url: str) -> int:
    from redis import Redis

    client = Redis.from_url(url)
    try:
        return int(client.get("done") or 0)
    finally:
        client.flushdb()
        client.close()


def _server_cpu(pid: int) -> float:
    """CPU seconds redis-server has used so far."""
    from benchmarks.driver.proctree import cpu_microseconds

    return cpu_microseconds(pid) / 1e6


def run_redis(
    server: tuple[str, int],
    tasks: int,
    workers: int,
    producers: int,
    processes: int,
    task_ms: float,
) -> dict:
    """Gobstopper's Redis backend: ``processes`` worker processes, producers here."""
    from gobstopper.tasks import TaskQueue
    from gobstopper.tasks.redis_storage import RedisTaskStorage

    url, server_pid = server
    prefix = f"bench{processes}"
    command = [
        sys.executable,
        str(ROLES),
        "gobstopper-worker",
        url,
        prefix,
        str(workers),
        str(task_ms),
    ]
    with _workers(command, processes) as procs:
        queue = TaskQueue(
            enabled=True, storage_factory=lambda: RedisTaskStorage(url, prefix=prefix)
        )
        queue.register_task("noop")(lambda: None)
        latencies: list[float] = []

        async def produce() -> None:
            await asyncio.gather(
                *(_produce(queue.add_task, n, latencies) for n in _shares(tasks, producers))
            )
            await queue.shutdown()

        server_cpu = _server_cpu(server_pid)
        cpu, began = time.process_time(), time.perf_counter()
        asyncio.run(produce())
        cpu = time.process_time() - cpu
        _wait_done(url, tasks)
        elapsed = time.perf_counter() - began
        cpu += _server_cpu(server_pid) - server_cpu + _stop(procs)
    return _figures(tasks, elapsed, cpu, _ran(url), latencies)


def ensure_arq() -> Path:
    """Create ``benchmarks/.venvs/arq`` with arq installed, once."""
    python = ARQ_VENV / "bin" / "python"
    stamp = ARQ_VENV / ".bench-requirements"
    if python.exists() and stamp.exists() and stamp.read_text() == ARQ_REQUIREMENT:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ARQ_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ARQ_REQUIREMENT,
        ],
        check=True,
        timeout=900,
    )
    stamp.write_text(ARQ_REQUIREMENT)
    return python


def run_arq(
    server: tuple[str, int],
    tasks: int,
    workers: int,
    producers: int,
    processes: int,
    task_ms: float,
) -> dict:
    """arq: ``processes`` worker processes and one producer process."""
    url, server_pid = server
    python = ensure_arq()
    command = [str(python), str(ROLES), "arq-worker", url, str(workers), str(task_ms)]
    with _workers(command, processes) as procs:
        began, server_cpu = time.perf_counter(), _server_cpu(server_pid)
        out = subprocess.run(
            [str(python), str(ROLES), "arq-produce", url, str(tasks), str(producers)],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = json.loads(out.stdout.strip().splitlines()[-1])["cpu_s"]
        _wait_done(url, tasks)
        elapsed = time.perf_counter() - began
        cpu += _server_cpu(server_pid) - server_cpu + _stop(procs)
    return _figures(tasks, elapsed, cpu, _ran(url))


def _local_runs(folder: Path, args: argparse.Namespace) -> Iterator[dict]:
    """DuckDB, then SQLite in each ``--synchronous`` mode: one process each."""
    from gobstopper.tasks import SQLiteTaskStorage, TaskStorage

    stores: list[tuple[dict, Callable[[], Any]]] = []
    if args.backend in ("duckdb", "all"):
        import duckdb

        label = {"backend": "duckdb", "duckdb": duckdb.__version__}
        stores.append((label, functools.partial(TaskStorage, folder / "bench.duckdb")))
    if args.backend in ("sqlite", "all"):
        for mode in args.synchronous.split(","):
            path = folder / f"bench-{mode}.sqlite3"
            label = {"backend": "sqlite", "synchronous": mode, "sqlite": sqlite3.sqlite_version}
            stores.append((label, functools.partial(SQLiteTaskStorage, path, synchronous=mode)))
    for label, open_store in stores:
        figures = asyncio.run(
            run_local(open_store, args.tasks, args.workers, args.producers, args.task_ms)
        )
        yield {**label, "processes": 1, **figures}


def _redis_runs(folder: Path, args: argparse.Namespace) -> Iterator[dict]:
    """Gobstopper's Redis backend and arq, per number of worker processes."""
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed")
    with _redis_server(folder) as server:
        for processes in (int(n) for n in args.processes.split(",")):
            for backend, run in (("redis", run_redis), ("arq", run_arq)):
                if args.backend in (backend, "all"):
                    figures = run(
                        server, args.tasks, args.workers, args.producers, processes, args.task_ms
                    )
                    yield {"backend": backend, "processes": processes, **figures}


def main() -> int:
    """Run the selected benchmarks; print one JSON line each; 1 if tasks went missing."""
    sys.path.insert(0, str(BENCH.parent))  # for benchmarks.driver
    args = _parse()
    common = {
        "tasks": args.tasks,
        "workers": args.workers,
        "producers": args.producers,
        "task_ms": args.task_ms,
        "python": platform.python_version(),
    }
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        lines.extend(_local_runs(Path(folder), args))
        if args.backend in ("redis", "arq", "all"):
            lines.extend(_redis_runs(Path(folder), args))
    for line in lines:
        print(json.dumps({"benchmark": "tasks", **line, **common}), flush=True)
    return 0 if all(line["ran"] == args.tasks for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
