"""Worker and producer processes for ``tasks_bench.py`` (not run by hand).

``python benchmarks/tasks_bench_roles.py gobstopper-worker URL PREFIX WORKERS``
runs a Gobstopper TaskQueue on the Redis backend with WORKERS workers;
``arq-worker URL WORKERS`` runs an arq worker (``max_jobs=WORKERS``,
``poll_delay=0.01``) and must run in the arq venv. Both run a no-op task that
bumps a process-local counter; a flusher adds it to the Redis key ``done``
every 10 ms (one INCRBY per flush, the same for both), so the driver knows
when every task ran. Each prints ``ready`` once serving, and on SIGTERM one
JSON line with its CPU seconds since ``ready``.

``arq-produce URL TASKS PRODUCERS`` enqueues TASKS arq jobs from PRODUCERS
concurrent coroutines and prints its CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

FLUSH_S = 0.01


class Counter:
    """Count runs locally; add them to Redis key ``done`` every 10 ms."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.runs = 0
        self._client = Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            if self.runs:
                runs, self.runs = self.runs, 0
                await self._client.incrby("done", runs)


async def _until_terminated() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def gobstopper_worker(url: str, prefix: str, workers: int, task_ms: float) -> None:
    from gobstopper.tasks import TaskQueue
    from gobstopper.tasks.redis_storage import RedisTaskStorage

    counter = Counter(url)
    queue = TaskQueue(enabled=True, storage_factory=lambda: RedisTaskStorage(url, prefix=prefix))

    @queue.register_task("noop")
    async def noop() -> None:
        if task_ms:
            await asyncio.sleep(task_ms / 1000)
        counter.runs += 1

    await queue.start_workers(worker_count=workers)
    counter.start()
    began = time.process_time()
    print("ready", flush=True)
    await _until_terminated()
    cpu = time.process_time() - began
    await queue.shutdown(timeout=5)
    print(json.dumps({"cpu_s": cpu}), flush=True)


async def arq_worker(url: str, workers: int, task_ms: float) -> None:
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    counter = Counter(url)

    async def noop(ctx: dict[str, Any]) -> None:
        if task_ms:
            await asyncio.sleep(task_ms / 1000)
        counter.runs += 1

    worker = Worker(
        functions=[func(noop, name="noop")],
        redis_settings=RedisSettings.from_dsn(url),
        max_jobs=workers,
        poll_delay=0.01,
        handle_signals=False,
        keep_result=60,
    )
    runner = asyncio.create_task(worker.async_run())
    while getattr(worker, "_pool", None) is None:  # connected: ready to poll
        await asyncio.sleep(0.01)
    counter.start()
    began = time.process_time()
    print("ready", flush=True)
    await _until_terminated()
    cpu = time.process_time() - began
    runner.cancel()
    await worker.close()
    print(json.dumps({"cpu_s": cpu}), flush=True)


async def arq_produce(url: str, tasks: int, producers: int) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(url))
    began = time.process_time()

    async def produce(count: int) -> None:
        for _ in range(count):
            await pool.enqueue_job("noop")

    shares = [tasks // producers + (i < tasks % producers) for i in range(producers)]
    await asyncio.gather(*(produce(share) for share in shares if share))
    print(json.dumps({"cpu_s": time.process_time() - began}), flush=True)
    await pool.aclose()


def main() -> None:
    role, url, *rest = sys.argv[1:]
    if role == "gobstopper-worker":
        asyncio.run(gobstopper_worker(url, rest[0], int(rest[1]), float(rest[2])))
    elif role == "arq-worker":
        asyncio.run(arq_worker(url, int(rest[0]), float(rest[1])))
    elif role == "arq-produce":
        asyncio.run(arq_produce(url, int(rest[0]), int(rest[1])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
