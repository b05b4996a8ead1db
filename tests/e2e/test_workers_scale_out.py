"""Scale-out under ``gobstopper run --workers 2``: one port, two processes, one Redis.

Idempotency keys, background tasks and WebSocket rooms must behave as in one
process whichever worker the kernel hands each connection to.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.redis_tasks import wait_until_drained
from tests.servers import ROOT, RunningServer, _running, free_port

pytestmark = pytest.mark.e2e

APPS = ROOT / "tests" / "e2e" / "apps"
DEADLINE = 30.0


@contextmanager
def two_workers(target: str, tmp_path: Path, env: dict[str, str]) -> Iterator[RunningServer]:
    """``gobstopper run target --workers 2`` on a free port for the ``with`` block."""
    port = free_port()
    search = os.pathsep.join([str(APPS), str(ROOT / "src")])
    full_env = {**os.environ, "PYTHONPATH": search, **env}
    command = [
        sys.executable,
        "-m",
        "gobstopper",
        "run",
        target,
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = tmp_path / f"run-{port}.log"
    with _running(RunningServer, command, port, log, tmp_path, full_env) as server:
        yield server


async def both_workers_answer(url: str) -> set[int]:
    """Ask ``url``/pid on fresh connections until two pids answered (bounded)."""
    pids: set[int] = set()
    end = time.monotonic() + DEADLINE
    while len(pids) < 2 and time.monotonic() < end:
        async with httpx.AsyncClient() as client:  # a new connection each time
            pids.add((await client.get(f"{url}/pid", timeout=10)).json()["pid"])
    assert len(pids) == 2, "the second worker never answered"
    return pids


async def test_concurrent_duplicates_run_the_handler_once_across_workers(
    tmp_path, redis_url, redis_client
):
    with two_workers("idempotency_app:app", tmp_path, {"REDIS_URL": redis_url}) as server:
        await both_workers_answer(server.url)
        headers = {"Idempotency-Key": f"w2-{uuid.uuid4().hex}", "Authorization": "Bearer w"}

        async def post() -> httpx.Response:
            async with httpx.AsyncClient() as client:  # one connection each: both workers
                return await client.post(
                    f"{server.url}/charge", json={"amount": 3}, headers=headers, timeout=10
                )

        answers = await asyncio.gather(*(post() for _ in range(8)))
        assert [r.status_code for r in answers] == [200] * 8
        assert len({r.content for r in answers}) == 1
        assert int(await redis_client.get("e2e:charge-runs")) == 1


async def test_tasks_queued_on_one_worker_run_once_on_both(tmp_path, redis_url, redis_client):
    prefix = f"e2e:w2:{uuid.uuid4().hex}"
    env = {
        "REDIS_URL": redis_url,
        "TASKS_BACKEND": "redis",
        "TASKS_PREFIX": prefix,
        "START_WORKERS": "work",
    }
    with two_workers("tasks_app:app", tmp_path, env) as server:
        await both_workers_answer(server.url)
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.post(f"{server.url}/enqueue/record/work", params={"n": 200})
            assert len(reply.json()["ids"]) == 200
        await wait_until_drained(redis_client, prefix, "work", DEADLINE)
    counts = await redis_client.hgetall(f"{prefix}:runs")
    assert len(counts) == 200 and {int(n) for n in counts.values()} == {1}
    assert len(await redis_client.hgetall(f"{prefix}:pids")) == 2  # both workers ran tasks


async def test_a_broadcast_reaches_members_on_both_workers(tmp_path, redis_url):
    env = {"REDIS_URL": redis_url, "ROOMS_CHANNEL": f"e2e:w2:{uuid.uuid4().hex}"}
    with two_workers("rooms_app:app", tmp_path, env) as server:
        members, joined_by = [], set()
        end = time.monotonic() + DEADLINE
        try:
            while len(joined_by) < 2 and time.monotonic() < end:
                member = await connect(f"{server.ws_url}/join/lobby", open_timeout=10)
                members.append(member)
                joined_by.add(await member.recv())
            assert len(joined_by) == 2, "every WebSocket landed on one worker"
            async with httpx.AsyncClient() as client:
                sent = await client.post(f"{server.url}/say/lobby", content=b"hello", timeout=10)
            assert sent.status_code == 200
            for member in members:
                assert await asyncio.wait_for(member.recv(), 5) == "hello"
        finally:
            for member in members:
                await member.close()
