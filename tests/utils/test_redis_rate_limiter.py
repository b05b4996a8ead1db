"""Redis rate limiters against a real redis-server: the in-memory limiters' decisions, shared.

Most tests inject the time (``clock``), which the limiter passes to its Lua script in
place of the server's ``TIME``; a few use the server's time with bounds that do not
depend on how fast the test runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time

import pytest
from redis.asyncio import Redis

from gobstopper import Gobstopper
from gobstopper.http.errors import ServiceUnavailable
from gobstopper.testing import AsyncTestClient
from gobstopper.utils.rate_limiter import RateLimiter, TokenBucketLimiter, rate_limit
from gobstopper.utils.redis_rate_limiter import (
    DEFAULT_PREFIX,
    MAX_KEY_BYTES,
    RedisRateLimiter,
    RedisTokenBucketLimiter,
)
from tests.clock import FakeClock
from tests.servers import free_port
from tests.utils.rate_limit_app import limited_app as memory_limited_app

# A realistic "now" (seconds since the epoch), a multiple of every window used here.
BASE = 1_699_999_200.0


@pytest.fixture
def clock() -> FakeClock:
    """Overrides tests/utils/conftest.py: Redis scripts need a realistic epoch time."""
    return FakeClock(BASE)


def bucket(
    client: Redis, clock: FakeClock | None, rate: float, capacity: float, **options
) -> RedisTokenBucketLimiter:
    return RedisTokenBucketLimiter(client, rate, capacity, clock=clock, **options)


def window(
    client: Redis, clock: FakeClock | None, max_requests: int, seconds: float, **options
) -> RedisRateLimiter:
    return RedisRateLimiter(client, max_requests, seconds, clock=clock, **options)


async def calls(limiter, key: str, count: int, cost: float = 1.0) -> list[bool]:
    return [await limiter.allow(key, cost) for _ in range(count)]


# -- RedisTokenBucketLimiter --------------------------------------------------------------


async def test_bucket_allows_a_burst_of_capacity_then_refuses(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=5, capacity=10)
    assert await calls(limiter, "a", 11) == [True] * 10 + [False]


async def test_bucket_refills_at_rate(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=5, capacity=10)
    assert await calls(limiter, "a", 10) == [True] * 10
    clock.advance(0.1)
    assert not await limiter.allow("a")  # half a token
    clock.advance(0.1)
    assert await calls(limiter, "a", 2) == [True, False]
    clock.advance(0.6)
    assert await calls(limiter, "a", 4) == [True, True, True, False]


async def test_bucket_never_holds_more_than_capacity(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=5, capacity=3)
    assert await limiter.allow("a")
    clock.advance(1000)
    assert await calls(limiter, "a", 4) == [True, True, True, False]


async def test_cost_takes_several_tokens_and_a_refusal_takes_none(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=1, capacity=10)
    assert await limiter.allow("a", cost=7)
    assert not await limiter.allow("a", cost=4)
    assert await limiter.allow("a", cost=3)  # the refused call took nothing
    assert not await limiter.allow("a", cost=0.5)
    clock.advance(0.5)
    assert await limiter.allow("a", cost=0.5)


async def test_bucket_retry_after_is_the_exact_wait(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=5, capacity=10)
    assert await limiter.retry_after("a") == 0.0
    await calls(limiter, "a", 10)
    assert await limiter.retry_after("a") == pytest.approx(0.2)
    assert await limiter.retry_after("a", cost=3) == pytest.approx(0.6)
    clock.advance(0.59)
    assert not await limiter.allow("a", cost=3)
    clock.advance(0.01)
    assert await limiter.retry_after("a", cost=3) == pytest.approx(0.0, abs=1e-9)
    assert await limiter.allow("a", cost=3)


async def test_keys_have_separate_buckets_and_any_str_is_a_key(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=1, capacity=1)
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    keys = ["a", "b", "", "é ✓", "\udcff lone surrogate", long_a, long_b, "=a", "#a"]
    assert [await limiter.allow(key) for key in keys] == [True] * len(keys)
    assert [await limiter.allow(key) for key in keys] == [False] * len(keys)
    stored = await redis_client.keys("*")  # all valid UTF-8: a decoding client can list them
    assert len(stored) == len(keys)
    assert max(len(key) for key in stored) <= len(DEFAULT_PREFIX) + 1 + MAX_KEY_BYTES
    assert limiter.redis_key("é ✓") == DEFAULT_PREFIX.encode() + "=é ✓".encode()
    assert limiter.redis_key(long_a).startswith(DEFAULT_PREFIX.encode() + b"#")


async def test_prefixes_separate_limits(redis_client, clock):
    first = bucket(redis_client, clock, rate=1, capacity=1, prefix="one:")
    second = bucket(redis_client, clock, rate=1, capacity=1, prefix="two:")
    assert await first.allow("a")
    assert await second.allow("a")
    assert not await first.allow("a")
    assert sorted(await redis_client.keys("*")) in ([b"one:=a", b"two:=a"], ["one:=a", "two:=a"])


async def test_bucket_uses_the_server_clock_by_default(redis_client):
    limiter = bucket(redis_client, None, rate=0.001, capacity=5)  # one token per 1000 s
    assert await calls(limiter, "a", 6) == [True] * 5 + [False]
    assert 999 < await limiter.retry_after("a") <= 1000
    assert await limiter.retry_after("a", cost=2) > 1999


# -- RedisRateLimiter ---------------------------------------------------------------------


async def test_window_allows_max_requests_then_refuses(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=3, seconds=60)
    assert [await limiter.check("ip") for _ in range(4)] == [True, True, True, False]
    assert await limiter.check("other")


async def test_window_cannot_be_doubled_across_a_boundary(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=10, seconds=10)
    clock.now = BASE + 9.9
    assert await calls(limiter, "a", 10) == [True] * 10
    clock.now = BASE + 10  # a fixed window would allow 10 more here
    assert not await limiter.check("a")
    clock.now = BASE + 15  # the previous window now weighs half: 5 more
    assert await calls(limiter, "a", 6) == [True] * 5 + [False]
    clock.now = BASE + 30
    assert await calls(limiter, "a", 10) == [True] * 10


async def test_window_counts_cost_and_refusals_count_nothing(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=10, seconds=1)
    assert await limiter.allow("a", cost=8)
    assert not await limiter.allow("a", cost=3)
    assert await limiter.allow("a", cost=2)
    assert not await limiter.check("a")


async def test_window_retry_after_while_the_previous_window_fades(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=10, seconds=10)
    clock.now = BASE + 5
    await calls(limiter, "a", 10)
    clock.now = BASE + 12  # previous 10 weighs 8
    assert await limiter.allow("a", cost=2)
    assert not await limiter.check("a")
    assert await limiter.retry_after("a") == pytest.approx(1.0)
    clock.now = BASE + 12.9
    assert not await limiter.check("a")
    clock.now = BASE + 13
    assert await limiter.retry_after("a") == pytest.approx(0.0, abs=1e-9)
    assert await limiter.check("a")


async def test_window_retry_after_past_the_next_boundary(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=10, seconds=10)
    clock.now = BASE + 5
    await calls(limiter, "a", 10)
    assert await limiter.retry_after("a") == pytest.approx(6.0)
    assert await limiter.retry_after("a", cost=5) == pytest.approx(10.0)
    clock.now = BASE + 10.9
    assert not await limiter.check("a")
    clock.now = BASE + 11
    assert await limiter.check("a")


async def test_window_uses_the_server_clock_by_default(redis_client):
    limiter = window(redis_client, None, max_requests=3, seconds=3600)
    assert await calls(limiter, "a", 4) == [True] * 3 + [False]
    # Refused until the next boundary at least, at most two windows away.
    assert 0 < await limiter.retry_after("a") <= 7200


# -- Same decisions as the in-memory limiters ---------------------------------------------


@pytest.mark.parametrize("kind", ["bucket", "window"])
async def test_random_traffic_gets_the_in_memory_answers(redis_client, kind):
    # Times on a 1/8 s grid, rate 1 and window 8: every number involved is exact in binary.
    memory_clock, redis_clock = FakeClock(0.0), FakeClock(BASE)
    if kind == "bucket":
        memory = TokenBucketLimiter(rate=1, capacity=8, clock=memory_clock)
        shared = bucket(redis_client, redis_clock, rate=1, capacity=8)
    else:
        memory = RateLimiter(max_requests=8, window=8, clock=memory_clock)
        shared = window(redis_client, redis_clock, max_requests=8, seconds=8)
    rng = random.Random(7)
    decisions = []
    for _ in range(300):
        step = rng.choice([0, 0, 0, 0, 1, 2, 5, 20]) / 8
        memory_clock.advance(step)
        redis_clock.advance(step)
        key, cost = rng.choice("ab"), rng.choice([0.5, 1, 1, 2, 3])
        assert await shared.retry_after(key, cost) == pytest.approx(
            memory.retry_after(key, cost), abs=1e-6
        )
        allowed = memory.allow(key, cost)
        assert await shared.allow(key, cost) == allowed
        decisions.append(allowed)
    assert min(decisions.count(True), decisions.count(False)) > 50  # limits really were hit


# -- Argument checks: the in-memory limiters' own ------------------------------------------


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan, "5", True, None])
def test_bucket_rejects_bad_rates(redis_client, rate):
    with pytest.raises(ValueError, match="rate"):
        RedisTokenBucketLimiter(redis_client, rate=rate, capacity=10)


@pytest.mark.parametrize("capacity", [0, 0.5, -3, math.inf, "10", False])
def test_bucket_rejects_bad_capacities(redis_client, capacity):
    with pytest.raises(ValueError, match="capacity"):
        RedisTokenBucketLimiter(redis_client, rate=1, capacity=capacity)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_requests": 0, "window": 60},
        {"max_requests": 1.5, "window": 60},
        {"max_requests": True, "window": 60},
        {"max_requests": 10, "window": 0},
        {"max_requests": 10, "window": -1},
        {"max_requests": 10, "window": math.inf},
    ],
)
def test_window_rejects_bad_arguments(redis_client, kwargs):
    with pytest.raises(ValueError):
        RedisRateLimiter(redis_client, **kwargs)


@pytest.mark.parametrize(
    "make",
    [
        lambda client: RedisTokenBucketLimiter(client, rate=1, capacity=5),
        lambda client: RedisRateLimiter(client, max_requests=5, window=1),
    ],
    ids=["bucket", "window"],
)
@pytest.mark.parametrize("cost", [0, -1, math.nan, math.inf, "1", True])
async def test_bad_costs_are_errors_before_any_round_trip(redis_client, make, cost):
    limiter = make(redis_client)
    with pytest.raises(ValueError, match="cost"):
        await limiter.allow("a", cost=cost)
    with pytest.raises(ValueError, match="cost"):
        await limiter.retry_after("a", cost=cost)
    with pytest.raises(ValueError, match="cost"):
        rate_limit(limiter, cost=cost)
    assert await redis_client.keys("*") == []
    assert await limiter.allow("a", cost=5)


@pytest.mark.parametrize(
    "make",
    [
        lambda client: RedisTokenBucketLimiter(client, rate=1, capacity=5),
        lambda client: RedisRateLimiter(client, max_requests=5, window=1),
    ],
    ids=["bucket", "window"],
)
async def test_cost_above_the_limit_is_a_refusal_without_a_round_trip(redis_client, make):
    limiter = make(redis_client)
    assert await limiter.allow("a", cost=6) is False
    assert await limiter.retry_after("a", cost=6) == math.inf
    with pytest.raises(ValueError, match="never be allowed"):
        rate_limit(limiter, cost=6)
    assert await redis_client.keys("*") == []
    assert await limiter.allow("a", cost=5)


async def test_keys_and_prefixes_must_be_str(redis_client):
    limiter = RedisTokenBucketLimiter(redis_client, rate=1, capacity=1)
    with pytest.raises(TypeError, match="str"):
        await limiter.allow(("tuple", 1))
    with pytest.raises(TypeError, match="prefix"):
        RedisTokenBucketLimiter(redis_client, rate=1, capacity=1, prefix=b"rl:")


# -- Shared by processes, atomic ----------------------------------------------------------


async def test_two_clients_share_one_budget(redis_client, redis_url, clock):
    other = Redis.from_url(redis_url)  # another worker, with its own connections
    try:
        here = bucket(redis_client, clock, rate=1, capacity=4)
        there = bucket(other, clock, rate=1, capacity=4)
        answers = [await limiter.allow("ip") for limiter in (here, there) * 3]
        assert answers == [True] * 4 + [False] * 2
        assert await there.retry_after("ip") == pytest.approx(1.0)
        clock.advance(1)
        assert [await here.allow("ip"), await there.allow("ip")] == [True, False]
    finally:
        await other.aclose()


@pytest.mark.parametrize(
    "make",
    [
        lambda client, clock: RedisTokenBucketLimiter(client, rate=1, capacity=50, clock=clock),
        lambda client, clock: RedisRateLimiter(client, max_requests=50, window=60, clock=clock),
    ],
    ids=["bucket", "window"],
)
async def test_concurrent_calls_from_two_clients_allow_exactly_the_limit(
    redis_client, redis_url, clock, make
):
    other = Redis.from_url(redis_url)
    try:
        limiters = [make(redis_client, clock), make(other, clock)]
        answers = await asyncio.gather(*(limiters[n % 2].allow("hot") for n in range(200)))
    finally:
        await other.aclose()
    assert answers.count(True) == 50


# -- Idle keys expire ---------------------------------------------------------------------


async def test_a_bucket_key_expires_when_the_bucket_would_be_full(redis_client, clock):
    limiter = bucket(redis_client, clock, rate=10, capacity=5)
    assert await limiter.allow("a", cost=2)  # full again in 0.2 s
    key = limiter.redis_key("a")
    assert 50 < await redis_client.pttl(key) <= 200
    assert await limiter.allow("a", cost=3)  # full again in 0.5 s
    assert 300 < await redis_client.pttl(key) <= 500
    assert not await limiter.allow("a")  # a refusal writes nothing
    assert await redis_client.pttl(key) <= 500
    assert await limiter.retry_after("fresh") == 0.0  # looking creates no key
    assert await redis_client.exists(limiter.redis_key("fresh")) == 0


async def test_a_window_key_expires_two_windows_after_its_last_request(redis_client, clock):
    limiter = window(redis_client, clock, max_requests=5, seconds=10)
    clock.now = BASE + 5
    assert await limiter.check("a")  # counted in window [BASE, BASE + 10): gone at BASE + 20
    assert 14_000 < await redis_client.pttl(limiter.redis_key("a")) <= 15_000
    clock.now = BASE + 19
    assert await limiter.check("a")  # now counted in [BASE + 10, BASE + 20): gone at BASE + 30
    assert 10_000 < await redis_client.pttl(limiter.redis_key("a")) <= 11_000


async def test_idle_keys_vanish_and_come_back_fresh(redis_client):
    limiter = bucket(redis_client, None, rate=1000, capacity=2)  # full again within 2 ms
    assert await calls(limiter, "a", 2) == [True, True]
    deadline = time.monotonic() + 5
    while await redis_client.exists(limiter.redis_key("a")):
        assert time.monotonic() < deadline, "the key never expired"
        await asyncio.sleep(0.005)
    assert await limiter.retry_after("a", cost=2) == 0.0


# -- @rate_limit through the app ----------------------------------------------------------


def limited_app(limiter, **options) -> Gobstopper:
    """The in-memory tests' app (``/limited``) plus a sync handler with a path parameter."""
    app = memory_limited_app(limiter, **options)

    @app.get("/sync/<int:n>")
    @rate_limit(limiter, **options)
    def sync_handler(request, n: int):
        return {"n": n}

    return app


