"""Broadcast delivery: ``members`` clients in one room, one of them sends ``messages`` texts.

Every member connects to ``/ws/room/<room>``; the apps broadcast each text a member sends
to the whole room, sender included, so one message makes ``members`` deliveries. Before
measuring, the sender repeats a warm-up text until every member has received one (so
every member has joined: a handshake can complete before the app adds the connection to
its room) and then one sync text that all must receive.

The sender keeps at most ``window`` messages in flight: it sends message ``k`` only once
message ``k - window`` has reached every member, so the server always has work queued
but its queues cannot grow without bound (which would turn latency into a measure of
the queue length). Each message is unique (its sequence number, its send time and
padding); every member must receive every message exactly, in order.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from dataclasses import dataclass

from benchmarks.ws import wire
from benchmarks.ws.measure import Meter, percentiles

CONNECT_CONCURRENCY = 50
WARMUP_INTERVAL_S = 0.02


@dataclass(frozen=True)
class FanoutSettings:
    """What one fan-out run does."""

    members: int = 500
    messages: int = 1000
    window: int = 4
    size: int = 64
    """Bytes per message."""
    timeout_s: float = 120.0


class Room:
    """The client side of the room: what was sent, what each member received."""

    def __init__(self, settings: FanoutSettings) -> None:
        self.settings = settings
        self.payloads: dict[bytes, int] = {}
        self.sent_ns = array("q", bytes(8 * settings.messages))
        self.received = array("l", bytes(array("l").itemsize * settings.messages))
        self.next_seq = [0] * settings.members
        self.warmed = [False] * settings.members
        self.synced = 0
        self.completed = 0
        self.last_delivery_ns = 0
        self.latencies_ns = array("q")
        self.errors: list[str] = []
        self.progress = asyncio.Event()

    def payload(self, seq: int, now: int) -> bytes:
        """Return message ``seq``'s text, padded to the message size, and remember it."""
        head = b"m%d %d " % (seq, now)
        text = head + b"x" * max(0, self.settings.size - len(head))
        self.payloads[text] = seq
        self.sent_ns[seq] = now
        return text

    def receiver(self, member: int) -> wire.OnMessage:
        """Return the message callback of member number ``member``."""

        def on_message(payload: bytes, now: int) -> None:
            seq = self.payloads.get(payload)
            if seq is None:
                self._control(member, payload)
                return
            if seq != self.next_seq[member]:
                self._error(f"member {member} got message {seq}, expected {self.next_seq[member]}")
            self.next_seq[member] = seq + 1
            self.latencies_ns.append(now - self.sent_ns[seq])
            count = self.received[seq] + 1
            self.received[seq] = count
            if count == self.settings.members:
                self.completed += 1
                self.last_delivery_ns = now
                self.progress.set()

        return on_message

    def _control(self, member: int, payload: bytes) -> None:
        if payload == b"warm-up":
            self.warmed[member] = True
        elif payload == b"sync":
            self.synced += 1
            self.progress.set()
        else:
            self._error(f"member {member} got an unexpected message {payload[:80]!r}")

    def _error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)

    async def wait(self, deadline: float) -> None:
        """Wait for the next completed message or sync; ``TimeoutError`` past ``deadline``."""
        self.progress.clear()
        await asyncio.wait_for(self.progress.wait(), max(0.0, deadline - time.monotonic()))


async def _open_members(room: Room, port: int, path: str, deadline: float) -> list[wire.Connection]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(member: int) -> wire.Connection:
        async with gate:
            timeout = max(0.1, deadline - time.monotonic())
            return await wire.connect("127.0.0.1", port, path, room.receiver(member), timeout)

    return list(await asyncio.gather(*(open_one(m) for m in range(room.settings.members))))


async def _join(room: Room, sender: wire.Connection, deadline: float) -> None:
    """Repeat the warm-up until every member has one, then wait for a sync everyone gets."""
    while not all(room.warmed):
        sender.send_text(b"warm-up")
        await asyncio.sleep(WARMUP_INTERVAL_S)
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sum(room.warmed)} members joined the room")
    sender.send_text(b"sync")
    while room.synced < room.settings.members:
        await room.wait(deadline)


async def run(
    port: int, room_name: str, settings: FanoutSettings, meter: Meter
) -> dict[str, object]:
    """Run one fan-out against the server on ``port``; return its figures."""
    deadline = time.monotonic() + settings.timeout_s
    room = Room(settings)
    members = await _open_members(room, port, f"/ws/room/{room_name}", deadline)
    try:
        sender = members[0]
        await _join(room, sender, deadline)
        meter.start()
        started = time.monotonic_ns()
        for seq in range(settings.messages):
            while seq - room.completed >= settings.window:
                await room.wait(deadline)
            sender.send_text(room.payload(seq, time.monotonic_ns()))
        while room.completed < settings.messages:
            await room.wait(deadline)
        usage = meter.stop(room.last_delivery_ns - started)
    finally:
        for member in members:
            member.close()
    delivered = settings.messages * settings.members
    broken = [m.error for m in members if m.error is not None]
    return {
        "delivered": delivered,
        "deliveries_per_s": delivered / usage.elapsed_s,
        **percentiles(room.latencies_ns),
        **usage.per_unit("delivery", delivered),
        "errors": room.errors + [str(e) for e in broken[:5]],
    }
