"""Rate limiters (fake clock, no sleeping) and @rate_limit through the app."""

from __future__ import annotations

import math
import sys
import threading

import msgspec
import pytest

from gobstopper import Gobstopper, JSONResponse
from gobstopper.testing import TestClient
from gobstopper.utils.rate_limiter import (
    SWEEP_BATCH,
    RateLimiter,
    RateLimitExceeded,
    TokenBucketLimiter,
    rate_limit,
)
from tests.utils.rate_limit_app import limited_app


class Item(msgspec.Struct):
    name: str
    qty: int


# -- TokenBucketLimiter -----------------------------------------------------------------


def test_bucket_allows_a_burst_of_capacity_then_refuses(clock):
    limiter = TokenBucketLimiter(rate=5, capacity=10, clock=clock)
    assert [limiter.allow("a") for _ in range(11)] == [True] * 10 + [False]


def test_bucket_refills_at_rate(clock):
    limiter = TokenBucketLimiter(rate=5, capacity=10, clock=clock)
    for _ in range(10):
        assert limiter.allow("a")
    clock.advance(0.1)
    assert not limiter.allow("a")  # half a token
    clock.advance(0.1)
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.advance(0.6)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_bucket_never_holds_more_than_capacity(clock):
    limiter = TokenBucketLimiter(rate=5, capacity=3, clock=clock)
    assert limiter.allow("a")
    clock.advance(1000)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_cost_takes_several_tokens_and_a_refusal_takes_none(clock):
    limiter = TokenBucketLimiter(rate=1, capacity=10, clock=clock)
    assert limiter.allow("a", cost=7)
    assert not limiter.allow("a", cost=4)
    assert limiter.allow("a", cost=3)  # the refused call took nothing
    assert not limiter.allow("a", cost=0.5)
    clock.advance(0.5)
    assert limiter.allow("a", cost=0.5)


def test_keys_have_separate_buckets(clock):
    limiter = TokenBucketLimiter(rate=1, capacity=1, clock=clock)
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")
    assert limiter.allow(("tuple", 1))


def test_bucket_retry_after_is_the_exact_wait(clock):
    limiter = TokenBucketLimiter(rate=5, capacity=10, clock=clock)
    assert limiter.retry_after("a") == 0.0
    for _ in range(10):
        limiter.allow("a")
    assert limiter.retry_after("a") == pytest.approx(0.2)
    assert limiter.retry_after("a", cost=3) == pytest.approx(0.6)
    clock.advance(0.59)
    assert not limiter.allow("a", cost=3)
    clock.advance(0.01)
    assert limiter.retry_after("a", cost=3) == pytest.approx(0.0, abs=1e-9)
    assert limiter.allow("a", cost=3)


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan, "5", True, None])
def test_bucket_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        TokenBucketLimiter(rate=rate, capacity=10)


@pytest.mark.parametrize("capacity", [0, 0.5, -3, math.inf, "10", False])
def test_bucket_rejects_bad_capacities(capacity):
    with pytest.raises(ValueError, match="capacity"):
        TokenBucketLimiter(rate=1, capacity=capacity)


@pytest.mark.parametrize("cost", [0, -1, math.nan, math.inf, "1", True])
def test_bucket_rejects_bad_costs(cost):
    limiter = TokenBucketLimiter(rate=1, capacity=5)
    with pytest.raises(ValueError, match="cost"):
        limiter.allow("a", cost=cost)
    with pytest.raises(ValueError, match="cost"):
        limiter.retry_after("a", cost=cost)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TokenBucketLimiter(rate=1, capacity=5),
        lambda: RateLimiter(max_requests=5, window=1),
    ],
    ids=["bucket", "window"],
)
def test_cost_above_the_limit_is_a_refusal_not_an_error(make):
    """The reference types ``allow`` as ``-> bool``: a call it can never allow is False."""
    limiter = make()
    assert limiter.allow("a", cost=6) is False
    assert limiter.allow("a", cost=1e300) is False
    assert limiter.retry_after("a", cost=6) == math.inf
    assert len(limiter) == 0  # the refusal remembered nothing
    assert limiter.allow("a", cost=5)


