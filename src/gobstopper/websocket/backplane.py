"""How room broadcasts travel between managers: the ``Backplane`` interface.

A ``WebSocketManager`` keeps its own connections and room memberships: they
are live objects of this process. What it broadcasts goes through a
backplane, which hands every published message to ``deliver(room, message)``
of each attached manager; ``room`` is ``None`` for a broadcast to all.

``InProcessBackplane`` (the default) calls ``deliver`` directly, so a
broadcast returns once local delivery is done. A cross-process backplane
(Redis pub/sub) publishes to a channel in ``publish`` and calls ``deliver``
for every message its subscriber reads, in each process; callers of the
manager do not change. ``attach`` is called with a running event loop (on the
manager's first connection or broadcast), so it may start a listener task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

#: ``deliver(room, message)``: send ``message`` to local members of ``room`` (all if None).
Deliver = Callable[[str | None, str | bytes], Awaitable[None]]


@runtime_checkable
class Backplane(Protocol):
    """Carries broadcasts to every attached manager (in one or many processes)."""

    def attach(self, deliver: Deliver) -> None:
        """Register the manager's local delivery function (called once)."""

    async def publish(self, room: str | None, message: str | bytes) -> None:
        """Send ``message`` to ``room`` (``None``: everyone) in every process."""

    async def close(self) -> None:
        """Release connections and tasks; called by ``close_all()``."""


class InProcessBackplane:
    """The default backplane: delivery within this process, awaited in place."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    def attach(self, deliver: Deliver) -> None:
        """Remember the manager's delivery function."""
        self._deliver = deliver

    async def publish(self, room: str | None, message: str | bytes) -> None:
        """Deliver now; returns when every local send finished or timed out."""
        if self._deliver is None:
            raise RuntimeError("InProcessBackplane.publish() before attach()")
        await self._deliver(room, message)

    async def close(self) -> None:
        """Nothing to release in process."""
