"""Idempotency store (fake clock) and @use_idempotency through the app."""

from __future__ import annotations

import asyncio
import math

import msgspec
import pytest

from gobstopper import Gobstopper, Response, StreamResponse, abort
from gobstopper.testing import AsyncTestClient, TestClient
from gobstopper.utils import idempotency
from gobstopper.utils.idempotency import (
    MAX_ENTRIES,
    MAX_KEY_LENGTH,
    IdempotencyStore,
    get_idempotent,
    remember_idempotency,
    use_idempotency,
)


class Order(msgspec.Struct):
    item: str
    qty: int


@pytest.fixture
def store(clock) -> IdempotencyStore:
    return IdempotencyStore(clock=clock)


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


# -- the store --------------------------------------------------------------------------


def test_store_keeps_values_until_their_ttl(store, clock):
    store.set("a", {"id": 1}, ttl_seconds=10)
    store.set("b", None, ttl_seconds=30)
    assert store.get("a") == {"id": 1}
    assert store.get("b", "missing") is None  # a stored None is not "missing"
    clock.now = 9.99
    assert store.get("a") == {"id": 1}
    clock.now = 10
    assert store.get("a") is None
    assert store.get("a", "missing") == "missing"
    assert len(store) == 1  # the expired entry was dropped when looked up


def test_store_evicts_the_oldest_beyond_max_entries(clock):
    store = IdempotencyStore(max_entries=3, clock=clock)
    for name in "abcd":
        store.set(name, name)
    assert len(store) == 3
    assert [store.get(name) for name in "abcd"] == [None, "b", "c", "d"]
    store.set("b", "B")  # rewriting moves "b" to the young end
    store.set("e", "e")
    assert [store.get(name) for name in "bcde"] == ["B", None, "d", "e"]


def test_store_drops_expired_entries_on_writes(clock):
    store = IdempotencyStore(max_entries=1000, clock=clock)
    for n in range(100):
        store.set(n, n, ttl_seconds=1)
    clock.now = 5
    for n in range(100):
        store.set(f"new-{n}", n, ttl_seconds=1)
    assert len(store) == 100  # every old entry was swept by the new writes


def test_store_is_bounded_in_bytes_evicting_the_oldest(clock):
    store = IdempotencyStore(max_bytes=1000, clock=clock)
    for name in "abc":
        store.set(name, b"x" * 400)
    assert store.size_bytes <= 1000
    assert [store.get(name) is not None for name in "abc"] == [False, True, True]
    store.set("huge", b"x" * 1001)  # larger than the whole store: not kept
    assert store.get("huge") is None and store.size_bytes == 800
    store.set("b", b"small")  # replacing a value gives its bytes back
    assert store.size_bytes == 405


def test_default_store_is_capped_by_the_module_constant():
    assert idempotency._DEFAULT_STORE.max_entries == MAX_ENTRIES


@pytest.mark.parametrize("ttl", [0, -1, math.inf, math.nan, "60", True])
def test_ttl_must_be_positive(ttl, store):
    with pytest.raises(ValueError, match="ttl_seconds"):
        store.set("a", 1, ttl_seconds=ttl)
    with pytest.raises(ValueError, match="ttl_seconds"):
        use_idempotency(ttl_seconds=ttl)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_max_entries_and_bytes_must_be_positive_ints(size):
    with pytest.raises(ValueError, match="max_entries"):
        IdempotencyStore(max_entries=size)
    with pytest.raises(ValueError, match="max_bytes"):
        IdempotencyStore(max_bytes=size)


def test_a_store_without_the_backend_steps_is_refused():
    with pytest.raises(TypeError, match="IdempotencyBackend"):
        use_idempotency(store={})  # type: ignore[arg-type]


def test_remember_and_get_use_the_default_store(monkeypatch, clock):
    monkeypatch.setattr(idempotency, "_DEFAULT_STORE", IdempotencyStore(clock=clock))
    assert get_idempotent("order-1") is None
    remember_idempotency("order-1", {"id": 1}, ttl_seconds=5)
    assert get_idempotent("order-1") == {"id": 1}
    clock.now = 5
    assert get_idempotent("order-1") is None


