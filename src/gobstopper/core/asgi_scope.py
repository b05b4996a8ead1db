"""An ASGI scope read as an RSGI one: ``ASGIScope`` and its ``ASGIHeaders``.

The fields and header API are those of Granian's RSGI scope, so ``Request``,
``WebSocket``, the host check and the dispatcher read an ASGI request exactly
as they read an RSGI one.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

Headers = list[tuple[str, str]]


class ASGIHeaders:
    """The request headers with the API of Granian's ``RSGIHeaders``.

    PERF: names are compared as bytes and values decoded only when read; the
    whole list is decoded only for ``items()``/``keys()``/``values()``.
    """

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Any) -> None:
        # ASGI servers send lower-case names (the spec requires it).
        self._raw: list[tuple[bytes, bytes]] = raw
        self._decoded: Headers | None = None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        wanted = key.encode("latin-1")
        return any(k == wanted for k, _ in self._raw)

    def __getitem__(self, key: str) -> str:
        value: str | None = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Any:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._raw)

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of ``key`` (lower-case), else ``default``."""
        wanted = key.encode("latin-1")
        for k, v in self._raw:
            if k == wanted:
                return v.decode("latin-1")
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in arrival order."""
        wanted = key.encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k == wanted]

    def items(self) -> Headers:
        if self._decoded is None:
            self._decoded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._raw]
        return list(self._decoded)

    def keys(self) -> list[str]:
        return [k for k, _ in self.items()]

    def values(self) -> list[str]:
        return [v for _, v in self.items()]


def _address(pair: Any) -> str | None:
    """ASGI's ``(host, port)`` as RSGI's ``"host:port"`` (``[v6]:port``)."""
    if not pair:
        return None
    host, port = pair[0], pair[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class ASGIScope:
    """An RSGI scope read from an ASGI one; ``asgi`` keeps the original dict."""

    __slots__ = (
        "asgi",
        "authority",
        "headers",
        "http_version",
        "method",
        "path",
        "proto",
        "query_string",
        "root_path",
        "rsgi_version",
        "scheme",
        "stream_aborted",
    )

    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        kind = scope["type"]
        self.asgi = scope
        self.proto = "http" if kind == "http" else "ws"
        self.http_version = scope.get("http_version", "1.1")
        self.rsgi_version = "1.5"
        self.method = scope.get("method", "GET")
        self.scheme = scope.get("scheme") or ("http" if kind == "http" else "ws")
        root = scope.get("root_path", "")
        path = scope["path"]
        # ASGI 2.x puts the root path inside ``path``; the routes never include it.
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        self.path = path
        self.root_path = root
        self.query_string = scope.get("query_string", b"").decode("latin-1")
        self.headers = ASGIHeaders(scope.get("headers", ()))
        self.authority = None
        self.stream_aborted = False

    @property
    def client(self) -> str | None:
        """The peer as ``"host:port"`` (read when asked: most requests never do)."""
        return _address(self.asgi.get("client"))

    @property
    def server(self) -> str | None:
        """The local address as ``"host:port"``."""
        return _address(self.asgi.get("server"))

    def abort_stream(self) -> bool:
        """Mark a failed stream: ``serve`` raises so the server drops the connection."""
        self.stream_aborted = True
        return True
