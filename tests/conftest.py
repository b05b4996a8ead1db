"""Fixtures shared by every test folder: a real redis-server for the Redis backends."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.servers import redis_server

if TYPE_CHECKING:
    from redis.asyncio import Redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://`` URL of a redis-server started for this run; skips (fails on CI) if absent."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (scripts/setup.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
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