def test_full_buckets_are_forgotten(clock):
    limiter = TokenBucketLimiter(rate=10, capacity=5, clock=clock)
    limiter.allow("a", cost=2)
    assert len(limiter) == 1
    clock.advance(0.19)
    limiter.allow("b")
    assert len(limiter) == 2  # "a" is not full yet
    clock.advance(0.01)
    limiter.allow("c")
    assert len(limiter) == 2  # "a" is full again: dropped; "b" and "c" remain


def test_a_flood_of_distinct_keys_keeps_memory_bounded(clock):
    limiter = TokenBucketLimiter(rate=5, capacity=10, clock=clock)  # full again within 2 s
    step = 0.01
    for n in range(5000):
        assert limiter.allow(f"ip-{n}")
        clock.advance(step)
        # Only keys used in the last 2 s (200 of them) may be remembered.
        assert len(limiter) <= 2 / step + SWEEP_BATCH
    clock.advance(10)
    for n in range(50):
        limiter.allow(f"late-{n}")
    assert len(limiter) == 50


def test_sweeping_keeps_drained_buckets(clock):
    limiter = TokenBucketLimiter(rate=1, capacity=3, clock=clock)
    for _ in range(3):
        limiter.allow("busy")
    for n in range(100):
        limiter.allow(f"other-{n}")
    assert not limiter.allow("busy")


@pytest.mark.parametrize(
    "make",
    [
        lambda clock: TokenBucketLimiter(rate=1, capacity=500, clock=clock),
        lambda clock: RateLimiter(max_requests=500, window=60, clock=clock),
    ],
    ids=["bucket", "window"],
)
def test_limiters_are_thread_safe(make, clock):
    limiter = make(clock)
    allowed: list[bool] = []
    start = threading.Barrier(8)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, inside allow() if it were unguarded

    def hammer() -> None:
        start.wait()
        allowed.extend(limiter.allow("shared") for _ in range(200))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert allowed.count(True) == 500


# -- RateLimiter ------------------------------------------------------------------------


def test_window_allows_max_requests_then_refuses(clock):
    limiter = RateLimiter(max_requests=3, window=60, clock=clock)
    assert [limiter.check("ip") for _ in range(4)] == [True, True, True, False]
    assert limiter.check("other")


def test_window_cannot_be_doubled_across_a_boundary(clock):
    limiter = RateLimiter(max_requests=10, window=10, clock=clock)
    clock.now = 9.9
    assert all(limiter.check("a") for _ in range(10))
    clock.now = 10.0  # a fixed window would allow 10 more here
    assert not limiter.check("a")
    clock.now = 15.0  # the previous window now weighs half: 5 more
    assert [limiter.check("a") for _ in range(6)] == [True] * 5 + [False]
    clock.now = 30.0
    assert all(limiter.check("a") for _ in range(10))


def test_window_counts_cost_and_refusals_count_nothing(clock):
    limiter = RateLimiter(max_requests=10, window=1, clock=clock)
    assert limiter.allow("a", cost=8)
    assert not limiter.allow("a", cost=3)
    assert limiter.allow("a", cost=2)
    assert not limiter.check("a")


def test_window_retry_after_while_the_previous_window_fades(clock):
    limiter = RateLimiter(max_requests=10, window=10, clock=clock)
    clock.now = 5
    for _ in range(10):
        limiter.check("a")
    clock.now = 12  # previous 10 weighs 8
    assert limiter.allow("a", cost=2)
    assert not limiter.check("a")
    assert limiter.retry_after("a") == pytest.approx(1.0)
    clock.now = 12.9
    assert not limiter.check("a")
    clock.now = 13
    assert limiter.retry_after("a") == pytest.approx(0.0, abs=1e-9)
    assert limiter.check("a")


def test_window_retry_after_past_the_next_boundary(clock):
    limiter = RateLimiter(max_requests=10, window=10, clock=clock)
    clock.now = 5
    for _ in range(10):
        limiter.check("a")
    assert limiter.retry_after("a") == pytest.approx(6.0)
    assert limiter.retry_after("a", cost=5) == pytest.approx(10.0)
    clock.now = 10.9
    assert not limiter.check("a")
    clock.now = 11
    assert limiter.check("a")


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
def test_window_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)


