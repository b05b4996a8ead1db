"""Rooms and broadcasts over many WebSocket connections.

Broadcasts send to every member concurrently and wait at most
``send_timeout`` seconds: a member whose send fails (it has gone) or does not
finish in time (it stopped reading) is closed and removed, so one slow or
dead client never stalls the others. Messages to one connection stay in
order (each connection sends one message at a time).

Delivery goes through a ``Backplane`` (``backplane.py``); the default one is
in-process, and a cross-process one can be passed in without changing callers.
The manager is not thread-safe: use it from the event loop it serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from gobstopper.websocket.backplane import Backplane, InProcessBackplane
from gobstopper.websocket.message import GOING_AWAY, POLICY_VIOLATION, check_close

if TYPE_CHECKING:
    from gobstopper.websocket.connection import WebSocket

logger = logging.getLogger("gobstopper.websocket")

#: Default seconds a broadcast waits for one member's send.
DEFAULT_SEND_TIMEOUT = 5.0


class WebSocketManager:
    """Connections by id, named rooms of connection ids, and broadcasts.

    ``connections`` maps id → WebSocket and ``rooms`` maps room → set of ids;
    read them freely, change them through the methods (which also keep the
    reverse index behind ``get_connection_rooms`` and drop empty rooms).
    """

    def __init__(
        self,
        *,
        backplane: Backplane | None = None,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> None:
        if send_timeout <= 0:
            raise ValueError(f"send_timeout must be positive, got {send_timeout!r}")
        self.connections: dict[str, WebSocket] = {}
        self.rooms: defaultdict[str, set[str]] = defaultdict(set)
        self.send_timeout = send_timeout
        self.backplane: Backplane = backplane if backplane is not None else InProcessBackplane()
        self._memberships: dict[str, set[str]] = {}
        self._attached = False

    # -- connections ----------------------------------------------------------------
    def add_connection(self, connection_id: str, websocket: WebSocket) -> None:
        """Register ``websocket`` under ``connection_id`` (replacing any previous one)."""
        self._attach()
        self.connections[connection_id] = websocket

    def remove_connection(self, connection_id: str) -> None:
        """Forget ``connection_id`` and its room memberships (idempotent)."""
        self.connections.pop(connection_id, None)
        for room in self._memberships.pop(connection_id, ()):
            self._discard(room, connection_id)

    # -- rooms ------------------------------------------------------------------------
    def join_room(self, connection_id: str, room: str) -> None:
        """Add the connection to ``room``; ignored for an unknown connection."""
        if connection_id not in self.connections:
            return
        self.rooms[room].add(connection_id)
        self._memberships.setdefault(connection_id, set()).add(room)

    def leave_room(self, connection_id: str, room: str) -> None:
        """Remove the connection from ``room`` only (idempotent)."""
        rooms = self._memberships.get(connection_id)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._memberships[connection_id]
        self._discard(room, connection_id)

    def _discard(self, room: str, connection_id: str) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.discard(connection_id)
            if not members:
                del self.rooms[room]

    def get_room_connections(self, room: str) -> set[str]:
        """A copy of the ids in ``room`` (empty if none)."""
        return set(self.rooms.get(room, ()))

    def get_connection_rooms(self, connection_id: str) -> set[str]:
        """A copy of the rooms ``connection_id`` is in (empty if none)."""
        return set(self._memberships.get(connection_id, ()))

    # -- broadcasting -----------------------------------------------------------------
    async def broadcast_to_room(self, room: str, message: str | bytes) -> None:
        """Send ``message`` (text, or bytes as binary) to every member of ``room``."""
        _check_message(message)
        self._attach()
        await self.backplane.publish(room, message)

    async def broadcast_to_all(self, message: str | bytes) -> None:
        """Send ``message`` to every connection, whatever its rooms."""
        _check_message(message)
        self._attach()
        await self.backplane.publish(None, message)

    async def ready(self) -> bool:
        """Start the backplane and wait until it carries broadcasts; True once it does.

        The app awaits this for ``app.websocket_manager`` at startup, so a process
        receives other processes' broadcasts before it serves its first request (a
        member joined here is not missed by the first broadcast after a deploy).
        Await it in a startup hook for any other manager. Backplanes without a
        ``ready()`` (the in-process one) are ready at once.
        """
        self._attach()
        wait = getattr(self.backplane, "ready", None)
        return True if wait is None else bool(await wait())

    def _attach(self) -> None:
        if not self._attached:
            self._attached = True
            self.backplane.attach(self._deliver)

    async def _deliver(self, room: str | None, message: str | bytes) -> None:
        """Send to local members concurrently; drop the dead and the slow."""
        ids = list(self.connections) if room is None else list(self.rooms.get(room, ()))
        targets = [(cid, ws) for cid in ids if (ws := self.connections.get(cid)) is not None]
        if not targets:
            return
        tasks = {
            asyncio.ensure_future(
                ws.send_text(message) if isinstance(message, str) else ws.send_bytes(message)
            ): (
                cid,
                ws,
            )
            for cid, ws in targets
        }
        try:
            done, pending = await asyncio.wait(tasks, timeout=self.send_timeout)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
                task.add_done_callback(_retrieve)
            raise
        for task in pending:
            task.cancel()
            task.add_done_callback(_retrieve)
            cid, ws = tasks[task]
            self._drop(cid, ws, f"did not take a message within {self.send_timeout:g}s")
        for task in done:
            if task.exception() is not None:
                cid, ws = tasks[task]
                self._drop(cid, ws, f"send failed: {task.exception()!r}")

    def _drop(self, connection_id: str, websocket: WebSocket, why: str) -> None:
        logger.info("dropping WebSocket connection %s: %s", connection_id, why)
        if self.connections.get(connection_id) is websocket:
            self.remove_connection(connection_id)
        if not websocket.closed:
            websocket._close(POLICY_VIOLATION, "send timed out")

    # -- shutdown -----------------------------------------------------------------------
    async def close_all(self, code: int = GOING_AWAY, reason: str = "Server shutdown") -> None:
        """Close every connection with ``code``/``reason`` and forget them all."""
        check_close(code, reason)
        for websocket in list(self.connections.values()):
            try:
                await websocket.close(code, reason)
            except Exception:
                logger.exception("closing a WebSocket during close_all() failed")
        self.connections.clear()
        self.rooms.clear()
        self._memberships.clear()
        await self.backplane.close()

    def __repr__(self) -> str:
        return f"<WebSocketManager connections={len(self.connections)} rooms={len(self.rooms)}>"


def _check_message(message: Any) -> None:
    if not isinstance(message, str | bytes):
        raise TypeError(f"broadcast message must be str or bytes, got {type(message).__name__}")


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark the outcome of a cancelled send as seen so asyncio does not log it.
    if not task.cancelled():
        task.exception()
