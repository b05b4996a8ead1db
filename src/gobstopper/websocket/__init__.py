"""WebSocket connections, rooms and broadcasts.

The names below load their module on first access: importing
``gobstopper.websocket.message`` (for ``ConnectionClosed``) does not import
the connection or manager modules, nor asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gobstopper._lazy import lazy_exports

if TYPE_CHECKING:
    from gobstopper.websocket.backplane import Backplane, InProcessBackplane
    from gobstopper.websocket.connection import WebSocket
    from gobstopper.websocket.manager import WebSocketManager
    from gobstopper.websocket.message import ConnectionClosed, Message
    from gobstopper.websocket.redis_backplane import RedisBackplane

_MODULES = {
    "Backplane": "gobstopper.websocket.backplane",
    "ConnectionClosed": "gobstopper.websocket.message",
    "InProcessBackplane": "gobstopper.websocket.backplane",
    "Message": "gobstopper.websocket.message",
    "RedisBackplane": "gobstopper.websocket.redis_backplane",
    "WebSocket": "gobstopper.websocket.connection",
    "WebSocketManager": "gobstopper.websocket.manager",
}

__all__ = [
    "Backplane",
    "ConnectionClosed",
    "InProcessBackplane",
    "Message",
    "RedisBackplane",
    "WebSocket",
    "WebSocketManager",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
