"""Many concurrent keep-alive connections, one worker and several.

Raw asyncio streams are the client: httpx's pool does not scale to a
thousand simultaneous connections in one process (its own overhead, not the
server's, dominated the run time).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.servers import granian_server

pytestmark = pytest.mark.e2e

CONNECTIONS = 1000
REQUESTS_PER_CONNECTION = 3
DEADLINE = 90.0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def one_connection(
    port: int,
    index: int,
    gate: asyncio.Event,
    connected: list[int],
    errors: list[str],
    pids: set[int],
) -> int:
    """Connect, wait until every connection is open, then send requests in turn."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ok = 0
    try:
        connected.append(index)
        await gate.wait()
        for j in range(REQUESTS_PER_CONNECTION):
            n = index * 10 + j
            writer.write(f"GET /n/{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            status, body = await read_response(reader)
            if status == 200 and json.loads(body) == {"n": n}:
                ok += 1
            else:
                errors.append(f"{status} {body[:80]!r}")
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, body = await read_response(reader)
        pids.add(json.loads(body)["pid"])
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()
        await writer.wait_closed()
    return ok


async def hammer(port: int) -> tuple[int, int, set[int], list[str]]:
    gate = asyncio.Event()
    connected: list[int] = []
    errors: list[str] = []
    pids: set[int] = set()
    tasks = [
        asyncio.create_task(one_connection(port, i, gate, connected, errors, pids))
        for i in range(CONNECTIONS)
    ]
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while len(connected) + len(errors) < CONNECTIONS and loop.time() < end:
        await asyncio.sleep(0.01)
    opened_together = len(connected)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), max(1.0, end - loop.time()))
    return sum(results), opened_together, pids, errors


@pytest.mark.parametrize(("workers", "interface"), [(1, "rsgi"), (2, "rsgi"), (1, "asgi")])
def test_a_thousand_concurrent_keep_alive_connections_get_no_errors(tmp_path, workers, interface):
    with granian_server(
        "foundation_app:app",
        tmp_path,
        workers=workers,
        extra_args=("--backlog", "2048"),
        interface=interface,
    ) as server:
        ok, opened_together, pids, errors = asyncio.run(hammer(server.port))
        assert errors == []
        assert opened_together == CONNECTIONS
        assert ok == CONNECTIONS * REQUESTS_PER_CONNECTION
        if workers > 1:
            assert len(pids) == workers
        assert server.process.poll() is None
