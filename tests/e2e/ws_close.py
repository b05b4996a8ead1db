"""How a real ``websockets`` client saw the server close its connection."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Wait (10 s at most) for the server's close; the code and reason received.

    A connection dropped without a close frame reads as ``(1006, "")``.
    """
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    frame = closed.value.rcvd
    return (frame.code, frame.reason) if frame else (1006, "")