async def test_refusal_is_a_429_with_retry_after(redis_client, clock):
    app = limited_app(bucket(redis_client, clock, rate=0.25, capacity=2))
    async with AsyncTestClient(app) as client:
        assert [(await client.get("/limited")).status_code for _ in range(2)] == [200, 200]
        refused = await client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers.get_all("retry-after") == ["4"]
        assert refused.json() == {"error": "Too Many Requests", "status": 429}
        clock.advance(3.9)
        assert (await client.get("/limited")).headers["retry-after"] == "1"
        clock.advance(0.1)
        assert (await client.get("/limited")).status_code == 200


async def test_sync_handlers_share_the_budget_and_get_their_parameters(redis_client, clock):
    app = limited_app(window(redis_client, clock, max_requests=2, seconds=30))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/sync/3")).json() == {"n": 3}
        assert (await client.get("/limited")).status_code == 200
        refused = await client.get("/sync/4")
        assert refused.status_code == 429
        # After the boundary at 30 s the two requests still weigh 2 * (1 - 15/30) = 1.
        assert refused.headers["retry-after"] == "45"


async def test_custom_key_with_a_redis_limiter(redis_client, clock):
    app = limited_app(
        bucket(redis_client, clock, rate=1, capacity=1),
        key=lambda request: request.headers.get("x-api-key", ""),
    )
    async with AsyncTestClient(app) as client:
        for api_key, status in [("k1", 200), ("k1", 429), ("k2", 200)]:
            response = await client.get("/limited", headers={"x-api-key": api_key})
            assert response.status_code == status


