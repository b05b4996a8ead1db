"""A minimal WebSocket client on asyncio's Protocol API: the load generator's wire.

PERF: the ``websockets`` package spends tens of microseconds of Python per received message
(reader task, frame objects, UTF-8 decode, asyncio queue), so one core of it cannot
keep up with a server delivering to 500 members; this client parses frames straight from
the bytes ``data_received`` gets and hands each payload, undecoded, to a callback.
It speaks only what the benchmark needs: one HTTP/1.1 upgrade handshake, unfragmented
text frames out (masked, as RFC 6455 requires of clients), and unmasked server frames in
(text/binary to the callback, ping answered, close ends the connection). Anything else, a
fragmented or masked server frame for instance, fails the connection loudly.
``benchmarks/ws/check.py`` verifies each app with the ``websockets`` package as well, so a
bug here cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import Callable
from typing import cast

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HANDSHAKE_LIMIT = 16_384
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

OnMessage = Callable[[bytes, int], None]
"""Called with a message's payload and the ``time.monotonic_ns()`` its bytes arrived at."""


class WireError(RuntimeError):
    """The server broke the handshake or sent a frame this client does not handle."""


def frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """Return one final client frame carrying ``payload``, masked with ``mask`` (4 bytes)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65_536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    # XOR the whole payload at once as one big integer: no per-byte Python loop.
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little"
    )
    return header + mask + masked


class Connection(asyncio.Protocol):
    """One client WebSocket connection; ``on_message`` sees every data message."""

    def __init__(self, on_message: OnMessage) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.error: WireError | None = None
        """What broke the connection after the handshake, if anything did."""
        self._key = base64.b64encode(os.urandom(16))
        self._mask = os.urandom(4)
        self._handshake = b""
        self._buffer = b""
        self._closing = False

    # -- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (uvloop's is no ``asyncio.Transport`` subclass, but acts as one)."""
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Finish the handshake, then parse every complete frame in the buffer."""
        if not self.opened.done():
            data = self._read_handshake(data)
            if not data:
                return
        try:
            self._parse(self._buffer + data if self._buffer else data, time.monotonic_ns())
        except WireError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail the handshake if it was under way; else record a loss this side did not ask for."""
        if not self.opened.done():
            self.opened.set_exception(WireError(f"connection lost during handshake: {exc!r}"))
        elif not self._closing and self.error is None:
            self.error = WireError(f"connection lost: {exc!r}")

    # -- handshake ------------------------------------------------------------------
    def send_handshake(self, host: str, port: int, path: str) -> None:
        """Write the HTTP/1.1 upgrade request for ``path``."""
        assert self.transport is not None
        request = (
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            ).encode()
            + b"Sec-WebSocket-Key: "
            + self._key
            + b"\r\n\r\n"
        )
        self.transport.write(request)

    def _read_handshake(self, data: bytes) -> bytes:
        """Consume the 101 response; return the bytes that follow it."""
        self._handshake += data
        head, sep, rest = self._handshake.partition(b"\r\n\r\n")
        if not sep:
            if len(self._handshake) > _HANDSHAKE_LIMIT:
                self._fail(WireError("handshake response too long"))
            return b""
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.lower(): value for name, _, value in (line.partition(": ") for line in lines)
        }
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
        self._handshake = b""
        if status.split(" ")[1:2] != ["101"]:
            self._fail(WireError(f"handshake refused: {status!r}"))
            return b""
        if headers.get("sec-websocket-accept") != accept:
            self._fail(WireError("wrong Sec-WebSocket-Accept in the handshake response"))
            return b""
        self.opened.set_result(None)
        return rest

    # -- frames ---------------------------------------------------------------------
    def _parse(self, buffer: bytes, now: int) -> None:
        """Dispatch every complete frame of ``buffer``; keep an incomplete tail."""
        position, end = 0, len(buffer)
        while end - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            if second & 0x80 or not first & 0x80:
                raise WireError("masked or fragmented frame from the server")
            size, start = second & 0x7F, position + 2
            if size == 126:
                size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if end < start + size:
                break
            self._frame(first & 0x0F, buffer[start : start + size], now)
            position = start + size
        self._buffer = buffer[position:]

    def _frame(self, opcode: int, payload: bytes, now: int) -> None:
        if opcode == TEXT or opcode == BINARY:
            self.on_message(payload, now)
        elif opcode == PING:
            self.send(PONG, payload)
        elif opcode == CLOSE:
            if self.error is None:
                self.error = WireError("the server closed the connection")
            self.close()
        elif opcode != PONG:
            raise WireError(f"unexpected opcode {opcode:#x}")

    # -- sending and closing --------------------------------------------------------
    def send(self, opcode: int, payload: bytes) -> None:
        """Write one frame (a no-op once the connection is closing)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(frame(opcode, payload, self._mask))

    def send_text(self, payload: bytes) -> None:
        """Write one text message (``payload`` is UTF-8)."""
        self.send(TEXT, payload)

    def close(self) -> None:
        """Send a close frame and drop the TCP connection without waiting for a reply."""
        self.send(CLOSE, (1000).to_bytes(2, "big"))
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: WireError) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        elif self.error is None:
            self.error = exc
        if self.transport is not None:
            self.transport.abort()


async def connect(
    host: str, port: int, path: str, on_message: OnMessage, timeout: float
) -> Connection:
    """Open a WebSocket to ``ws://host:port/path``; raise on refusal or after ``timeout``."""
    loop = asyncio.get_running_loop()
    _, connection = await asyncio.wait_for(
        loop.create_connection(lambda: Connection(on_message), host, port), timeout
    )
    connection.send_handshake(host, port, path)
    try:
        await asyncio.wait_for(asyncio.shield(connection.opened), timeout)
    except BaseException:
        connection.close()
        raise
    return connection
