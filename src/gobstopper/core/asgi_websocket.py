"""Granian's RSGI WebSocket protocol over ASGI, with close codes both ways.

``WebSocket`` drives this exactly as it drives Granian's protocol
(``accept()``, the transport's ``receive``/``send_bytes``/``send_str``, a
synchronous ``close(status)``), plus what RSGI lacks: ``close_codes`` tells
``WebSocket`` that ``close(code, reason)`` reaches the client, and the
client's ``websocket.disconnect`` code and reason come back from
``receive()``. A close before accept is a refusal: the HTTP status goes out
through the ``websocket.http.response`` extension where the server offers
it, else the server answers the refused handshake with 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

HTTP_RESPONSE = "websocket.http.response"
_REFUSED_BODY = {403: b"Forbidden", 404: b"Not Found", 500: b"Internal Server Error"}


class ASGIMessage:
    """A received message as RSGI shapes it: ``kind`` 0 close, 1 bytes, 2 text."""

    __slots__ = ("code", "data", "kind", "reason")

    def __init__(self, kind: int, data: Any = None, code: int | None = None, reason: str = ""):
        self.kind = kind
        self.data = data
        self.code = code
        self.reason = reason


class ASGIWebSocketProtocol:
    """One ASGI WebSocket seen through the RSGI protocol and transport API."""

    #: ``close(code, reason)`` reaches the client (Granian's RSGI drops both).
    close_codes = True

    __slots__ = (
        "_closing",
        "_lock",
        "_receive",
        "_send",
        "accepted",
        "client_closed",
        "closed",
        "http_response",
    )

    def __init__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._lock = asyncio.Lock()
        self._closing: asyncio.Future[None] | None = None
        self.http_response = HTTP_RESPONSE in (scope.get("extensions") or {})
        self.accepted = False
        self.closed = False
        self.client_closed = False

    async def accept(self) -> ASGIWebSocketProtocol:
        """Accept the handshake; the protocol is its own transport."""
        if self.accepted or self.closed:
            raise RuntimeError("ASGI WebSocket: accept() after accept() or close()")
        await self._guarded({"type": "websocket.accept"})
        self.accepted = True
        return self

    # -- transport ------------------------------------------------------------------
    async def receive(self) -> ASGIMessage:
        """The next message; a close (kind 0, with the client's code) at the end."""
        if self.client_closed or self.closed:
            return ASGIMessage(0)
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return ASGIMessage(2, text)
            return ASGIMessage(1, message.get("bytes") or b"")
        self.client_closed = True
        return ASGIMessage(0, None, message.get("code") or 1005, message.get("reason") or "")

    async def send_bytes(self, data: bytes) -> None:
        await self._send_message({"type": "websocket.send", "bytes": bytes(data)})

    async def send_str(self, data: str) -> None:
        await self._send_message({"type": "websocket.send", "text": data})

    async def _send_message(self, message: MutableMapping[str, Any]) -> None:
        async with self._lock:
            if self.closed or self.client_closed:
                raise RuntimeError("ASGI WebSocket is closed")
            await self._guarded(message)

    async def _guarded(self, message: MutableMapping[str, Any]) -> None:
        """Send; any server error becomes RuntimeError, what WebSocket expects."""
        try:
            await self._send(message)
        except Exception as exc:
            self.client_closed = True
            raise RuntimeError(f"ASGI send failed: {exc!r}") from exc

    # -- closing ----------------------------------------------------------------------
    def close(self, status: int | None = None, reason: str = "") -> None:
        """Refuse (before accept: ``status`` is HTTP) or close with ``status``/``reason``."""
        if self.closed:
            return
        self.closed = True
        if self.client_closed:
            return  # the server has already finished the closing handshake
        if self.accepted:
            message = {"type": "websocket.close", "code": status or 1000, "reason": reason}
            self._closing = asyncio.ensure_future(self._close_after_sends([message]))
        else:
            self._closing = asyncio.ensure_future(self._close_after_sends(self._refusal(status)))

    def _refusal(self, status: int | None) -> list[MutableMapping[str, Any]]:
        code = status if status is not None and 400 <= status <= 599 else 403
        if not self.http_response:
            # NOTE: without the extension the server can only answer 403.
            return [{"type": "websocket.close", "code": 1008}]
        body = _REFUSED_BODY.get(code, b"")
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        return [
            {"type": "websocket.http.response.start", "status": code, "headers": headers},
            {"type": "websocket.http.response.body", "body": body},
        ]

    async def _close_after_sends(self, messages: list[MutableMapping[str, Any]]) -> None:
        async with self._lock:  # after any send already under way, never during it
            try:
                for message in messages:
                    await self._send(message)
            except Exception:
                self.client_closed = True  # the client left first: nothing to close

    async def finish(self) -> None:
        """Wait for the close to be sent (the app has returned)."""
        if not self.closed and not self.client_closed:
            self.close(1000 if self.accepted else 403)
        if self._closing is not None:
            await self._closing
