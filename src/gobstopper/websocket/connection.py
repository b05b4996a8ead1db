"""The ``WebSocket`` handed to handlers: a thin wrapper over Granian's RSGI.

The same class serves ASGI through ``gobstopper.core.asgi_websocket``, whose
protocol sets ``close_codes``: there ``close(code, reason)`` reaches the
client and the client's close code and reason reach ``receive()``. Granian's
RSGI WebSocket protocol (2.x) shapes what can be promised under RSGI:

- Before ``accept()``, ``protocol.close(status)`` answers the handshake with
  an HTTP status (a WebSocket close code there would crash the worker), so a
  connection refused before accept is an HTTP 403 (or the status given).
- After ``accept()``, Granian's close frame carries no code or reason (the
  peer sees 1005), and a peer's close frame reaches us without its code. The
  codes are still validated, recorded in ``close_code``/``close_reason`` and
  delivered by the test client; only Granian drops them on the wire.
- Granian buffers a whole incoming message (it refuses frames over 16 MiB by
  closing the connection); ``MAX_WS_MESSAGE_BYTES`` is enforced per message
  on top of that, both ways, by closing with 1009.
- Granian ends a connection only once its transport object is freed, so a
  closed WebSocket lets go of ``transport`` (holding the WebSocket is fine;
  holding what ``accept()`` returned past the handler keeps it open).
- Each ``send_*`` call is exactly one WebSocket message. ``WS_SEND_CHUNK_BYTES``
  is read and kept in ``send_chunk_bytes`` for compatibility, but nothing is
  split: RSGI has no fragmented sends, and splitting would turn one message
  into several. Backpressure comes from awaiting each send, which Granian
  completes only once the frame is written to the socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import msgspec

from gobstopper import config
from gobstopper.http.query import ScopeView, parse_query
from gobstopper.websocket.message import (
    ABNORMAL_CLOSURE,
    BYTES,
    CLOSE,
    MESSAGE_TOO_BIG,
    NO_STATUS,
    NORMAL_CLOSURE,
    TEXT,
    ConnectionClosed,
    Message,
    check_close,
)

if TYPE_CHECKING:
    from gobstopper.rsgi_types import (
        ClosingWithReason,
        RSGIScope,
        RSGIWebSocketProtocol,
        RSGIWebSocketTransport,
    )

logger = logging.getLogger("gobstopper.websocket")
_encoder = msgspec.json.Encoder()

# Connection states.
CONNECTING = 0
OPEN = 1
CLOSED = 2

# The HTTP status a close before accept becomes; anything else is a 403.
_STATUS_BEFORE_ACCEPT = {1011: 500, 1012: 503, 1013: 503}

# What Granian's transport raises when the connection is gone
# (RSGIProtocolClosed / RSGIProtocolError are RuntimeErrors).
_TRANSPORT_ERRORS = (RuntimeError, OSError)


class Address(NamedTuple):
    """The peer's address: ``host`` and ``port`` (0 when unknown)."""

    host: str
    port: int


class QueryParams(dict[str, str]):
    """Query parameters: ``get(name)`` gives the first value, ``getlist`` all."""

    def __init__(self, parsed: dict[str, list[str]]) -> None:
        super().__init__((name, values[0]) for name, values in parsed.items())
        self._lists = parsed

    def getlist(self, name: str) -> list[str]:
        """Every value given for ``name`` (empty list if none)."""
        return list(self._lists.get(name, ()))


