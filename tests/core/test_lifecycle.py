"""Startup once (locked, retried), shutdown with drain, and signal cooperation."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest

from gobstopper import Gobstopper
from gobstopper.core.dispatch import HTTPDispatcher
from gobstopper.core.lifecycle import STARTUP_FAILED_EXIT, Lifecycle, cancel_tasks_running
from gobstopper.testing import AsyncTestClient, FakeHTTPProtocol, TestClient, build_request
from tests.core.stuck import start_stuck_request
from tests.polling import eventually


async def test_startup_hooks_run_once_in_order_before_the_first_request():
    app = Gobstopper("up")
    calls: list[str] = []

    @app.on_startup
    async def first():
        await asyncio.sleep(0)
        calls.append("first")

    @app.on_startup
    def second():
        calls.append("second")

    app.get("/")(lambda request: {"calls": list(calls)})
    scope, body = build_request("GET", "/")
    protos = [FakeHTTPProtocol(body) for _ in range(20)]
    await asyncio.gather(*(app.__rsgi__(scope, proto) for proto in protos))
    assert calls == ["first", "second"]
    assert all(proto.status == 200 for proto in protos)


async def test_concurrent_startups_wait_for_the_first_one():
    lifecycle = Lifecycle()
    entered, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def slow_hook():
        runs.append(1)
        entered.set()
        await release.wait()

    lifecycle.startup_hooks.append(slow_hook)
    waiters = [asyncio.create_task(lifecycle.startup()) for _ in range(5)]
    # The first waiter is inside the hook; the others ran their first step
    # (tasks start in creation order) before this test is woken.
    await asyncio.wait_for(entered.wait(), 5)
    assert not any(w.done() for w in waiters)
    assert runs == [1] and not lifecycle.started
    release.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert runs == [1]
    assert lifecycle.started


async def test_failed_startup_is_a_500_and_resumes_on_the_next_request(caplog):
    app = Gobstopper("flaky")
    calls: list[str] = []

    @app.on_startup
    def connect():
        calls.append("connect")

    @app.on_startup
    def warm():
        calls.append("warm")
        if calls.count("warm") == 1:
            raise ConnectionError("cache not ready")

    app.get("/")(lambda request: "ready")
    client = AsyncTestClient(app)  # no `async with`: startup happens per request
    with caplog.at_level(logging.ERROR):
        first = await client.get("/", headers={"accept": "text/html"})
    assert first.status_code == 500
    assert "cache not ready" not in first.text
    second = await client.get("/")
    assert second.status_code == 200 and second.text == "ready"
    # The hook that succeeded is not repeated; the failed one is retried.
    assert calls == ["connect", "warm", "warm"]
    assert "cache not ready" in caplog.text


async def test_startup_error_propagates_from_explicit_startup():
    app = Gobstopper("bad")

    @app.on_startup
    def broken():
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        await app.startup()
    assert not app.lifecycle.started


async def test_shutdown_waits_for_in_flight_requests_then_runs_hooks():
    app = Gobstopper("drain")
    order: list[str] = []
    started = asyncio.Event()
    release = asyncio.Event()

    @app.get("/work")
    async def work(request):
        started.set()
        await release.wait()
        order.append("request done")
        return "done"

    @app.on_shutdown
    async def close_db():
        order.append("hook")

    await app.startup()
    scope, body = build_request("GET", "/work")
    proto = FakeHTTPProtocol(body)
    request_task = asyncio.create_task(app.__rsgi__(scope, proto))
    await asyncio.wait_for(started.wait(), 5)
    shutdown_task = asyncio.create_task(app.shutdown(timeout=5))
    await eventually(lambda: app.lifecycle.closing, "shutdown to begin")
    assert not shutdown_task.done() and order == []  # draining: the hook waits
    refused_scope, refused_body = build_request("GET", "/work")
    refused = FakeHTTPProtocol(refused_body)
    await app.__rsgi__(refused_scope, refused)
    assert refused.status == 503
    release.set()
    await asyncio.wait_for(asyncio.gather(request_task, shutdown_task), 5)
    assert proto.status == 200
    assert order == ["request done", "hook"]


async def test_shutdown_hooks_run_even_when_the_drain_times_out(caplog):
    app = Gobstopper("timeout")
    hooks: list[str] = []

    @app.on_shutdown
    def broken():
        raise RuntimeError("hook failure is logged")

    @app.on_shutdown
    def after():
        hooks.append("after")

    task, _ = await start_stuck_request(app)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        await app.shutdown(timeout=0.2)
    assert time.monotonic() - began < 2
    assert hooks == ["after"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "still running" in messages and "failed" in messages
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_shutdown_timeout_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", "0.1")
    app = Gobstopper("env-timeout")
    task, _ = await start_stuck_request(app)
    began = time.monotonic()
    await app.shutdown()
    assert time.monotonic() - began < 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_invalid_shutdown_timeout_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", "soon")
    app = Gobstopper("bad-timeout")
    with pytest.raises(ValueError, match="WOPR_SHUTDOWN_TIMEOUT"):
        asyncio.run(app.shutdown())


def test_an_app_can_be_started_again_after_shutdown():
    app = Gobstopper("again")
    calls: list[str] = []
    app.on_startup(lambda: calls.append("up"))
    app.on_shutdown(lambda: calls.append("down"))
    app.get("/")(lambda request: "ok")
    for _ in range(2):
        with TestClient(app) as client:
            assert client.get("/").status_code == 200
    assert calls == ["up", "down", "up", "down"]


def test_shutdown_runs_the_task_queue_after_user_hooks():
    app = Gobstopper("tasks")
    order: list[str] = []

    class Queue:
        enabled = True

        async def shutdown(self):
            order.append("queue")

    app.task_queue = Queue()  # type: ignore[assignment]
    app.on_shutdown(lambda: order.append("user"))
    with TestClient(app):
        pass
    assert order == ["user", "queue"]


def test_shutdown_closes_websockets_opened_before_a_late_registration():
    """Registering a route recompiles the dispatchers; open sockets must not be forgotten."""
    app = Gobstopper("late")

    @app.websocket("/ws")
    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text("hello")
        async for _ in websocket:
            pass

    client = TestClient(app)
    with client:
        ws = client.websocket_connect("/ws")
        assert ws.receive_text() == "hello"
        app.get("/late")(lambda request: "late")
        assert client.get("/late").text == "late"  # served by the rebuilt dispatcher
        client.run(app.shutdown(timeout=1))
        assert ws.wait_closed() == 1001


def test_rsgi_init_starts_and_rsgi_del_shuts_down():
    app = Gobstopper("rsgi-hooks")
    calls: list[str] = []
    app.on_startup(lambda: calls.append("up"))
    app.on_shutdown(lambda: calls.append("down"))
    loop = asyncio.new_event_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        app.__rsgi_init__(loop)
        assert calls == ["up"] and app.lifecycle.started
        app.__rsgi_del__(loop)
        assert calls == ["up", "down"]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()


def test_a_startup_failure_in_rsgi_init_stops_the_worker(caplog):
    """Granian boots a worker with ``__rsgi_init__``: a failing hook must end it."""
    app = Gobstopper("rsgi-fail")
    attempts: list[int] = []

    @app.on_startup
    def broken():
        attempts.append(1)
        raise RuntimeError("database is on fire")

    app.get("/")(lambda request: "ok")
    loop = asyncio.new_event_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stopped:
            app.__rsgi_init__(loop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()
    assert stopped.value.code == STARTUP_FAILED_EXIT != 0
    assert isinstance(stopped.value.__cause__, RuntimeError)
    assert "startup failed" in caplog.text and "database is on fire" in caplog.text
    assert attempts == [1] and not app.lifecycle.started


def test_rsgi_init_in_a_running_loop_leaves_startup_for_the_first_request():
    """Granian's embedded server calls ``__rsgi_init__`` inside its running loop."""
    app = Gobstopper("embedded")
    calls: list[str] = []
    app.on_startup(lambda: calls.append("up"))
    app.get("/")(lambda request: "ok")

    async def serve() -> int:
        app.__rsgi_init__(asyncio.get_running_loop())
        assert calls == []  # nothing can be awaited inside a running loop
        scope, body = build_request("GET", "/")
        proto = FakeHTTPProtocol(body)
        await app.__rsgi__(scope, proto)
        return proto.status

    assert asyncio.run(serve()) == 200
    assert calls == ["up"]


