"""Batched script calls on the Redis backend: one EVALSHA per batch, calls fail alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from gobstopper.tasks import redis_batch
from gobstopper.tasks.redis_batch import ScriptBatcher
from gobstopper.tasks.redis_records import BATCH


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
def batcher(client: Redis) -> ScriptBatcher:
    return ScriptBatcher(client.register_script(BATCH))


async def evalsha_calls(client: Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def submit_call(prefix: str, task_id: str, stream: str) -> tuple[list[str], list[str]]:
    """The keys and args of one ``submit`` call, as the backend makes them."""
    keys = [f"{prefix}:task:{task_id}", stream, f"{prefix}:index"]
    return keys, [task_id, f'{{"id": "{task_id}"}}', "1733362200123.5"]


@pytest.mark.parametrize(
    ("max_calls", "calls", "evalshas"),
    [(redis_batch.MAX_CALLS, 64, 1), (4, 10, 3)],
    ids=["one-batch", "bounded-4+4+2"],
)
async def test_concurrent_calls_go_out_as_few_evalshas(
    client: Redis,
    batcher: ScriptBatcher,
    monkeypatch: pytest.MonkeyPatch,
    max_calls: int,
    calls: int,
    evalshas: int,
) -> None:
    monkeypatch.setattr(redis_batch, "MAX_CALLS", max_calls)
    prefix = f"test:{uuid.uuid4().hex}"
    stream = f"{prefix}:queue:c:5"
    await client.script_load(BATCH)
    before = await evalsha_calls(client)
    made = [submit_call(prefix, f"t{n}", stream) for n in range(calls)]

    replies = await asyncio.gather(*(batcher.call("submit", *call) for call in made))

    assert replies == [1] * calls
    assert await evalsha_calls(client) - before == evalshas
    assert await client.xlen(stream) == calls
    last = f"t{calls - 1}"
    assert await client.zscore(f"{prefix}:index", last) == 1733362200123.5
    assert await client.hgetall(f"{prefix}:task:{last}") == {
        "status": "pending",
        "owner": "",
        "info": f'{{"id": "{last}"}}',
        "stream": stream,
    }


async def test_a_failing_call_fails_alone(client: Redis, batcher: ScriptBatcher) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    broken = f"{prefix}:queue:c:1"
    await client.set(broken, "not a stream")  # XADD on it fails with WRONGTYPE
    good = f"{prefix}:queue:c:5"

    results = await asyncio.gather(
        batcher.call("submit", *submit_call(prefix, "a", good)),
        batcher.call("submit", *submit_call(prefix, "b", broken)),
        batcher.call("nonexistent", [], []),
        batcher.call("submit", *submit_call(prefix, "c", good)),
        return_exceptions=True,
    )

    assert results[0] == 1 and results[3] == 1
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert isinstance(results[2], ResponseError)
    assert await client.xrange(good) and await client.xlen(good) == 2


async def test_a_flushed_script_cache_is_reloaded(client: Redis, batcher: ScriptBatcher) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    stream = f"{prefix}:queue:c:5"
    assert await batcher.call("submit", *submit_call(prefix, "a", stream)) == 1
    await client.script_flush()

    assert await batcher.call("submit", *submit_call(prefix, "b", stream)) == 1
    assert await client.xlen(stream) == 2


async def test_a_connection_failure_fails_every_call_of_the_batch() -> None:
    # Nothing listens on port 1; no retries, so the failure comes at once.
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    batcher = ScriptBatcher(dead.register_script(BATCH))
    try:
        results = await asyncio.gather(
            batcher.call("submit", *submit_call("p", "a", "p:queue:c:5")),
            batcher.call("submit", *submit_call("p", "b", "p:queue:c:5")),
            return_exceptions=True,
        )
        assert all(isinstance(result, RedisConnectionError) for result in results), results
        await batcher.drain()
    finally:
        await dead.aclose()


async def test_arguments_reach_redis_byte_for_byte(client: Redis, batcher: ScriptBatcher) -> None:
    # The calls travel inside one JSON document: what Lua's cjson decodes must be
    # exactly what EVALSHA would have passed (non-ASCII, escapes, control characters).
    prefix = f"test:{uuid.uuid4().hex}"
    stream = f"{prefix}:queue:c:5"
    info = '{"args": ["é ☃ 🎉", "line\\nbreak", "tab\\t", "\\u0001", "quote \\" slash \\\\ /"]}'
    keys, args = submit_call(prefix, "u", stream)
    args[1] = info

    assert await batcher.call("submit", keys, args) == 1
    assert await client.hget(f"{prefix}:task:u", "info") == info


async def test_a_killed_connection_is_replaced_and_the_batch_retried_once(
    client: Redis, batcher: ScriptBatcher
) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    stream = f"{prefix}:queue:c:5"
    assert await batcher.call("submit", *submit_call(prefix, "a", stream)) == 1
    # The server drops the batcher's kept connection: the one whose last command was
    # EVALSHA (the server is shared by the session; no other client is touched).
    batchers = [c for c in await client.client_list() if c["cmd"] == "evalsha"]
    assert len(batchers) == 1
    await client.client_kill_filter(_id=batchers[0]["id"])

    assert await batcher.call("submit", *submit_call(prefix, "b", stream)) == 1
    assert await client.xlen(stream) == 2


async def test_close_sends_what_is_queued_and_returns_the_connection(
    client: Redis, batcher: ScriptBatcher
) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    stream = f"{prefix}:queue:c:5"
    pool = client.connection_pool
    pending = [batcher.call("submit", *submit_call(prefix, f"t{n}", stream)) for n in range(3)]

    await batcher.close()

    assert [future.result() for future in pending] == [1, 1, 1]
    assert not pool._in_use_connections  # the kept connection is back in the pool
    assert await client.xlen(stream) == 3


def test_a_client_without_a_single_connection_pool_is_refused() -> None:
    not_redis = SimpleNamespace(registered_client=object())
    with pytest.raises(TypeError, match="not a cluster"):
        ScriptBatcher(not_redis)  # type: ignore[arg-type]
