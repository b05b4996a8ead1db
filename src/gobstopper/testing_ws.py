"""In-process WebSocket testing: a fake RSGI WebSocket protocol and sessions.

``TestClient.websocket_connect(path)`` / ``AsyncTestClient.websocket_connect``
run the app's real ``__rsgi__`` with ``FakeWebSocketProtocol``, which behaves
like Granian's where it matters: ``close(status)`` before ``accept()`` answers
the handshake with an HTTP status (anything that is not one raises here, where
Granian's worker would crash), a pending ``receive()`` returns a close message
when the app closes, and sends after a close fail.

One difference on purpose: the close code the app chose reaches the test
client (Granian sends its close frame without a code, so real clients see
1005), and a code given to ``session.close(code)`` reaches the app (Granian
does not pass it on). Tests can so assert what the app decided.

With ``interface="asgi"`` the session calls the app's ASGI entry through
``gobstopper.testing_asgi.ASGIWebSocketBridge`` instead, over the same fake.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar

import msgspec

from gobstopper.websocket import ConnectionClosed, Message

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0
_NO_STATUS = 1005


class WebSocketRejected(Exception):
    """The app refused the handshake; ``status_code`` is the HTTP status."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(f"WebSocket handshake refused with HTTP {status_code}")


class FakeWSMessage:
    """An RSGI WebSocket message: ``kind`` 0 close, 1 bytes, 2 text."""

    __slots__ = ("code", "data", "kind", "reason")

    def __init__(
        self, kind: int, data: Any = None, code: int | None = None, reason: str = ""
    ) -> None:
        self.kind = kind
        self.data = data
        self.code = code
        self.reason = reason