def test_a_failing_startup_hook_raises_out_of_the_test_client():
    app = Gobstopper("client-fail")

    @app.on_startup
    async def broken():
        raise ConnectionError("no database")

    client = TestClient(app)
    with pytest.raises(ConnectionError, match="no database"):
        with client:
            pass
    client.close()


def test_a_stop_signal_refuses_new_requests_and_cancels_stragglers(monkeypatch):
    """SIGTERM chains to the server's handler, then the deadline cancels requests."""
    monkeypatch.setenv("WOPR_SHUTDOWN_TIMEOUT", "0.2")
    app = Gobstopper("signals")
    started = asyncio.Event()

    @app.get("/slow")
    async def slow(request):
        started.set()
        await asyncio.sleep(30)

    server_saw: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    loop = asyncio.new_event_loop()
    try:
        for sig in previous:
            signal.signal(sig, lambda signum, frame: server_saw.append(signum))
        cleaned: list[str] = []

        async def on_signal():
            cleaned.append("websockets closed")

        assert app.lifecycle.watch_signals(loop, HTTPDispatcher.__call__.__code__, on_signal)

        async def scenario():
            scope, body = build_request("GET", "/slow")
            proto = FakeHTTPProtocol(body)
            task = asyncio.create_task(app.__rsgi__(scope, proto))
            await asyncio.wait_for(started.wait(), 5)
            os.kill(os.getpid(), signal.SIGTERM)
            await eventually(lambda: app.lifecycle.closing, "SIGTERM to start the shutdown")
            late = FakeHTTPProtocol(b"")
            await app.__rsgi__(build_request("GET", "/slow")[0], late)
            await asyncio.wait_for(task, 5)
            return proto, late

        proto, late = loop.run_until_complete(scenario())
        assert server_saw == [signal.SIGTERM]
        assert cleaned == ["websockets closed"]
        assert late.status == 503
        assert proto.status == 503
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()


def test_watch_signals_declines_without_a_server_handler():
    lifecycle = Lifecycle()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    loop = asyncio.new_event_loop()
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        assert lifecycle.watch_signals(loop, HTTPDispatcher.__call__.__code__) is False
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()


async def test_cancel_tasks_running_only_touches_request_tasks():
    app = Gobstopper("cancel")
    started = asyncio.Event()

    @app.get("/slow")
    async def slow(request):
        started.set()
        await asyncio.sleep(30)

    bystander = asyncio.create_task(asyncio.sleep(30))
    scope, body = build_request("GET", "/slow")
    proto = FakeHTTPProtocol(body)
    request_task = asyncio.create_task(app.__rsgi__(scope, proto))
    await asyncio.wait_for(started.wait(), 5)
    assert cancel_tasks_running(HTTPDispatcher.__call__.__code__) == 1
    await asyncio.gather(request_task, return_exceptions=True)
    # Not shutting down: the cancellation propagates, nothing is answered.
    assert request_task.cancelled() and proto.calls == []
    assert app.lifecycle.in_flight == 0
    assert not bystander.done()
    bystander.cancel()
    await asyncio.gather(bystander, return_exceptions=True)
