"""@use_idempotency over real Granian servers: scoped to the caller, fingerprinted,
never replaying cookies, and once in total across servers sharing a Redis store."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

ALICE = {"Authorization": "Bearer alice", "Idempotency-Key": "order-1"}
MALLORY = {"Authorization": "Bearer mallory", "Idempotency-Key": "order-1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with granian_server("idempotency_app:app", tmp_path_factory.mktemp("idem")) as running:
        yield running


def test_a_key_replays_only_to_its_caller_and_never_replays_cookies(server):
    with httpx.Client(base_url=server.url) as alice, httpx.Client(base_url=server.url) as eve:
        first = alice.post("/charge", json={"amount": 5}, headers=ALICE)
        assert first.status_code == 200 and first.cookies["receipt"] == "1"
        assert first.json() == {"run": 1, "amount": 5, "caller": "Bearer alice"}
        # Another caller guessing the key gets its own run, not alice's body or cookie.
        stolen = eve.post("/charge", json={"amount": 5}, headers=MALLORY)
        assert stolen.json() == {"run": 2, "amount": 5, "caller": "Bearer mallory"}
        assert "idempotent-replayed" not in stolen.headers
        replay = alice.post("/charge", json={"amount": 5}, headers=ALICE)
        assert replay.json() == first.json()
        assert replay.headers["idempotent-replayed"] == "true"
        assert "set-cookie" not in replay.headers
        assert alice.get("/runs").json() == {"runs": 2}


def test_the_same_key_with_another_body_is_a_422(server):
    with httpx.Client(base_url=server.url) as client:
        headers = {"Idempotency-Key": "order-2"}
        assert client.post("/charge", json={"amount": 7}, headers=headers).status_code == 200
        other = client.post("/charge", json={"amount": 700}, headers=headers)
        assert other.status_code == 422
        assert "different request" in other.json()["error"]


@pytest.fixture
def pair(tmp_path, redis_url):
    """Two servers on two ports sharing one redis-server (a fresh database)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {"REDIS_URL": redis_url}
    with (
        granian_server("idempotency_app:app", tmp_path, env=env) as a,
        granian_server("idempotency_app:app", tmp_path, env=env) as b,
    ):
        yield a, b


async def test_concurrent_duplicates_over_two_servers_run_the_handler_once(pair):
    headers = {"Idempotency-Key": "pay-once", "Authorization": "Bearer bob"}
    async with httpx.AsyncClient() as client:
        posts = [
            client.post(
                f"{pair[i % 2].url}/charge", json={"amount": 9}, headers=headers, timeout=10
            )
            for i in range(8)
        ]
        answers = await asyncio.gather(*posts)
        assert [r.status_code for r in answers] == [200] * 8
        assert {r.content for r in answers} == {answers[0].content}
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 7
        assert (await client.get(f"{pair[1].url}/runs")).json() == {"runs": 1}
