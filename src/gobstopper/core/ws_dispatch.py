"""The RSGI WebSocket entry (completed by the WebSocket work)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gobstopper.core.app import Gobstopper
    from gobstopper.core.route_table import RouteTable


class WebSocketDispatcher:
    """Match a WebSocket path and run its handler."""

    def __init__(self, app: Gobstopper, table: RouteTable) -> None:
        self.app = app
        self.router = table.websocket

    async def __call__(self, scope: Any, proto: Any) -> None:
        proto.close(1011)
