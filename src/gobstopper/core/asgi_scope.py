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
    whole list is decoded only for ``items()``/``keys()``/``values()``, which
    ``Request.headers`` calls once and caches. ``get_all`` (every request asks
    for Host) and ``items`` loop instead of using a list comprehension, which
    is its own frame in 3.11: ~0.2 us less per call with few headers.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        # ASGI servers send lower-case names (the spec requires it).
        self._raw: list[tuple[bytes, bytes]] = raw

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
        # PERF: the host check asks for "host" on every request; a str comparison
        # costs ~30 instructions against ~600 for the encode call (callgrind).
        wanted = b"host" if key == "host" else key.encode("latin-1")
        found = []
        for k, v in self._raw:
            if k == wanted:
                found.append(v.decode("latin-1"))
        return found

    def items(self) -> Headers:
        """Every ``(name, value)`` pair in arrival order."""
        pairs = []
        for k, v in self._raw:
            pairs.append((k.decode("latin-1"), v.decode("latin-1")))
        return pairs

    def keys(self) -> list[str]:
        return [k.decode("latin-1") for k, _ in self._raw]

    def values(self) -> list[str]:
        return [v.decode("latin-1") for _, v in self._raw]


def route_path(path: str, root: str | None) -> str:
    """``path`` as the routes see it: without the ASGI ``root_path`` it starts with.

    ASGI 2.x servers put the root path inside ``path``; the routes never include it.
    """
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _address(pair: Any) -> str | None:
    """ASGI's ``(host, port)`` as RSGI's ``"host:port"`` (``[v6]:port``)."""
    if not pair:
        return None
    host, port = pair[0], pair[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class ASGIScope:
    """An RSGI scope read from an ASGI one; ``asgi`` keeps the original dict.

    PERF: what every request reads (method, path, headers) is set on
    construction; the rest is read from the dict when asked, as most
    requests never ask.
    """

    __slots__ = ("asgi", "headers", "method", "path", "proto", "root_path")

    rsgi_version = "1.5"
    #: Granian sets it for an absolute-form request target; ASGI servers put it in Host.
    authority = None

    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        self.asgi = scope
        self.proto = "http" if scope["type"] == "http" else "ws"
        self.method = scope.get("method", "GET")
        root = scope.get("root_path")
        self.path = route_path(scope["path"], root)
        self.root_path = root or ""
        self.headers = ASGIHeaders(scope.get("headers", ()))

    @property
    def http_version(self) -> str:
        """``"1.0"``, ``"1.1"`` or ``"2"``."""
        version: str = self.asgi.get("http_version", "1.1")
        return version

    @property
    def scheme(self) -> str:
        """``http``/``https`` (``ws``/``wss`` for a WebSocket)."""
        scheme: str | None = self.asgi.get("scheme")
        return scheme or ("http" if self.proto == "http" else "ws")

    @property
    def query_string(self) -> str:
        """The raw query string, decoded as latin-1 like Granian's."""
        raw: bytes = self.asgi.get("query_string", b"")
        return raw.decode("latin-1")

    @property
    def client(self) -> str | None:
        """The peer as ``"host:port"``."""
        return _address(self.asgi.get("client"))

    @property
    def server(self) -> str | None:
        """The local address as ``"host:port"``."""
        return _address(self.asgi.get("server"))
