"""File-backed tasks on a real server: SIGKILL loses no returned task, runs none twice.

Once per one-process store: DuckDB (``TaskStorage``) and SQLite
(``SQLiteTaskStorage``, with its default ``synchronous="FULL"``).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


@pytest.mark.parametrize("backend, suffix", [("duckdb", ".duckdb"), ("sqlite", ".sqlite3")])
async def test_returned_task_ids_survive_sigkill_and_run_once(
    tmp_path: Path, redis_url: str, redis_client, backend: str, suffix: str
) -> None:
    prefix = f"e2e:{uuid.uuid4().hex}"
    env = {
        "REDIS_URL": redis_url,
        "TASKS_BACKEND": backend,
        "TASKS_PREFIX": prefix,
        "TASKS_DB": str(tmp_path / f"tasks{suffix}"),
    }
    returned: dict[str, str] = {}
    with granian_server("tasks_app:app", tmp_path, env=env) as server:
        async with httpx.AsyncClient(timeout=30) as client:
            batches = iter(range(10_000))
            killed, enough = asyncio.Event(), asyncio.Event()

            async def enqueue() -> None:
                # Keep requests in flight until the server is gone.
                while not killed.is_set():
                    reply = await client.post(
                        f"{server.url}/enqueue/record/work",
                        params={"n": 10, "tag": f"b{next(batches)}-"},
                    )
                    returned.update(reply.json()["ids"])
                    if len(returned) >= 100:
                        enough.set()

            producers = [asyncio.create_task(enqueue()) for _ in range(16)]
            await asyncio.wait_for(enough.wait(), DEADLINE)
            # Kill the server right after batches were answered, others in flight.
            server.stop(signal.SIGKILL)
            killed.set()
            outcomes = await asyncio.gather(*producers, return_exceptions=True)
            assert all(
                outcome is None or isinstance(outcome, httpx.TransportError) for outcome in outcomes
            ), outcomes
    assert len(returned) >= 100
    with granian_server(
        "tasks_app:app", tmp_path, env={**env, "START_WORKERS": "work"}
    ) as restarted:
        async with httpx.AsyncClient(timeout=30) as client:
            end = time.monotonic() + DEADLINE
            pending = set(returned)
            while pending:
                assert time.monotonic() < end, f"{len(pending)} returned tasks never ran"
                for task_id in list(pending):
                    info = (await client.get(f"{restarted.url}/task/{task_id}")).json()
                    assert info["status"] is not None, f"returned task {task_id} was lost"
                    if info["status"] == "success":
                        pending.discard(task_id)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a duplicate run, if any, would show now
    counts = {_text(k): int(v) for k, v in (await redis_client.hgetall(f"{prefix}:runs")).items()}
    assert {counts.get(label) for label in returned.values()} == {1}
    assert set(counts.values()) == {1}  # committed but unanswered batches ran once too


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
