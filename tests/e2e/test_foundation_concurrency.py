"""Many concurrent keep-alive connections, one worker and several."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

CONNECTIONS = 1000
REQUESTS_PER_CONNECTION = 3


async def hammer(url: str) -> tuple[int, set[int], list[str]]:
    """Open CONNECTIONS keep-alive connections at once; each sends several requests."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    errors: list[str] = []
    pids: set[int] = set()
    ok = 0
    gate = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one_connection(i: int) -> None:
            nonlocal ok
            await gate.wait()
            for j in range(REQUESTS_PER_CONNECTION):
                try:
                    response = await client.get(f"/n/{i * 10 + j}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                if response.status_code != 200 or response.json() != {"n": i * 10 + j}:
                    errors.append(f"{response.status_code} {response.text[:80]}")
                else:
                    ok += 1
            response = await client.get("/")
            pids.add(response.json()["pid"])

        tasks = [asyncio.create_task(one_connection(i)) for i in range(CONNECTIONS)]
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
    return ok, pids, errors


@pytest.mark.parametrize("workers", [1, 2])
def test_a_thousand_concurrent_keep_alive_connections_get_no_errors(tmp_path, workers):
    with granian_server("foundation_app:app", tmp_path, workers=workers,
                        extra_args=("--backlog", "2048")) as server:
        ok, pids, errors = asyncio.run(hammer(server.url))
        assert errors == []
        assert ok == CONNECTIONS * REQUESTS_PER_CONNECTION
        if workers > 1:
            assert len(pids) == workers
        assert server.process.poll() is None