# -- @use_idempotency through the app ----------------------------------------------------


def counting_app(store: IdempotencyStore, ttl: float = 60.0):
    app = Gobstopper(__name__)
    calls: list[str] = []

    @app.post("/orders")
    @use_idempotency(ttl_seconds=ttl, store=store)
    async def create(request):
        calls.append("orders")
        return {"order": len(calls)}

    @app.post("/refunds")
    @use_idempotency(ttl_seconds=ttl, store=store)
    async def refund(request):
        calls.append("refunds")
        return {"refund": len(calls)}

    return app, calls


def test_same_key_replays_the_first_response(store):
    app, calls = counting_app(store)
    with TestClient(app) as client:
        first = client.post("/orders", headers=key("k1"))
        again = client.post("/orders", headers=key("k1"))
    assert calls == ["orders"]
    assert first.json() == again.json() == {"order": 1}
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"


def test_key_from_the_query_string(store):
    app, calls = counting_app(store)
    with TestClient(app) as client:
        client.post("/orders?idempotency_key=q1")
        assert client.post("/orders", params={"idempotency_key": "q1"}).json() == {"order": 1}
        assert client.post("/orders", headers=key("q1")).json() == {"order": 1}
    assert calls == ["orders"]


def test_without_a_key_the_handler_always_runs(store):
    app, calls = counting_app(store)
    with TestClient(app) as client:
        client.post("/orders")
        client.post("/orders", headers=key(""))
        client.post("/orders?idempotency_key=")
    assert calls == ["orders"] * 3


def test_different_keys_and_endpoints_are_independent(store):
    app, calls = counting_app(store)
    with TestClient(app) as client:
        assert client.post("/orders", headers=key("a")).json() == {"order": 1}
        assert client.post("/orders", headers=key("b")).json() == {"order": 2}
        assert client.post("/refunds", headers=key("a")).json() == {"refund": 3}
        assert client.post("/refunds", headers=key("a")).json() == {"refund": 3}
        assert client.post("/orders", headers=key("a")).json() == {"order": 1}
    assert calls == ["orders", "orders", "refunds"]


def test_results_expire_after_the_ttl(store, clock):
    app, calls = counting_app(store, ttl=30)
    with TestClient(app) as client:
        client.post("/orders", headers=key("k"))
        clock.now = 29.9
        assert client.post("/orders", headers=key("k")).json() == {"order": 1}
        clock.now = 30
        assert client.post("/orders", headers=key("k")).json() == {"order": 2}
    assert calls == ["orders", "orders"]


def test_a_too_long_key_is_a_400(store):
    app, calls = counting_app(store)
    with TestClient(app) as client:
        assert client.post("/orders", headers=key("k" * MAX_KEY_LENGTH)).status_code == 200
        assert client.post("/orders", headers=key("k" * (MAX_KEY_LENGTH + 1))).status_code == 400
    assert calls == ["orders"]


def test_errors_are_not_stored(store):
    app = Gobstopper(__name__)
    calls: list[int] = []

    @app.post("/pay")
    @use_idempotency(store=store)
    async def pay(request):
        calls.append(1)
        if len(calls) == 1:
            abort(409, "try again")
        return {"paid": True}

    with TestClient(app) as client:
        assert client.post("/pay", headers=key("k")).status_code == 409
        assert client.post("/pay", headers=key("k")).json() == {"paid": True}
        assert client.post("/pay", headers=key("k")).json() == {"paid": True}
    assert len(calls) == 2


