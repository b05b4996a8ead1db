"""Drive an app in-process through its real ``__rsgi__``.

``TestClient`` is synchronous: it runs the app on its own event loop in a
background thread (one loop per client, startup on ``with`` entry and shutdown
on exit), so tests need no event loop of their own. ``AsyncTestClient`` is the
same for ``async`` tests and runs on the caller's loop.

``interface="asgi"`` drives the app's ASGI entry, ``app(scope, receive,
send)``, with the same requests (see ``gobstopper.testing_asgi``); entering
runs the lifespan protocol. The default is RSGI.

The fake RSGI objects behave like Granian's: the scope's path is
percent-decoded, the body can be awaited whole or iterated in chunks, and each
``response_*`` call is recorded (``response_file`` reads the file, as Rust
would).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode, urlsplit

import msgspec

from gobstopper.testing_ws import (
    AsyncWebSocketSession,
    WebSocketTestSession,
    websocket_headers,
)
from gobstopper.testing_ws import (
    WebSocketRejected as WebSocketRejected,
)

T = TypeVar("T")
_CHUNK = 64 * 1024


class FakeHeaders:
    """Granian's ``RSGIHeaders``: lower-case names, repeated names kept."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = [(k.lower(), v) for k, v in items]

    def __contains__(self, key: object) -> bool:
        key = key.lower() if isinstance(key, str) else key
        return any(k == key for k, _ in self._items)

    def __getitem__(self, key: str) -> str:
        """The first value of ``key`` (any case); ``KeyError`` if absent."""
        value: str | None = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"FakeHeaders({self._items!r})"

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]

    def values(self) -> list[str]:
        return [v for _, v in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def get(self, key: str, default: Any = None) -> Any:
        key = key.lower()
        for k, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self._items if k == key]


class FakeScope:
    """An RSGI HTTP/WebSocket scope."""

    def __init__(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: FakeHeaders,
        proto: str = "http",
        client: str = "127.0.0.1:50000",
    ) -> None:
        self.proto = proto
        self.http_version = "1.1"
        self.rsgi_version = "1.5"
        self.server = "testserver:80"
        self.client = client
        self.scheme = "http" if proto == "http" else "ws"
        self.method = method
        self.path = unquote(raw_path)
        self.query_string = query
        self.authority = None
        self.headers = headers


class _StreamTransport:
    def __init__(self, sink: list[bytes], stop_after: int | None) -> None:
        self._sink = sink
        self._stop_after = stop_after

    async def send_bytes(self, data: bytes) -> None:
        self._push(bytes(data))

    async def send_str(self, data: str) -> None:
        self._push(data.encode())

    def _push(self, data: bytes) -> None:
        if self._stop_after is not None and len(self._sink) >= self._stop_after:
            raise ConnectionResetError("test client disconnected")
        self._sink.append(data)


class FakeHTTPProtocol:
    """Records the app's one response call; serves the request body."""

    def __init__(self, body: bytes, disconnect_after_chunks: int | None = None) -> None:
        self._body = body
        self._stop_after = disconnect_after_chunks
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.calls: list[str] = []
        self.file_path: str | None = None

    async def __call__(self) -> bytes:
        return self._body

    async def __aiter__(self) -> Any:
        for start in range(0, len(self._body), _CHUNK):
            yield self._body[start : start + _CHUNK]

    async def client_disconnect(self) -> None:
        await asyncio.Event().wait()

    def _record(self, call: str, status: int, headers: list[tuple[str, str]]) -> None:
        if self.calls:
            raise RuntimeError(f"response already sent with {self.calls[0]}; got {call}")
        self.calls.append(call)
        self.status = status
        self.headers = list(headers)

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._record("response_empty", status, headers)

    def response_str(self, status: int, headers: list[tuple[str, str]], body: str) -> None:
        self._record("response_str", status, headers)
        self.chunks.append(body.encode())

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._record("response_bytes", status, headers)
        self.chunks.append(bytes(body))

    def response_file(self, status: int, headers: list[tuple[str, str]], file: str) -> None:
        self._record("response_file", status, headers)
        self.file_path = file
        with open(file, "rb") as handle:
            self.chunks.append(handle.read())

    def response_file_range(
        self, status: int, headers: list[tuple[str, str]], file: str, start: int, end: int
    ) -> None:
        self._record("response_file_range", status, headers)
        self.file_path = file
        with open(file, "rb") as handle:
            handle.seek(start)
            self.chunks.append(handle.read(end - start))

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> _StreamTransport:
        self._record("response_stream", status, headers)
        return _StreamTransport(self.chunks, self._stop_after)


