"""WebSocket connections, rooms and broadcasts.

The names below load their module on first access: importing
``gobstopper.websocket.message`` (for ``ConnectionClosed``) does not import
the connection or manager modules, nor asyncio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gobstopper.websocket.backplane import Backplane, InProcessBackplane
    from gobstopper.websocket.connection import WebSocket
    from gobstopper.websocket.manager import WebSocketManager
    from gobstopper.websocket.message import ConnectionClosed, Message

_MODULES = {
    "Backplane": "gobstopper.websocket.backplane",
    "ConnectionClosed": "gobstopper.websocket.message",
    "InProcessBackplane": "gobstopper.websocket.backplane",
    "Message": "gobstopper.websocket.message",
    "WebSocket": "gobstopper.websocket.connection",
    "WebSocketManager": "gobstopper.websocket.manager",
}

__all__ = [
    "Backplane",
    "ConnectionClosed",
    "InProcessBackplane",
    "Message",
    "WebSocket",
    "WebSocketManager",
]


def __getattr__(name: str) -> Any:
    # PERF: lazy — connection and manager import asyncio (~35 ms).
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
