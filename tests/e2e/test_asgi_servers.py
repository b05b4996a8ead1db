"""The same app under third-party ASGI servers: uvicorn and hypercorn.

A smoke test of ``Gobstopper.__call__``: HTTP, bodies, files, SSE,
WebSockets with close codes both ways, lifespan startup/shutdown, and a
failing startup that stops the server. The full e2e suite runs over
Granian's ASGI interface (``granian_server(..., interface="asgi")``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.ws_close import closed_with
from tests.servers import (
    ASGI_SERVERS,
    asgi_server,
    asgi_server_command,
    free_port,
    run_until_exit,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    events = folder / "events.txt"
    with asgi_server(
        request.param, "asgi_app:app", folder, env={"ASGI_APP_EVENTS": str(events)}
    ) as running:
        running.events = events  # type: ignore[attr-defined]
        running.kind = request.param  # type: ignore[attr-defined]
        yield running


def test_http_json_body_file_and_sse(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/", params={"q": "x"}).json() == {"hello": "asgi", "q": "x", "path": "/"}
        body = os.urandom(300_000)
        assert client.post("/echo", content=body).content == body
        served = client.get("/file")
        expected = bytes(range(256)) * 4096
        assert served.status_code == 200 and served.content == expected
        assert served.headers["content-length"] == str(len(expected))
        assert 'filename="data.bin"' in served.headers["content-disposition"]
        ranged = client.get("/file", headers={"range": "bytes=256-511"})
        assert ranged.status_code == 206 and ranged.content == bytes(range(256))
        etag = served.headers["etag"]
        assert client.get("/file", headers={"if-none-match": etag}).status_code == 304
        head = client.head("/")
        assert head.status_code == 200 and head.content == b""
        sse = client.get("/sse")
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert [line for line in sse.text.splitlines() if line.startswith("data:")] == [
            f"data: event {n}" for n in range(5)
        ]
        assert client.get("/nowhere").status_code == 404
    assert "startup" in server.events.read_text()


@pytest.mark.parametrize("code", [1000, 1008, 4001])
async def test_the_apps_close_code_and_reason_reach_the_client(server, code):
    async with connect(f"{server.ws_url}/ws/close/{code}") as ws:
        assert await closed_with(ws) == (code, "server says bye")


async def test_the_clients_close_code_reaches_the_handler(server):
    async with connect(f"{server.ws_url}/ws/peer-close") as ws:
        assert await ws.recv() == "ready"
        await ws.close(4002, "client bye")
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        end = time.monotonic() + 10
        while not (seen := (await http.get("/closes")).json()) and time.monotonic() < end:
            await asyncio.sleep(0.05)
    if server.kind == "hypercorn":
        # hypercorn reports every client close as 1006 (pgjones/hypercorn#127, open).
        assert seen[-1] == {"code": 1006, "reason": ""}
    else:
        assert seen[-1] == {"code": 4002, "reason": "client bye"}


async def test_too_big_is_1009_a_crash_is_1011_a_refusal_is_its_status(server):
    async with connect(f"{server.ws_url}/ws/echo", max_size=None) as ws:
        await ws.send("small")
        assert await ws.recv() == "small"
        await ws.send(b"x" * (1024 * 1024 + 1))
        assert (await closed_with(ws))[0] == 1009
    async with connect(f"{server.ws_url}/ws/boom") as ws:
        await ws.send("go")
        assert (await closed_with(ws))[0] == 1011
    for path, status in (("/ws/refuse", 401), ("/ws/nowhere", 404)):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{server.ws_url}{path}"):
                pass
        assert refused.value.response.status_code == status
    assert "secret internals" in server.log()


@pytest.mark.parametrize("kind", ASGI_SERVERS)
def test_a_failing_startup_stops_the_server_with_the_error(tmp_path, kind):
    command = asgi_server_command(kind, "asgi_app:app", free_port())
    code, text = run_until_exit(command, tmp_path, {"ASGI_APP_FAIL_STARTUP": "1"}, what=kind)
    assert "db.example:5432 refused the connection" in text
    if kind == "uvicorn":
        assert code == 3, text  # uvicorn's startup-failure status
    # NOTE: hypercorn 0.18's parent process exits 0 when its worker's lifespan
    # startup fails; it does stop (checked above by exiting at all) and print the error.


def test_sigterm_runs_the_shutdown_hooks(tmp_path):
    events = tmp_path / "events.txt"
    with asgi_server(
        "uvicorn", "asgi_app:app", tmp_path, env={"ASGI_APP_EVENTS": str(events)}
    ) as srv:
        assert httpx.get(srv.url, timeout=10).status_code == 200
        os.killpg(srv.process.pid, signal.SIGTERM)
        # uvicorn re-raises the signal it caught once it has shut down gracefully.
        assert srv.process.wait(20) == -signal.SIGTERM
    assert events.read_text().split()[::2] == ["startup", "shutdown"]
