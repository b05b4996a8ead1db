"""The ceiling: a plain RSGI WebSocket app, no framework.

``/ws/echo`` sends back every message (text as text, bytes as bytes); ``/ws/room/<room>``
keeps the accepted transports of a room in a set and sends every text received to each
member in turn. Anything else is a 404 (an HTTP request, or a handshake to another path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

ROOM_PREFIX = "/ws/room/"
ROOMS: dict[str, set[Any]] = {}


async def echo(transport: Any) -> None:
    """Send every message back until the client closes."""
    while True:
        message = await transport.receive()
        if message.kind == 2:
            await transport.send_str(message.data)
        elif message.kind == 1:
            await transport.send_bytes(message.data)
        else:
            return


async def room(transport: Any, name: str) -> None:
    """Join room ``name`` and send every text received to all its members."""
    members = ROOMS.setdefault(name, set())
    members.add(transport)
    try:
        while True:
            message = await transport.receive()
            if message.kind == 0:
                return
            for member in list(members):
                await member.send_str(message.data)
    finally:
        members.discard(transport)


async def app(scope: Any, proto: Any) -> None:
    """Route a WebSocket handshake by path; answer HTTP with 404."""
    if scope.proto != "ws":
        proto.response_str(404, [("content-type", "text/plain")], "not found")
        return
    path = scope.path
    if path == "/ws/echo":
        await _accept(proto, echo)
    elif path.startswith(ROOM_PREFIX) and len(path) > len(ROOM_PREFIX):
        name = path[len(ROOM_PREFIX) :]
        await _accept(proto, lambda transport: room(transport, name))
    else:
        proto.close(404)


async def _accept(proto: Any, handler: Callable[[Any], Awaitable[None]]) -> None:
    """Accept the handshake, run ``handler`` on the transport, then close."""
    transport = await proto.accept()
    try:
        await handler(transport)
    except RuntimeError:
        pass  # the connection dropped (Granian's ProtocolClosed / ProtocolError)
    finally:
        proto.close(1000)
