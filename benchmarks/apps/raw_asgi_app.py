"""The ASGI ceiling: ``raw_app``'s routes and handlers behind a plain ASGI callable.

No framework: the ASGI scope's query string is decoded, the body read from ``receive``
and the reply sent as two messages. Its ratio to ``raw`` is what the ASGI interface
itself costs under Granian; ``gobstopper-asgi`` against it is what Gobstopper's adapter
and pipeline add on top of that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.apps.raw_app import TEXT, match

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Request:
    """What ``raw_app``'s handlers read: ``query_string`` and ``await proto()``."""

    __slots__ = ("query_string", "receive")

    def __init__(self, scope: dict[str, Any], receive: Receive) -> None:
        self.query_string = scope["query_string"].decode("latin-1")
        self.receive = receive

    async def __call__(self) -> bytes:
        chunks = []
        while True:
            message = await self.receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Serve one ASGI HTTP request (lifespan events are acknowledged)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    found = match(scope["method"], scope["path"])
    if found is None:
        status, headers, body = 404, TEXT, "Not Found"
    else:
        handler, args = found
        request = _Request(scope, receive)
        status, headers, body = await handler(request, request, *args)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
    )
    await send(
        {"type": "http.response.body", "body": body.encode() if isinstance(body, str) else body}
    )