def test_response_objects_and_tuples_replay_with_their_status(store):
    app = Gobstopper(__name__)

    @app.post("/created")
    @use_idempotency(store=store)
    async def created(request):
        return Response("made", status=201, headers={"location": "/things/1"})

    @app.post("/tuple")
    @use_idempotency(store=store)
    async def as_tuple(request):
        return {"id": 2}, 202

    with TestClient(app) as client:
        for _ in range(2):
            made = client.post("/created", headers=key("k"))
            assert (made.status_code, made.text, made.headers["location"]) == (
                201,
                "made",
                "/things/1",
            )
            accepted = client.post("/tuple", headers=key("k"))
            assert (accepted.status_code, accepted.json()) == (202, {"id": 2})


def test_replays_are_not_altered_by_after_request_hooks(store):
    app = Gobstopper(__name__)
    shared = Response("body")

    @app.post("/shared")
    @use_idempotency(store=store)
    async def returns_a_constant(request):
        return shared

    @app.after_request
    def stamp(request, response):
        response.headers["x-stamp"] = response.headers.get("x-stamp", "") + "*"
        response.set_cookie("seen", "1")

    with TestClient(app) as client:
        for _ in range(3):
            answer = client.post("/shared", headers=key("k"))
            assert answer.headers["x-stamp"] == "*"
            assert len(answer.headers.get_all("set-cookie")) == 1


def test_streamed_responses_are_not_stored(store):
    app = Gobstopper(__name__)
    calls: list[int] = []

    @app.post("/stream")
    @use_idempotency(store=store)
    async def stream(request):
        calls.append(1)

        async def chunks():
            yield f"run {len(calls)}"

        return StreamResponse(chunks())

    with TestClient(app) as client:
        assert client.post("/stream", headers=key("k")).text == "run 1"
        assert client.post("/stream", headers=key("k")).text == "run 2"
    assert len(store) == 0


def test_path_and_body_parameters_are_still_injected(store):
    app = Gobstopper(__name__)
    calls: list[int] = []

    @app.post("/shops/<int:shop>/orders")
    @use_idempotency(store=store)
    async def order(request, shop: int, order: Order):
        calls.append(shop)
        return {"shop": shop, "item": order.item, "qty": order.qty}

    with TestClient(app) as client:
        body = {"item": "gum", "qty": 3}
        expected = {"shop": 4, "item": "gum", "qty": 3}
        assert client.post("/shops/4/orders", json=body, headers=key("k")).json() == expected
        assert client.post("/shops/4/orders", json=body, headers=key("k")).json() == expected
        # The same key sent for another resource's path is a client error, not a replay.
        other = client.post("/shops/5/orders", json=body, headers=key("k"))
        assert other.status_code == 422 and "different request" in other.json()["error"]
        assert client.post("/shops/5/orders", json=body, headers=key("k2")).json()["shop"] == 5
        assert (
            client.post("/shops/4/orders", json={"item": "gum"}, headers=key("new")).status_code
            == 422
        )
    assert calls == [4, 5]


def test_sync_handlers_run_once_in_a_thread(store):
    app = Gobstopper(__name__)
    calls: list[int] = []

    @app.post("/sync/<int:n>")
    @use_idempotency(store=store)
    def sync_handler(request, n: int):
        calls.append(n)
        return {"n": n}

    with TestClient(app) as client:
        assert client.post("/sync/1", headers=key("k")).json() == {"n": 1}
        assert client.post("/sync/1", headers=key("k")).json() == {"n": 1}
    assert calls == [1]


def test_many_distinct_keys_keep_the_store_bounded(clock):
    store = IdempotencyStore(max_entries=20, clock=clock)
    app, calls = counting_app(store)
    with TestClient(app) as client:
        for n in range(200):
            client.post("/orders", headers=key(f"k{n}"))
            assert len(store) <= 20
        assert client.post("/orders", headers=key("k199")).json() == {"order": 200}
        assert client.post("/orders", headers=key("k0")).json() == {"order": 201}
    assert len(calls) == 201


# -- concurrency (AsyncTestClient, no sleeps) ----------------------------------------------