def test_window_rejects_non_positive_costs():
    limiter = RateLimiter(max_requests=5, window=1)
    with pytest.raises(ValueError, match="cost"):
        limiter.allow("a", cost=0)
    with pytest.raises(ValueError, match="cost"):
        limiter.retry_after("a", cost=0)


def test_window_forgets_keys_two_windows_after_their_last_request(clock):
    limiter = RateLimiter(max_requests=5, window=10, clock=clock)
    limiter.check("a")
    clock.now = 19.9
    limiter.check("b")
    assert len(limiter) == 2  # "a" still weighs in window 1
    clock.now = 20
    limiter.check("c")
    assert len(limiter) == 2


def test_window_flood_of_distinct_keys_keeps_memory_bounded(clock):
    limiter = RateLimiter(max_requests=5, window=1, clock=clock)
    step = 0.01
    for n in range(3000):
        assert limiter.check(f"ip-{n}")
        clock.advance(step)
        assert len(limiter) <= 3 / step + SWEEP_BATCH  # at most three windows' keys


# -- @rate_limit through the app ---------------------------------------------------------


def test_refusal_is_a_429_with_retry_after(clock):
    app = limited_app(TokenBucketLimiter(rate=0.25, capacity=2, clock=clock))
    with TestClient(app) as client:
        assert [client.get("/limited").status_code for _ in range(2)] == [200, 200]
        refused = client.get("/limited")
        assert refused.status_code == 429
        assert refused.headers.get_all("retry-after") == ["4"]
        assert refused.json() == {"error": "Too Many Requests", "status": 429}
        clock.advance(3.9)
        assert client.get("/limited").headers["retry-after"] == "1"
        clock.advance(0.1)
        assert client.get("/limited").status_code == 200


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(clock):
    app = limited_app(TokenBucketLimiter(rate=0.5, capacity=1, clock=clock))
    with TestClient(app) as client:
        client.get("/limited")
        clock.advance(0.7)  # 1.3 s to go
        assert client.get("/limited").headers["retry-after"] == "2"
        clock.advance(1.25)  # 0.05 s to go
        assert client.get("/limited").headers["retry-after"] == "1"


def test_window_limiter_works_with_the_decorator(clock):
    app = limited_app(RateLimiter(max_requests=2, window=30, clock=clock))
    with TestClient(app) as client:
        assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
        # After the boundary at 30 s the two requests still weigh 2 * (1 - 15/30) = 1.
        assert client.get("/limited").headers["retry-after"] == "45"


def test_custom_429_handler_renders_the_refusal(clock):
    app = limited_app(TokenBucketLimiter(rate=0.5, capacity=1, clock=clock))

    @app.error_handler(429)
    async def rate_limited(request, error):
        assert isinstance(error, RateLimitExceeded)
        return JSONResponse({"error": "slow down", "retry_after": error.retry_after}, status=429)

    with TestClient(app) as client:
        client.get("/limited")
        refused = client.get("/limited")
    assert refused.status_code == 429
    assert refused.json() == {"error": "slow down", "retry_after": 2}
    assert refused.headers.get_all("retry-after") == ["2"]


def test_a_handler_setting_retry_after_itself_sends_it_once(clock):
    app = limited_app(TokenBucketLimiter(rate=0.5, capacity=1, clock=clock))

    @app.error_handler(429)
    async def rate_limited(request, error):
        return JSONResponse(
            {"error": "Too many requests", "retry_after": 60},
            status=429,
            headers={"Retry-After": "60"},
        )

    with TestClient(app) as client:
        client.get("/limited")
        assert client.get("/limited").headers.get_all("retry-after") == ["60"]


def test_default_key_is_the_client_ip(clock):
    app = limited_app(TokenBucketLimiter(rate=1, capacity=1, clock=clock))
    with TestClient(app, client="192.0.2.1:1000") as first:
        assert first.get("/limited").status_code == 200
        assert first.get("/limited").status_code == 429
        other = TestClient(app, client="192.0.2.2:1000")
        try:
            assert other.get("/limited").status_code == 200
        finally:
            other.close()


