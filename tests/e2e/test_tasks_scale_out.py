"""The Redis task backend across two real servers sharing one redis-server."""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gobstopper.tasks.redis_storage import RedisTaskStorage
from tests.e2e.redis_tasks import wait_until_drained
from tests.polling import wait_for
from tests.servers import granian_server

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


def _env(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "TASKS_BACKEND": "redis",
        "TASKS_PREFIX": f"e2e:{uuid.uuid4().hex}",
        **extra,
    }


async def test_tasks_queued_on_one_server_run_once_across_two_in_priority_order(
    tmp_path: Path, redis_url: str, redis_client
) -> None:
    env = _env(redis_url)
    prefix = env["TASKS_PREFIX"]
    with (
        granian_server("tasks_app:app", tmp_path, env=env) as a,
        granian_server("tasks_app:app", tmp_path, env=env) as b,
    ):
        async with httpx.AsyncClient(timeout=30) as client:
            ids: dict[str, str] = {}
            for priority in (1, 2, 3, 4):
                reply = await client.post(
                    f"{a.url}/enqueue/record/work",
                    params={"n": 250, "priority": priority, "tag": f"p{priority}-"},
                )
                assert reply.status_code == 200
                ids.update(reply.json()["ids"])
            assert len(ids) == 1000
            await asyncio.gather(
                client.post(f"{a.url}/start/work"), client.post(f"{b.url}/start/work")
            )

            async def ran() -> int:
                return int(await redis_client.hlen(f"{prefix}:runs"))

            await wait_for(ran, lambda count: count >= 1000, "1,000 tasks to run", DEADLINE)
            await wait_until_drained(redis_client, prefix, "work", DEADLINE)
    counts = await redis_client.hgetall(f"{prefix}:runs")
    assert len(counts) == 1000 and {int(n) for n in counts.values()} == {1}
    by_pid = await redis_client.hgetall(f"{prefix}:pids")
    assert len(by_pid) == 2 and sum(int(n) for n in by_pid.values()) == 1000
    order = [_decode(label) for label in await redis_client.lrange(f"{prefix}:order", 0, -1)]
    position = {
        p: [i for i, label in enumerate(order) if label.startswith(f"p{p}-")] for p in (1, 2, 3, 4)
    }
    # Highest priority first across both servers: no LOW task starts before every
    # CRITICAL one has, and on average each level starts after the one above it.
    assert max(position[4]) < min(position[1])
    medians = [statistics.median(position[p]) for p in (4, 3, 2, 1)]
    assert medians == sorted(medians)
    summary = RedisTaskStorage(redis_url, prefix=prefix)
    assert summary.summarize()["by_status"] == {"success": 1000}
    summary.close()


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_a_task_of_a_killed_server_completes_on_the_other(
    tmp_path: Path, redis_url: str, redis_client
) -> None:
    env = _env(redis_url, VISIBILITY="2")
    prefix = env["TASKS_PREFIX"]
    with (
        granian_server("tasks_app:app", tmp_path, env=env) as a,
        granian_server("tasks_app:app", tmp_path, env={**env, "START_WORKERS": "hold"}) as b,
    ):
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.post(
                f"{a.url}/enqueue/hold/hold", params={"n": 1, "retries": 1, "tag": "h"}
            )
            [(task_id, label)] = reply.json()["ids"].items()

            async def holder() -> bytes | str | None:
                return await redis_client.get(f"{prefix}:holder:{label}")

            pid_b = int(
                await wait_for(holder, lambda pid: pid is not None, "B to run the task", DEADLINE)
            )
            assert pid_b != (await client.get(f"{a.url}/pid")).json()["pid"]
            b.stop(signal.SIGKILL)
            killed = time.monotonic()
            await client.post(f"{a.url}/start/hold")

            async def status() -> dict:
                return (await client.get(f"{a.url}/task/{task_id}")).json()

            done = await wait_for(
                status, lambda info: info["status"] == "success", "A to finish it", DEADLINE
            )
            waited = time.monotonic() - killed
    pid_a = done["result"]
    assert pid_a != pid_b and done["retry_count"] == 1
    assert int(await redis_client.hget(f"{prefix}:runs", label)) == 2
    assert waited >= 1.5  # taken over only once the visibility timeout (2 s) passed