def gated_app(store: IdempotencyStore, fail_first: bool = False):
    """The handler waits until a second request has arrived (a before_request hook)."""
    app = Gobstopper(__name__)
    arrived: list[int] = []
    calls: list[int] = []
    second_arrived = asyncio.Event()

    @app.before_request
    def count(request):
        arrived.append(1)
        if len(arrived) == 2:
            second_arrived.set()

    @app.post("/pay")
    @use_idempotency(store=store)
    async def pay(request):
        calls.append(1)
        run = len(calls)
        await second_arrived.wait()
        if fail_first and run == 1:
            raise RuntimeError("payment provider down")
        return {"run": run}

    return app, calls


async def test_concurrent_requests_with_one_key_run_the_handler_once(store):
    app, calls = gated_app(store)
    async with AsyncTestClient(app) as client:
        first, second = await asyncio.gather(
            client.post("/pay", headers=key("k")), client.post("/pay", headers=key("k"))
        )
    assert calls == [1]
    assert first.json() == second.json() == {"run": 1}
    assert [r.headers.get("idempotent-replayed") for r in (first, second)] == [None, "true"]
    assert store._claims == {}


async def test_a_waiter_runs_the_handler_itself_when_the_first_fails(store):
    app, calls = gated_app(store, fail_first=True)
    async with AsyncTestClient(app) as client:
        first, second = await asyncio.gather(
            client.post("/pay", headers=key("k")), client.post("/pay", headers=key("k"))
        )
    assert (first.status_code, second.status_code) == (500, 200)
    assert second.json() == {"run": 2}
    assert len(calls) == 2
    assert store._claims == {}


async def test_concurrent_requests_with_different_keys_both_run(store):
    app, calls = gated_app(store)
    async with AsyncTestClient(app) as client:
        first, second = await asyncio.gather(
            client.post("/pay", headers=key("a")), client.post("/pay", headers=key("b"))
        )
    assert [first.json(), second.json()] == [{"run": 1}, {"run": 2}]
    assert len(calls) == 2


# -- scope: a key belongs to one caller -------------------------------------------------


def test_a_key_replays_only_to_the_caller_that_sent_it(store):
    app, calls = counting_app(store)
    alice = {"Idempotency-Key": "k", "Authorization": "Bearer alice"}
    mallory = {"Idempotency-Key": "k", "Authorization": "Bearer mallory"}
    with TestClient(app) as client:
        assert client.post("/orders", headers=alice).json() == {"order": 1}
        assert client.post("/orders", headers=mallory).json() == {"order": 2}
        assert client.post("/orders", headers=key("k")).json() == {"order": 3}  # by ip
        assert client.post("/orders", headers=alice).json() == {"order": 1}
    assert calls == ["orders"] * 3


def test_the_caller_function_decides_the_scope(store):
    app = Gobstopper(__name__)
    calls: list[str] = []

    @app.post("/orders")
    @use_idempotency(store=store, caller=lambda request: request.headers.get("x-tenant", ""))
    async def create(request):
        calls.append(request.headers["authorization"])
        return {"order": len(calls)}

    with TestClient(app) as client:
        tenant = {"Idempotency-Key": "k", "X-Tenant": "acme"}
        client.post("/orders", headers={**tenant, "Authorization": "one"})
        replay = client.post("/orders", headers={**tenant, "Authorization": "two"})
    assert replay.json() == {"order": 1} and calls == ["one"]


def test_a_replay_sends_no_cookies_but_the_first_answer_keeps_them(store):
    app = Gobstopper(__name__)

    @app.post("/login")
    @use_idempotency(store=store)
    async def login(request):
        response = Response("welcome")
        response.set_cookie("session", "secret-session-id", secure=False)
        response.headers["Set-Cookie"] = "raw=1"
        return response

    with TestClient(app) as client:
        first = client.post("/login", headers=key("k"))
        replay = client.post("/login", headers=key("k"))
    cookies = first.headers.get_all("set-cookie")
    assert cookies[0] == "raw=1" and "secret-session-id" in cookies[1]
    assert replay.text == "welcome" and "set-cookie" not in replay.headers
