"""Startup and configuration mistakes under a real Granian: fail fast, name the fix.

A worker whose startup failed must not stay up answering 500s: the server
exits non-zero with the error in its output, through ``granian`` and
``gobstopper run`` alike, and is not respawned in a loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import (
    ROOT,
    START_DEADLINE,
    free_port,
    granian_command,
    granian_server,
    run_until_exit,
)

pytestmark = pytest.mark.e2e

APPS = ROOT / "tests" / "e2e" / "apps"
TASKS_ON = {"WOPR_TASKS_ENABLED": "1"}


def granian(target: str, *extra: str, interface: str = "rsgi") -> list[str]:
    """``granian --interface <interface>`` serving ``target`` on a free loopback port."""
    return granian_command(target, free_port(), *extra, interface=interface)


@pytest.mark.parametrize(
    ("extra", "interface"),
    [
        ((), "rsgi"),
        (("--workers", "2"), "rsgi"),
        (("--respawn-failed-workers",), "rsgi"),
        ((), "asgi"),
        (("--workers", "2"), "asgi"),
    ],
    ids=["one-worker", "two-workers", "respawn", "asgi-one-worker", "asgi-two-workers"],
)
def test_a_failing_startup_hook_stops_granian_with_the_error(tmp_path, extra, interface):
    command = granian("failfast_app:failing", *extra, interface=interface)
    code, output = run_until_exit(command, tmp_path)
    assert code != 0
    assert "startup failed" in output
    assert "db.example:5432 refused the connection" in output
    # Respawning is Granian's opt-in; even then its crash-loop check stops it.
    assert output.count("Spawning worker-1") <= 2


def test_gobstopper_run_exits_non_zero_when_startup_fails(tmp_path):
    command = [
        sys.executable,
        "-m",
        "gobstopper",
        "run",
        "failfast_app:failing",
        "--port",
        str(free_port()),
    ]
    code, output = run_until_exit(command, tmp_path)
    assert code != 0
    assert "db.example:5432 refused the connection" in output


def test_a_second_server_on_the_same_task_database_exits_with_the_fix(tmp_path):
    with granian_server("failfast_app:tasks_app", tmp_path, env=TASKS_ON, app_dir=APPS) as first:
        assert httpx.get(first.url, timeout=10).json()["enabled"] is True
        code, output = run_until_exit(granian("failfast_app:tasks_app"), tmp_path, TASKS_ON)
        # The first server is untouched and still owns the database.
        assert httpx.get(first.url, timeout=10).status_code == 200
    assert code != 0
    assert "TaskStorageLockedError" in output
    assert f"'{tmp_path.resolve() / 'wopr_tasks.duckdb'}' is locked" in output
    assert "second instance" in output and "run one worker process per task database" in output
    assert "RedisTaskStorage(" in output  # the fix for several processes


def test_disabled_tasks_are_reported_when_the_server_boots(tmp_path):
    with granian_server(
        "failfast_app:tasks_app", tmp_path, app_dir=APPS, env={"WOPR_TASKS_ENABLED": "0"}
    ) as server:
        deadline = time.monotonic() + START_DEADLINE
        while "background tasks are disabled" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        log = server.log()
    assert "task 'echo'" in log and "workers for 'default'" in log
    assert "WOPR_TASKS_ENABLED=1" in log and "TaskQueue(enabled=True)" in log
    assert not (tmp_path / "wopr_tasks.duckdb").exists()


def test_a_route_signature_mistake_stops_the_server_at_import(tmp_path):
    (tmp_path / "bad_routes.py").write_text(
        "from gobstopper import Gobstopper\n"
        "app = Gobstopper('bad')\n"
        "@app.get('/users/<int:user_id>')\n"
        "def show_user(request, id):\n"
        "    return {'id': id}\n"
    )
    code, output = run_until_exit(
        granian("bad_routes:app"), tmp_path, {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT / 'src'}"}
    )
    assert code != 0
    assert "route '/users/<int:user_id>'" in output and "'id'" in output


def test_a_plain_def_returning_a_coroutine_is_a_500_that_names_the_missing_await(tmp_path):
    with granian_server("failfast_app:unawaited", tmp_path, app_dir=APPS) as server:
        response = httpx.get(server.url, timeout=10)
        assert response.status_code == 500
        assert "coroutine" not in response.text  # no details leak without debug
        deadline = time.monotonic() + START_DEADLINE
        while "did you forget await?" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        assert server.stop() == 0
    assert "never awaited" not in server.log()


def test_sigterm_closes_a_websocket_opened_before_a_late_route(tmp_path):
    events = tmp_path / "events.txt"
    env = {"WOPR_SHUTDOWN_TIMEOUT": "10", "FAILFAST_EVENTS": str(events)}
    with granian_server("failfast_app:late", tmp_path, app_dir=APPS, env=env) as server:

        async def scenario() -> float:
            async with connect(f"{server.ws_url}/ws") as ws:
                await ws.send("one")
                assert await asyncio.wait_for(ws.recv(), 10) == "echo one"
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                    assert (await http.post("/register")).text == "registered"
                    assert (await http.get("/late")).text == "late"
                began = time.monotonic()
                os.killpg(server.process.pid, signal.SIGTERM)
                # As in test_foundation_shutdown: the close frame may race Granian's
                # teardown, so an abrupt close counts too; waiting for the deadline does not.
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                return time.monotonic() - began

        closed_after = asyncio.run(scenario())
        code = server.process.wait(20)
    assert closed_after < 5  # closed at the signal, not at the 10 s deadline
    assert code == 0
    # Granian drops the connection when its worker stops anyway; what shows that the
    # app closed the socket itself (1001), letting its handler finish, is the handler.
    assert events.read_text().splitlines() == ["websocket closed 1001"]


def test_a_redis_task_backend_that_cannot_be_reached_stops_the_server(tmp_path):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    env = {"REDIS_URL": nowhere, "TASKS_BACKEND": "redis", "TASKS_PREFIX": "e2e:nowhere"}
    code, output = run_until_exit(granian("tasks_app:app"), tmp_path, env)
    assert code != 0
    assert f"Redis task backend at {nowhere} is unreachable" in output
    assert "ServiceUnavailableError" in output
