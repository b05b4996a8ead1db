"""AsyncRedisSessionStorage against a real redis-server (see tests/conftest.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from gobstopper.sessions.redis_storage import AsyncRedisSessionStorage
from gobstopper.sessions.storage import (
    DEFAULT_TTL,
    AsyncBaseSessionStorage,
    maybe_await,
    session_digest,
)
from tests.sessions.session_ids import HOSTILE_IDS

if TYPE_CHECKING:
    from redis.asyncio import Redis

SID = "abcdefghijklmnop_-0123456789ABCD"
KEY = f"session:{session_digest(SID)}"


def test_it_is_an_async_storage_with_the_documented_defaults():
    storage = AsyncRedisSessionStorage(client=None)  # type: ignore[arg-type]
    assert isinstance(storage, AsyncBaseSessionStorage)
    assert storage.key_prefix == "session:"
    assert storage.ttl == DEFAULT_TTL == 604800


@pytest.mark.parametrize("ttl", [0, -5, 2.5, "60"])
def test_ttl_must_be_a_positive_int(ttl: Any):
    with pytest.raises(ValueError, match="ttl must be a positive number of seconds"):
        AsyncRedisSessionStorage(None, ttl=ttl)  # type: ignore[arg-type]


async def test_a_session_round_trips_as_json_under_the_prefixed_key(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    data = {"user": "ünïcødé", "id": 7, "roles": ["admin", None], "prefs": {"dark": True}}
    await storage.save(SID, data)
    assert await storage.load(SID) == data
    assert await redis_client.keys("*") in ([KEY.encode()], [KEY])
    assert msgspec.json.decode(await redis_client.get(KEY)) == data


async def test_a_custom_prefix_is_used(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client, key_prefix="app1:sess:")
    await storage.save(SID, {"n": 1})
    assert await redis_client.exists(f"app1:sess:{session_digest(SID)}") == 1
    assert await AsyncRedisSessionStorage(redis_client).load(SID) is None


async def test_saving_sets_the_ttl_and_saving_again_renews_it(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client, ttl=300)
    await storage.save(SID, {"n": 1})
    assert 290 <= await redis_client.ttl(KEY) <= 300
    await redis_client.expire(KEY, 5)
    await storage.load(SID)  # loading does not renew
    assert await redis_client.ttl(KEY) <= 5
    await storage.save(SID, {"n": 2})
    assert 290 <= await redis_client.ttl(KEY) <= 300


async def test_the_default_ttl_is_a_week(redis_client: Redis):
    await AsyncRedisSessionStorage(redis_client).save(SID, {"n": 1})
    assert 604800 - 10 <= await redis_client.ttl(KEY) <= 604800


async def test_load_returns_a_fresh_dict_each_time(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    await storage.save(SID, {"cart": [1]})
    loaded = await storage.load(SID)
    loaded["cart"].append(2)
    assert await storage.load(SID) == {"cart": [1]}


async def test_delete_removes_the_key_and_missing_sessions_are_fine(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    assert await storage.load(SID) is None
    await storage.delete(SID)
    await storage.save(SID, {"n": 1})
    await storage.delete(SID)
    assert await redis_client.exists(KEY) == 0
    assert await storage.load(SID) is None


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
async def test_any_str_id_is_stored_under_its_digest_only(session_id: str, redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    raw_key = b"session:" + session_id.encode("utf-8", "surrogatepass")
    await redis_client.set(raw_key, b'{"planted": 1}')  # the id itself names no key
    await storage.save(session_id, {"n": 1})
    assert await storage.load(session_id) == {"n": 1}
    key = f"session:{session_digest(session_id)}"
    assert await redis_client.exists(key) == 1 and await redis_client.dbsize() == 2
    await storage.delete(session_id)
    assert await storage.load(session_id) is None
    assert await redis_client.exists(key) == 0 and await redis_client.dbsize() == 1


@pytest.mark.parametrize("session_id", [None, 12345678901234567, b"a" * 16])
async def test_ids_that_are_not_str_are_a_type_error_before_redis(
    session_id: Any, redis_client: Redis
):
    storage = AsyncRedisSessionStorage(redis_client)
    for call in (storage.load, storage.delete, lambda sid: storage.save(sid, {"n": 1})):
        with pytest.raises(TypeError, match="session id must be a str"):
            await call(session_id)
    assert await redis_client.dbsize() == 0


@pytest.mark.parametrize("stored", [b"{", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_corrupt_values_load_none_with_a_warning(
    stored: bytes, redis_client: Redis, caplog: pytest.LogCaptureFixture
):
    await redis_client.set(KEY, stored)
    storage = AsyncRedisSessionStorage(redis_client)
    with caplog.at_level(logging.WARNING, logger="gobstopper.sessions"):
        assert await storage.load(SID) is None
    assert f"corrupt session {KEY}" in caplog.text
    await storage.save(SID, {"n": 1})  # the client is still usable afterwards
    assert await storage.load(SID) == {"n": 1}


async def test_non_json_data_is_refused_and_nothing_is_written(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    with pytest.raises(TypeError, match=r"session\['ids'\] has type set"):
        await storage.save(SID, {"ids": {1, 2}})
    assert await redis_client.exists(KEY) == 0


async def test_cleanup_is_a_no_op_since_redis_expires_keys(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    await storage.save(SID, {"n": 1})
    assert await storage.cleanup() is None
    assert await storage.load(SID) == {"n": 1}


async def test_maybe_await_works_with_it(redis_client: Redis):
    storage = AsyncRedisSessionStorage(redis_client)
    await maybe_await(storage.save(SID, {"n": 1}))
    assert await maybe_await(storage.load(SID)) == {"n": 1}