def test_custom_key_function(clock):
    app = limited_app(
        TokenBucketLimiter(rate=1, capacity=1, clock=clock),
        key=lambda request: request.headers.get("x-api-key"),
    )
    with TestClient(app) as client:
        assert client.get("/limited", headers={"x-api-key": "k1"}).status_code == 200
        assert client.get("/limited", headers={"x-api-key": "k1"}).status_code == 429
        assert client.get("/limited", headers={"x-api-key": "k2"}).status_code == 200


def test_cost_per_call(clock):
    app = limited_app(TokenBucketLimiter(rate=1, capacity=10, clock=clock), cost=4)
    with TestClient(app) as client:
        assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/limited").headers["retry-after"] == "2"


@pytest.mark.parametrize(
    "limiter",
    [TokenBucketLimiter(rate=1, capacity=2), RateLimiter(max_requests=2, window=1)],
    ids=["bucket", "window"],
)
def test_impossible_cost_fails_at_decoration(limiter):
    with pytest.raises(ValueError, match="never be allowed"):
        rate_limit(limiter, cost=3)


def test_handlers_sharing_a_limiter_share_the_budget(clock):
    limiter = TokenBucketLimiter(rate=1, capacity=2, clock=clock)
    app = limited_app(limiter)

    @app.get("/also")
    @rate_limit(limiter)
    async def also(request):
        return {"also": True}

    with TestClient(app) as client:
        assert [client.get(p).status_code for p in ("/limited", "/also", "/also")] == [
            200,
            200,
            429,
        ]


def test_path_and_body_parameters_are_still_injected(clock):
    limiter = TokenBucketLimiter(rate=1, capacity=3, clock=clock)
    app = Gobstopper(__name__)

    @app.get("/items/<int:id>")
    @rate_limit(limiter)
    async def get_item(request, id: int):
        return {"id": id, "type": type(id).__name__}

    @app.post("/items")
    @rate_limit(limiter)
    async def create_item(request, item: Item):
        return {"name": item.name, "qty": item.qty}

    with TestClient(app) as client:
        assert client.get("/items/7").json() == {"id": 7, "type": "int"}
        assert client.post("/items", json={"name": "gob", "qty": 2}).json() == {
            "name": "gob",
            "qty": 2,
        }
        # The check runs when the handler is called: a body refused with 422 spent nothing.
        assert client.post("/items", json={"name": "gob"}).status_code == 422
        assert client.get("/items/8").json() == {"id": 8, "type": "int"}
        assert client.get("/items/9").status_code == 429


def test_sync_handlers_are_limited_and_injected(clock):
    app = Gobstopper(__name__)

    @app.get("/sync/<int:n>")
    @rate_limit(TokenBucketLimiter(rate=1, capacity=1, clock=clock))
    def sync_handler(request, n: int):
        return {"n": n, "thread": threading.current_thread() is not threading.main_thread()}

    with TestClient(app) as client:
        assert client.get("/sync/3").json() == {"n": 3, "thread": True}
        assert client.get("/sync/3").status_code == 429


def test_reference_example_with_check(clock):
    limiter = RateLimiter(max_requests=1, window=60, clock=clock)
    app = Gobstopper(__name__)

    @app.post("/api/action")
    async def protected(request):
        if not limiter.check(request.client_ip):
            return {"error": "Rate limit exceeded"}, 429
        return {"status": "success"}

    with TestClient(app) as client:
        assert client.post("/api/action").json() == {"status": "success"}
        refused = client.post("/api/action")
        assert (refused.status_code, refused.json()) == (429, {"error": "Rate limit exceeded"})


def test_many_distinct_clients_through_the_app_keep_memory_bounded(clock):
    limiter = TokenBucketLimiter(rate=10, capacity=1, clock=clock)  # full again in 0.1 s
    app = limited_app(limiter, key=lambda request: request.headers["x-client"])
    with TestClient(app) as client:
        for n in range(300):
            assert client.get("/limited", headers={"x-client": str(n)}).status_code == 200
            clock.advance(0.05)
            assert len(limiter) <= 2 + SWEEP_BATCH
