"""Fixtures shared by every test folder: a real redis-server for the Redis backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.servers import REDIS_INSTALL, redis_server, require_program

if TYPE_CHECKING:
    from redis.asyncio import Redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://`` URL of a redis-server started for this run; skips (fails on CI) if absent."""
    require_program("redis-server", REDIS_INSTALL)
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
async def redis_client(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Redis]:
    """An empty Redis database, through a client with ``decode_responses`` off and on."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=request.param)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