class FakeWebSocketTransport:
    """What ``accept()`` returns: receive, send_bytes, send_str."""

    def __init__(self, proto: FakeWebSocketProtocol) -> None:
        self._proto = proto

    async def receive(self) -> FakeWSMessage:
        proto = self._proto
        if proto.closed and proto.inbox.empty():
            return FakeWSMessage(0)
        return await proto.inbox.get()

    async def send_bytes(self, data: bytes) -> None:
        await self._proto.push(("bytes", bytes(data)))

    async def send_str(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError("send_str() takes a str")
        await self._proto.push(("text", data))


class FakeWebSocketProtocol:
    """Granian's RSGI WebSocket protocol, in memory.

    With ``max_queue``, a send waits while that many messages are unread by
    the test client, as a real send waits on a full socket buffer.
    """

    def __init__(self, max_queue: int | None = None) -> None:
        self.max_queue = max_queue
        self.space = asyncio.Event()
        self.inbox: asyncio.Queue[FakeWSMessage] = asyncio.Queue()
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.handshake: asyncio.Future[tuple[str, int | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.accepted = False
        self.closed = False
        self.client_closed = False
        self.close_status: int | None = None

    async def accept(self) -> FakeWebSocketTransport:
        if self.accepted or self.closed:
            raise RuntimeError("RSGI protocol error: accept() after accept() or close()")
        if self.client_closed:
            raise RuntimeError("RSGI protocol error: the client went away")
        self.accepted = True
        self.handshake.set_result(("accepted", None))
        return FakeWebSocketTransport(self)

    def close(self, status: int | None = None, reason: str = "") -> None:
        if self.closed:
            return
        if not self.accepted:
            code = 403 if status is None else status
            if not 100 <= code <= 599:
                raise ValueError(
                    f"close({status}) before accept needs an HTTP status; "
                    "Granian's worker would crash on this"
                )
            self.closed = True
            self.close_status = code
            if not self.handshake.done():
                self.handshake.set_result(("rejected", code))
            return
        self.closed = True
        self.close_status = status
        self.wake_all()
        self.events.put_nowait(("close", status, reason))
        self.inbox.put_nowait(FakeWSMessage(0))  # wakes a pending receive, as Granian does

    async def push(self, event: tuple[Any, ...]) -> None:
        limit = self.max_queue
        while True:
            if self.closed or self.client_closed:
                raise RuntimeError("RSGI transport is closed")
            if limit is None or self.events.qsize() < limit:
                break
            self.space.clear()
            await self.space.wait()
        self.events.put_nowait(event)

    def wake_all(self) -> None:
        """Let waiting sends re-check (after a read or a close)."""
        self.space.set()


class AsyncWebSocketSession:
    """A test WebSocket client on the app's loop: ``async with client.websocket_connect(...)``."""

    __test__ = False

    def __init__(
        self,
        app: Any,
        scope: Any,
        timeout: float = DEFAULT_TIMEOUT,
        max_queue: int | None = None,
        interface: str = "rsgi",
    ) -> None:
        self.app = app
        self.scope = scope
        self.interface = interface
        self.timeout = timeout
        self.max_queue = max_queue
        self.close_code: int | None = None
        self.close_reason = ""
        self.app_error: BaseException | None = None
        self._proto: FakeWebSocketProtocol | None = None
        self._task: asyncio.Future[None] | None = None

    # -- connecting -------------------------------------------------------------------
    async def connect(self) -> AsyncWebSocketSession:
        """Run the app until it accepts; ``WebSocketRejected`` if it refuses."""
        if self._proto is not None:
            return self
        proto = self._proto = FakeWebSocketProtocol(self.max_queue)
        self._task = asyncio.ensure_future(self._run_app(proto))
        outcome, status = await asyncio.wait_for(asyncio.shield(proto.handshake), self.timeout)
        if outcome == "rejected":
            await self._wait_app()
            raise WebSocketRejected(status or 403)
        return self

    async def _run_app(self, proto: FakeWebSocketProtocol) -> None:
        try:
            if self.interface == "asgi":
                from gobstopper.testing_asgi import ASGIWebSocketBridge, asgi_scope

                bridge = ASGIWebSocketBridge(proto)
                await self.app(asgi_scope(self.scope), bridge.receive, bridge.send)
            else:
                await self.app.__rsgi__(self.scope, proto)
        except BaseException as exc:
            self.app_error = exc
            raise
        finally:
            if not proto.closed:
                proto.close(None)  # what Granian does when the app returns

    def __await__(self) -> Generator[Any, None, AsyncWebSocketSession]:
        return self.connect().__await__()

    async def __aenter__(self) -> AsyncWebSocketSession:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def proto(self) -> FakeWebSocketProtocol:
        if self._proto is None:
            raise RuntimeError("not connected: await session.connect() first")
        return self._proto

    # -- sending ------------------------------------------------------------------------
    async def send_text(self, data: str) -> None:
        """Send a text message to the app."""
        self._put(FakeWSMessage(2, str(data)))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        self._put(FakeWSMessage(1, bytes(data)))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as JSON in a text (or binary) message."""
        encoded = msgspec.json.encode(data)
        if mode == "binary":
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode())

    async def send(self, data: str | bytes) -> None:
        """Send a ``str`` as text or ``bytes`` as binary."""
        if isinstance(data, str):
            await self.send_text(data)
        else:
            await self.send_bytes(data)

    def _put(self, message: FakeWSMessage) -> None:
        proto = self.proto
        if proto.client_closed:
            raise RuntimeError("this test WebSocket is closed")
        proto.inbox.put_nowait(message)

    # -- receiving ----------------------------------------------------------------------
    async def receive(self, timeout: float | None = None) -> Message:
        """The next message from the app (a close message once it closed)."""
        if self.close_code is not None and self.proto.events.empty():
            raise ConnectionClosed(self.close_code)
        limit = self.timeout if timeout is None else timeout
        try:
            event = await asyncio.wait_for(self.proto.events.get(), limit)
            self.proto.wake_all()
        except TimeoutError:
            self._raise_app_error()
            raise TimeoutError(f"no WebSocket message from the app within {limit}s") from None
        if event[0] == "close":
            self.close_code = event[1] if event[1] is not None else _NO_STATUS
            self.close_reason = event[2]
            return Message("close", None, code=self.close_code, reason=self.close_reason)
        return Message(event[0], event[1])

    async def receive_text(self, timeout: float | None = None) -> str:
        """Receive a text message (``ConnectionClosed`` if the app closed)."""
        return str(self._expect(await self.receive(timeout), "text"))

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """Receive a binary message (``ConnectionClosed`` if the app closed)."""
        return bytes(self._expect(await self.receive(timeout), "bytes"))  # type: ignore[arg-type]

    async def receive_json(self, timeout: float | None = None) -> Any:
        """Receive a message and decode it as JSON."""
        message = await self.receive(timeout)
        if message.type == "close":
            raise ConnectionClosed(message.code or _NO_STATUS)
        return message.json()

    @staticmethod
    def _expect(message: Message, kind: str) -> str | bytes | None:
        if message.type == "close":
            raise ConnectionClosed(message.code or _NO_STATUS)
        if message.type != kind:
            raise AssertionError(f"expected a {kind} message, got {message!r}")
        return message.data

    async def wait_closed(self, timeout: float | None = None) -> int:
        """Skip messages until the app closes; return its close code."""
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while self.close_code is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the app did not close within {limit}s")
            await self.receive(remaining)
        return self.close_code

    # -- closing ------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client and wait (bounded) for the app's handler to end."""
        proto = self._proto
        if proto is None:
            return
        if not proto.client_closed:
            proto.client_closed = True
            proto.wake_all()
            proto.inbox.put_nowait(FakeWSMessage(0, None, code, reason))
        await self._wait_app()

    async def _wait_app(self) -> None:
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the WebSocket handler did not finish within {self.timeout}s"
            ) from None
        except Exception:
            pass  # kept in app_error and re-raised below
        self._raise_app_error()

    def _raise_app_error(self) -> None:
        if self.app_error is not None:
            raise self.app_error


class WebSocketTestSession:
    """The synchronous face of ``AsyncWebSocketSession`` (used by ``TestClient``)."""

    __test__ = False

    def __init__(
        self, session: AsyncWebSocketSession, run: Callable[[Awaitable[Any]], Any]
    ) -> None:
        self._session = session
        self._run = run

    @property
    def close_code(self) -> int | None:
        """The app's close code once it closed (1005 when it gave none)."""
        return self._session.close_code

    @property
    def close_reason(self) -> str:
        """The app's close reason (always "" under RSGI, which cannot send one)."""
        return self._session.close_reason

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_text(self, data: str) -> None:
        self._run(self._session.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._run(self._session.send_bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._run(self._session.send_json(data, mode))

    def send(self, data: str | bytes) -> None:
        self._run(self._session.send(data))

    def receive(self, timeout: float | None = None) -> Message:
        return self._run(self._session.receive(timeout))  # type: ignore[no-any-return]

    def receive_text(self, timeout: float | None = None) -> str:
        return self._run(self._session.receive_text(timeout))  # type: ignore[no-any-return]

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        return self._run(self._session.receive_bytes(timeout))  # type: ignore[no-any-return]

    def receive_json(self, timeout: float | None = None) -> Any:
        return self._run(self._session.receive_json(timeout))

    def wait_closed(self, timeout: float | None = None) -> int:
        return self._run(self._session.wait_closed(timeout))  # type: ignore[no-any-return]

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._run(self._session.close(code, reason))


def websocket_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Handshake headers a browser would send, overridden by ``headers``."""
    base = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": base64.b64encode(os.urandom(16)).decode(),
    }
    for name, value in (headers or {}).items():
        base[name.lower()] = value
    return base
