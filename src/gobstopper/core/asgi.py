"""The ASGI 3 entry: an ASGI connection presented as RSGI to the same dispatch.

``Gobstopper.__call__(scope, receive, send)`` wraps an HTTP request in one
``ASGIHTTPConnection``, both the RSGI scope and protocol, and hands it to the
app's HTTP entry, the one ``__rsgi__`` serves: one router, one pipeline, one
``Response.send`` for both interfaces. The RSGI ``response_*`` calls are
synchronous, so they only build the ASGI messages (the headers encoded once
per repeated set, ``HeaderEncoder``); ``__call__`` sends them once the
dispatcher returns (streams send as they go, ``finish()`` sends files).
WebSocket and lifespan connections go to ``serve``: a WebSocket as an
``ASGIScope`` (``asgi_scope.py``) and an ``ASGIWebSocketProtocol``
(``asgi_websocket.py``) to ``app.__rsgi__``; a lifespan runs the app's
startup and shutdown.

What ASGI adds over Granian's RSGI: WebSocket close codes and reasons travel
both ways (see ``asgi_websocket.py``). What it costs: an ASGI message dict
per event and the header values decoded in Python (see ``benchmarks/``).
PERF: callgrind instructions per in-process request (``benchmarks/inprocess.py``'s
requests): /plaintext 44,500 -> 38,200, /mw 63,900 -> 57,400, /json 43,800 -> 37,300
with the merged connection, the HTTP request served in ``__call__`` and the
changes noted below; /mw 53,200 once its ``-> Response`` layers ran without
coercion steps (``pipeline.py``). BlackSheep, counted the same way in its own
venv: /plaintext 33,000, /mw 41,300.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from itertools import chain
from typing import TYPE_CHECKING, Any

from gobstopper.core.asgi_scope import ASGIHeaders, ASGIScope, route_path
from gobstopper.core.asgi_websocket import ASGIWebSocketProtocol

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]
RawHeaders = list[tuple[bytes, bytes]]

logger = logging.getLogger("gobstopper.asgi")
#: Bytes read per chunk when a file is sent without ``http.response.pathsend``.
FILE_CHUNK = 256 * 1024
PATHSEND = "http.response.pathsend"
START = "http.response.start"
BODY = "http.response.body"
#: ``ASGIHeaders`` are made without calling ``__init__`` (see ``ASGIHTTPConnection``).
_new_headers = object.__new__


class ClientDisconnected(ConnectionResetError):
    """The client went away before the request body was read."""


class StreamAborted(RuntimeError):
    """A streamed body failed after it started; the server must drop the connection."""


class _StreamTransport:
    """What ``response_stream`` returns: each send is one body message."""

    __slots__ = ("_proto",)

    def __init__(self, proto: ASGIHTTPConnection) -> None:
        self._proto = proto

    async def send_bytes(self, data: bytes) -> None:
        await self._proto.send_chunk(bytes(data))

    async def send_str(self, data: str) -> None:
        await self._proto.send_chunk(data.encode("utf-8"))


#: The header cache's bounds (see ``HeaderEncoder``).
MAX_SETS = 256
#: Room for SecurityMiddleware's set over HTTPS (content type, Vary, Cache-Control,
#: HSTS and six policies) with CORS headers added; a long CSP fits in the bytes.
MAX_PAIRS = 16
MAX_BYTES = 2048
SLOTS = 1024


class HeaderEncoder:
    """RSGI's ``(str, str)`` response headers as ASGI's ``(bytes, bytes)``, repeats remembered.

    Nearly every response of an app carries one of a few header sets (a route's
    content type plus the headers its middleware add), so a set seen before is
    looked up whole instead of being encoded pair by pair. Whatever the app
    sends, the cache stays small and a set that never repeats (a request id, a
    fresh cookie) costs little more than its encoding: a set is kept only when
    its hash comes back to its slot among ``SLOTS`` (only hashes are noted
    there), only if it has at most ``MAX_PAIRS`` pairs of ``MAX_BYTES`` bytes
    in all, and once ``MAX_SETS`` are kept the cache starts again empty. Each
    call returns a new list: ASGI middleware may change ``message["headers"]``
    in place.

    PERF: callgrind instructions per call: the /mw benchmark's 4 pairs 2,700
    against 6,900 encoded each time, 1 pair 2,100 against 2,600; a set never
    seen before (2 pairs) 7,300 against 4,300. Returning ``known.copy()``
    rather than ``known[:]`` later took a hit to 2,500 (4 pairs) and 1,600.
    SecurityMiddleware's 9 headers over HTTPS: 3,800 against 21,400 once the
    bound went from 8 pairs to 16.
    """

    __slots__ = ("_known", "_seen")

    def __init__(self) -> None:
        self._known: dict[tuple[tuple[str, str], ...], RawHeaders] = {}
        #: The hash of the last set missed in each slot: a set is kept on its second miss.
        self._seen = [0] * SLOTS

    def encode(self, headers: Headers) -> RawHeaders:
        """``headers`` encoded as latin-1 (``UnicodeEncodeError`` if one cannot be)."""
        key = tuple(headers)
        try:
            known = self._known.get(key)
        except TypeError:  # a pair given as a list: not hashable, so not kept
            return _encoded(headers)
        if known is not None:
            return known.copy()  # PERF: ~230 instructions less than ``known[:]``
        raw = _encoded(headers)
        digest = hash(key)
        slot = digest % SLOTS
        if self._seen[slot] == digest:
            self._keep(key, raw)
        else:
            self._seen[slot] = digest
        return raw

    def _keep(self, key: tuple[tuple[str, str], ...], raw: RawHeaders) -> None:
        """Keep ``raw`` for ``key`` if it is small enough; start again if the cache is full."""
        if len(raw) > MAX_PAIRS or sum(map(len, chain.from_iterable(raw))) > MAX_BYTES:
            return
        if len(self._known) >= MAX_SETS:
            self._known.clear()
        self._known[key] = raw[:]


def _encoded(headers: Headers) -> RawHeaders:
    # PERF: a loop, not a list comprehension (its own frame in 3.11).
    raw = []
    for name, value in headers:
        raw.append((name.encode("latin-1"), value.encode("latin-1")))
    return raw


#: Every HTTP response's headers go through this one encoder (one cache per process).
#: PERF: a bound method: calling an instance's ``__call__`` cost ~630 instructions more.
encode_headers = HeaderEncoder().encode


class ASGIHTTPConnection(ASGIScope):
    """One ASGI HTTP request as both Granian's RSGI scope and its HTTP protocol.

    The dispatcher is called with it twice, ``(conn, conn)``: one object to
    build per request instead of a scope and a protocol. The body is read with
    ``await conn()`` or ``async for chunk in conn``; ``client_disconnect()``
    waits for ``http.disconnect``. Exactly one ``response_*`` call is allowed,
    as with Granian: it builds the ``http.response.start`` message (``start``)
    and, for a whole body, the body message (``body``), which
    ``Gobstopper.__call__`` sends once the dispatcher returns; ``finish()``
    sends a file or ends a stream.
    """

    __slots__ = (
        "_buffer",
        "_disconnected",
        "_file",
        "_more_body",
        "_receive",
        "_send",
        "_started",
        "body",
        "start",
        "stream_aborted",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # PERF: ``ASGIScope.__init__``'s fields set here, not by calling it (~1,100
        # instructions per request), and the headers made without their ``__init__``
        # (~430): an HTTP scope always has method and headers (ASGI spec).
        self.asgi = scope
        self.proto = "http"
        self.method = scope["method"]
        root = scope.get("root_path")
        self.path = route_path(scope["path"], root)
        self.root_path = root or ""
        headers = _new_headers(ASGIHeaders)
        headers._raw = scope["headers"]
        self.headers = headers
        self._receive = receive
        self._send = send
        #: Body chunks ``client_disconnect`` read ahead of the app (rarely any).
        self._buffer: list[bytes] | None = None
        self._more_body = True
        self._disconnected = False
        self._started = False
        #: Set by ``abort_stream``: ``finish`` raises so the server drops the connection.
        self.stream_aborted = False
        #: The answer's ``http.response.start`` message, once one is recorded.
        self.start: Message | None = None
        #: The whole body's message (str, bytes and empty answers); None otherwise.
        self.body: Message | None = None
        #: ``(path, start, end, whole)`` of a file answer (``end`` None: to the end).
        self._file: tuple[str, int, int | None, bool] | None = None

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
        first = await self._next_chunk()
        if first is None:
            return b""
        if not self._more_body and not self._buffer:
            # PERF: a body in one message (nearly every small one) is returned as it
            # came, without asking for the end again or joining: ~1,700 instructions.
            return first
        chunks = [first]
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
    def _record(self, call: str, status: int, headers: Headers) -> None:
        """Build the start message; a second response call raises ``RuntimeError``."""
        if self.start is not None:
            raise RuntimeError(f"response already sent; got {call}")
        self.start = {"type": START, "status": status, "headers": encode_headers(headers)}

    def response_empty(self, status: int, headers: Headers) -> None:
        self._record("response_empty", status, headers)
        self.body = {"type": BODY, "body": b""}

    # PERF: the two whole-body calls nearly every answer makes build the start
    # message themselves, not through ``_record``: ~450 instructions less each.
    def response_str(self, status: int, headers: Headers, body: str) -> None:
        if self.start is not None:
            raise RuntimeError("response already sent; got response_str")
        self.start = {"type": START, "status": status, "headers": encode_headers(headers)}
        self.body = {"type": BODY, "body": body.encode("utf-8")}

    def response_bytes(self, status: int, headers: Headers, body: bytes) -> None:
        if self.start is not None:
            raise RuntimeError("response already sent; got response_bytes")
        self.start = {"type": START, "status": status, "headers": encode_headers(headers)}
        self.body = {"type": BODY, "body": body}

    def response_file(self, status: int, headers: Headers, file: str) -> None:
        self._record("response_file", status, headers)
        self._file = (file, 0, None, True)

    def response_file_range(
        self, status: int, headers: Headers, file: str, start: int, end: int
    ) -> None:
        self._record("response_file_range", status, headers)
        self._file = (file, start, end, False)

    def response_stream(self, status: int, headers: Headers) -> _StreamTransport:
        self._record("response_stream", status, headers)
        return _StreamTransport(self)

    # -- sending ----------------------------------------------------------------------
    async def send_chunk(self, data: bytes) -> None:
        """Send one streamed chunk (the status and headers go first)."""
        if not self._started:
            self._started = True
            await self._send(self.start)  # type: ignore[arg-type]
        if data:
            await self._send({"type": BODY, "body": data, "more_body": True})

    def abort_stream(self) -> bool:
        """Mark a failed stream (``finish_stream`` asks): ``finish`` will raise."""
        self.stream_aborted = True
        return True

    async def finish(self) -> None:
        """Send a recorded file, or end a stream (``__call__`` sends whole bodies itself).

        Raises ``StreamAborted`` after a stream failed: the server must drop
        the connection rather than end the body as if it were whole.
        """
        if self.stream_aborted:
            raise StreamAborted("streaming response failed after it started")
        if self.start is None:
            return  # the dispatcher always answers; nothing to add if it did not
        if not self._started:
            self._started = True
            await self._send(self.start)
        if self._file is None:
            await self._send({"type": BODY, "body": b""})
            return
        path, start, end, whole = self._file
        if whole and PATHSEND in (self.asgi.get("extensions") or ()):
            await self._send({"type": PATHSEND, "path": path})
        else:
            await self._send_file(path, start, end)

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
                await self._send({"type": BODY, "body": chunk, "more_body": True})
        await self._send({"type": BODY, "body": b""})


async def serve(app: Gobstopper, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI WebSocket or lifespan connection with ``app``.

    HTTP requests do not come here: ``Gobstopper.__call__`` serves them with
    an ``ASGIHTTPConnection`` itself, one coroutine frame less per request.
    """
    kind = scope["type"]
    if kind == "websocket":
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
