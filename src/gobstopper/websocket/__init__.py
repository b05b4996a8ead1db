"""WebSocket connections, rooms and broadcasts."""

from gobstopper.websocket.backplane import Backplane, InProcessBackplane
from gobstopper.websocket.connection import WebSocket
from gobstopper.websocket.manager import WebSocketManager
from gobstopper.websocket.message import ConnectionClosed, Message

__all__ = [
    "Backplane",
    "ConnectionClosed",
    "InProcessBackplane",
    "Message",
    "WebSocket",
    "WebSocketManager",
]
