"""Serve a WebSocket app with the HTTP benchmark's Granian options, WebSockets on.

``benchmarks/driver/server.serve`` starts, pins and always stops the server; this module
adds what is WebSocket-specific: the server counts as ready once ``/ws/echo`` opens and
echoes one message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.driver import server as http_server
from benchmarks.driver.server import HOST, Server
from benchmarks.ws import wire

#: The Granian options of every WebSocket server but ``--interface`` and ``--loop``.
GRANIAN_OPTIONS = (*http_server.GRANIAN_OPTIONS, "--ws")


async def _echoes(port: int) -> bool:
    """Tell whether a WebSocket to ``/ws/echo`` opens and echoes one message."""
    got: list[bytes] = []
    try:
        connection = await wire.connect(
            HOST, port, "/ws/echo", lambda data, _: got.append(data), 1.0
        )
    except (OSError, wire.WireError, TimeoutError):
        return False
    try:
        connection.send_text(b"ready?")
        for _ in range(100):
            if got:
                return got == [b"ready?"]
            await asyncio.sleep(0.01)
        return False
    finally:
        connection.close()


def _echo_ready(port: int) -> bool:
    return asyncio.run(_echoes(port))


@contextmanager
def serve(
    granian: Path, interface: str, target: str, loop: str, env: dict[str, str], log_path: Path
) -> Iterator[Server]:
    """Run ``target`` under ``granian`` on ``loop`` until the block ends, however it ends."""
    with http_server.serve(
        granian, interface, loop, target, env, log_path, websockets=True, ready=_echo_ready
    ) as server:
        yield server
