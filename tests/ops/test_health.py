"""Liveness, readiness and readiness checks (gobstopper.ops.health), in-process."""

from __future__ import annotations

import asyncio
import time

import pytest

from gobstopper import Gobstopper
from gobstopper.testing import AsyncTestClient, TestClient
from tests.polling import eventually


def make_app() -> Gobstopper:
    app = Gobstopper("health")
    app.enable_health()
    return app


def test_live_and_ready_answer_200_with_a_request_id():
    app = make_app()
    with TestClient(app) as client:
        live = client.get("/healthz")
        ready = client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert live.headers["x-request-id"] != ready.headers["x-request-id"]
    assert ready.headers["cache-control"] == "no-store"


def test_custom_paths_and_an_unserved_probe():
    app = Gobstopper("paths")
    app.enable_health(live="/live", ready=None)
    with TestClient(app) as client:
        assert client.get("/live").status_code == 200
        assert client.get("/readyz").status_code == 404


def test_sync_and_async_checks_decide_readiness():
    app = make_app()
    state = {"db": True, "cache": True}

    @app.readiness_check
    def database() -> bool:
        return state["db"]

    @app.readiness_check(name="cache", timeout=1)
    async def cache_ok() -> bool:
        await asyncio.sleep(0)
        return state["cache"]

    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        state["db"] = False
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "failed": ["database"]}
        state["cache"] = False
        assert client.get("/readyz").json()["failed"] == ["database", "cache"]
        assert client.get("/healthz").status_code == 200  # liveness ignores checks


def test_a_check_that_raises_or_hangs_fails_within_its_timeout():
    app = make_app()

    @app.readiness_check(timeout=0.2)
    async def hangs() -> bool:
        await asyncio.sleep(30)
        return True

    @app.readiness_check
    def raises() -> bool:
        raise ConnectionError("db down")

    with TestClient(app) as client:
        began = time.monotonic()
        ready = client.get("/readyz")
    assert time.monotonic() - began < 2
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["hangs", "raises"]


def test_bad_checks_are_refused_at_registration():
    app = make_app()
    with pytest.raises(ValueError, match="timeout must be positive"):
        app.readiness_check(lambda: True, timeout=0)
    with pytest.raises(TypeError, match="callable"):
        app.readiness_check("not callable")


async def test_readiness_fails_while_shutting_down_and_before_startup():
    app = make_app()
    entered, release = asyncio.Event(), asyncio.Event()

    @app.get("/slow")
    async def slow(request):
        entered.set()
        await release.wait()
        return "done"

    health = app.ops_health
    assert await health.readiness() == (False, {"status": "starting"})
    async with AsyncTestClient(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        pending = asyncio.create_task(client.get("/slow"))
        await asyncio.wait_for(entered.wait(), 5)
        assert app.lifecycle.in_flight == 1
        shutting = asyncio.create_task(app.shutdown(timeout=5))
        await eventually(lambda: app.lifecycle.closing, "shutdown to begin")
        assert not shutting.done()  # draining: /slow is still in flight
        assert await health.readiness() == (False, {"status": "stopping"})
        assert (await client.get("/readyz")).status_code == 503
        release.set()
        assert (await pending).text == "done"
        await shutting


def test_probes_are_left_out_of_the_openapi_document():
    app = make_app()
    app.enable_metrics()
    assert app.openapi()["paths"] == {}


async def test_a_probe_whose_checks_straddle_the_stop_signal_answers_stopping():
    app = make_app()
    started = asyncio.Event()

    signalled = asyncio.Event()

    @app.readiness_check(timeout=5)
    async def slow_check() -> bool:
        started.set()
        await signalled.wait()  # the stop signal arrives while this check runs
        return True

    async with AsyncTestClient(app) as client:
        probe = asyncio.create_task(client.get("/readyz"))
        await asyncio.wait_for(started.wait(), 5)
        app.lifecycle.closing = True  # what SIGTERM does
        signalled.set()
        answer = await probe
        app.lifecycle.closing = False
    assert (answer.status_code, answer.json()) == (503, {"status": "stopping"})