# -- Redis unreachable --------------------------------------------------------------------


@pytest.fixture
async def dead_client():
    """A client for a loopback port nobody listens on, failing at once (no retries)."""
    client = Redis(host="127.0.0.1", port=free_port(), retry=None)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "make",
    [
        lambda client: RedisTokenBucketLimiter(client, rate=1, capacity=1),
        lambda client: RedisRateLimiter(client, max_requests=1, window=60),
    ],
    ids=["bucket", "window"],
)
async def test_fail_open_allows_and_warns_once_per_outage(dead_client, make, caplog):
    limiter = make(dead_client)
    with caplog.at_level(logging.INFO, logger="gobstopper.ratelimit"):
        assert await calls(limiter, "a", 3) == [True] * 3
        assert await limiter.retry_after("a") == 0.0
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.WARNING
    assert "Redis unreachable" in caplog.text and "allowing" in caplog.text


@pytest.mark.parametrize(
    "make",
    [
        lambda client: RedisTokenBucketLimiter(client, rate=1, capacity=1, fail_open=False),
        lambda client: RedisRateLimiter(client, max_requests=1, window=60, fail_open=False),
    ],
    ids=["bucket", "window"],
)
async def test_fail_closed_answers_503(dead_client, make):
    limiter = make(dead_client)
    with pytest.raises(ServiceUnavailable):
        await limiter.allow("a")
    with pytest.raises(ServiceUnavailable):
        await limiter.retry_after("a")
    async with AsyncTestClient(limited_app(limiter)) as client:
        response = await client.get("/limited")
    assert response.status_code == 503


async def test_fail_open_through_the_app(dead_client):
    app = limited_app(RedisTokenBucketLimiter(dead_client, rate=1, capacity=1))
    async with AsyncTestClient(app) as client:
        assert [(await client.get("/limited")).status_code for _ in range(3)] == [200] * 3


async def test_a_new_outage_after_recovery_warns_again(redis_client, redis_url, clock, caplog):
    # While writes are paused the limiter's client times out: an outage it recovers from.
    impatient = Redis.from_url(redis_url, retry=None, socket_timeout=0.1)
    limiter = bucket(impatient, clock, rate=1, capacity=1)
    try:
        with caplog.at_level(logging.INFO, logger="gobstopper.ratelimit"):
            for outage in range(2):
                await redis_client.client_pause(10_000, all=False)
                try:
                    assert await calls(limiter, "down", 2) == [True, True]
                finally:
                    await redis_client.client_unpause()
                assert await calls(limiter, f"up-{outage}", 2) == [True, False]  # counting again
    finally:
        await impatient.aclose()
    assert [(r.levelno, "again" in r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, False),
        (logging.INFO, True),
    ] * 2
