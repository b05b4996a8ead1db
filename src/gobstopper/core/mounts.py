"""Mounted apps: a path prefix that hands requests to another app.

``Gobstopper.mount(prefix, app)`` records the pair; when the app compiles,
``MountRouter`` is put in front of its HTTP and WebSocket dispatchers, and
only then: an app without mounts pays nothing per request. Earlier mounts
win, and mounts are tried before the app's own routes. The mounted app sees
the path without the prefix, and the prefix in ``root_path``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from gobstopper.rsgi_types import (
        RSGIHTTPProtocol,
        RSGIProtocol,
        RSGIScope,
        RSGIWebSocketProtocol,
    )

#: ``(prefix, app)`` pairs, in mount order; the prefix has no trailing ``/``.
Mounts = tuple[tuple[str, Any], ...]
#: ``entry(scope, proto)``: how an app serves one request (a dispatcher's ``__call__``).
Entry = Callable[[Any, Any], Awaitable[None]]
#: The protocol a router serves: HTTP's (the dispatcher's mounts) or WebSocket's.
Proto = TypeVar("Proto", "RSGIHTTPProtocol", "RSGIWebSocketProtocol")
#: ``serve_mounted(sub_app, scope, proto)``: how a router runs a mounted request.
ServeMounted = Callable[[Any, "MountedScope", Proto], Awaitable[None]]


class MountedScope:
    """An RSGI scope seen by a mounted sub-app: same request, shorter path."""

    __slots__ = ("_inner", "path", "root_path")

    def __init__(self, inner: RSGIScope, path: str, root_path: str) -> None:
        self._inner = inner
        self.path = path
        self.root_path = root_path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Mount(NamedTuple):
    """The mounted app that serves a request, and the scope it sees."""

    app: Any
    scope: MountedScope


def find_mount(mounts: Mounts, scope: RSGIScope) -> Mount | None:
    """The first mounted app whose prefix covers ``scope.path``, with its shortened scope."""
    path = scope.path
    for prefix, sub_app in mounts:
        if path == prefix or path.startswith(prefix + "/"):
            root = getattr(scope, "root_path", "") + prefix
            return Mount(sub_app, MountedScope(scope, path[len(prefix) :] or "/", root))
    return None


def hand_over(sub_app: Any, scope: MountedScope, proto: RSGIProtocol) -> Awaitable[None]:
    """Serve a mounted request with the sub-app's own entry point, as it is."""
    return sub_app.__rsgi__(scope, proto)  # type: ignore[no-any-return]


class MountRouter(Generic[Proto]):
    """Send requests under a mount prefix to that app, the others to ``inner``.

    ``serve_mounted(app, scope, proto)`` runs a mounted request; the HTTP
    dispatcher passes its own, which keeps this app's lifecycle (503 while
    closing, startup first, in-flight accounting) around the sub-app.
    """

    __slots__ = ("inner", "mounts", "serve_mounted")

    def __init__(
        self,
        mounts: Mounts,
        inner: Entry,
        serve_mounted: ServeMounted[Proto] = hand_over,
    ) -> None:
        self.mounts = mounts
        self.inner = inner
        self.serve_mounted: ServeMounted[Proto] = serve_mounted

    async def __call__(self, scope: RSGIScope, proto: Proto) -> None:
        mount = find_mount(self.mounts, scope)
        if mount is None:
            await self.inner(scope, proto)
        else:
            await self.serve_mounted(mount.app, mount.scope, proto)


def with_mounts(
    mounts: Mounts,
    inner: Entry,
    serve_mounted: ServeMounted[Proto] = hand_over,
) -> Entry:
    """``inner`` itself when there are no mounts, else a ``MountRouter`` in front of it."""
    return MountRouter(mounts, inner, serve_mounted) if mounts else inner
