"""Per-connection echo: ``connections`` clients each ping-pong ``messages`` texts.

Each connection has one message in flight: it sends the next only once the previous one
came back, byte for byte. Messages per second count echoed messages (round trips).
"""

from __future__ import annotations

import asyncio
import time
from array import array
from dataclasses import dataclass

from benchmarks.ws import wire
from benchmarks.ws.measure import Meter, percentiles


@dataclass(frozen=True)
class EchoSettings:
    """What one echo run does."""

    connections: int = 64
    messages: int = 1000
    """Round trips per connection."""
    size: int = 64
    """Bytes per message."""
    timeout_s: float = 60.0


class Peer:
    """One echo connection's state: the message it waits for, how many came back."""

    def __init__(self, number: int, run: EchoRun) -> None:
        self.number = number
        self.run = run
        self.connection: wire.Connection | None = None
        self.done = 0
        self.expected = b""
        self.sent_ns = 0

    def send_next(self) -> None:
        """Send this peer's next message."""
        assert self.connection is not None
        head = b"e%d-%d " % (self.number, self.done)
        self.expected = head + b"y" * max(0, self.run.settings.size - len(head))
        self.sent_ns = time.monotonic_ns()
        self.connection.send_text(self.expected)

    def on_message(self, payload: bytes, now: int) -> None:
        """Check the echo, then send the next message or report this peer finished."""
        run = self.run
        if payload != self.expected:
            run.error(f"connection {self.number} got {payload[:80]!r}, sent {self.expected!r}")
        run.latencies_ns.append(now - self.sent_ns)
        self.done += 1
        if self.done < run.settings.messages:
            self.send_next()
        else:
            run.finished(now)


class EchoRun:
    """All peers of one run and what they observed."""

    def __init__(self, settings: EchoSettings) -> None:
        self.settings = settings
        self.latencies_ns = array("q")
        self.errors: list[str] = []
        self.pending = settings.connections
        self.last_ns = 0
        self.all_done = asyncio.Event()

    def error(self, text: str) -> None:
        """Record a wrong echo (the first few)."""
        if len(self.errors) < 20:
            self.errors.append(text)

    def finished(self, now: int) -> None:
        """Count one peer done; wake the runner once all are."""
        self.pending -= 1
        if self.pending == 0:
            self.last_ns = now
            self.all_done.set()


async def run(port: int, settings: EchoSettings, meter: Meter) -> dict[str, object]:
    """Run the echo load against the server on ``port``; return its figures."""
    deadline = time.monotonic() + settings.timeout_s
    echo_run = EchoRun(settings)
    peers = [Peer(number, echo_run) for number in range(settings.connections)]
    connections = await asyncio.gather(
        *(wire.connect("127.0.0.1", port, "/ws/echo", peer.on_message, 10.0) for peer in peers)
    )
    try:
        for peer, connection in zip(peers, connections, strict=True):
            peer.connection = connection
        meter.start()
        started = time.monotonic_ns()
        for peer in peers:
            peer.send_next()
        await asyncio.wait_for(echo_run.all_done.wait(), max(0.0, deadline - time.monotonic()))
        usage = meter.stop(echo_run.last_ns - started)
    finally:
        for connection in connections:
            connection.close()
    echoed = settings.connections * settings.messages
    broken = [c.error for c in connections if c.error is not None]
    return {
        "echoed": echoed,
        "messages_per_s": echoed / usage.elapsed_s,
        **percentiles(echo_run.latencies_ns),
        **usage.per_unit("message", echoed),
        "errors": echo_run.errors + [str(e) for e in broken[:5]],
    }
