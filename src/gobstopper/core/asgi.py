"""The ASGI 3 entry: an ASGI connection presented as RSGI to the same dispatch.

``Gobstopper.__call__(scope, receive, send)`` lands in ``serve``. An HTTP or
WebSocket connection is wrapped in an RSGI-shaped scope (``ASGIScope``, in
``asgi_scope.py``) and protocol (``ASGIHTTPProtocol`` here,
``ASGIWebSocketProtocol`` in ``asgi_websocket.py``) and handed to
``app.__rsgi__``: one router, one pipeline, one ``Response.send`` for both
interfaces. The RSGI ``response_*``
calls are synchronous, so they only record the answer; ``finish()`` sends it
once the dispatcher returns (streams send as they go). A ``lifespan`` scope
runs the app's startup and shutdown.

What ASGI adds over Granian's RSGI: WebSocket close codes and reasons travel
both ways (see ``asgi_websocket.py``). What it costs: an ASGI message dict
per event and the header values decoded in Python (see ``benchmarks/``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from gobstopper.core.asgi_scope import ASGIScope
from gobstopper.core.asgi_websocket import ASGIWebSocketProtocol

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]

logger = logging.getLogger("gobstopper.asgi")
#: Bytes read per chunk when a file is sent without ``http.response.pathsend``.
FILE_CHUNK = 256 * 1024
PATHSEND = "http.response.pathsend"


class ClientDisconnected(ConnectionResetError):
    """The client went away before the request body was read."""


class StreamAborted(RuntimeError):
    """A streamed body failed after it started; the server must drop the connection."""


class _StreamTransport:
    """What ``response_stream`` returns: each send is one body message."""

    __slots__ = ("_proto",)

    def __init__(self, proto: ASGIHTTPProtocol) -> None:
        self._proto = proto

    async def send_bytes(self, data: bytes) -> None:
        await self._proto.send_chunk(bytes(data))

    async def send_str(self, data: str) -> None:
        await self._proto.send_chunk(data.encode("utf-8"))


class ASGIHTTPProtocol:
    """Granian's RSGI HTTP protocol over ASGI ``receive``/``send``.

    The body is read with ``await proto()`` or ``async for chunk in proto``;
    ``client_disconnect()`` waits for ``http.disconnect``. Exactly one
    ``response_*`` call is allowed, as with Granian.
    """

    __slots__ = (
        "_buffer",
        "_disconnected",
        "_more_body",
        "_receive",
        "_scope",
        "_send",
        "_started",
        "pending",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        #: Body chunks ``client_disconnect`` read ahead of the app (rarely any).
        self._buffer: list[bytes] | None = None
        self._more_body = True
        self._disconnected = False
        self._started = False
        #: The recorded answer: (kind, status, headers, payload) or None.
        self.pending: tuple[str, int, Headers, Any] | None = None

    # -- request body ---------------------------------------------------------------
    async def _next_chunk(self) -> bytes | None:
        """The next body chunk, or None at its end."""
        if self._buffer:
            return self._buffer.pop(0)
        if not self._more_body:
            return None
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._disconnected = True
            self._more_body = False
            raise ClientDisconnected("client disconnected before the body was read")
        self._more_body = message.get("more_body", False)
        body: bytes = message.get("body", b"")
        return body

    async def __call__(self) -> bytes:
        chunks = []
        while (chunk := await self._next_chunk()) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    async def __aiter__(self) -> Any:
        while (chunk := await self._next_chunk()) is not None:
            if chunk:
                yield chunk

    async def client_disconnect(self) -> None:
        """Return once the client has gone (body chunks read meanwhile are kept)."""
        while not self._disconnected:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True
            elif message.get("body"):
                if self._buffer is None:
                    self._buffer = []
                self._buffer.append(message["body"])
                self._more_body = message.get("more_body", False)
            else:
                self._more_body = message.get("more_body", False)

    # -- the one response call ------------------------------------------------------
    def _record(self, kind: str, status: int, headers: Headers, payload: Any = None) -> None:
        if self.pending is not None:
            raise RuntimeError(f"response already sent ({self.pending[0]}); got {kind}")
        self.pending = (kind, status, headers, payload)

    def response_empty(self, status: int, headers: Headers) -> None:
        self._record("bytes", status, headers, b"")

    def response_str(self, status: int, headers: Headers, body: str) -> None:
        self._record("bytes", status, headers, body.encode("utf-8"))

    def response_bytes(self, status: int, headers: Headers, body: bytes) -> None:
        self._record("bytes", status, headers, body)

    def response_file(self, status: int, headers: Headers, file: str) -> None:
        self._record("file", status, headers, (file, 0, None))

    def response_file_range(
        self, status: int, headers: Headers, file: str, start: int, end: int
    ) -> None:
        self._record("range", status, headers, (file, start, end))

    def response_stream(self, status: int, headers: Headers) -> _StreamTransport:
        self._record("stream", status, headers)
        return _StreamTransport(self)

    # -- sending ----------------------------------------------------------------------
    def _start_message(self, status: int, headers: Headers) -> Message:
        """The ``http.response.start`` message; the response counts as started."""
        self._started = True
        # PERF: a loop, not a list comprehension (its own frame in 3.11).
        raw = []
        for name, value in headers:
            raw.append((name.encode("latin-1"), value.encode("latin-1")))
        return {"type": "http.response.start", "status": status, "headers": raw}

    async def send_chunk(self, data: bytes) -> None:
        """Send one streamed chunk (the status and headers go first)."""
        if not self._started:
            _, status, headers, _ = self.pending  # type: ignore[misc]
            await self._send(self._start_message(status, headers))
        if data:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self) -> None:
        """Send what the app recorded; end a stream."""
        if self.pending is None:
            return  # the dispatcher always answers; nothing to add if it did not
        kind, status, headers, payload = self.pending
        if not self._started:
            await self._send(self._start_message(status, headers))
        if kind == "bytes":
            await self._send({"type": "http.response.body", "body": payload})
        elif kind == "stream":
            await self._send({"type": "http.response.body", "body": b""})
        elif kind == "file" and PATHSEND in (self._scope.get("extensions") or ()):
            await self._send({"type": PATHSEND, "path": payload[0]})
        else:
            await self._send_file(*payload)

    async def _send_file(self, path: str, start: int, end: int | None) -> None:
        """Send ``path[start:end]`` in chunks read off the event loop."""
        left = None if end is None else end - start
        with open(path, "rb") as handle:
            if start:
                handle.seek(start)
            while left is None or left > 0:
                size = FILE_CHUNK if left is None else min(FILE_CHUNK, left)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        await self._send({"type": "http.response.body", "body": b""})


async def serve(app: Gobstopper, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI connection (HTTP, WebSocket or lifespan) with ``app``."""
    kind = scope["type"]
    if kind == "http":
        rsgi_scope = ASGIScope(scope)
        proto = ASGIHTTPProtocol(scope, receive, send)
        await app.__rsgi__(rsgi_scope, proto)
        if rsgi_scope.stream_aborted:
            raise StreamAborted("streaming response failed after it started")
        await proto.finish()
    elif kind == "websocket":
        first = await receive()
        if first["type"] != "websocket.connect":
            return  # the client left during the handshake
        ws_proto = ASGIWebSocketProtocol(scope, receive, send)
        try:
            await app.__rsgi__(ASGIScope(scope), ws_proto)
        finally:
            await ws_proto.finish()
    elif kind == "lifespan":
        await lifespan(app, receive, send)
    else:
        raise ValueError(f"unsupported ASGI scope type {kind!r}")


async def lifespan(app: Gobstopper, receive: Receive, send: Send) -> None:
    """Run the app's startup and shutdown on the server's lifespan events.

    A failing startup is reported as ``lifespan.startup.failed``, so the
    server exits with an error instead of serving 500s. After startup the
    worker's SIGTERM/SIGINT are watched as under RSGI: new requests get 503
    and ``WOPR_SHUTDOWN_TIMEOUT`` bounds the wait for running ones.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                # Inside a running loop this compiles the routes and watches the
                # signals, exactly as for Granian's RSGI workers, and starts nothing.
                app.__rsgi_init__(asyncio.get_running_loop())
                await app.startup()
            except Exception as exc:
                logger.critical("startup failed: %s", exc, exc_info=exc)
                await send({"type": "lifespan.startup.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await app.shutdown()
            except Exception as exc:
                logger.exception("shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": _describe(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