class TestResponse:
    """What the test client returns: status, headers, body and helpers."""

    __test__ = False  # not a pytest test class

    def __init__(self, proto: FakeHTTPProtocol) -> None:
        if proto.status is None:
            raise RuntimeError("the app returned without sending a response")
        self.status_code: int = proto.status
        self.headers = FakeHeaders(proto.headers)
        self.content = b"".join(proto.chunks)
        self.chunks = list(proto.chunks)
        self.rsgi_call = proto.calls[0]
        self.file_path = proto.file_path

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return msgspec.json.decode(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code}>"


class CookieJar:
    """Cookies from ``Set-Cookie``, sent back on every later request."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update_from(self, headers: FakeHeaders) -> None:
        for raw in headers.get_all("set-cookie"):
            pair, *attrs = raw.split(";")
            name, _, value = pair.partition("=")
            expired = any(a.strip().lower() in ("max-age=0",) for a in attrs)
            if expired:
                self.values.pop(name.strip(), None)
            else:
                self.values[name.strip()] = value.strip()

    def header(self) -> str | None:
        if not self.values:
            return None
        return "; ".join(f"{k}={v}" for k, v in self.values.items())


def _split_target(url: str) -> tuple[str, str, str]:
    """Split a test URL into ``(path, query, host)``; ``//x`` is a path."""
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        return parts.path or "/", parts.query, parts.netloc or "testserver"
    target = url.split("#", 1)[0]
    path, _, query = target.partition("?")
    return path or "/", query, "testserver"


def build_request(
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | str | bytes | None = None,
    content: bytes | str | None = None,
    cookies: CookieJar | None = None,
    client: str = "127.0.0.1:50000",
    proto: str = "http",
) -> tuple[FakeScope, bytes]:
    """Turn test-client arguments into a scope and a body."""
    path, query, host = _split_target(url)
    if params:
        extra = urlencode(params, doseq=True)
        query = f"{query}&{extra}" if query else extra
    header_items = [("host", host)]
    body = b""
    if json is not None:
        body = msgspec.json.encode(json)
        header_items.append(("content-type", "application/json"))
    elif isinstance(data, Mapping):
        body = urlencode(data, doseq=True).encode()
        header_items.append(("content-type", "application/x-www-form-urlencoded"))
    elif data is not None:
        body = data.encode() if isinstance(data, str) else data
    if content is not None:
        body = content.encode() if isinstance(content, str) else content
    given = {k.lower() for k in (headers or {})}
    header_items = [(k, v) for k, v in header_items if k not in given]
    header_items += list((headers or {}).items())
    if body and "content-length" not in given:
        header_items.append(("content-length", str(len(body))))
    cookie = cookies.header() if cookies else None
    if cookie and "cookie" not in given:
        header_items.append(("cookie", cookie))
    scope = FakeScope(
        method.upper(), path, query, FakeHeaders(header_items), proto=proto, client=client
    )
    return scope, body


