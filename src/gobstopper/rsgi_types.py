"""What Gobstopper uses of Granian's RSGI objects, as structural types.

The dispatcher, ``Request``, responses and WebSockets are written against
these Protocols, not ``Any``: Granian's objects satisfy them, and so do the
stand-ins that play Granian's part (the ASGI adapter in ``core/asgi*.py``, the
test client's fakes in ``testing*.py``), so mypy holds all three to one
description. Granian's own stubs (``granian.rsgi.Scope``,
``granian._granian.RSGIHTTPProtocol``) are not used directly because their
headers type lacks ``get_all``, which the Host check needs, and they would
shut out the stand-ins. Types only: nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

#: Response headers as RSGI takes them.
HeaderList = list[tuple[str, str]]


class RSGIHeaders(Protocol):
    """A request's headers (names in lower case)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def get_all(self, key: str) -> list[str]: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class RSGIScope(Protocol):
    """One connection's scope (RSGI spec: ``Scope``)."""

    @property
    def proto(self) -> str: ...
    @property
    def http_version(self) -> str: ...
    @property
    def server(self) -> str | None: ...
    @property
    def client(self) -> str | None: ...

    """Granian always knows both ends; an ASGI server may not (the spec allows None)."""

    @property
    def scheme(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def authority(self) -> str | None: ...
    @property
    def headers(self) -> RSGIHeaders: ...


class RSGIStreamTransport(Protocol):
    """What ``response_stream`` returns: the body's chunks are sent through it."""

    async def send_bytes(self, data: bytes) -> None: ...

    async def send_str(self, data: str) -> None: ...


class RSGIHTTPProtocol(Protocol):
    """An HTTP request's protocol: the body in, exactly one response out."""

    async def __call__(self) -> bytes: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def client_disconnect(self) -> None: ...

    def response_empty(self, status: int, headers: HeaderList) -> None: ...

    def response_str(self, status: int, headers: HeaderList, body: str) -> None: ...

    def response_bytes(self, status: int, headers: HeaderList, body: bytes) -> None: ...

    def response_file(self, status: int, headers: HeaderList, file: str) -> None: ...

    def response_file_range(
        self, status: int, headers: HeaderList, file: str, start: int, end: int
    ) -> None: ...

    def response_stream(self, status: int, headers: HeaderList) -> RSGIStreamTransport: ...


class RSGIWebSocketTransport(Protocol):
    """An accepted WebSocket: messages in, text or bytes out."""

    async def receive(self) -> Any: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def send_str(self, data: str) -> None: ...


class RSGIWebSocketProtocol(Protocol):
    """A WebSocket before and after its handshake."""

    async def accept(self) -> RSGIWebSocketTransport: ...

    def close(self, status: int | None = None) -> Any: ...


class ClosingWithReason(Protocol):
    """A WebSocket protocol that sends close codes and reasons (the ASGI adapter's)."""

    close_codes: bool

    def close(self, status: int, reason: str) -> Any: ...


#: Either protocol: what an entry point that serves both kinds is handed.
RSGIProtocol = RSGIHTTPProtocol | RSGIWebSocketProtocol