class WebSocket(ScopeView):
    """One WebSocket connection: accept, send, receive, iterate, close.

    A send before ``accept()`` raises ``RuntimeError``; a send or receive
    after the connection closed raises ``ConnectionClosed``, except that the
    first ``receive()`` after a close returns a message of type ``"close"``
    (so loops that check ``message.type`` end cleanly). ``async for`` yields
    text and bytes messages and stops at the close.
    """

    __slots__ = (
        "__dict__",
        "_accepted",
        "_close_seen",
        "_headers",
        "_protocol_closed",
        "_query",
        "_receiver",
        "_send_lock",
        "_state",
        "_wake",
        "app",
        "close_code",
        "close_reason",
        "endpoint",
        "max_message_bytes",
        "path_params",
        "protocol",
        "scope",
        "send_chunk_bytes",
        "transport",
    )

    if TYPE_CHECKING:
        # Hooks attach their own data (``websocket.user = ...``), as the reference shows;
        # the ``__dict__`` slot lets Python do it, these let type checkers accept it.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __init__(
        self,
        scope: RSGIScope,
        protocol: RSGIWebSocketProtocol,
        *,
        path_params: dict[str, Any] | None = None,
        max_message_bytes: int | None = None,
        send_chunk_bytes: int | None = None,
    ) -> None:
        self.scope = scope
        self.protocol = protocol
        self.transport: RSGIWebSocketTransport | None = None
        self.path_params: dict[str, Any] = path_params if path_params is not None else {}
        self.app: Any = None
        self.endpoint: str | None = None
        self.max_message_bytes = (
            config.max_ws_message_bytes() if max_message_bytes is None else max_message_bytes
        )
        self.send_chunk_bytes = (
            config.ws_send_chunk_bytes() if send_chunk_bytes is None else send_chunk_bytes
        )
        self.close_code: int | None = None
        self.close_reason = ""
        self._state = CONNECTING
        self._accepted = False
        self._close_seen = False
        self._protocol_closed = False
        self._wake = False
        self._receiver: asyncio.Task[Any] | None = None
        self._send_lock: asyncio.Lock | None = None
        self._headers: dict[str, str] | None = None
        self._query: QueryParams | None = None

    # -- connection metadata ------------------------------------------------------
    @property
    def query_params(self) -> QueryParams:
        """Query parameters; ``.get(name)`` is the first value (400 if >1,000)."""
        if self._query is None:
            self._query = QueryParams(parse_query(self.scope.query_string))
        return self._query

    @property
    def client(self) -> Address:
        """The TCP peer as ``Address(host, port)``."""
        raw = self.scope.client or ""
        host, sep, port = raw.rpartition(":")
        if not sep or not port.isdigit():
            return Address(raw or "unknown", 0)
        return Address(host.strip("[]"), int(port))

    @property
    def accepted(self) -> bool:
        """True once ``accept()`` succeeded (stays True after the close)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        """True once either side closed or the connection dropped."""
        return self._state == CLOSED

    # -- handshake ------------------------------------------------------------------
    async def accept(self) -> Any:
        """Accept the connection; returns Granian's transport (rarely needed).

        Raises ``RuntimeError`` if already accepted or refused, and
        ``ConnectionClosed`` if the client went away during the handshake.
        """
        if self._state != CONNECTING:
            raise RuntimeError("WebSocket.accept() called twice or after close()")
        try:
            self.transport = await self.protocol.accept()
        except _TRANSPORT_ERRORS as exc:
            self._mark_closed(ABNORMAL_CLOSURE, "handshake failed")
            self._protocol_closed = True
            raise ConnectionClosed(ABNORMAL_CLOSURE, "handshake failed") from exc
        self._state = OPEN
        self._accepted = True
        return self.transport

    async def reject(self, status_code: int = 403) -> None:
        """Refuse the handshake with HTTP ``status_code`` (before accept only)."""
        if self._state != CONNECTING:
            raise RuntimeError("WebSocket.reject() is only possible before accept()")
        if (
            isinstance(status_code, bool)
            or not isinstance(status_code, int)
            or not 400 <= status_code <= 599
        ):
            raise ValueError(f"reject() needs an HTTP 4xx/5xx status, got {status_code!r}")
        self._mark_closed(status_code, "")
        self._close_seen = True
        self._close_protocol(status_code)

    # -- sending --------------------------------------------------------------------
    async def send_text(self, data: str) -> None:
        """Send ``data`` as one text message.

        A message over ``max_message_bytes`` (UTF-8) closes the connection
        with 1009 and raises ``ConnectionClosed``.
        """
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, got {type(data).__name__}")
        transport = self._open_transport()
        limit = self.max_message_bytes
        size = len(data)
        if size * 4 > limit and (size > limit or len(data.encode("utf-8")) > limit):
            self._too_big_outgoing(size)
        await self._send(transport.send_str, data)

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as one binary message (over the limit: 1009, see send_text)."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"send_bytes() takes bytes, got {type(data).__name__}")
            data = bytes(data)
        transport = self._open_transport()
        if len(data) > self.max_message_bytes:
            self._too_big_outgoing(len(data))
        await self._send(transport.send_bytes, data)

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` encoded as JSON in a text (or ``mode="binary"``) message."""
        encoded = _encoder.encode(data)
        if mode == "text":
            await self.send_text(encoded.decode("utf-8"))
        elif mode == "binary":
            await self.send_bytes(encoded)
        else:
            raise ValueError(f"mode must be 'text' or 'binary', got {mode!r}")

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a ``str`` as text or ``bytes`` as a binary message."""
        if isinstance(data, str):
            await self.send_text(data)
        elif isinstance(data, bytes | bytearray | memoryview):
            await self.send_bytes(data)
        else:
            raise TypeError(
                f"send() takes str or bytes, got {type(data).__name__}; use send_json()"
            )

    def _open_transport(self) -> Any:
        if self._state == OPEN:
            return self.transport
        if self._state == CONNECTING:
            raise RuntimeError("WebSocket is not accepted yet: call await websocket.accept()")
        raise ConnectionClosed(self._code(), self.close_reason)

    async def _send(self, send: Callable[[Any], Awaitable[None]], data: Any) -> None:
        # NOTE: one send at a time per connection keeps messages in order and
        # never hands Granian two concurrent writes (some versions refuse them).
        lock = self._send_lock
        if lock is None:
            lock = self._send_lock = asyncio.Lock()
        async with lock:
            if self._state != OPEN:
                raise ConnectionClosed(self._code(), self.close_reason)
            try:
                await send(data)
            except _TRANSPORT_ERRORS as exc:
                self._mark_closed(ABNORMAL_CLOSURE, "connection lost")
                raise ConnectionClosed(ABNORMAL_CLOSURE, "connection lost") from exc

    def _too_big_outgoing(self, size: int) -> None:
        logger.warning(
            "closing WebSocket %s with 1009: outgoing message of %d bytes "
            "exceeds MAX_WS_MESSAGE_BYTES=%d",
            self.path,
            size,
            self.max_message_bytes,
        )
        self._close(MESSAGE_TOO_BIG, "message too big")
        raise ConnectionClosed(MESSAGE_TOO_BIG, "message too big")

    # -- receiving ------------------------------------------------------------------
    async def receive(self) -> Message:
        """Wait for the next message: ``.type`` is "text", "bytes" or "close".

        A message over ``max_message_bytes`` closes the connection with 1009
        and is reported as a close message with that code.
        """
        if self._state != OPEN:
            return self._receive_when_not_open()
        task = asyncio.current_task()
        self._receiver = task
        transport = self.transport
        if transport is None:  # closed from another task since the state was read
            return self._receive_when_not_open()
        try:
            raw = await transport.receive()
        except asyncio.CancelledError:
            # close() from another task cancels a pending receive to wake it.
            if self._wake and task is not None and task.uncancel() == 0:
                self._wake = False
                return self._close_message()
            raise
        except _TRANSPORT_ERRORS:
            self._mark_closed(ABNORMAL_CLOSURE, "connection lost")
            return self._close_message()
        finally:
            self._receiver = None
        kind = raw.kind
        if kind == 2:
            text = raw.data
            size = len(text)
            limit = self.max_message_bytes
            if size * 4 > limit and (size > limit or len(text.encode("utf-8")) > limit):
                return self._too_big_incoming(size)
            return Message(TEXT, text)
        if kind == 1:
            data = raw.data
            if len(data) > self.max_message_bytes:
                return self._too_big_incoming(len(data))
            return Message(BYTES, data)
        # The peer closed. Granian does not pass its code on; others may.
        self._mark_closed(getattr(raw, "code", None) or NO_STATUS, getattr(raw, "reason", ""))
        return self._close_message()

    def _receive_when_not_open(self) -> Message:
        if self._state == CONNECTING:
            raise RuntimeError("WebSocket is not accepted yet: call await websocket.accept()")
        if not self._close_seen:
            return self._close_message()
        raise ConnectionClosed(self._code(), self.close_reason)

    def _too_big_incoming(self, size: int) -> Message:
        logger.info(
            "closing WebSocket %s with 1009: received %d bytes, MAX_WS_MESSAGE_BYTES=%d",
            self.path,
            size,
            self.max_message_bytes,
        )
        self._close(MESSAGE_TOO_BIG, "message too big")
        return self._close_message()

    def _close_message(self) -> Message:
        self._close_seen = True
        return Message(CLOSE, None, code=self._code(), reason=self.close_reason)

    async def receive_text(self) -> str:
        """Receive a text message (``ConnectionClosed`` on close, ``TypeError`` on bytes)."""
        return _expect(await self.receive(), TEXT)  # type: ignore[return-value]

    async def receive_bytes(self) -> bytes:
        """Receive a binary message (``ConnectionClosed`` on close, ``TypeError`` on text)."""
        return _expect(await self.receive(), BYTES)  # type: ignore[return-value]

    async def receive_json(self) -> Any:
        """Receive a text or binary message and decode it as JSON."""
        message = await self.receive()
        if message.type == CLOSE:
            raise ConnectionClosed(message.code or NO_STATUS, message.reason)
        return message.json()

    def receive_iter(self) -> WebSocket:
        """Iterate over text and bytes messages until the close."""
        return self

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> Message:
        try:
            message = await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration from None
        if message.type == CLOSE:
            raise StopAsyncIteration
        return message

    # -- closing --------------------------------------------------------------------
    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection with ``code`` (1000-4999) and ``reason`` (≤123 bytes).

        Before ``accept()`` this refuses the handshake (HTTP 403; 500 for
        1011, 503 for 1012/1013). Closing twice does nothing; a pending
        ``receive()`` in another task returns the close message.
        """
        check_close(code, reason)
        if self._state != CLOSED:
            self._close(code, reason)

    def _close(self, code: int, reason: str) -> None:
        """Close now (no validation); safe to call from any task."""
        was = self._state
        self._mark_closed(code, reason)
        if was == CONNECTING:
            self._close_seen = True
            self._close_protocol(_STATUS_BEFORE_ACCEPT.get(code, 403))
            return
        self._close_protocol(code)
        receiver = self._receiver
        if receiver is not None and receiver is not asyncio.current_task() and not receiver.done():
            self._wake = True
            receiver.cancel()

    def _mark_closed(self, code: int, reason: str) -> None:
        if self._state != CLOSED:
            self._state = CLOSED
            self.close_code = code
            self.close_reason = reason
            # NOTE: Granian ends the connection only once its transport object
            # is freed, so a closed WebSocket must not keep it alive (a manager
            # or a list may hold on to the WebSocket itself).
            self.transport = None

    def _close_protocol(self, status: int) -> None:
        if not self._protocol_closed:
            self._protocol_closed = True
            # PERF: looked up once per connection, at its close: RSGI pays nothing per message.
            if getattr(self.protocol, "close_codes", False):
                with_reason = cast("ClosingWithReason", self.protocol)
                with_reason.close(status, self.close_reason if self._accepted else "")
                return
            if self._accepted:
                _note_codes_dropped()
            self.protocol.close(status)

    def _code(self) -> int:
        return self.close_code if self.close_code is not None else ABNORMAL_CLOSURE

    def _finalize(self, failed: bool = False) -> None:
        """Framework use: end the connection once the handler has returned.

        A handler that never accepted is refused with HTTP 403 (500 if it
        raised); an open one is closed with 1000 (1011 if it raised).
        """
        if self._state == CONNECTING:
            self._close(1011 if failed else 1008, "")
        elif self._state == OPEN:
            self._close(1011 if failed else NORMAL_CLOSURE, "")
        else:
            self._close_protocol(self._code() if self.accepted else 403)

    def __repr__(self) -> str:
        state = ("connecting", "open", "closed")[self._state]
        return f"<WebSocket {self.path!r} {state}>"


_codes_noted = False


def _note_codes_dropped() -> None:
    """Say once, at debug level, that RSGI cannot put a code in the close frame."""
    global _codes_noted
    if not _codes_noted:
        _codes_noted = True
        logger.debug(
            "Granian's RSGI interface closes WebSockets without a code or reason (peers see "
            "1005); serve the app over ASGI (gobstopper run --interface asgi) to send them"
        )


def _expect(message: Message, kind: str) -> str | bytes:
    if message.type == kind:
        return message.data  # type: ignore[return-value]
    if message.type == CLOSE:
        raise ConnectionClosed(message.code or NO_STATUS, message.reason)
    raise TypeError(f"expected a {kind} message, got {message.type}")
