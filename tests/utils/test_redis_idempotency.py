"""RedisIdempotencyStore against a real redis-server: two stores stand for two processes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from gobstopper import Gobstopper
from gobstopper.http.errors import ServiceUnavailable
from gobstopper.testing import AsyncTestClient
from gobstopper.utils.idempotency import IdempotencyBackend, use_idempotency
from gobstopper.utils.redis_idempotency import RedisIdempotencyStore
from tests.polling import eventually
from tests.servers import free_port


class PollCounter:
    """A Redis client that counts ``exists`` calls: a store's polls of a held claim."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self.polls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def exists(self, *names: str) -> int:
        self.polls += 1
        return await self._client.exists(*names)


async def test_one_claim_at_a_time_across_processes(redis_client: Redis):
    here, there = RedisIdempotencyStore(redis_client), RedisIdempotencyStore(redis_client)
    assert isinstance(here, IdempotencyBackend)
    assert await here.claim("s", 30) is True
    assert await there.claim("s", 30) is False
    there.client = counter = PollCounter(redis_client)  # type: ignore[assignment]
    waiter = asyncio.create_task(there.wait("s", 30))
    await eventually(lambda: counter.polls >= 2, "the waiter to poll the held claim twice")
    assert not waiter.done()
    await here.complete("s", b"\x00\xffrecord", 60)
    await asyncio.wait_for(waiter, 5)
    assert await there.result("s") == b"\x00\xffrecord"  # every byte survives decode_responses
    assert await redis_client.exists("gobstopper:idempotency:lock:s") == 0
    assert 0 < await redis_client.pttl("gobstopper:idempotency:result:s") <= 60_000


async def test_a_released_claim_stores_nothing_and_frees_the_slot(redis_client: Redis):
    here, there = RedisIdempotencyStore(redis_client), RedisIdempotencyStore(redis_client)
    assert await here.claim("s", 30)
    await here.release("s")
    assert await there.result("s") is None
    assert await there.claim("s", 30)


async def test_a_dead_holders_lease_ends_and_its_late_release_spares_the_next(redis_client: Redis):
    dead, alive = RedisIdempotencyStore(redis_client), RedisIdempotencyStore(redis_client)
    assert await dead.claim("s", 0.05)
    await alive.wait("s", 5)  # returns once the lease ran out
    assert await alive.claim("s", 30)
    await dead.release("s")  # too late: must not drop alive's claim
    assert await RedisIdempotencyStore(redis_client).claim("s", 30) is False


async def test_keys_are_replayed_across_apps_sharing_redis(redis_client: Redis):
    store = RedisIdempotencyStore(redis_client, prefix="t:")
    runs: list[int] = []

    def build() -> Gobstopper:
        app = Gobstopper(__name__)

        @app.post("/pay")
        @use_idempotency(store=store)
        async def pay(request):
            runs.append(1)
            return {"run": len(runs)}

        return app

    headers = {"Idempotency-Key": "k"}
    async with AsyncTestClient(build()) as one, AsyncTestClient(build()) as two:
        first = await one.post("/pay", headers=headers)
        second = await two.post("/pay", headers=headers)
    assert first.json() == second.json() == {"run": 1}
    assert second.headers["idempotent-replayed"] == "true"


async def test_an_unreachable_redis_is_a_503_not_a_second_run():
    client = Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=0.5,
        retry_on_error=[],
        retry=None,
    )
    store = RedisIdempotencyStore(client)
    try:
        with pytest.raises(ServiceUnavailable):
            await store.claim("s", 30)
        app = Gobstopper(__name__)

        @app.post("/pay")
        @use_idempotency(store=store)
        async def pay(request):
            raise AssertionError("must not run without the store")

        async with AsyncTestClient(app) as http:
            answer = await http.post("/pay", headers={"Idempotency-Key": "k"})
        assert answer.status_code == 503
    finally:
        await client.aclose()
