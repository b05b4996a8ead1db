"""In-process ASGI driving for ``TestClient(app, interface="asgi")``.

The same fake requests as the RSGI test client, turned into ASGI scopes and
``receive``/``send`` pairs that call the app's real ASGI entry,
``app(scope, receive, send)``; ``with`` runs the lifespan protocol. The
scope offers ``http.response.pathsend`` and ``websocket.http.response`` as
Granian's ASGI interface does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gobstopper.testing_ws import FakeWebSocketProtocol, FakeWSMessage

_CHUNK = 64 * 1024
_ASGI = {"version": "3.0", "spec_version": "2.4"}


class LifespanFailed(RuntimeError):
    """The app answered ``lifespan.startup.failed`` (the message is the error)."""


def _pair(address: str, default_port: int) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address, default_port
    return host.strip("[]"), int(port)


def asgi_scope(scope: Any) -> dict[str, Any]:
    """The ASGI scope dict for a test client's fake RSGI scope."""
    websocket = scope.proto == "ws"
    extensions: dict[str, Any] = (
        {"websocket.http.response": {}} if websocket else {"http.response.pathsend": {}}
    )
    path = scope.path
    query = scope.query_string
    result: dict[str, Any] = {
        "type": "websocket" if websocket else "http",
        "asgi": dict(_ASGI),
        "http_version": scope.http_version,
        "scheme": scope.scheme,
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": _pair(scope.client, 0),
        "server": _pair(scope.server, 80),
        "extensions": extensions,
        "state": {},
    }
    if not websocket:
        result["method"] = scope.method
    return result


class ASGIHTTPRecorder:
    """Feeds the request body and records the ASGI response messages.

    Has the fields ``TestResponse`` reads from the RSGI fake protocol; ``calls``
    lists the ASGI message types after ``http.response.start``.
    """

    def __init__(self, body: bytes, disconnect_after_chunks: int | None = None) -> None:
        self._pieces = [body[i : i + _CHUNK] for i in range(0, len(body), _CHUNK)] or [b""]
        self._stop_after = disconnect_after_chunks
        self._done = asyncio.Event()
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.calls: list[str] = []
        self.file_path: str | None = None

    async def receive(self) -> dict[str, Any]:
        if self._pieces:
            piece = self._pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(self._pieces)}
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self._done.is_set():
            raise OSError("test client: the response is complete or the client left")
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("http.response.start sent twice")
            self.status = message["status"]
            self.headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
            ]
            return
        if self.status is None:
            raise RuntimeError(f"{kind} before http.response.start")
        self.calls.append(kind)
        if kind == "http.response.pathsend":
            self.file_path = message["path"]
            with open(message["path"], "rb") as handle:
                self.chunks.append(handle.read())
            self._done.set()
            return
        more = message.get("more_body", False)
        if more and self._stop_after is not None and len(self.chunks) >= self._stop_after:
            self._done.set()
            raise ConnectionResetError("test client disconnected")
        if message.get("body"):
            self.chunks.append(bytes(message["body"]))
        if not more:
            self._done.set()


async def asgi_request(app: Any, scope: Any, body: bytes, stop_after: int | None) -> Any:
    """Run one HTTP request through ``app(scope, receive, send)``; the recorder."""
    recorder = ASGIHTTPRecorder(body, stop_after)
    try:
        await app(asgi_scope(scope), recorder.receive, recorder.send)
    except Exception:
        if recorder.status is None or stop_after is None:
            raise
    return recorder


class LifespanDriver:
    """Run an app's ASGI lifespan: ``await startup()`` ... ``await shutdown()``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Future[Any] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup``; ``LifespanFailed`` if the app reports failure."""
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": {}}
        self._task = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        answer = await self._exchange({"type": "lifespan.startup"})
        if answer["type"] != "lifespan.startup.complete":
            self._task = None
            raise LifespanFailed(answer.get("message", ""))

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app's answer."""
        if self._task is None:
            return
        answer = await self._exchange({"type": "lifespan.shutdown"})
        await self._task
        self._task = None
        if answer["type"] != "lifespan.shutdown.complete":
            raise LifespanFailed(answer.get("message", ""))

    async def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._to_app is not None and self._from_app is not None
        assert self._task is not None
        await self._to_app.put(message)
        reply = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait((reply, self._task), return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            self._task.result()  # raises what the app raised
            raise LifespanFailed("the app returned without answering the lifespan event")
        return reply.result()


class ASGIWebSocketBridge:
    """ASGI ``receive``/``send`` over the test client's fake WebSocket protocol."""

    def __init__(self, proto: FakeWebSocketProtocol) -> None:
        self.proto = proto
        self._connected = False

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        proto = self.proto
        if proto.closed and proto.inbox.empty():
            message = FakeWSMessage(0)
        else:
            message = await proto.inbox.get()
        if message.kind == 2:
            return {"type": "websocket.receive", "text": message.data}
        if message.kind == 1:
            return {"type": "websocket.receive", "bytes": message.data}
        return {
            "type": "websocket.disconnect",
            "code": message.code or 1005,
            "reason": message.reason or "",
        }

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        proto = self.proto
        if kind == "websocket.accept":
            await proto.accept()
        elif kind == "websocket.send":
            if message.get("text") is not None:
                await proto.push(("text", message["text"]))
            else:
                await proto.push(("bytes", bytes(message["bytes"])))
        elif kind == "websocket.close":
            if proto.accepted:
                proto.close(message.get("code", 1000), message.get("reason") or "")
            else:
                proto.close(403)  # what a server answers a refused handshake
        elif kind == "websocket.http.response.start":
            proto.close(message["status"])
        elif kind != "websocket.http.response.body":
            raise RuntimeError(f"unexpected ASGI WebSocket message {kind!r}")
