"""The RSGI WebSocket entry: match → before_websocket hooks → handler → close.

Everything that fails before the handler accepts is answered with an HTTP
status, which is all Granian can send before accept (and a WebSocket close
code there would crash its worker): unknown path 404, bad path parameter
400, refused by a hook 403 (or the ``HTTPException``'s status), shutting
down 503, failed startup or a handler error before accept 500. After accept,
a handler that raises is logged and closed with 1011; one that returns is
closed with 1000. A worker never dies of a WebSocket.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gobstopper import config
from gobstopper.awaitables import resolved
from gobstopper.core.mounts import Entry, with_mounts
from gobstopper.http.errors import HTTPException
from gobstopper.websocket.connection import WebSocket
from gobstopper.websocket.message import (
    GOING_AWAY,
    INTERNAL_ERROR,
    POLICY_VIOLATION,
    ConnectionClosed,
)

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.route_table import CompiledWebSocketRoute, RouteTable
    from gobstopper.rsgi_types import RSGIScope, RSGIWebSocketProtocol

logger = logging.getLogger("gobstopper.websocket")


def websocket_entry(app: Gobstopper, table: RouteTable) -> Entry:
    """What serves the app's WebSockets: its dispatcher, behind its mounts if any."""
    return with_mounts(tuple(app._mounts), WebSocketDispatcher(app, table))


class WebSocketDispatcher:
    """Match a WebSocket path and run its hooks and handler."""

    def __init__(self, app: Gobstopper, table: RouteTable) -> None:
        self.app = app
        self.router = table.websocket
        self.lifecycle = app.lifecycle
        self.max_message_bytes = config.max_ws_message_bytes()
        self.send_chunk_bytes = config.ws_send_chunk_bytes()
        if self.max_message_bytes < 1 or self.send_chunk_bytes < 1:
            raise ValueError("MAX_WS_MESSAGE_BYTES and WS_SEND_CHUNK_BYTES must be at least 1")
        #: Connections whose handler is running (the app's, closed by ``close_all``).
        self.open: set[WebSocket] = app.lifecycle.websockets

    async def __call__(self, scope: RSGIScope, proto: RSGIWebSocketProtocol) -> None:
        status = await self._refusal(scope)
        if status:
            proto.close(status)
            return
        route, params, miss = self.router.match("GET", scope.path)
        if miss is not None:
            proto.close(_http_status(miss.status, 404))
            return
        websocket = WebSocket(
            scope,
            proto,
            path_params=params,
            max_message_bytes=self.max_message_bytes,
            send_chunk_bytes=self.send_chunk_bytes,
        )
        websocket.app = self.app
        websocket.endpoint = route.name
        await self.run(route, websocket, params)

    async def _refusal(self, scope: RSGIScope) -> int:
        """The HTTP status that refuses this handshake now, or 0."""
        lifecycle = self.lifecycle
        if lifecycle.closing:
            return 503
        if not lifecycle.started:
            try:
                await lifecycle.startup()
            except Exception:
                logger.exception("startup failed; refusing WebSocket %s", scope.path)
                return 500
        return 0

    async def run(
        self, route: CompiledWebSocketRoute, websocket: WebSocket, params: dict[str, Any]
    ) -> None:
        """Run hooks and handler, then make sure the connection is closed."""
        self.open.add(websocket)
        failed = False
        try:
            if not route.before or await self._before(route, websocket):
                await route.handler(websocket, **params)
        except ConnectionClosed:
            pass  # the peer left; nothing to report
        except HTTPException as exc:
            await self._http_error(websocket, exc)
        except Exception:
            failed = True
            logger.exception(
                "WebSocket handler %s raised; closing with %s",
                route.name,
                "1011" if websocket.accepted else "HTTP 500",
            )
        finally:
            self.open.discard(websocket)
            websocket._finalize(failed)

    async def _before(self, route: CompiledWebSocketRoute, websocket: WebSocket) -> bool:
        """Run before_websocket hooks; False when one refused or closed it."""
        for hook in route.before:
            result = await resolved(hook(websocket))
            if result is False:
                if not websocket.closed and not websocket.accepted:
                    await websocket.reject(403)
                elif not websocket.closed:
                    await websocket.close(POLICY_VIOLATION)
                return False
            if websocket.closed:
                return False
        return True

    async def _http_error(self, websocket: WebSocket, exc: HTTPException) -> None:
        if websocket.closed:
            return
        if not websocket.accepted:
            await websocket.reject(_http_status(exc.status_code, 403))
        elif exc.status_code >= 500:
            logger.error("WebSocket %s: %r after accept; closing with 1011", websocket.path, exc)
            await websocket.close(INTERNAL_ERROR)
        else:
            await websocket.close(POLICY_VIOLATION)


async def close_all(
    websockets: set[WebSocket], code: int = GOING_AWAY, reason: str = "Server shutdown"
) -> None:
    """Close every connection in ``websockets`` still open (shutdown)."""
    for websocket in list(websockets):
        if not websocket.closed:
            await websocket.close(code, reason)


def _http_status(status: int, default: int) -> int:
    return status if 400 <= status <= 599 else default