class AsyncTestClient:
    """Call the app from ``async`` tests on the caller's loop."""

    __test__ = False

    def __init__(self, app: Any, client: str = "127.0.0.1:50000", interface: str = "rsgi") -> None:
        if interface not in ("rsgi", "asgi"):
            raise ValueError(f"interface must be 'rsgi' or 'asgi', got {interface!r}")
        self.app = app
        self.client = client
        self.interface = interface
        self.cookies = CookieJar()
        self._lifespan: Any = None

    async def __aenter__(self) -> AsyncTestClient:
        await self.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def startup(self) -> None:
        """Start the app: ``app.startup()``, or ``lifespan.startup`` under ASGI."""
        if self.interface == "asgi":
            from gobstopper.testing_asgi import LifespanDriver

            self._lifespan = LifespanDriver(self.app)
            await self._lifespan.startup()
        else:
            await self.app.startup()

    async def shutdown(self) -> None:
        """Stop the app: ``app.shutdown()``, or ``lifespan.shutdown`` under ASGI."""
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.shutdown()
        else:
            await self.app.shutdown()

    async def request(
        self, method: str, url: str, *, disconnect_after_chunks: int | None = None, **kwargs: Any
    ) -> TestResponse:
        """Send one request through ``app.__rsgi__``; return the response."""
        scope, body = build_request(method, url, cookies=self.cookies, client=self.client, **kwargs)
        if self.interface == "asgi":
            from gobstopper.testing_asgi import asgi_request

            proto: Any = await asgi_request(self.app, scope, body, disconnect_after_chunks)
        else:
            proto = FakeHTTPProtocol(body, disconnect_after_chunks)
            await self.app.__rsgi__(scope, proto)
        response = TestResponse(proto)
        self.cookies.update_from(response.headers)
        return response

    async def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a GET request (see ``request``)."""
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a POST request (see ``request``)."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request (see ``request``)."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request (see ``request``)."""
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request (see ``request``)."""
        return await self.request("DELETE", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request (see ``request``)."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a OPTIONS request (see ``request``)."""
        return await self.request("OPTIONS", url, **kwargs)

    def websocket_connect(
        self,
        path: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float = 5.0,
        max_queue: int | None = None,
    ) -> AsyncWebSocketSession:
        """Open a WebSocket to ``path``: ``async with client.websocket_connect(p) as ws``.

        Also ``ws = await client.websocket_connect(p)``. Raises
        ``WebSocketRejected`` (with ``status_code``) if the app refuses.
        ``max_queue`` makes the app's sends wait while that many messages
        are unread (a client that stops reading).
        """
        scope, _ = build_request(
            "GET",
            path,
            params=params,
            headers=websocket_headers(headers),
            cookies=self.cookies,
            client=self.client,
            proto="ws",
        )
        return AsyncWebSocketSession(self.app, scope, timeout, max_queue, self.interface)


class _LoopThread:
    """An event loop in a daemon thread that runs submitted coroutines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="gobstopper-testclient"
        )
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class TestClient:
    """Synchronous in-process client: ``with TestClient(app) as client``.

    Entering runs the app's startup hooks and leaving runs shutdown; without
    ``with``, startup happens on the first request (as in production) and
    ``close()`` stops the client's loop.
    """

    __test__ = False

    def __init__(self, app: Any, client: str = "127.0.0.1:50000", interface: str = "rsgi") -> None:
        self.app = app
        self._async = AsyncTestClient(app, client, interface)
        self._loop: _LoopThread | None = None

    @property
    def cookies(self) -> CookieJar:
        return self._async.cookies

    def _portal(self) -> _LoopThread:
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

    def run(self, coro: Awaitable[T], timeout: float | None = 60) -> T:
        """Run ``coro`` on the app's loop and return its result."""
        return self._portal().run(coro, timeout)

    def __enter__(self) -> TestClient:
        self.run(self._async.startup())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._async.shutdown())
        finally:
            self.close()

    def close(self) -> None:
        """Stop the client's event loop thread."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        """Send one request and return the recorded response."""
        return self.run(self._async.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a GET request (see ``request``)."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a POST request (see ``request``)."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request (see ``request``)."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request (see ``request``)."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request (see ``request``)."""
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request (see ``request``)."""
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> TestResponse:
        """Send a OPTIONS request (see ``request``)."""
        return self.request("OPTIONS", url, **kwargs)

    def websocket_connect(
        self,
        path: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float = 5.0,
        max_queue: int | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket to ``path``; use it as ``with client.websocket_connect(p) as ws``.

        The handshake happens here: ``WebSocketRejected`` (with
        ``status_code``) if the app refuses it. Receives wait at most
        ``timeout`` seconds; leaving the ``with`` block closes with 1000.
        """
        session = self._async.websocket_connect(
            path, headers, params, timeout=timeout, max_queue=max_queue
        )
        self.run(session.connect())
        return WebSocketTestSession(session, self.run)
